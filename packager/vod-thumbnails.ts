// A VOD's pictures, made with ffmpeg from recorded segments: a poster, and a seek-preview sprite
// sheet with the WebVTT track that maps each stretch of the timeline to one tile.
import { execFfmpeg } from './ffmpeg-exec.ts';

export interface TimedSegment {
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
const MIN_STEP_S = 2;

/** One JPEG of the first frame of `media`, at most `width` pixels wide (or exactly a tile). */
async function frame(ffmpegPath: string, media: Buffer, size: 'poster' | 'tile'): Promise<Buffer> {
  const filter =
    size === 'poster'
      ? "scale='min(1280,iw)':-2"
      : `scale=${TILE.width}:${TILE.height}:force_original_aspect_ratio=decrease,pad=${TILE.width}:${TILE.height}:(ow-iw)/2:(oh-ih)/2`;
  return execFfmpeg(ffmpegPath, ['-f', 'mp4', '-i', 'pipe:0', '-frames:v', '1', '-vf', filter, '-q:v', '4', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'], media);
}

export async function makeThumbnails(opts: {
  ffmpegPath: string;
  /** the best rendition, for the poster */
  posterSegments: TimedSegment[];
  /** the smallest rendition, for the tiles */
  tileSegments: TimedSegment[];
  spriteUri: string;
}): Promise<Thumbnails> {
  const { ffmpegPath, posterSegments, tileSegments } = opts;
  // A third of the way in: past any black start, well before the end.
  const posterSource = posterSegments[Math.floor(posterSegments.length / 3)];
  if (!posterSource) throw new Error('no segment to make a poster from');
  const poster = await frame(ffmpegPath, await posterSource.load(), 'poster');

  const last = tileSegments.at(-1);
  const total = last ? last.start + last.duration : 0;
  const step = Math.max(MIN_STEP_S, Math.ceil(total / MAX_TILES));
  const cues: Array<{ from: number; to: number; segment: TimedSegment }> = [];
  for (let from = 0; from < total; from += step) {
    const segment = tileSegments.findLast((s) => s.start <= from + 1e-6) ?? tileSegments[0]!;
    cues.push({ from, to: Math.min(from + step, total), segment });
  }
  const tiles: Buffer[] = [];
  const cache = new Map<TimedSegment, Buffer>();
  for (const cue of cues) {
    let tile = cache.get(cue.segment);
    if (!tile) {
      tile = await frame(ffmpegPath, await cue.segment.load(), 'tile');
      cache.set(cue.segment, tile);
    }
    tiles.push(tile);
  }
  const columns = Math.min(TILE.columns, Math.max(1, tiles.length));
  const rows = Math.max(1, Math.ceil(tiles.length / columns));
  const sprite = await execFfmpeg(
    ffmpegPath,
    ['-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0', '-vf', `tile=${columns}x${rows}`, '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'],
    Buffer.concat(tiles),
  );
  const lines = ['WEBVTT', ''];
  cues.forEach((cue, i) => {
    const x = (i % columns) * TILE.width;
    const y = Math.floor(i / columns) * TILE.height;
    lines.push(`${vttTime(cue.from)} --> ${vttTime(cue.to)}`, `${opts.spriteUri}#xywh=${x},${y},${TILE.width},${TILE.height}`, '');
  });
  return { poster, sprite, vtt: lines.join('\n') };
}

function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
}
