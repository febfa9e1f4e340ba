// A streamer stand-in: ffmpeg publishing a generated stream (test pattern + sine tone, x264
// zerolatency, keyframes every 2 s) over real RTMP, as OBS would.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Publisher {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
  /** Pulls the plug (SIGKILL): the connection drops without an unpublish, like a crash or a lost network. */
  stop: () => Promise<void>;
  /** Presses Stop (SIGINT): ffmpeg finishes its output and sends FCUnpublish and deleteStream, as OBS does. */
  stopCleanly: () => Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export function publish(t: Teardown, url: string, opts: { width?: number; height?: number; fps?: number; seconds?: number; gop?: number; codec?: 'libx264' | 'libx265' } = {}): Publisher {
  const { width = 640, height = 360, fps = 30, seconds = 120, gop = 2, codec = 'libx264' } = opts;
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', codec, '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(fps * gop), '-keyint_min', String(fps * gop),
    '-c:a', 'aac', '-b:a', '128k',
    '-f', 'flv', url,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const stopCleanly = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
  };
  t.teardown(stop);
  return { child, exited, output: () => out, stop, stopCleanly };
}
