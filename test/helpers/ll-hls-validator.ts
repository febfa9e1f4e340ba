// Checks playlists against draft-pantos-hls-rfc8216bis (§ numbers below), reading only their text: it
// never imports the renderer, so a renderer bug cannot hide behind a shared assumption.

export interface ParsedPart {
  uri: string;
  duration: number;
  independent: boolean;
  msn: number;
  index: number;
}

export interface ParsedSegment {
  msn: number;
  uri: string;
  duration: number;
  parts: ParsedPart[];
  discontinuity: boolean;
  programDateTime: string | null;
  mapUri: string | null;
}

export interface ServerControl {
  canBlockReload: boolean;
  partHoldBack: number | null;
  canSkipUntil: number | null;
  holdBack: number | null;
}

export interface ParsedMediaPlaylist {
  version: number | null;
  targetDuration: number | null;
  partTarget: number | null;
  serverControl: ServerControl | null;
  mediaSequence: number;
  discontinuitySequence: number;
  skippedSegments: number;
  segments: ParsedSegment[];
  /** parts after the last segment: they belong to the segment being built (last msn + 1) */
  pendingParts: ParsedPart[];
  preloadHints: Array<{ type: string; uri: string }>;
  renditionReports: Array<{ uri: string; lastMsn: number | null; lastPart: number | null }>;
  ended: boolean;
  /** the newest part, or null when the playlist lists none */
  lastPart: { msn: number; part: number } | null;
}

const INTEGER = /^[0-9]+$/;
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;
const EPSILON = 1e-6;
const ONCE = ['#EXT-X-VERSION', '#EXT-X-TARGETDURATION', '#EXT-X-MEDIA-SEQUENCE', '#EXT-X-DISCONTINUITY-SEQUENCE',
  '#EXT-X-ENDLIST', '#EXT-X-PLAYLIST-TYPE', '#EXT-X-PART-INF', '#EXT-X-SERVER-CONTROL', '#EXT-X-SKIP',
  '#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-START'];
const MULTIVARIANT_TAGS = ['#EXT-X-STREAM-INF', '#EXT-X-MEDIA', '#EXT-X-I-FRAME-STREAM-INF', '#EXT-X-SESSION-DATA'];
const MEDIA_TAGS = ['#EXTINF', '#EXT-X-TARGETDURATION', '#EXT-X-MEDIA-SEQUENCE', '#EXT-X-PART', '#EXT-X-MAP',
  '#EXT-X-ENDLIST'];

interface Line { n: number; text: string; tag: string | null; value: string }

function lines(text: string): Line[] {
  return text.split(/\r?\n/).flatMap((raw, i): Line[] => {
    if (raw === '' || (raw.startsWith('#') && !raw.startsWith('#EXT'))) return [];
    if (!raw.startsWith('#')) return [{ n: i + 1, text: raw, tag: null, value: '' }];
    const colon = raw.indexOf(':');
    const tag = colon < 0 ? raw : raw.slice(0, colon);
    return [{ n: i + 1, text: raw, tag, value: colon < 0 ? '' : raw.slice(colon + 1) }];
  });
}

/** §4.2 attribute list; values are kept as written (quoted strings keep their quotes). */
export function parseAttributes(value: string): { attrs: Map<string, string>; problems: string[] } {
  const attrs = new Map<string, string>();
  const problems: string[] = [];
  const pair = /([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)(,|$)/y;
  for (let at = 0; at < value.length;) {
    pair.lastIndex = at;
    const m = pair.exec(value);
    if (!m) { problems.push(`malformed attribute list at "${value.slice(at)}"`); break; }
    if (attrs.has(m[1]!)) problems.push(`attribute ${m[1]} appears twice`);
    attrs.set(m[1]!, m[2]!);
    at = pair.lastIndex;
    if (m[3] === ',' && at === value.length) problems.push('attribute list ends with a comma');
  }
  return { attrs, problems };
}

const quoted = (value?: string): string | null => (value && /^"[^"]+"$/.test(value) ? value.slice(1, -1) : null);
const decimal = (value?: string): number | null => (value && DECIMAL.test(value) ? Number(value) : null);
const integer = (value?: string): number | null => (value && INTEGER.test(value) ? Number(value) : null);

type Scan = { playlist: ParsedMediaPlaylist; problems: string[]; lastLine: Line | undefined; hasMap: boolean };

const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/;

/** One pass in playlist order: builds the model and notes what only order reveals. */
function scan(text: string): Scan {
  const problems: string[] = [];
  const p: ParsedMediaPlaylist = {
    version: null, targetDuration: null, partTarget: null, serverControl: null, mediaSequence: 0,
    discontinuitySequence: 0, skippedSegments: 0, segments: [], pendingParts: [], preloadHints: [],
    renditionReports: [], ended: false, lastPart: null,
  };
  const all = lines(text);
  const counts = new Map<string, number>();
  let map: string | null = null;
  let started = false; // a segment or part has been listed
  let discontinuitySeen = false;
  let hintLine: number | null = null;
  let extinf: { duration: number; n: number } | null = null;
  type Building = { discontinuity: boolean; programDateTime: string | null; parts: Array<Omit<ParsedPart, 'msn'>> };
  let current: Building = { discontinuity: false, programDateTime: null, parts: [] };

  for (const line of all) {
    const at = (message: string): void => void problems.push(`line ${line.n}: ${message}`);
    const attrs = (): Map<string, string> => {
      const parsed = parseAttributes(line.value);
      parsed.problems.forEach((m) => at(`${line.tag} ${m}`));
      return parsed.attrs;
    };
    const beforeSegments = (): void => {
      if (started) at(`${line.tag} must appear before the first segment`);
    };
    const beforeParts = (): void => {
      if (current.parts.length > 0) at(`${line.tag} must precede the first EXT-X-PART of its segment`);
    };
    const media = (): void => {
      if (map === null) at('EXT-X-MAP must appear before the first segment');
      if (hintLine !== null) problems.push(`line ${hintLine}: EXT-X-PRELOAD-HINT must follow the last EXT-X-PART`);
      hintLine = null;
      started = true;
    };
    if (line.tag !== null) counts.set(line.tag, (counts.get(line.tag) ?? 0) + 1);
    if (line.tag !== null && MULTIVARIANT_TAGS.includes(line.tag)) at(`${line.tag} is a multivariant playlist tag`);

    switch (line.tag) {
      case '#EXT-X-VERSION': p.version = integer(line.value); break;
      case '#EXT-X-TARGETDURATION':
        p.targetDuration = integer(line.value);
        if (p.targetDuration === null || p.targetDuration < 1) {
          at('EXT-X-TARGETDURATION must be a decimal-integer of at least 1');
        }
        break;
      case '#EXT-X-MEDIA-SEQUENCE': {
        beforeSegments();
        const value = integer(line.value);
        if (value === null) at('EXT-X-MEDIA-SEQUENCE must be a decimal-integer');
        p.mediaSequence = value ?? 0;
        break;
      }
      case '#EXT-X-DISCONTINUITY-SEQUENCE': {
        beforeSegments();
        if (discontinuitySeen) at('EXT-X-DISCONTINUITY-SEQUENCE must appear before any EXT-X-DISCONTINUITY');
        const value = integer(line.value);
        if (value === null) at('EXT-X-DISCONTINUITY-SEQUENCE must be a decimal-integer');
        p.discontinuitySequence = value ?? 0;
        break;
      }
      case '#EXT-X-PART-INF':
        p.partTarget = decimal(attrs().get('PART-TARGET'));
        if (p.partTarget === null) at('EXT-X-PART-INF needs a PART-TARGET');
        break;
      case '#EXT-X-SERVER-CONTROL': {
        const a = attrs();
        p.serverControl = {
          canBlockReload: a.get('CAN-BLOCK-RELOAD') === 'YES', partHoldBack: decimal(a.get('PART-HOLD-BACK')),
          canSkipUntil: decimal(a.get('CAN-SKIP-UNTIL')), holdBack: decimal(a.get('HOLD-BACK')),
        };
        break;
      }
      case '#EXT-X-SKIP': {
        beforeSegments();
        const value = integer(attrs().get('SKIPPED-SEGMENTS'));
        if (value === null) at('EXT-X-SKIP needs SKIPPED-SEGMENTS');
        p.skippedSegments = value ?? 0;
        break;
      }
      case '#EXT-X-MAP':
        beforeParts();
        map = quoted(attrs().get('URI'));
        if (map === null) at('EXT-X-MAP needs a quoted URI');
        break;
      case '#EXT-X-DISCONTINUITY':
        beforeParts();
        discontinuitySeen = true;
        current.discontinuity = true;
        break;
      case '#EXT-X-PROGRAM-DATE-TIME':
        beforeParts();
        current.programDateTime = line.value;
        if (!ISO_DATE.test(line.value) || Number.isNaN(Date.parse(line.value))) {
          at(`EXT-X-PROGRAM-DATE-TIME "${line.value}" does not parse as an ISO 8601 date`);
        }
        break;
      case '#EXT-X-PART': {
        media();
        const a = attrs();
        const uri = quoted(a.get('URI'));
        const duration = decimal(a.get('DURATION'));
        if (uri === null || duration === null) at('EXT-X-PART needs DURATION and a quoted URI');
        const independent = a.get('INDEPENDENT') === 'YES';
        current.parts.push({ uri: uri ?? '', duration: duration ?? 0, independent, index: current.parts.length });
        break;
      }
      case '#EXTINF': {
        media();
        if (extinf) problems.push(`line ${extinf.n}: EXTINF must be followed by a URI line`);
        const duration = decimal(line.value.split(',')[0]);
        if (duration === null || !line.value.includes(',')) at('EXTINF must be "<duration>,"');
        extinf = { duration: duration ?? 0, n: line.n };
        break;
      }
      case '#EXT-X-PRELOAD-HINT': {
        const a = attrs();
        const hint = { type: a.get('TYPE') ?? '', uri: quoted(a.get('URI')) ?? '' };
        if (!['PART', 'MAP'].includes(hint.type) || hint.uri === '') {
          at('EXT-X-PRELOAD-HINT needs TYPE=PART|MAP and a quoted URI');
        }
        p.preloadHints.push(hint);
        hintLine = line.n;
        break;
      }
      case '#EXT-X-RENDITION-REPORT': {
        const a = attrs();
        const lastPart = integer(a.get('LAST-PART'));
        const report = { uri: quoted(a.get('URI')) ?? '', lastMsn: integer(a.get('LAST-MSN')), lastPart };
        if (report.uri === '' || report.lastMsn === null) at('EXT-X-RENDITION-REPORT needs a quoted URI and LAST-MSN');
        if (a.has('LAST-PART') && lastPart === null) at('EXT-X-RENDITION-REPORT LAST-PART must be a decimal-integer');
        p.renditionReports.push(report);
        break;
      }
      case '#EXT-X-ENDLIST': p.ended = true; break;
      case null: {
        if (!extinf) {
          at(`URI line "${line.text}" has no EXTINF`);
          break;
        }
        const msn = p.mediaSequence + p.skippedSegments + p.segments.length;
        p.segments.push({
          msn, uri: line.text, duration: extinf.duration, parts: current.parts.map((part) => ({ ...part, msn })),
          discontinuity: current.discontinuity, programDateTime: current.programDateTime, mapUri: map,
        });
        extinf = null;
        current = { discontinuity: false, programDateTime: null, parts: [] };
        break;
      }
      default: break;
    }
  }
  if (extinf) problems.push(`line ${extinf.n}: EXTINF must be followed by a URI line`);
  for (const tag of ONCE) {
    if ((counts.get(tag) ?? 0) > 1) problems.push(`${tag.slice(1)} appears ${counts.get(tag)} times`);
  }
  const nextMsn = p.mediaSequence + p.skippedSegments + p.segments.length;
  p.pendingParts = current.parts.map((part) => ({ ...part, msn: nextMsn }));
  const lastSegment = p.segments.at(-1);
  if (p.pendingParts.length > 0) p.lastPart = { msn: nextMsn, part: p.pendingParts.length - 1 };
  else if (lastSegment?.parts.length) p.lastPart = { msn: lastSegment.msn, part: lastSegment.parts.length - 1 };
  return { playlist: p, problems, lastLine: all.at(-1), hasMap: (counts.get('#EXT-X-MAP') ?? 0) > 0 };
}

export function parseMediaPlaylist(text: string): ParsedMediaPlaylist {
  return scan(text).playlist;
}

/** Human-readable violations; empty when the playlist is valid. `previous` is the same playlist loaded earlier. */
export function validateMediaPlaylist(text: string, opts: { lowLatency?: boolean; previous?: string } = {}): string[] {
  const { playlist: p, problems, lastLine, hasMap } = scan(text);
  const v = [...problems];
  if (text.split(/\r?\n/)[0] !== '#EXTM3U') v.push('EXTM3U must be the first line');
  const hasSkip = /^#EXT-X-SKIP:/m.test(text);
  const allParts = [...p.segments.flatMap((s) => s.parts), ...p.pendingParts];
  // Each segment's parts, then those of the segment being built (whose last part is not final yet).
  const groups = [
    ...p.segments.map((s) => ({ parts: s.parts, complete: true })),
    { parts: p.pendingParts, complete: false },
  ];
  const td = p.targetDuration;
  const pt = p.partTarget;
  const sc = p.serverControl;

  // §8: the lowest version each feature needs; the highest unmet one is reported.
  const needs: Array<[number, string, boolean]> = [
    [9, 'EXT-X-SKIP', hasSkip],
    [6, 'EXT-X-MAP', hasMap],
    [3, 'a fractional EXTINF', /^#EXTINF:\d+\.\d/m.test(text)],
  ];
  if (p.version === null) v.push('EXT-X-VERSION is missing');
  const need = needs.find(([version, , used]) => used && p.version !== null && p.version < version);
  if (p.version !== null && need) v.push(`EXT-X-VERSION ${p.version} is below ${need[0]} required by ${need[1]}`);

  // §4.4.3.1: EXTINF rounded to the nearest integer.
  if (td === null) v.push('EXT-X-TARGETDURATION is missing');
  for (const s of p.segments) {
    if (td !== null && Math.round(s.duration) > td) {
      v.push(`segment ${s.msn}: EXTINF ${s.duration} rounds above EXT-X-TARGETDURATION ${td}`);
    }
  }

  // §4.4.3.7, §4.4.4.9: no tolerance on PART-TARGET; the 85% floor spares independent and final parts.
  if (allParts.length > 0 && pt === null) v.push('EXT-X-PART-INF is required when EXT-X-PART is present');
  for (const { parts, complete } of groups) {
    parts.forEach((part, i) => {
      const name = `part ${part.msn}.${part.index}: DURATION ${part.duration}`;
      const final = complete && i === parts.length - 1;
      if (pt !== null && part.duration > pt + EPSILON) v.push(`${name} exceeds PART-TARGET ${pt}`);
      if (pt !== null && !part.independent && !final && part.duration < 0.85 * pt - EPSILON) {
        v.push(`${name} is shorter than 85% of PART-TARGET ${pt}`);
      }
    });
  }
  // §3.2: a parent segment and its parts hold the same samples.
  for (const s of p.segments) {
    const total = s.parts.reduce((t, part) => t + part.duration, 0);
    if (s.parts.length > 0 && Math.abs(total - s.duration) > 0.001) {
      v.push(`segment ${s.msn}: parts sum to ${total.toFixed(5)} but EXTINF is ${s.duration}`);
    }
  }
  // §6.2.2: "EXT-X-PART tags SHOULD be removed from the Playlist after they are greater than three Target
  // Durations from the end of the Playlist." A part is as far from the end as the media from its start to
  // the last listed part; parts go oldest first, so the first listed part of a segment is its farthest.
  if (td !== null) {
    const sum = (items: Array<{ duration: number }>): number => items.reduce((t, item) => t + item.duration, 0);
    const pendingStart = sum(p.pendingParts);
    if (pendingStart > 3 * td + EPSILON) {
      v.push(`part ${p.pendingParts[0]!.msn}.0: EXT-X-PART starts ${pendingStart.toFixed(5)} s, more than three target durations, from the end`);
    }
    let fromEnd = pendingStart;
    for (const s of [...p.segments].reverse()) {
      const start = fromEnd + sum(s.parts);
      if (s.parts.length > 0 && start > 3 * td + EPSILON) {
        v.push(`part ${s.msn}.0: EXT-X-PART starts ${start.toFixed(5)} s, more than three target durations, from the end`);
      }
      fromEnd += s.duration;
    }
  }

  // §4.4.3.8: PART-HOLD-BACK MUST be ≥ 2× and SHOULD be ≥ 3× PART-TARGET; we hold ourselves to the SHOULD.
  const below = (value: number | null | undefined, factor: number, of: number | null): boolean =>
    value != null && of !== null && value < factor * of - EPSILON;
  if (pt !== null && sc?.partHoldBack == null) v.push('PART-HOLD-BACK is required with EXT-X-PART-INF');
  if (below(sc?.partHoldBack, 3, pt)) v.push(`PART-HOLD-BACK ${sc?.partHoldBack} is below 3 × PART-TARGET ${pt}`);
  if (below(sc?.canSkipUntil, 6, td)) v.push(`CAN-SKIP-UNTIL ${sc?.canSkipUntil} is below 6 × TARGETDURATION ${td}`);
  if (below(sc?.holdBack, 3, td)) v.push(`HOLD-BACK ${sc?.holdBack} is below 3 × TARGETDURATION ${td}`);
  // §4.4.5.2, §6.2.5.1
  if (hasSkip && sc?.canSkipUntil == null) v.push('EXT-X-SKIP without CAN-SKIP-UNTIL');
  if (hasSkip && p.ended) v.push('EXT-X-SKIP with EXT-X-ENDLIST (a server ignores _HLS_skip once ended)');

  // §6.2.1: a later segment may overlap the one before by less than a second only.
  p.segments.forEach((s, i) => {
    const before = p.segments[i - 1];
    if (!before || s.discontinuity || before.programDateTime === null || s.programDateTime === null) return;
    const overlap = Date.parse(before.programDateTime) + before.duration * 1000 - Date.parse(s.programDateTime);
    if (overlap >= 1000) v.push(`segment ${s.msn}: EXT-X-PROGRAM-DATE-TIME overlaps the one before by ${overlap / 1000} s`);
  });

  // §4.4.5.3, §6.2.6
  for (const type of ['PART', 'MAP']) {
    const count = p.preloadHints.filter((h) => h.type === type).length;
    if (count > 1) v.push(`more than one EXT-X-PRELOAD-HINT of TYPE=${type}`);
  }
  if (p.ended && p.preloadHints.length > 0) v.push('EXT-X-PRELOAD-HINT with EXT-X-ENDLIST');
  for (const hint of p.preloadHints) {
    if (allParts.some((part) => part.uri === hint.uri)) v.push(`EXT-X-PRELOAD-HINT names ${hint.uri}, an existing part`);
  }
  if (p.ended && lastLine?.tag !== '#EXT-X-ENDLIST') v.push('EXT-X-ENDLIST must be the last line');

  if (opts.lowLatency) {
    if (pt === null) v.push('low-latency: EXT-X-PART-INF is missing');
    if (!sc?.canBlockReload) v.push('low-latency: CAN-BLOCK-RELOAD=YES is missing');
    if (!p.ended && p.preloadHints.length === 0) v.push('low-latency: a live playlist needs an EXT-X-PRELOAD-HINT');
    // Segments start with a keyframe, so the first part of every segment does.
    for (const { parts } of groups) {
      const first = parts[0];
      if (first && !first.independent) v.push(`low-latency: first part of segment ${first.msn} is not INDEPENDENT=YES`);
    }
  }
  if (opts.previous !== undefined) v.push(...compareReload(parseMediaPlaylist(opts.previous), p));
  return v;
}

/** §6.2.2: sequence numbers never go back, and a segment keeps its URI across reloads. */
function compareReload(before: ParsedMediaPlaylist, after: ParsedMediaPlaylist): string[] {
  const v: string[] = [];
  for (const key of ['mediaSequence', 'discontinuitySequence'] as const) {
    const tag = key === 'mediaSequence' ? 'EXT-X-MEDIA-SEQUENCE' : 'EXT-X-DISCONTINUITY-SEQUENCE';
    if (after[key] < before[key]) v.push(`${tag} went back from ${before[key]} to ${after[key]}`);
  }
  const earlier = new Map(before.segments.map((s) => [s.msn, s.uri]));
  for (const s of after.segments) {
    const uri = earlier.get(s.msn);
    if (uri !== undefined && uri !== s.uri) v.push(`segment ${s.msn} changed URI from ${uri} to ${s.uri}`);
  }
  return v;
}

/** §4.4.6.2: every variant with BANDWIDTH, RESOLUTION, FRAME-RATE and CODECS, and its URI on the next line. */
export function validateMasterPlaylist(text: string): string[] {
  const v: string[] = [];
  if (text.split(/\r?\n/)[0] !== '#EXTM3U') v.push('EXTM3U must be the first line');
  const all = lines(text);
  let variants = 0;
  all.forEach((line, i) => {
    const at = (message: string): void => void v.push(`line ${line.n}: ${message}`);
    if (line.tag !== null && MEDIA_TAGS.includes(line.tag)) at(`${line.tag} is a media playlist tag`);
    if (line.tag !== '#EXT-X-STREAM-INF') return;
    variants += 1;
    const { attrs, problems } = parseAttributes(line.value);
    problems.forEach((m) => at(`EXT-X-STREAM-INF ${m}`));
    if (integer(attrs.get('BANDWIDTH')) === null) at('EXT-X-STREAM-INF needs BANDWIDTH as a decimal-integer');
    if (attrs.has('AVERAGE-BANDWIDTH') && integer(attrs.get('AVERAGE-BANDWIDTH')) === null) {
      at('AVERAGE-BANDWIDTH must be a decimal-integer');
    }
    if (!/^[0-9]+x[0-9]+$/.test(attrs.get('RESOLUTION') ?? '')) at('EXT-X-STREAM-INF needs RESOLUTION=<w>x<h>');
    // §4.4.6.2: FRAME-RATE is "rounded to three decimal places".
    if (!/^[0-9]+(\.[0-9]{1,3})?$/.test(attrs.get('FRAME-RATE') ?? '')) {
      at('EXT-X-STREAM-INF needs FRAME-RATE with at most three decimals');
    }
    if (quoted(attrs.get('CODECS')) === null) at('EXT-X-STREAM-INF needs a quoted CODECS');
    const next = all[i + 1];
    if (!next || next.tag !== null) at('EXT-X-STREAM-INF must be followed by a URI line');
  });
  if (variants === 0) v.push('no EXT-X-STREAM-INF');
  if ((text.match(/^#EXT-X-VERSION:/gm) ?? []).length > 1) v.push('EXT-X-VERSION appears more than once');
  return v;
}
