// Our playlists read by two parsers that are not ours: hls-parser in strict mode and video.js's
// m3u8-parser, beside the project's own validator. The playlists come from the pure renderers fed the
// state the packager keeps while a stream runs, part by part.
import t from 'tap';
import { renderMediaPlaylist, type MediaPlaylistState, type Part, type RenditionReport } from '../../packager/ll-hls-playlist.ts';
import { renderMasterPlaylist, renderVodMediaPlaylist, type Rendition, type VodSegment } from '../../packager/master-playlist.ts';
import { parseMediaPlaylist, validateMasterPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';
import {
  HLS_PARSER_PART_RETENTION, hlsParserMedia, hlsParserProblems, hlsParserVariants, m3u8ParserMedia, m3u8ParserVariants,
  m3u8ParserWarnings, ourMediaReading, type MediaReading,
} from '../helpers/outside-validators.ts';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');

interface Stream {
  state: MediaPlaylistState;
  /** the other rendition's edge, as the session computes it per request */
  renditionReports: RenditionReport[];
  windowSegments: number;
  partNumber: number;
  /** media time of the next part, seconds */
  clock: number;
  map: string;
  discontinuity: boolean;
}

/** The state a RenditionPackager keeps, driven the same way: parts, segments at keyframes, a sliding window. */
function stream(targetDuration: number, partTarget: number, windowSegments: number): Stream {
  return {
    state: {
      targetDuration, partTarget, mapUri: 'init-0.mp4', segments: [], pendingParts: [], nextPartUri: null,
      discontinuitySequence: 0, ended: false,
    },
    renditionReports: [{ uri: '../240p/index.m3u8', lastMsn: 0, lastPart: -1 }],
    windowSegments, partNumber: 0, clock: 0, map: 'init-0.mp4', discontinuity: false,
  };
}

function addPart(s: Stream, duration: number, independent: boolean): void {
  const { state } = s;
  if (state.pendingParts.length === 0) {
    state.pendingSegment = {
      programDateTime: new Date(T0 + s.clock * 1000), discontinuity: s.discontinuity,
      ...(s.map !== state.mapUri ? { mapUri: s.map } : {}),
    };
    s.discontinuity = false;
  }
  const part: Part = { uri: `part-${s.partNumber++}.m4s`, duration, independent };
  state.pendingParts = [...state.pendingParts, part];
  state.nextPartUri = `part-${s.partNumber}.m4s`;
  s.clock += duration;
  const last = state.segments.at(-1);
  s.renditionReports[0] = { uri: '../240p/index.m3u8', lastMsn: (last?.mediaSequence ?? -1) + 1, lastPart: state.pendingParts.length - 1 };
}

function closeSegment(s: Stream): void {
  const { state } = s;
  const parts = state.pendingParts;
  const start = state.pendingSegment!;
  const msn = (state.segments.at(-1)?.mediaSequence ?? -1) + 1;
  state.segments.push({
    mediaSequence: msn, uri: `seg-${msn}.m4s`, duration: parts.reduce((sum, p) => sum + p.duration, 0), parts,
    programDateTime: start.programDateTime, discontinuity: start.discontinuity, ...(start.mapUri ? { mapUri: start.mapUri } : {}),
  });
  state.pendingParts = [];
  delete state.pendingSegment;
  while (state.segments.length > s.windowSegments) {
    if (state.segments.shift()!.discontinuity) state.discontinuitySequence += 1;
  }
  const first = state.segments[0]!;
  if (first.mapUri) {
    state.mapUri = first.mapUri;
    for (const segment of state.segments) if (segment.mapUri === state.mapUri) delete segment.mapUri;
  }
}

/** ffmpeg restarted: what was pending becomes a short segment, the next one is a discontinuity with a new init. */
function restart(s: Stream, generation: number): void {
  if (s.state.pendingParts.length > 0) closeSegment(s);
  s.discontinuity = true;
  s.map = `init-${generation}.mp4`;
}

interface Snapshot {
  label: string;
  /** the segment being built */
  segment: number;
  full: string;
  delta: string;
}

function snapshot(s: Stream, segment: number, label: string): Snapshot {
  return { label, segment, full: renderMediaPlaylist(s.state, { renditionReports: s.renditionReports }), delta: renderMediaPlaylist(s.state, { skip: true, renditionReports: s.renditionReports }) };
}

/** Segments of `partsPerSegment` parts; `afterPart` sees each state a blocking reload can answer, `between` those with no part of the next segment yet. */
function run(opts: { targetDuration: number; partDuration: number; partsPerSegment: number; segments: number; windowSegments?: number; restartAt?: { segment: number; afterParts: number } }) {
  const s = stream(opts.targetDuration, opts.partDuration, opts.windowSegments ?? 20);
  const afterPart: Snapshot[] = [];
  const between: Snapshot[] = [];
  for (let segment = 0; segment < opts.segments; segment++) {
    for (let i = 0; i < opts.partsPerSegment; i++) {
      if (opts.restartAt?.segment === segment && opts.restartAt.afterParts === i) {
        restart(s, 1);
        between.push(snapshot(s, segment, `restart in segment ${segment}`));
        break;
      }
      addPart(s, opts.partDuration, i === 0);
      afterPart.push(snapshot(s, segment, `segment ${segment} part ${i}`));
    }
    if (s.state.pendingParts.length > 0) {
      closeSegment(s);
      between.push(snapshot(s, segment + 1, `after segment ${segment}`));
    }
  }
  s.state.ended = true;
  s.state.nextPartUri = null;
  return { afterPart, between, ended: renderMediaPlaylist(s.state, { renditionReports: s.renditionReports }) };
}

interface Readings {
  ours: MediaReading;
  hlsParser: MediaReading;
  m3u8Parser: MediaReading;
}

/** What the three validators complain about and where their readings differ, one line each; `tolerate` drops hls-parser messages. */
function check(label: string, text: string, opts: { lowLatency: boolean; previous?: string; tolerate?: RegExp }): { found: string[]; readings: Readings } {
  const own = validateMediaPlaylist(text, { lowLatency: opts.lowLatency, ...(opts.previous ? { previous: opts.previous } : {}) });
  const hls = hlsParserMedia(text);
  const m3u8 = m3u8ParserMedia(text);
  const readings = { ours: ourMediaReading(text), hlsParser: hls.reading, m3u8Parser: m3u8.reading };
  const found = [
    ...own.map((m) => `${label}: our validator: ${m}`),
    ...hls.problems.filter((m) => !opts.tolerate?.test(m)).map((m) => `${label}: hls-parser: ${m}`),
    ...m3u8.warnings.map((m) => `${label}: m3u8-parser: ${m}`),
  ];
  const ours = JSON.stringify(readings.ours);
  if (JSON.stringify(readings.hlsParser) !== ours) found.push(`${label}: hls-parser reads it differently`);
  if (JSON.stringify(readings.m3u8Parser) !== ours) found.push(`${label}: m3u8-parser reads it differently`);
  return { found, readings };
}

/** Checks a snapshot's full playlist and delta update; each parser must read the delta as the full playlist minus the skipped segments. */
function checkSnapshot(snap: Snapshot, tolerate?: RegExp): string[] {
  const full = check(snap.label, snap.full, { lowLatency: true, ...(tolerate ? { tolerate } : {}) });
  const delta = check(`${snap.label} (delta)`, snap.delta, { lowLatency: true, previous: snap.full, ...(tolerate ? { tolerate } : {}) });
  const found = [...full.found, ...delta.found];
  for (const name of ['ours', 'hlsParser', 'm3u8Parser'] as const) {
    const f = full.readings[name];
    const d = delta.readings[name];
    const expected = { ...f, skipped: d.skipped, segments: f.segments.slice(d.skipped) };
    if (JSON.stringify(d) !== JSON.stringify(expected)) found.push(`${snap.label}: ${name}: the delta update is not the full playlist minus ${d.skipped} segments`);
  }
  return found;
}

const RUNS = {
  // A 2 s keyframe interval passed through: 2 s segments of ten 0.2 s parts at TARGETDURATION 2.
  passthrough: { targetDuration: 2, partDuration: 0.2, partsPerSegment: 10, segments: 24, windowSegments: 12 },
  // A transcoded rendition: 1 s segments of five 0.2 s parts at TARGETDURATION 1.
  transcoded: { targetDuration: 1, partDuration: 0.2, partsPerSegment: 5, segments: 30, windowSegments: 12 },
};

t.test('live media playlists and delta updates, part by part, pass all three validators', async (t) => {
  for (const [name, opts] of Object.entries(RUNS)) {
    const { afterPart, ended } = run(opts);
    const found: string[] = [];
    let skipping = 0;
    for (const snap of afterPart) {
      found.push(...checkSnapshot(snap));
      if (/#EXT-X-SKIP/.test(snap.delta)) skipping += 1;
    }
    found.push(...check('ended', ended, { lowLatency: true }).found);
    t.same(found, [], `${name}: ${afterPart.length} playlists and their delta updates`);
    t.ok(skipping > afterPart.length / 2, `${name}: most delta updates skip segments (${skipping})`);
    const last = parseMediaPlaylist(afterPart.at(-1)!.full);
    t.ok(last.segments.some((s) => s.parts.length > 0), `${name}: complete segments near the end keep their parts`);
  }
});

t.test('where hls-parser counts segments instead of adding up durations', async (t) => {
  // hls-parser allows EXT-X-PART on the last three segments it reads, counting the segment being built
  // (or a lone EXT-X-PRELOAD-HINT) as one: exact when segments last a target duration, stricter than
  // §6.2.2 when they are shorter. That happens between two segments, after a restart (a short segment)
  // and when a source's keyframes come every second at TARGETDURATION 2. There our own validator checks
  // the durations; hls-parser must find nothing else, and the readings must agree.
  const cases = {
    'between segments': run(RUNS.passthrough).between,
    'a restart': run({ ...RUNS.passthrough, segments: 16, restartAt: { segment: 12, afterParts: 3 } }).afterPart.filter((s) => s.segment >= 13 && s.segment <= 15),
    '1 s keyframes at TARGETDURATION 2': run({ ...RUNS.passthrough, partsPerSegment: 5, segments: 20 }).afterPart,
  };
  for (const [name, snapshots] of Object.entries(cases)) {
    const found: string[] = [];
    let refused = 0;
    for (const snap of snapshots) {
      found.push(...checkSnapshot(snap, HLS_PARSER_PART_RETENTION));
      if (hlsParserProblems(snap.full).length > 0) refused += 1;
    }
    t.same(found, [], `${name}: ${snapshots.length} playlists`);
    t.comment(`${name}: hls-parser's segment count refuses ${refused} of ${snapshots.length}`);
  }
  const shortSegments = parseMediaPlaylist(cases['1 s keyframes at TARGETDURATION 2'].at(-1)!.full);
  t.equal(shortSegments.segments.filter((s) => s.parts.length > 0).length, 5, 'six seconds of 1 s segments keep their parts, not three segments');
});

t.test('a VOD playlist as the finaliser writes it passes all three validators', async (t) => {
  // A recording with a restart: 2 s segments, the short one flushed when ffmpeg stopped, then a
  // discontinuity and the next run's init section; TARGETDURATION as vod-finalizer.ts computes it.
  const segments: VodSegment[] = [
    ...Array.from({ length: 8 }, (_, i) => ({ uri: `seg-${i}.m4s`, duration: i === 7 ? 1.4 : 2, discontinuity: false, mapUri: 'init-0.mp4' })),
    ...Array.from({ length: 6 }, (_, i) => ({ uri: `seg-${i + 8}.m4s`, duration: i === 2 ? 2.46667 : 2.00001, discontinuity: i === 0, mapUri: 'init-1.mp4' })),
  ];
  const maxDuration = Math.max(...segments.map((s) => s.duration));
  const text = renderVodMediaPlaylist(segments, { mapUri: segments[0]!.mapUri!, targetDuration: Math.max(1, Math.ceil(maxDuration - 1e-6)) });
  t.same(check('VOD', text, { lowLatency: false }).found, []);
  const reading = ourMediaReading(text);
  t.same(reading.segments.map((s) => [s.uri, s.discontinuity, s.map]), segments.map((s) => [s.uri, s.discontinuity, s.mapUri]));
  t.ok(reading.ended);
});

t.test('the master playlist passes all three validators', async (t) => {
  const renditions: Rendition[] = [
    { name: '240p', uri: '240p/index.m3u8', bandwidth: 512_000.4, averageBandwidth: 430_100, width: 426, height: 240, frameRate: 29.97003, codecs: 'avc1.4d4015,mp4a.40.2' },
    { name: 'source', uri: 'source/index.m3u8', bandwidth: 2_800_000, averageBandwidth: 2_400_000, width: 1280, height: 720, frameRate: 30, codecs: 'avc1.64001f,mp4a.40.2' },
  ];
  const text = renderMasterPlaylist(renditions);
  t.same(validateMasterPlaylist(text), [], 'our validator');
  t.same(hlsParserProblems(text), [], 'hls-parser');
  t.same(m3u8ParserWarnings(text), [], 'm3u8-parser');
  const expected = [
    { uri: 'source/index.m3u8', bandwidth: 2_800_000, averageBandwidth: 2_400_000, resolution: '1280x720', frameRate: 30, codecs: 'avc1.64001f,mp4a.40.2' },
    { uri: '240p/index.m3u8', bandwidth: 512_001, averageBandwidth: 430_100, resolution: '426x240', frameRate: 29.97, codecs: 'avc1.4d4015,mp4a.40.2' },
  ];
  t.same(hlsParserVariants(text), expected, 'as hls-parser reads it');
  t.same(m3u8ParserVariants(text), expected, 'as m3u8-parser reads it');
});
