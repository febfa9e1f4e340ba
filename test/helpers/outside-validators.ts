// Second opinions beside our own validator: hls-parser (strict mode: a playlist that breaks one of its
// rules is refused) and video.js's m3u8-parser (lenient: it warns). Each reading is reduced to the same
// shape as ours, so a test can ask that all three read a playlist alike.
import * as HLS from 'hls-parser';
import { Parser, type M3u8Manifest, type M3u8Part } from 'm3u8-parser';
import { parseMediaPlaylist } from './ll-hls-validator.ts';

export type PartReading = [uri: string, duration: number, independent: boolean];

export interface MediaReading {
  mediaSequence: number;
  discontinuitySequence: number;
  skipped: number;
  targetDuration: number | null;
  partTarget: number | null;
  segments: Array<{ uri: string; duration: number; discontinuity: boolean; map: string | null; parts: PartReading[] }>;
  /** parts of the segment being built */
  pendingParts: PartReading[];
  preloadHint: string | null;
  renditionReports: Array<[uri: string, lastMsn: number | null, lastPart: number | null]>;
  ended: boolean;
}

export interface VariantReading {
  uri: string;
  bandwidth: number;
  averageBandwidth: number | null;
  resolution: string | null;
  frameRate: number | null;
  codecs: string | null;
}

/** hls-parser's message for the §6.2.2 rule, which it checks by counting segments (see the tests). */
export const HLS_PARSER_PART_RETENTION = /Remove EXT-X-PART tags from the Playlist after they are greater than three target durations/;

/**
 * hls-parser in strict mode throws at the first rule a playlist breaks. When it does, the playlist is read
 * again in lenient mode, where hls-parser reports every violation on console.error, to list them all.
 */
function hlsParse(text: string): { problems: string[]; playlist: HLS.types.Playlist } {
  HLS.setOptions({ strictMode: true, silent: true });
  try {
    return { problems: [], playlist: HLS.parse(text) };
  } catch (err) {
    const first = (err as Error).message;
    const problems: string[] = [];
    const consoleError = console.error;
    console.error = (message: unknown) => void problems.push(String(message));
    try {
      HLS.setOptions({ strictMode: false, silent: false });
      const playlist = HLS.parse(text);
      return { problems: problems.includes(first) ? problems : [first, ...problems], playlist };
    } finally {
      console.error = consoleError;
      HLS.setOptions({ strictMode: true, silent: true });
    }
  }
}

function m3u8Parse(text: string): { warnings: string[]; manifest: M3u8Manifest } {
  const parser = new Parser();
  const warnings: string[] = [];
  parser.on('warn', (event) => warnings.push(event.message));
  parser.push(text);
  parser.end();
  return { warnings, manifest: parser.manifest };
}

export function hlsParserProblems(text: string): string[] {
  return hlsParse(text).problems;
}

/** m3u8-parser parses anything, but warns about what it had to guess or skip. */
export function m3u8ParserWarnings(text: string): string[] {
  return m3u8Parse(text).warnings;
}

export function ourMediaReading(text: string): MediaReading {
  const p = parseMediaPlaylist(text);
  const part = (x: { uri: string; duration: number; independent: boolean }): PartReading => [x.uri, x.duration, x.independent];
  return {
    mediaSequence: p.mediaSequence,
    discontinuitySequence: p.discontinuitySequence,
    skipped: p.skippedSegments,
    targetDuration: p.targetDuration,
    partTarget: p.partTarget,
    segments: p.segments.map((s) => ({ uri: s.uri, duration: s.duration, discontinuity: s.discontinuity, map: s.mapUri, parts: s.parts.map(part) })),
    pendingParts: p.pendingParts.map(part),
    preloadHint: p.preloadHints.find((h) => h.type === 'PART')?.uri ?? null,
    renditionReports: p.renditionReports.map((r) => [r.uri, r.lastMsn, r.lastPart]),
    ended: p.ended,
  };
}

export function hlsParserMedia(text: string): { problems: string[]; reading: MediaReading } {
  const { problems, playlist } = hlsParse(text);
  if (playlist.isMasterPlaylist) throw new Error('hls-parser read a master playlist');
  const p = playlist as HLS.types.MediaPlaylist;
  // The segment being built has no URI; the preload hint is a part of it, marked as a hint.
  const complete = p.segments.filter((s) => s.uri !== '');
  const building = p.segments.find((s) => s.uri === '');
  const part = (x: HLS.types.PartialSegment): PartReading => [x.uri, x.duration ?? 0, Boolean(x.independent)];
  const reading: MediaReading = {
    mediaSequence: p.mediaSequenceBase ?? 0,
    discontinuitySequence: p.discontinuitySequenceBase ?? 0,
    skipped: p.skip,
    targetDuration: p.targetDuration ?? null,
    partTarget: p.partTargetDuration ?? null,
    segments: complete.map((s) => ({
      uri: s.uri, duration: s.duration, discontinuity: Boolean(s.discontinuity), map: s.map?.uri ?? null,
      parts: s.parts.filter((x) => !x.hint).map(part),
    })),
    pendingParts: (building?.parts ?? []).filter((x) => !x.hint).map(part),
    preloadHint: building?.parts.find((x) => x.hint)?.uri ?? null,
    renditionReports: p.renditionReports.map((r) => [r.uri, r.lastMSN ?? null, r.lastPart ?? null]),
    ended: p.endlist,
  };
  return { problems, reading };
}

export function m3u8ParserMedia(text: string): { warnings: string[]; reading: MediaReading } {
  const { warnings, manifest: m } = m3u8Parse(text);
  const part = (x: M3u8Part): PartReading => [x.uri, x.duration, Boolean(x.independent)];
  const reading: MediaReading = {
    mediaSequence: m.mediaSequence ?? 0,
    discontinuitySequence: m.discontinuitySequence ?? 0,
    skipped: m.skip?.skippedSegments ?? 0,
    targetDuration: m.targetDuration ?? null,
    partTarget: m.partTargetDuration ?? null,
    segments: m.segments.map((s) => ({
      uri: s.uri, duration: s.duration, discontinuity: Boolean(s.discontinuity), map: s.map?.uri ?? null,
      parts: (s.parts ?? []).map(part),
    })),
    pendingParts: (m.preloadSegment?.parts ?? []).map(part),
    preloadHint: m.preloadSegment?.preloadHints?.find((h) => h.type === 'PART')?.uri ?? null,
    renditionReports: (m.renditionReports ?? []).map((r) => [r.uri, r.lastMsn ?? null, r.lastPart ?? null]),
    ended: Boolean(m.endList),
  };
  return { warnings, reading };
}

export function hlsParserVariants(text: string): VariantReading[] {
  const { playlist } = hlsParse(text);
  if (!playlist.isMasterPlaylist) throw new Error('hls-parser read a media playlist');
  return (playlist as HLS.types.MasterPlaylist).variants.map((v) => ({
    uri: v.uri,
    bandwidth: v.bandwidth,
    averageBandwidth: v.averageBandwidth ?? null,
    resolution: v.resolution ? `${v.resolution.width}x${v.resolution.height}` : null,
    frameRate: v.frameRate ?? null,
    codecs: v.codecs ?? null,
  }));
}

export function m3u8ParserVariants(text: string): VariantReading[] {
  return (m3u8Parse(text).manifest.playlists ?? []).map(({ uri, attributes: a }) => {
    const resolution = a['RESOLUTION'] as { width: number; height: number } | undefined;
    return {
      uri,
      bandwidth: a['BANDWIDTH'] as number,
      // m3u8-parser leaves AVERAGE-BANDWIDTH as the string it read.
      averageBandwidth: a['AVERAGE-BANDWIDTH'] === undefined ? null : Number(a['AVERAGE-BANDWIDTH']),
      resolution: resolution ? `${resolution.width}x${resolution.height}` : null,
      frameRate: (a['FRAME-RATE'] as number | undefined) ?? null,
      codecs: (a['CODECS'] as string | undefined) ?? null,
    };
  });
}
