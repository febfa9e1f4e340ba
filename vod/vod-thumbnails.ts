// A VOD's pictures, made with ffmpeg from recorded segments: a poster, and a seek-preview sprite
// sheet with the WebVTT track that maps each stretch of the timeline to one tile. Tiles are the
// first frame of a segment; the tile maker (tile-maker.ts) makes them while the stream is live, so
// at the end only the missing ones are made here, and the sheet is assembled from what is on disk.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFfmpeg } from '../packager/ffmpeg-exec.ts';
import { Fmp4Reader, readBoxes } from '../packager/fmp4-reader.ts';
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
/** Missing tiles made by one ffmpeg process when a VOD is finalised (each from a whole segment it loads). */
export const TILE_BATCH = 10;
const TILE_FILTER = `scale=${TILE.width}:${TILE.height}:force_original_aspect_ratio=decrease,pad=${TILE.width}:${TILE.height}:(ow-iw)/2:(oh-ih)/2`;

/**
 * The rendition tiles are made from: the smallest picture planned (cheapest to decode; a source
 * rendition's bandwidth is only a guess). Chosen the same way while live and at the end.
 */
export function tileRendition(planned: RenditionInfo[]): string | null {
  return [...planned].sort((a, b) => a.width * a.height - b.width * b.height || a.bandwidth - b.bandwidth)[0]?.name ?? null;
}

/**
 * Seconds between cues for media of `totalS`: TILE_GRID_S doubled until at most MAX_TILES cues
 * cover it. Powers of two, so a recording's cue points only ever thin out as it grows: every cue
 * point of its final length is a cue point of any length it had before.
 */
export function tileStep(totalS: number): number {
  let step = TILE_GRID_S;
  while (totalS / step > MAX_TILES) step *= 2;
  return step;
}

/**
 * Whether a live recording's segment from `start` for `duration` seconds is the one a cue takes its
 * tile from, at the step its length so far calls for. Any later, longer length has cue points only
 * among these, so a tile skipped now is never needed (an hour of 2 s segments: about 300 tiles
 * made instead of 1800).
 */
export function startsTile(start: number, duration: number): boolean {
  return onCueGrid(start, duration, tileStep(start + duration));
}

/** Whether a cue point of a grid of `step` seconds falls in the segment from `start` for `duration`. */
export function onCueGrid(start: number, duration: number, step: number): boolean {
  const grid = step * Math.ceil((start - 1e-6) / step);
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
 * One tile per fMP4 file (init section + segment): its first picture, which is a keyframe in the
 * packager's segments. The first fragments of consecutive files sharing an init section are
 * joined into one short stream and only its keyframes are decoded, in one ffmpeg process: one
 * demuxer and one decoder, where an input per file cost three times the CPU (measured on 720p:
 * 0.10 CPU-s for ten tiles against 0.27). A file that does not start with a keyframe (a source
 * whose keyframes are further apart than a segment) shows the tile before it.
 */
export async function makeTiles(ffmpegPath: string, media: Buffer[]): Promise<Buffer[]> {
  if (media.length === 0) return [];
  const starts = media.map(keyframeStart);
  const tiles: Array<Buffer | null> = media.map(() => null);
  for (let i = 0; i < media.length; ) {
    const init = starts[i]?.init;
    if (!init) {
      i += 1;
      continue;
    }
    const group: number[] = [];
    for (; i < media.length && (!starts[i] || starts[i]!.init.equals(init)); i++) if (starts[i]) group.push(i);
    const fragments = group.map((k) => starts[k]!.fragment);
    const made = (await keyframeTiles(ffmpegPath, init, fragments)) ?? (await Promise.all(fragments.map((f) => keyframeTiles(ffmpegPath, init, [f]).then((one) => one?.[0] ?? null))));
    group.forEach((k, n) => (tiles[k] = made[n] ?? null));
  }
  return borrowMissing(tiles);
}

/** Tiles of the keyframes of init + fragments, one per fragment; null when the count is not that. */
async function keyframeTiles(ffmpegPath: string, init: Buffer, fragments: Buffer[]): Promise<Buffer[] | null> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'spillway-tiles-'));
  try {
    const pattern = path.join(dir, 'tile-%d.jpg');
    await execFfmpeg(ffmpegPath, ['-threads', '1', '-skip_frame', 'nokey', '-f', 'mp4', '-i', 'pipe:0', '-map', '0:v:0', '-fps_mode', 'passthrough', '-vf', TILE_FILTER, '-q:v', '4', '-c:v', 'mjpeg', '-f', 'image2', '-y', pattern], Buffer.concat([init, ...fragments]));
    if ((await readdir(dir)).length !== fragments.length) return null;
    return await Promise.all(fragments.map((_, n) => readFile(path.join(dir, `tile-${n + 1}.jpg`))));
  } catch {
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What a segment's tile is made from: its init section and its first fragment, copied, so a
 * queue of them does not hold whole segments. The whole file when its boxes cannot be walked.
 */
export function tileInput(init: Buffer, segment: Buffer): Buffer {
  let mdat;
  try {
    mdat = readBoxes(segment).find((box) => box.type === 'mdat');
  } catch {
    // not boxes end to end: kept whole
  }
  return Buffer.concat([init, mdat ? segment.subarray(0, mdat.start + mdat.size) : segment]);
}

/** The init section and first fragment of an fMP4 file, or null unless that fragment starts with a keyframe. */
function keyframeStart(media: Buffer): { init: Buffer; fragment: Buffer } | null {
  try {
    const reader = new Fmp4Reader();
    let init: Buffer | null = null;
    for (const event of reader.push(media)) {
      if (event.type === 'init') init = event.data;
      else return init && event.independent ? { init, fragment: event.data } : null;
    }
  } catch {
    // not fragmented MP4: no tile of its own
  }
  return null;
}

/** A file with no keyframe of its own shows its neighbour's tile. */
function borrowMissing(tiles: Array<Buffer | null>): Buffer[] {
  const first = tiles.find((tile) => tile !== null);
  if (!first) throw new Error('no keyframe to make a tile from');
  let previous = first;
  return tiles.map((tile) => (previous = tile ?? previous));
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
  const step = tileStep(total);
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
