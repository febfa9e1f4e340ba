// Delivery directives of a playlist request (draft-pantos-hls-rfc8216bis §6.2.5): parsing the query and
// deciding whether the playlist can be answered now, must be held, or is refused with a 400.
import { lastMsnAndPart, nextMediaSequence, segmentAt } from './ll-hls-playlist.ts';
import type { MediaPlaylistState } from './ll-hls-playlist.ts';

export interface ReloadRequest {
  msn?: number;
  part?: number;
  /** a delta update was asked for (`_HLS_skip=YES` or `v2`) */
  skip: boolean;
}

export type ReloadDecision = 'ready' | 'wait' | { error: 'too-far-ahead' };

// decimal-integer (§4.2): digits only, no sign, no fraction; kept within what a JS number holds exactly.
const DECIMAL_INTEGER = /^[0-9]{1,15}$/;
const EPSILON = 1e-9;

function readIndex(query: Record<string, unknown>, name: string): number | undefined | { error: string } {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (Array.isArray(value)) return { error: `${name} is given more than once` };
  if (typeof value !== 'string' || !DECIMAL_INTEGER.test(value)) {
    return { error: `${name} must be a non-negative integer` };
  }
  return Number(value);
}

export function parseReloadQuery(query: Record<string, unknown>): ReloadRequest | { error: string } {
  const msn = readIndex(query, '_HLS_msn');
  if (typeof msn === 'object') return msn;
  const part = readIndex(query, '_HLS_part');
  if (typeof part === 'object') return part;
  // §6.2.5.2: _HLS_part without _HLS_msn MUST be answered with Bad Request.
  if (part !== undefined && msn === undefined) return { error: '_HLS_part needs _HLS_msn' };
  const skip = query['_HLS_skip'];
  if (skip !== undefined && skip !== 'YES' && skip !== 'v2') return { error: '_HLS_skip must be YES or v2' };
  const request: ReloadRequest = { skip: skip !== undefined };
  if (msn !== undefined) request.msn = msn;
  if (part !== undefined) request.part = part;
  return request;
}

/** §6.2.5.2: "three divided by the Part Target Duration if [it] is less than one second, or three otherwise". */
export function advancePartLimit(partTarget: number): number {
  return partTarget < 1 ? 3 / partTarget : 3;
}

/**
 * Blocking playlist reload, §6.2.5.2:
 * - With EXT-X-ENDLIST, `_HLS_msn` and `_HLS_part` are ignored: answer now.
 * - `_HLS_msn=M` alone waits until the segment M (or a later one) is complete.
 * - `_HLS_msn=M&_HLS_part=N` waits until part N of segment M (or a later part) exists; an N past the
 *   last part of a complete segment M means part 0 of M + 1.
 * - A segment older than the window is answered at once with the whole playlist.
 * - Too far ahead (SHOULD answer 400 at once): M greater than the last complete segment's number plus
 *   two, or N beyond the newest part by more than the Advance Part Limit. How many parts the segment
 *   being built will have is not known yet, so the distance counts at least one part for each segment
 *   in between: a request is refused only when it is surely too far.
 */
export function decideReload(state: MediaPlaylistState, request: ReloadRequest): ReloadDecision {
  if (state.ended || request.msn === undefined) return 'ready';
  const lastComplete = nextMediaSequence(state) - 1;
  if (request.msn > lastComplete + 2) return { error: 'too-far-ahead' };
  if (request.part === undefined) return request.msn <= lastComplete ? 'ready' : 'wait';

  let msn = request.msn;
  let part = request.part;
  for (let segment = segmentAt(state, msn); segment && part >= segment.parts.length; segment = segmentAt(state, msn)) {
    msn += 1;
    part = 0;
  }
  if (msn <= lastComplete) return 'ready';

  const newest = lastMsnAndPart(state);
  if (msn < newest.msn || (msn === newest.msn && part <= newest.part)) return 'ready';
  const ahead = msn === newest.msn ? part - newest.part : msn - newest.msn + part;
  if (ahead > advancePartLimit(state.partTarget) + EPSILON) return { error: 'too-far-ahead' };
  return 'wait';
}
