// Uploading to a test server the way a real client does (tus-js-client), and checking the VOD
// that comes out of it with ffprobe and ffmpeg.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tus from 'tus-js-client';
import { until } from './media.ts';

const run = promisify(execFile);

export interface UploadResult {
  url: string;
  vodId: string;
}

export interface VodJson {
  id: string;
  source: string;
  status: string;
  progress: number;
  failureReason: string | null;
  durationS: number;
  sizeBytes: number;
  renditions: Array<{ name: string; width: number; height: number }>;
  playbackUrl: string | null;
  thumbnailUrl: string | null;
  previewTrackUrl: string | null;
}

/** Uploads `file` with tus; `stopAfterChunks` aborts (like a dropped connection) once that many chunks are stored. */
export function tusUpload(opts: {
  base: string;
  token: string;
  file: Buffer;
  chunkSize?: number;
  metadata?: Record<string, string>;
  uploadUrl?: string;
  stopAfterChunks?: number;
}): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    let vodId = '';
    let chunks = 0;
    const upload: tus.Upload = new tus.Upload(opts.file, {
      endpoint: `${opts.base}/api/v1/uploads`,
      uploadUrl: opts.uploadUrl ?? null,
      chunkSize: opts.chunkSize ?? Infinity,
      retryDelays: null,
      storeFingerprintForResuming: false,
      headers: { authorization: `Bearer ${opts.token}` },
      metadata: opts.metadata ?? { filename: 'video.mp4' },
      onAfterResponse: (_req, res) => void (vodId = res.getHeader('Spillway-Vod-Id') ?? vodId),
      onChunkComplete: () => {
        chunks++;
        if (opts.stopAfterChunks !== undefined && chunks >= opts.stopAfterChunks) {
          void upload.abort().then(() => resolve({ url: upload.url!, vodId }));
        }
      },
      onError: reject,
      onSuccess: () => resolve({ url: upload.url!, vodId }),
    });
    upload.start();
  });
}

export async function getVod(base: string, token: string, id: string): Promise<VodJson> {
  const res = await fetch(`${base}/api/v1/vods/${id}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET vod ${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as VodJson;
}

/** Waits until the VOD is ready or failed (never longer than `timeoutMs`). */
export async function settledVod(base: string, token: string, id: string, timeoutMs = 240_000): Promise<VodJson> {
  return until(async () => {
    const vod = await getVod(base, token, id);
    return vod.status === 'ready' || vod.status === 'failed' ? vod : null;
  }, `VOD ${id} to be ready or failed`, timeoutMs, 250);
}

/** ffprobe's duration of a URL or file, and ffmpeg decoding it to the end without an error. */
export async function decodeEndToEnd(url: string): Promise<{ duration: number; streams: string[] }> {
  const probed = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', url])).stdout) as {
    format: { duration: string };
    streams: Array<{ codec_name: string }>;
  };
  // -xerror: any decoding error fails the run.
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-xerror', '-i', url, '-f', 'null', '-'], { maxBuffer: 16 * 1024 * 1024 });
  return { duration: Number(probed.format.duration), streams: probed.streams.map((s) => s.codec_name) };
}

/** A generated test video (test pattern + tone), small and quick to make. */
export async function makeVideo(dir: string, spec: { seconds: number; width: number; height: number; kbps?: number; audio?: boolean; name?: string }): Promise<string> {
  const file = path.join(dir, spec.name ?? `video-${spec.width}x${spec.height}-${spec.seconds}s.mp4`);
  await run('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=30`,
    ...(spec.audio === false ? [] : ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000']),
    '-t', String(spec.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', `${spec.kbps ?? 1000}k`, '-pix_fmt', 'yuv420p',
    ...(spec.audio === false ? [] : ['-c:a', 'aac', '-b:a', '64k']),
    file,
  ]);
  return file;
}
