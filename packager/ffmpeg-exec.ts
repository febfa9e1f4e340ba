// Runs a short ffmpeg job (thumbnails) to completion: argv array, optional stdin bytes, stdout
// collected; a non-zero exit is an error carrying the tail of stderr.
import { spawn } from 'node:child_process';

export function execFfmpeg(ffmpegPath: string, args: string[], input?: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-hide_banner', '-loglevel', 'error', ...(input ? [] : ['-nostdin']), ...args], {
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err = (err + String(d)).slice(-2000)));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`ffmpeg exited with ${code ?? signal}: ${err.trim()}`));
    });
    if (input) {
      // ffmpeg may stop reading early (it has the frame it wanted); that is not a failure.
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}
