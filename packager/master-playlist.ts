// The multivariant (master) playlist of a live stream, and the media playlist of a finished recording.
// Section numbers refer to draft-pantos-hls-rfc8216bis.
import { formatSeconds } from './ll-hls-playlist.ts';
import type { Segment } from './ll-hls-playlist.ts';

export interface Rendition {
  /** e.g. "720p"; orders equal bandwidths, not written (EXT-X-STREAM-INF has no name attribute) */
  name: string;
  /** media playlist URI, relative to the master playlist */
  uri: string;
  /** peak segment bit rate, bits/s */
  bandwidth: number;
  /** average segment bit rate, bits/s */
  averageBandwidth: number;
  width: number;
  height: number;
  frameRate: number;
  /** RFC 6381 list of every format in the segments, e.g. "avc1.64001f,mp4a.40.2" */
  codecs: string;
}

/**
 * Highest variant first: players that start with the first listed variant start at the best quality
 * and adapt down. No EXT-X-VERSION: nothing here needs more than version 1 (§8), and §6.2.1 says the
 * version SHOULD NOT exceed what the playlist uses. Segments start with a keyframe in every rendition,
 * hence EXT-X-INDEPENDENT-SEGMENTS.
 */
export function renderMasterPlaylist(renditions: readonly Rendition[]): string {
  if (renditions.length === 0) throw new RangeError('a master playlist needs at least one rendition');
  const ordered = [...renditions].sort(
    (a, b) => b.bandwidth - a.bandwidth || b.height - a.height || a.name.localeCompare(b.name),
  );
  const lines = ['#EXTM3U', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const r of ordered) {
    const attributes = [
      `BANDWIDTH=${Math.ceil(r.bandwidth)}`,
      `AVERAGE-BANDWIDTH=${Math.ceil(r.averageBandwidth)}`,
      // an audio-only rendition has neither
      ...(r.width > 0 && r.height > 0 ? [`RESOLUTION=${Math.round(r.width)}x${Math.round(r.height)}`] : []),
      // §4.4.6.2: "rounded to three decimal places"
      ...(r.frameRate > 0 ? [`FRAME-RATE=${r.frameRate.toFixed(3)}`] : []),
      `CODECS="${r.codecs}"`,
    ];
    lines.push(`#EXT-X-STREAM-INF:${attributes.join(',')}`, r.uri);
  }
  return `${lines.join('\n')}\n`;
}

export type VodSegment = Pick<Segment, 'uri' | 'duration' | 'discontinuity' | 'mapUri'>;

/**
 * A recording: every segment from the start, discontinuities where the live stream restarted, a new
 * EXT-X-MAP where the init section changed. Version 6 for EXT-X-MAP (§8).
 */
export function renderVodMediaPlaylist(
  segments: readonly VodSegment[],
  options: { mapUri: string; targetDuration: number },
): string {
  let map = segments[0]?.mapUri ?? options.mapUri;
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    `#EXT-X-TARGETDURATION:${options.targetDuration}`,
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-MEDIA-SEQUENCE:0',
    `#EXT-X-MAP:URI="${map}"`,
  ];
  for (const segment of segments) {
    if (segment.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    const segmentMap = segment.mapUri ?? options.mapUri;
    if (segmentMap !== map) {
      map = segmentMap;
      lines.push(`#EXT-X-MAP:URI="${map}"`);
    }
    lines.push(`#EXTINF:${formatSeconds(segment.duration)},`, segment.uri);
  }
  lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
