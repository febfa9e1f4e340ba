// Publishes a recorded session as a VOD once every journaled file is stored: a VOD media playlist
// per rendition (discontinuities and EXT-X-MAP per ffmpeg run kept), the master playlist last (a
// playlist goes up only after everything it names), poster, sprite sheet, thumbnails track, and
// finally the vods row turns 'ready'. The sheet's tiles were made while the stream was live
// (tile-maker.ts), so the work here does not grow with the stream's length.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../src/log.ts';
import type { Storage } from '../src/storage/storage.ts';
import { readInitInfo } from './fmp4-file-info.ts';
import type { RenditionInfo } from '../packager/stream-defs.ts';
import { renderMasterPlaylist, renderVodMediaPlaylist, type VodSegment } from '../packager/master-playlist.ts';
import type { VodRendition } from './vod-tables.ts';
import { makeThumbnails, type TimedSegment } from './vod-thumbnails.ts';
import type { JournalRow, Vod, VodStore } from './vod-store.ts';

export interface FinalizeDeps {
  storage: Storage;
  store: VodStore;
  ffmpegPath: string;
  log: Logger;
}

const PLAYLIST_CACHE = 'public, max-age=300';

/** The tiles made live: from which rendition, where, and when the last of them are written. */
export interface LiveTiles {
  rendition: string | null;
  dir: string | null;
  settled: Promise<unknown>;
}

export async function finalizeVod(deps: FinalizeDeps, vod: Vod, sessionDir: string, planned: RenditionInfo[], liveTiles?: LiveTiles): Promise<'ready' | 'failed'> {
  const { storage, store, log } = deps;
  const rows = (await store.allJournaled(vod.id)).filter((r) => r.state === 'uploaded');
  const byRendition = new Map<string, JournalRow[]>();
  for (const row of rows) byRendition.set(row.rendition, [...(byRendition.get(row.rendition) ?? []), row]);

  // Local copy while it is there (fast), else the stored one (after a restart or a long stream).
  const load = async (rendition: string, file: string): Promise<Buffer> => {
    try {
      return await readFile(path.join(sessionDir, rendition, file));
    } catch {
      const object = await storage.get(`${vod.storage_prefix}/${rendition}/${file}`);
      const chunks: Buffer[] = [];
      for await (const chunk of object.body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    }
  };

  const renditions: Array<VodRendition & { timed: TimedSegment[] }> = [];
  let sizeBytes = 0;
  for (const [name, all] of byRendition) {
    const segments = all.filter((r) => r.kind === 'segment' && r.msn !== null).sort((a, b) => a.msn! - b.msn!);
    if (segments.length === 0) continue;
    const vodSegments: VodSegment[] = segments.map((s) => ({ uri: s.file, duration: s.duration_s ?? 0, discontinuity: s.discontinuity, mapUri: `init-${s.run}.mp4` }));
    const maxDuration = Math.max(...vodSegments.map((s) => s.duration));
    const playlist = renderVodMediaPlaylist(vodSegments, { mapUri: vodSegments[0]!.mapUri!, targetDuration: Math.max(1, Math.ceil(maxDuration - 1e-6)) });
    await storage.put(`${vod.storage_prefix}/${name}/index.m3u8`, playlist, { contentType: 'application/vnd.apple.mpegurl', cacheControl: PLAYLIST_CACHE });

    const totalDuration = vodSegments.reduce((sum, s) => sum + s.duration, 0);
    const totalBytes = all.reduce((sum, r) => sum + r.size_bytes, 0);
    sizeBytes += totalBytes + playlist.length;
    const peak = Math.max(...segments.map((s) => (s.size_bytes * 8) / Math.max(0.1, s.duration_s ?? 0)));
    const info = planned.find((p) => p.name === name);
    let start = 0;
    const timed = segments.map((s) => {
      const t: TimedSegment = { msn: s.msn!, start, duration: s.duration_s ?? 0, load: async () => Buffer.concat([await load(name, `init-${s.run}.mp4`), await load(name, s.file)]) };
      start += t.duration;
      return t;
    });
    renditions.push({
      name,
      width: info?.width ?? 0,
      height: info?.height ?? 0,
      frameRate: info?.frameRate ?? 30,
      bandwidth: Math.ceil(peak),
      averageBandwidth: Math.ceil((totalBytes * 8) / Math.max(0.1, totalDuration)),
      codecs: readInitInfo(await load(name, `init-${segments[0]!.run}.mp4`)).codec,
      segments: segments.length,
      timed,
    });
  }
  if (renditions.length === 0) {
    log.warn({ vod: vod.id }, 'nothing was recorded; the VOD failed');
    await store.setStatus(vod.id, 'failed');
    return 'failed';
  }

  const master = renderMasterPlaylist(renditions.map((r) => ({ ...r, uri: `${r.name}/index.m3u8` })));
  renditions.sort((a, b) => b.bandwidth - a.bandwidth);
  // The rendition the tiles were made from while live, else (nothing recorded of it) the lightest.
  const tileSource = renditions.find((r) => r.name === liveTiles?.rendition);
  const durationS = Math.max(...renditions.map((r) => r.timed.reduce((sum, s) => sum + s.duration, 0)));
  let thumbnailKey: string | null = null;
  try {
    const pictures = await makeThumbnails({
      ffmpegPath: deps.ffmpegPath,
      posterSegments: renditions[0]!.timed,
      tileSegments: (tileSource ?? renditions.at(-1)!).timed,
      tileDir: tileSource ? (liveTiles?.dir ?? null) : null,
      tilesSettled: liveTiles?.settled,
      spriteUri: 'sprite.jpg',
      durationS,
    });
    await storage.put(`${vod.storage_prefix}/sprite.jpg`, pictures.sprite, { contentType: 'image/jpeg', cacheControl: PLAYLIST_CACHE });
    await storage.put(`${vod.storage_prefix}/thumbnails.vtt`, pictures.vtt, { contentType: 'text/vtt', cacheControl: PLAYLIST_CACHE });
    await storage.put(`${vod.storage_prefix}/poster.jpg`, pictures.poster, { contentType: 'image/jpeg', cacheControl: PLAYLIST_CACHE });
    thumbnailKey = `${vod.storage_prefix}/poster.jpg`;
    sizeBytes += pictures.sprite.length + pictures.poster.length + pictures.vtt.length;
  } catch (err) {
    // A VOD without pictures still plays; a missing poster must not hold it back.
    log.error({ err, vod: vod.id }, 'making the VOD thumbnails failed');
  }
  await storage.put(`${vod.storage_prefix}/master.m3u8`, master, { contentType: 'application/vnd.apple.mpegurl', cacheControl: PLAYLIST_CACHE });
  sizeBytes += master.length;

  // The first segment was complete on disk at file_ready_at and holds duration_s of media: its
  // first frame was shown that much earlier. Chat replay measures from there.
  const firstSegments = [...byRendition.values()].flatMap((all) => {
    const first = all.filter((r) => r.kind === 'segment' && r.msn !== null).sort((a, b) => a.msn! - b.msn!)[0];
    return first ? [first] : [];
  });
  const mediaStart = Math.min(...firstSegments.map((r) => r.file_ready_at.getTime() - (r.duration_s ?? 0) * 1000));
  const mediaOffsetMs = Math.max(0, Math.round(mediaStart - vod.started_at.getTime()));
  await store.markReady(vod.id, {
    mediaOffsetMs,
    durationS,
    renditions: renditions.map(({ timed: _timed, ...r }) => r),
    sizeBytes,
    thumbnailKey,
  });
  log.info({ vod: vod.id, durationS: Math.round(durationS * 100) / 100, renditions: renditions.map((r) => r.name), sizeBytes }, 'VOD ready');
  return 'ready';
}
