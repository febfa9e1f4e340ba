// Elementary streams from Debian's ffmpeg, in fragmented MP4 so a test can take the coded samples
// and send them as (Enhanced) RTMP: H.264 (libx264), HEVC (libx265), AV1 (libsvtav1), AAC or Opus.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type TestVideoCodec = 'h264' | 'hevc' | 'av1';

export interface EncodeSpec {
  codec: TestVideoCodec;
  audio?: 'aac' | 'opus' | null;
  width?: number;
  height?: number;
  fps?: number;
  seconds: number;
  /** seconds between keyframes */
  gop?: number;
  /** H.264 only: B-frames, so composition offsets are exercised */
  bframes?: number;
}

const VIDEO_ARGS: Record<TestVideoCodec, (gop: number, bframes: number) => string[]> = {
  h264: (gop, bframes) => ['-c:v', 'libx264', '-preset', 'veryfast', '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', String(bframes)],
  hevc: (gop) => ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:bframes=0:log-level=error`, '-tag:v', 'hvc1'],
  av1: (gop) => ['-c:v', 'libsvtav1', '-preset', '12', '-g', String(gop), '-svtav1-params', 'tune=0:fast-decode=1'],
};

export async function encodeFragmentedMp4(dir: string, spec: EncodeSpec): Promise<string> {
  const { codec, audio = 'aac', width = 640, height = 360, fps = 30, seconds, gop = 2, bframes = 0 } = spec;
  const file = path.join(dir, `${codec}-${audio ?? 'mute'}-${width}x${height}-${seconds}s-b${bframes}.mp4`);
  await run('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
    '-t', String(seconds), '-pix_fmt', 'yuv420p',
    ...VIDEO_ARGS[codec](fps * gop, bframes),
    ...(audio === 'aac' ? ['-c:a', 'aac', '-b:a', '128k'] : audio === 'opus' ? ['-c:a', 'libopus', '-b:a', '96k'] : []),
    // without it ffmpeg 5.1 folds AAC's priming into the second video frame's timestamp (0, 54.7, 88 ms…)
    '-avoid_negative_ts', 'make_non_negative',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', file,
  ], { timeout: 120_000 });
  return file;
}
