// Runs the transcoding ffmpeg: progress from its `-progress pipe:1` blocks (out_time_us against the
// probed duration), killed at once when the job's signal aborts (cancelled, or the worker closing).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export class FfmpegFailedError extends Error {
  constructor(
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`ffmpeg exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    this.name = 'FfmpegFailedError';
  }
}

/** Reads `key=value` lines of ffmpeg's -progress output; returns seconds of output written, or null. */
export function progressSeconds(line: string): number | null {
  const m = /^out_time_us=(\d+)$/.exec(line.trim());
  return m ? Number(m[1]) / 1e6 : null;
}

export async function runTranscode(opts: { ffmpegPath: string; args: string[]; signal: AbortSignal; onSeconds(seconds: number): void }): Promise<void> {
  opts.signal.throwIfAborted();
  const child = spawn(opts.ffmpegPath, opts.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => child.kill('SIGKILL');
  opts.signal.addEventListener('abort', kill, { once: true });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-4000)));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const seconds = progressSeconds(line);
    if (seconds !== null) opts.onSeconds(seconds);
  });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    opts.signal.throwIfAborted();
    if (code !== 0) throw new FfmpegFailedError(code, stderr);
  } finally {
    opts.signal.removeEventListener('abort', kill);
  }
}
