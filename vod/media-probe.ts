// What an uploaded file is, from ffprobe (container, codecs, duration, resolution, rotation), and
// whether Spillway can make a VOD of it. The check is pure, so every way a file can be refused is
// pinned by a unit test; each refusal is a sentence for the uploader, not ffprobe's words.
import { execFile } from 'node:child_process';

export interface ProbedMedia {
  container: string;
  durationS: number;
  video: { codec: string; width: number; height: number; fps: number; rotation: number } | null;
  audio: { codec: string; channels: number } | null;
}

export interface MediaLimits {
  maxDurationS: number;
}

/** Largest picture side accepted (8K UHD); smallest too, below which it is no video worth keeping. */
export const MAX_SIDE = 7680;
export const MIN_SIDE = 16;

export class UnreadableMediaError extends Error {
  override readonly name = 'UnreadableMediaError';
}

export async function probeMedia(ffprobePath: string, file: string, signal?: AbortSignal): Promise<ProbedMedia> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      ffprobePath,
      ['-v', 'error', '-show_entries', 'format=format_name,duration:stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,channels,duration:stream_tags=rotate:stream_side_data=rotation', '-of', 'json', file],
      { signal, maxBuffer: 4 * 1024 * 1024, timeout: 60_000 },
      (err, out) => (err ? reject(signal?.aborted ? err : new UnreadableMediaError('This file is not a video we can read (it may be damaged or in an unknown format).')) : resolve(out)),
    );
  });
  return parseProbe(stdout);
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string };
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    channels?: number;
    duration?: string;
    tags?: { rotate?: string };
    side_data_list?: Array<{ rotation?: number }>;
  }>;
}

export function parseProbe(json: string): ProbedMedia {
  const data = JSON.parse(json) as FfprobeJson;
  const streams = data.streams ?? [];
  // Cover art in an audio file is a video stream of one picture: not a video.
  const v = streams.find((s) => s.codec_type === 'video' && !['mjpeg', 'png', 'bmp', 'gif'].includes(s.codec_name ?? ''));
  const a = streams.find((s) => s.codec_type === 'audio');
  const rate = (text: string | undefined) => {
    const [n, d] = (text ?? '0/1').split('/').map(Number);
    return d ? n! / d : 0;
  };
  const rotation = v ? Number(v.tags?.rotate ?? v.side_data_list?.find((s) => s.rotation !== undefined)?.rotation ?? 0) : 0;
  const durationS = Number(data.format?.duration ?? v?.duration ?? 0);
  return {
    container: data.format?.format_name ?? 'unknown',
    durationS: Number.isFinite(durationS) ? durationS : 0,
    video: v
      ? {
          codec: v.codec_name ?? 'unknown',
          width: v.width ?? 0,
          height: v.height ?? 0,
          fps: rate(v.avg_frame_rate) || rate(v.r_frame_rate),
          rotation: ((Math.round(rotation) % 360) + 360) % 360,
        }
      : null,
    audio: a ? { codec: a.codec_name ?? 'unknown', channels: a.channels ?? 0 } : null,
  };
}

/** Why this file cannot become a VOD, in words for its uploader; null when it can. */
export function refuseMedia(media: ProbedMedia, limits: MediaLimits): string | null {
  if (!media.video) return media.audio ? 'This file has sound but no picture; upload a video.' : 'This file has no video in it.';
  const { width, height } = media.video;
  if (width < MIN_SIDE || height < MIN_SIDE) return `The picture is ${width}×${height} pixels, too small to make a video from.`;
  if (width > MAX_SIDE || height > MAX_SIDE) return `The picture is ${width}×${height} pixels; videos up to ${MAX_SIDE} pixels on a side are accepted.`;
  if (!(media.durationS > 0)) return 'The video has no length (the file may be cut short or damaged).';
  if (media.durationS > limits.maxDurationS) {
    return `The video is ${formatDuration(media.durationS)} long; this server accepts videos up to ${formatDuration(limits.maxDurationS)}.`;
  }
  return null;
}

/** The picture as shown: ffmpeg applies the rotation when it decodes, so 90° and 270° swap sides. */
export function displaySize(video: NonNullable<ProbedMedia['video']>): { width: number; height: number } {
  return video.rotation === 90 || video.rotation === 270 ? { width: video.height, height: video.width } : { width: video.width, height: video.height };
}

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}
