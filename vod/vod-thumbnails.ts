// A VOD's pictures, made with ffmpeg from recorded segments: a poster, and a seek-preview sprite
// sheet with the WebVTT track that maps each stretch of the timeline to one tile. Tiles are the
// first frame of a segment; the tile maker (tile-maker.ts) makes them while the stream is live, so
// at the end only the missing ones are made here, and the sheet is assembled from what is on disk.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFfmpeg } from '../packager/ffmpeg-exec.ts';
import type { RenditionInfo } from '../packager/stream-defs.ts';

export interface TimedSegment {
  msn: number;
  /** seconds from the start of the VOD */
  start: number;
  duration: number;
  /** init section + segment: a complete fMP4 file */
  load: () => Promise<Buffer>;
}

export interface Thumbnails {
  poster: Buffer;
  sprite: Buffer;
  vtt: string;
}

export const TILE = { width: 160, height: 90, columns: 10 };
// At most this many tiles: a long stream gets a coarser preview, not a huge sheet.
const MAX_TILES = 100;
/** Cues start on multiples of this, so a tile made live for each grid point serves any length. */
export const TILE_GRID_S = 2;
/** Tiles made by one ffmpeg process. */
export const TILE_BATCH = 10;
const TILE_FILTER = `scale=${TILE.width}:${TILE.height}:force_original_aspect_ratio=decrease,pad=${TILE.width}:${TILE.height}:(ow-iw)/2:(oh-ih)/2`;

/**
 * The rendition tiles are made from: the smallest picture planned (cheapest to decode; a source
 * rendition's bandwidth is only a guess). Chosen the same way while live and at the end.
 */
export function tileRendition(planned: RenditionInfo[]): string | null {
  return [...planned].sort((a, b) => a.width * a.height - b.width * b.height || a.bandwidth - b.bandwidth)[0]?.name ?? null;
}

/** Whether a segment is the one a cue starting on a grid point takes its tile from. */
export function startsTile(start: number, duration: number): boolean {
  const grid = TILE_GRID_S * Math.ceil((start - 1e-6) / TILE_GRID_S);
  return grid < start + duration - 1e-6;
}

export function tileFile(msn: number): string {
  return `seg-${msn}.jpg`;
}

/** One JPEG of the first frame of `media`, at most 1280 pixels wide. */
async function posterFrame(ffmpegPath: string, media: Buffer): Promise<Buffer> {
  return execFfmpeg(ffmpegPath, ['-f', 'mp4', '-i', 'pipe:0', '-frames:v', '1', '-vf', "scale='min(1280,iw)':-2", '-q:v', '4', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'], media);
}

/**
 * One tile per fMP4 file, from a single ffmpeg process: spawning ffmpeg costs far more than
 * decoding one small frame (measured: ~0.2 CPU-s per process on the test machines).
 */
export async function makeTiles(ffmpegPath: string, media: Buffer[]): Promise<Buffer[]> {
  if (media.length === 0) return [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'spillway-tiles-'));
  try {
    const inputs = media.map((_, i) => path.join(dir, `in-${i}.mp4`));
    const outputs = media.map((_, i) => path.join(dir, `out-${i}.jpg`));
    await Promise.all(media.map((m, i) => writeFile(inputs[i]!, m)));
    const args = inputs.flatMap((file) => ['-threads', '1', '-f', 'mp4', '-i', file]);
    outputs.forEach((file, i) => args.push('-map', `${i}:v:0`, '-frames:v', '1', '-vf', TILE_FILTER, '-q:v', '4', '-c:v', 'mjpeg', '-f', 'image2', '-update', '1', file));
    await execFfmpeg(ffmpegPath, ['-y', ...args]);
    return await Promise.all(outputs.map((file) => readFile(file)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function makeThumbnails(opts: {
  ffmpegPath: string;
  /** the best rendition, for the poster */
  posterSegments: TimedSegment[];
  /** the tile rendition */
  tileSegments: TimedSegment[];
  /** tiles made while the stream was live, by segment (`seg-<msn>.jpg`); any that are missing are made now */
  tileDir: string | null;
  /** resolves when the tile maker has written what it still had queued */
  tilesSettled?: Promise<unknown>;
  spriteUri: string;
  /** the VOD's duration, where the last cue ends (renditions may differ by a frame) */
  durationS?: number;
}): Promise<Thumbnails> {
  const { ffmpegPath, posterSegments, tileSegments } = opts;
  // A third of the way in: past any black start, well before the end.
  const posterSource = posterSegments[Math.floor(posterSegments.length / 3)];
  if (!posterSource) throw new Error('no segment to make a poster from');
  const posterMade = posterSource.load().then((media) => posterFrame(ffmpegPath, media));
  // Settles either way: a rejected poster is reported once, below.
  posterMade.catch(() => {});

  const last = tileSegments.at(-1);
  const total = opts.durationS ?? (last ? last.start + last.duration : 0);
  const step = Math.max(TILE_GRID_S, TILE_GRID_S * Math.ceil(total / MAX_TILES / TILE_GRID_S));
  const cues: Array<{ from: number; to: number; segment: TimedSegment }> = [];
  for (let from = 0; from < total; from += step) {
    const segment = tileSegments.findLast((s) => s.start <= from + 1e-6) ?? tileSegments[0]!;
    cues.push({ from, to: Math.min(from + step, total), segment });
  }

  await opts.tilesSettled?.catch(() => {});
  const tiles = new Map<TimedSegment, Buffer>();
  const missing: TimedSegment[] = [];
  for (const { segment } of cues) {
    if (tiles.has(segment) || missing.includes(segment)) continue;
    const made = opts.tileDir ? await readFile(path.join(opts.tileDir, tileFile(segment.msn))).catch(() => null) : null;
    if (made) tiles.set(segment, made);
    else missing.push(segment);
  }
  // Only after a crash, a lost tile directory or a failed live batch: made now, ten per process.
  for (let i = 0; i < missing.length; i += TILE_BATCH) {
    const batch = missing.slice(i, i + TILE_BATCH);
    const made = await makeTiles(ffmpegPath, await Promise.all(batch.map((s) => s.load())));
    batch.forEach((s, j) => tiles.set(s, made[j]!));
  }

  const columns = Math.min(TILE.columns, Math.max(1, cues.length));
  const rows = Math.max(1, Math.ceil(cues.length / columns));
  const sprite = await execFfmpeg(
    ffmpegPath,
    ['-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0', '-vf', `tile=${columns}x${rows}`, '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'],
    Buffer.concat(cues.map((cue) => tiles.get(cue.segment)!)),
  );
  const lines = ['WEBVTT', ''];
  cues.forEach((cue, i) => {
    const x = (i % columns) * TILE.width;
    const y = Math.floor(i / columns) * TILE.height;
    lines.push(`${vttTime(cue.from)} --> ${vttTime(cue.to)}`, `${opts.spriteUri}#xywh=${x},${y},${TILE.width},${TILE.height}`, '');
  });
  return { poster: await posterMade, sprite, vtt: lines.join('\n') };
}

function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
}
