// Stores a transcoded upload in the recordings' layout (vods/<id>/<rendition>/init-0.mp4,
// seg-<n>.m4s, index.m3u8; master.m3u8, poster.jpg, sprite.jpg, thumbnails.vtt) and turns its row
// 'ready'. Media first, each playlist after the files it names, the master playlist last, so a
// player never meets a name that is not there yet. Keys are fixed by the VOD id, so a second
// attempt (after a worker died) overwrites the same objects instead of adding to them.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { IMMUTABLE } from '../packager/stream-defs.ts';
import { renderMasterPlaylist, renderVodMediaPlaylist, type VodSegment } from '../packager/master-playlist.ts';
import type { Storage } from '../src/storage/storage.ts';
import { readInitInfo } from './fmp4-file-info.ts';
import { TILE_DIR, type PlannedRendition } from './transcode-args.ts';
import type { VodRendition } from './vod-tables.ts';
import { makeThumbnails, TILE_GRID_S, type TimedSegment } from './vod-thumbnails.ts';

const PLAYLIST_CACHE = 'public, max-age=300';
const PARALLEL_PUTS = 4;

export interface PublishedVod {
  durationS: number;
  renditions: VodRendition[];
  sizeBytes: number;
  thumbnailKey: string | null;
}

/** Segment URIs and durations of ffmpeg's own VOD playlist. */
export function readHlsSegments(playlist: string): Array<{ uri: string; duration: number }> {
  const segments: Array<{ uri: string; duration: number }> = [];
  let duration: number | null = null;
  for (const line of playlist.split('\n').map((l) => l.trim())) {
    const m = /^#EXTINF:([\d.]+)/.exec(line);
    if (m) duration = Number(m[1]);
    else if (line !== '' && !line.startsWith('#') && duration !== null) {
      segments.push({ uri: line, duration });
      duration = null;
    }
  }
  return segments;
}

export async function publishUpload(opts: {
  storage: Storage;
  ffmpegPath: string;
  prefix: string;
  outDir: string;
  renditions: PlannedRendition[];
  signal: AbortSignal;
  onWarning(err: unknown): void;
}): Promise<PublishedVod> {
  const { storage, prefix, outDir, signal } = opts;
  const done: Array<VodRendition & { timed: TimedSegment[] }> = [];
  let sizeBytes = 0;
  const put = async (key: string, body: Buffer | string, contentType: string, cacheControl: string) => {
    signal.throwIfAborted();
    await storage.put(`${prefix}/${key}`, body, { contentType, cacheControl });
    sizeBytes += body.length;
  };

  for (const r of opts.renditions) {
    const dir = path.dirname(r.playlist);
    const segments = readHlsSegments(await readFile(r.playlist, 'utf8'));
    if (segments.length === 0) throw new Error(`rendition ${r.name} has no segments`);
    const init = await readFile(path.join(dir, 'init-0.mp4'));
    await put(`${r.name}/init-0.mp4`, init, 'video/mp4', IMMUTABLE);
    const sizes: number[] = [];
    for (let i = 0; i < segments.length; i += PARALLEL_PUTS) {
      await Promise.all(
        segments.slice(i, i + PARALLEL_PUTS).map(async (s, j) => {
          const body = await readFile(path.join(dir, s.uri));
          sizes[i + j] = body.length;
          await put(`${r.name}/${s.uri}`, body, 'video/iso.segment', IMMUTABLE);
        }),
      );
    }
    const vodSegments: VodSegment[] = segments.map((s) => ({ uri: s.uri, duration: s.duration, discontinuity: false, mapUri: 'init-0.mp4' }));
    const playlist = renderVodMediaPlaylist(vodSegments, { mapUri: 'init-0.mp4', targetDuration: Math.max(1, Math.ceil(Math.max(...segments.map((s) => s.duration)) - 1e-6)) });
    await put(`${r.name}/index.m3u8`, playlist, 'application/vnd.apple.mpegurl', PLAYLIST_CACHE);
    const total = segments.reduce((sum, s) => sum + s.duration, 0);
    const bytes = sizes.reduce((sum, n) => sum + n, 0);
    let start = 0;
    const timed = segments.map((s, msn) => {
      const t: TimedSegment = { msn, start, duration: s.duration, load: async () => Buffer.concat([init, await readFile(path.join(dir, s.uri))]) };
      start += s.duration;
      return t;
    });
    done.push({
      name: r.name,
      width: r.width,
      height: r.height,
      frameRate: r.frameRate,
      bandwidth: Math.ceil(Math.max(...segments.map((s, i) => (sizes[i]! * 8) / Math.max(0.1, s.duration)))),
      averageBandwidth: Math.ceil((bytes * 8) / Math.max(0.1, total)),
      codecs: readInitInfo(init).codec,
      segments: segments.length,
      timed,
    });
  }

  const durationS = done[0]!.timed.reduce((sum, s) => sum + s.duration, 0);
  let thumbnailKey: string | null = null;
  try {
    // The tiles ffmpeg made beside the ladder, one per TILE_GRID_S: as if each were a segment of that length.
    const smallest = done.at(-1)!.timed;
    const tiles: TimedSegment[] = [];
    for (let msn = 0; msn * TILE_GRID_S < durationS; msn++) {
      const at = msn * TILE_GRID_S;
      const covering = smallest.findLast((s) => s.start <= at + 1e-6) ?? smallest[0]!;
      tiles.push({ msn, start: at, duration: Math.min(TILE_GRID_S, durationS - at), load: covering.load });
    }
    const pictures = await makeThumbnails({
      ffmpegPath: opts.ffmpegPath,
      posterSegments: done[0]!.timed,
      tileSegments: tiles,
      tileDir: path.join(outDir, TILE_DIR),
      spriteUri: 'sprite.jpg',
      durationS,
    });
    await put('sprite.jpg', pictures.sprite, 'image/jpeg', PLAYLIST_CACHE);
    await put('thumbnails.vtt', pictures.vtt, 'text/vtt', PLAYLIST_CACHE);
    await put('poster.jpg', pictures.poster, 'image/jpeg', PLAYLIST_CACHE);
    thumbnailKey = `${prefix}/poster.jpg`;
  } catch (err) {
    // A VOD without pictures still plays.
    opts.onWarning(err);
  }
  const master = renderMasterPlaylist(done.map((r) => ({ ...r, uri: `${r.name}/index.m3u8` })));
  await put('master.m3u8', master, 'application/vnd.apple.mpegurl', PLAYLIST_CACHE);
  return { durationS, renditions: done.map(({ timed: _t, ...r }) => r), sizeBytes, thumbnailKey };
}
