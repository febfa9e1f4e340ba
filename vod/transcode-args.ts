// The ffmpeg command that turns one uploaded file into a VOD, built as an argv array by a pure
// function (pinned by a unit test). One process, one decode: the picture is split into the ladder
// (never above the source) plus the seek-preview tiles, the sound is loudness-normalised once
// (EBU R128, loudnorm) and split to every rendition. Each rendition is keyframe-aligned fMP4 HLS
// in the recordings' layout (`<name>/init-0.mp4`, `<name>/seg-<n>.m4s`): forced IDR frames every
// KEYFRAME_S of media time in every rendition, so the segments ffmpeg cuts start on the same frame.
import path from 'node:path';
import { TILE, TILE_GRID_S } from './vod-thumbnails.ts';

export interface UploadRung {
  name: string;
  height: number;
  videoBitrateKbps: number;
  audioBitrateKbps: number;
}

export interface TranscodePlan {
  input: string;
  outDir: string;
  /** the picture as displayed (rotation applied) */
  source: { width: number; height: number; fps: number };
  hasAudio: boolean;
  ladder: Array<{ height: number; videoBitrateKbps: number }>;
  preset: string;
}

export interface PlannedRendition extends UploadRung {
  width: number;
  frameRate: number;
  /** ffmpeg's own playlist, read back for segment durations */
  playlist: string;
}

export const SEGMENT_S = 4;
export const KEYFRAME_S = 2;
/** Uploads are watched on demand: a top rendition up to this height is made from a taller source. */
export const MAX_UPLOAD_HEIGHT = 1080;
const MAX_FPS = 60;
export const TILE_DIR = '.tiles';

/**
 * The renditions of an upload: the source's own height (capped at 1080) on top, then every LADDER
 * rung below it. Never upscaled; a source smaller than every rung still gets its own height.
 */
export function planUploadLadder(sourceHeight: number, ladder: TranscodePlan['ladder']): UploadRung[] {
  const top = Math.min(sourceHeight - (sourceHeight % 2), MAX_UPLOAD_HEIGHT);
  const same = ladder.find((r) => r.height === top);
  const rungs: UploadRung[] = [{ name: `${top}p`, height: top, videoBitrateKbps: same?.videoBitrateKbps ?? kbpsFor(top), audioBitrateKbps: 128 }];
  for (const r of [...ladder].sort((a, b) => b.height - a.height)) {
    if (r.height < top) rungs.push({ name: `${r.height}p`, height: r.height, videoBitrateKbps: r.videoBitrateKbps, audioBitrateKbps: r.height >= 720 ? 128 : 96 });
  }
  return rungs;
}

/** ~0.08 bit per pixel at 30 fps in 16:9: 5 Mbit/s at 1080p, what platforms give that height. */
function kbpsFor(height: number): number {
  return Math.max(300, Math.round((height * height * (16 / 9) * 30 * 0.08) / 1000 / 100) * 100);
}

export function buildTranscodeArgs(plan: TranscodePlan): { args: string[]; renditions: PlannedRendition[] } {
  const { source } = plan;
  if (!(source.width > 0 && source.height > 0)) throw new RangeError('source size must be positive');
  const rungs = planUploadLadder(source.height, plan.ladder);
  const frameRate = Math.min(source.fps > 0 ? source.fps : 30, MAX_FPS);
  const fpsFilter = source.fps > MAX_FPS ? `fps=${MAX_FPS},` : '';
  const n = rungs.length;
  const filters = [`[0:v:0]${fpsFilter}split=${n + 1}${rungs.map((_, i) => `[s${i}]`).join('')}[st]`];
  rungs.forEach((r, i) => filters.push(`[s${i}]scale=-2:${r.height},format=yuv420p[v${i}]`));
  // One tile per TILE_GRID_S of media, named like the tiles recordings make while live.
  filters.push(`[st]fps=1/${TILE_GRID_S},scale=${TILE.width}:${TILE.height}:force_original_aspect_ratio=decrease,pad=${TILE.width}:${TILE.height}:(ow-iw)/2:(oh-ih)/2,format=yuvj420p[tiles]`);
  if (plan.hasAudio) {
    // loudnorm works at 192 kHz internally; aresample brings it back to 48 kHz for AAC.
    filters.push(`[0:a:0]loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000,asplit=${n}${rungs.map((_, i) => `[a${i}]`).join('')}`);
  }
  const outputs: string[] = [];
  const renditions: PlannedRendition[] = rungs.map((r, i) => {
    const dir = path.join(plan.outDir, r.name);
    const kbps = `${r.videoBitrateKbps}k`;
    outputs.push(
      '-map', `[v${i}]`, ...(plan.hasAudio ? ['-map', `[a${i}]`] : []),
      '-c:v', 'libx264', '-preset', plan.preset, '-profile:v', 'high',
      '-b:v', kbps, '-maxrate:v', kbps, '-bufsize:v', `${r.videoBitrateKbps * 2}k`,
      '-force_key_frames:v', `expr:gte(t,n_forced*${KEYFRAME_S})`, '-sc_threshold:v', '0',
      ...(plan.hasAudio ? ['-c:a', 'aac', '-b:a', `${r.audioBitrateKbps}k`, '-ac', '2'] : []),
      '-f', 'hls', '-hls_time', String(SEGMENT_S), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
      '-hls_fmp4_init_filename', 'init-0.mp4', '-hls_segment_filename', path.join(dir, 'seg-%d.m4s'), '-start_number', '0',
      path.join(dir, 'ffmpeg.m3u8'),
    );
    return { ...r, width: Math.round((r.height * source.width) / (source.height * 2)) * 2, frameRate, playlist: path.join(dir, 'ffmpeg.m3u8') };
  });
  outputs.push('-map', '[tiles]', '-q:v', '4', '-start_number', '0', '-f', 'image2', path.join(plan.outDir, TILE_DIR, 'seg-%d.jpg'));
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-progress', 'pipe:1', '-stats_period', '1',
    '-i', plan.input,
    '-filter_complex', filters.join(';'),
    ...outputs,
  ];
  return { args, renditions };
}
