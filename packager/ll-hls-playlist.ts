// One rendition's live Low-Latency HLS media playlist: the data the packager keeps in memory and
// the text a player reads. Section numbers refer to draft-pantos-hls-rfc8216bis.

export interface Part {
  uri: string;
  /** seconds */
  duration: number;
  /** starts with a keyframe (EXT-X-PART INDEPENDENT=YES) */
  independent: boolean;
}

export interface Segment {
  mediaSequence: number;
  uri: string;
  /** seconds */
  duration: number;
  parts: Part[];
  /** wall clock at ingest of the segment's first sample */
  programDateTime: Date;
  /** first segment after a restart (EXT-X-DISCONTINUITY) */
  discontinuity: boolean;
  /** init section of this segment when it is not the playlist's `mapUri` (a restart can bring new codec parameters) */
  mapUri?: string;
}

/** Tags of the segment being built; §4.4.4.9 wants them before its first part, so they are known up front. */
export interface PendingSegment {
  programDateTime: Date;
  discontinuity: boolean;
  mapUri?: string;
}

export interface RenditionReport {
  uri: string;
  lastMsn: number;
  /** -1 while that rendition has no part yet (LAST-PART is then left out) */
  lastPart: number;
}

export interface MediaPlaylistState {
  /** integer, at least every segment's duration rounded to the nearest second (§4.4.3.1) */
  targetDuration: number;
  /** seconds; every part is at most this long (§4.4.4.9) */
  partTarget: number;
  mapUri: string;
  /** the live window, oldest first, consecutive media sequence numbers */
  segments: Segment[];
  /** complete parts of the segment being built (its media sequence number is the last segment's + 1) */
  pendingParts: Part[];
  /** the part the packager writes next (EXT-X-PRELOAD-HINT) */
  nextPartUri: string | null;
  /** discontinuities that have slid out of the window (§6.2.2), so numbering holds across renditions */
  discontinuitySequence: number;
  ended: boolean;
  pendingSegment?: PendingSegment;
}

// §8: EXT-X-MAP in a playlist without EXT-X-I-FRAMES-ONLY needs version 6 and EXT-X-SKIP needs 9; the
// low-latency tags themselves need none. §6.2.1 says the version SHOULD NOT exceed what the playlist
// uses, so a full playlist says 6 and only a delta update says 9.
const VERSION_FULL = 6;
const VERSION_DELTA = 9;
// §6.2.2: "EXT-X-PART tags SHOULD be removed from the Playlist after they are greater than three Target
// Durations from the end of the Playlist."
export const PART_RETENTION_TARGET_DURATIONS = 3;
// §4.4.3.8: PART-HOLD-BACK MUST be ≥ 2× and SHOULD be ≥ 3× PART-TARGET; the skip boundary MUST be ≥ 6× TARGETDURATION.
const PART_HOLD_BACK_PARTS = 3;
const SKIP_BOUNDARY_TARGET_DURATIONS = 6;
// Slack for float sums compared with limits.
const EPSILON = 1e-6;

/** Five decimals (as in the spec's examples): accumulated durations never drift perceptibly (§4.4.4.1). */
export function formatSeconds(seconds: number): string {
  const fixed = seconds.toFixed(5).replace(/0+$/, '');
  return fixed.endsWith('.') ? `${fixed}0` : fixed;
}

/** Computed from the printed PART-TARGET and rounded up, so a player multiplying what it parses never finds it short. */
export function partHoldBack(partTarget: number): number {
  return Math.ceil(PART_HOLD_BACK_PARTS * Number(formatSeconds(partTarget)) * 1e5 - EPSILON) / 1e5;
}

export function skipBoundary(targetDuration: number): number {
  return SKIP_BOUNDARY_TARGET_DURATIONS * targetDuration;
}

/** Media sequence number of the segment being built. An empty window starts the stream at 0. */
export function nextMediaSequence(state: MediaPlaylistState): number {
  const last = state.segments.at(-1);
  return last ? last.mediaSequence + 1 : 0;
}

/** An ended playlist lists complete segments only: parts without a parent cannot follow EXT-X-ENDLIST. */
function visiblePendingParts(state: MediaPlaylistState): Part[] {
  return state.ended ? [] : state.pendingParts;
}

export function segmentAt(state: MediaPlaylistState, msn: number): Segment | undefined {
  const first = state.segments[0];
  return first ? state.segments[msn - first.mediaSequence] : undefined;
}

/** The newest part: pending parts belong to the segment being built. `part` is -1 when there is no part yet. */
export function lastMsnAndPart(state: MediaPlaylistState): { msn: number; part: number } {
  const pending = visiblePendingParts(state);
  if (pending.length > 0) return { msn: nextMediaSequence(state), part: pending.length - 1 };
  const last = state.segments.at(-1);
  return last ? { msn: last.mediaSequence, part: last.parts.length - 1 } : { msn: 0, part: -1 };
}

export function hasPart(state: MediaPlaylistState, msn: number, part: number): boolean {
  if (!Number.isInteger(part) || part < 0) return false;
  const segment = segmentAt(state, msn);
  if (segment) return part < segment.parts.length;
  return msn === nextMediaSequence(state) && part < visiblePendingParts(state).length;
}

/** Summed as printed, so a validator adding up the text's durations draws the same boundary. */
function printedDuration(items: readonly { duration: number }[]): number {
  return items.reduce((total, item) => total + Number(formatSeconds(item.duration)), 0);
}

/**
 * Index of the oldest segment whose parts are still listed. A part is as far from the end of the playlist
 * as the media from its start to the last listed part, so a segment keeps its parts while its first part
 * starts at most three target durations from the end (exactly three is not "greater than"). Parts go a
 * whole segment at a time: hls.js numbers (for _HLS_part) and times a part by the parts listed before it
 * in its segment.
 */
function firstSegmentWithParts(state: MediaPlaylistState, pending: Part[]): number {
  const limit = PART_RETENTION_TARGET_DURATIONS * state.targetDuration + EPSILON;
  let fromEnd = printedDuration(pending);
  for (let i = state.segments.length - 1; i >= 0; i--) {
    const segment = state.segments[i]!;
    if (fromEnd + printedDuration(segment.parts) > limit) return i + 1;
    fromEnd += printedDuration([segment]);
  }
  return 0;
}

/**
 * §6.2.5.1: a delta update replaces the segments further from the end of the last complete segment than
 * the skip boundary. Only segments wholly beyond it are skipped, so a client that loaded the playlist
 * within the boundary already holds every one of them.
 */
function skippableSegments(state: MediaPlaylistState): number {
  const boundary = skipBoundary(state.targetDuration) + EPSILON;
  let fromEnd = 0;
  for (let i = state.segments.length - 1; i >= 0; i--) {
    if (fromEnd > boundary) return i + 1;
    fromEnd += state.segments[i]!.duration;
  }
  return 0;
}

function checkWindow(segments: readonly Segment[]): void {
  segments.forEach((segment, i) => {
    const previous = segments[i - 1];
    if (previous && segment.mediaSequence !== previous.mediaSequence + 1) {
      throw new RangeError(
        `playlist window is not consecutive: segment ${segment.mediaSequence} follows ${previous.mediaSequence}`,
      );
    }
  });
}

function partLine(part: Part): string {
  const independent = part.independent ? ',INDEPENDENT=YES' : '';
  return `#EXT-X-PART:DURATION=${formatSeconds(part.duration)},URI="${part.uri}"${independent}`;
}

function reportLine(report: RenditionReport): string {
  const lastPart = report.lastPart >= 0 ? `,LAST-PART=${report.lastPart}` : '';
  return `#EXT-X-RENDITION-REPORT:URI="${report.uri}",LAST-MSN=${report.lastMsn}${lastPart}`;
}

/**
 * Renders the playlist. With `skip` (a client's `_HLS_skip=YES|v2`) it is a delta update, unless the
 * stream ended (§6.2.5.1: the directive is then ignored) or nothing is old enough to skip.
 */
export function renderMediaPlaylist(state: MediaPlaylistState, options: { skip?: boolean; renditionReports?: readonly RenditionReport[] } = {}): string {
  checkWindow(state.segments);
  const { segments } = state;
  const pending = visiblePendingParts(state);
  const skipped = options.skip && !state.ended ? skippableSegments(state) : 0;
  const partsFrom = firstSegmentWithParts(state, pending);
  const serverControl = [
    'CAN-BLOCK-RELOAD=YES',
    `PART-HOLD-BACK=${formatSeconds(partHoldBack(state.partTarget))}`,
    `CAN-SKIP-UNTIL=${formatSeconds(skipBoundary(state.targetDuration))}`,
  ];
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${skipped > 0 ? VERSION_DELTA : VERSION_FULL}`,
    `#EXT-X-TARGETDURATION:${state.targetDuration}`,
    `#EXT-X-PART-INF:PART-TARGET=${formatSeconds(state.partTarget)}`,
    `#EXT-X-SERVER-CONTROL:${serverControl.join(',')}`,
    `#EXT-X-MEDIA-SEQUENCE:${segments[0]?.mediaSequence ?? nextMediaSequence(state)}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${state.discontinuitySequence}`,
  ];
  // Skipping leaves EXT-X-DISCONTINUITY-SEQUENCE unchanged (§4.4.5.2); it stays above the skip (hls.js requires it).
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);

  const listed = segments.slice(skipped);
  const first = listed[0] ?? (pending.length > 0 ? state.pendingSegment : undefined);
  let map = first?.mapUri ?? state.mapUri;
  lines.push(`#EXT-X-MAP:URI="${map}"`);
  // Tags of a segment precede its first part (§4.4.4.9). Every segment carries its own wall clock, so
  // the mapping survives the window sliding, delta updates and restarts without extrapolation.
  const segmentTags = (tags: { discontinuity: boolean; mapUri?: string; programDateTime: Date }): void => {
    if (tags.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    const segmentMap = tags.mapUri ?? state.mapUri;
    if (segmentMap !== map) {
      map = segmentMap;
      lines.push(`#EXT-X-MAP:URI="${map}"`);
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${tags.programDateTime.toISOString()}`);
  };

  listed.forEach((segment, i) => {
    segmentTags(segment);
    if (skipped + i >= partsFrom) lines.push(...segment.parts.map(partLine));
    lines.push(`#EXTINF:${formatSeconds(segment.duration)},`, segment.uri);
  });
  if (pending.length > 0) {
    if (state.pendingSegment) segmentTags(state.pendingSegment);
    lines.push(...pending.map(partLine));
  }
  // §4.4.5.3: no preload hint once EXT-X-ENDLIST is there.
  if (!state.ended && state.nextPartUri !== null) {
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${state.nextPartUri}"`);
  }
  lines.push(...(options.renditionReports ?? []).map(reportLine));
  if (state.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
