// Test media made with the real ffmpeg: a test pattern with a burnt-in clock and a sine tone.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SourceSpec {
  seconds: number;
  width?: number;
  height?: number;
  fps?: number;
  /** seconds between keyframes */
  gop?: number;
}

/** An H.264 + AAC FLV file, as OBS would send (x264 zerolatency, keyframes every `gop` s). */
export async function makeFlv(dir: string, spec: SourceSpec): Promise<string> {
  const { seconds, width = 640, height = 360, fps = 30, gop = 2 } = spec;
  const file = path.join(dir, `source-${width}x${height}-${seconds}s.flv`);
  await run('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(fps * gop), '-keyint_min', String(fps * gop),
    '-c:a', 'aac', '-b:a', '128k',
    '-f', 'flv', file,
  ]);
  return file;
}

/** ffprobe's view of a media file: stream codecs and the duration it decodes to. */
export async function probe(file: string): Promise<{ codecs: string[]; duration: number; frames: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames:format=duration', '-of', 'json', file]);
  const json = JSON.parse(stdout) as { streams: Array<{ codec_name: string; nb_read_frames?: string }>; format: { duration?: string } };
  return {
    codecs: json.streams.map((s) => s.codec_name),
    duration: Number(json.format.duration ?? 0),
    frames: Number(json.streams.find((s) => ['h264', 'hevc'].includes(s.codec_name))?.nb_read_frames ?? 0),
  };
}

export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
