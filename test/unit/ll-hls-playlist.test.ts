import t from 'tap';
import { hasPart, lastMsnAndPart, partHoldBack, renderMediaPlaylist } from '../../packager/ll-hls-playlist.ts';
import type { MediaPlaylistState, Part, RenditionReport, Segment } from '../../packager/ll-hls-playlist.ts';
import { parseMediaPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';

type Tap = typeof t;

const T0 = Date.parse('2024-05-01T12:00:00.000Z');

function parts(msn: number, count: number, duration: number): Part[] {
  return Array.from({ length: count }, (_, i) => ({ uri: `p${msn}.${i}.m4s`, duration, independent: i === 0 }));
}

/** A playlist state with the other renditions' reports the session would pass beside it. */
type Fixture = MediaPlaylistState & { renditionReports: RenditionReport[] };

function render(state: Fixture, options: { skip?: boolean } = {}): string {
  return renderMediaPlaylist(state, { ...options, renditionReports: state.renditionReports });
}

/** A 1 s segment of two 0.5 s parts, timed from T0. */
function segment(msn: number, extra: Partial<Segment> = {}): Segment {
  return {
    mediaSequence: msn, uri: `s${msn}.m4s`, duration: 1, parts: parts(msn, 2, 0.5),
    programDateTime: new Date(T0 + msn * 1000), discontinuity: false, ...extra,
  };
}

function live(msns: number[], pending: number, extra: Partial<Fixture> = {}): Fixture {
  const next = (msns.at(-1) ?? -1) + 1;
  return {
    targetDuration: 1, partTarget: 0.5, mapUri: 'init.mp4', segments: msns.map((m) => segment(m)),
    pendingParts: parts(next, pending, 0.5), nextPartUri: `p${next}.${pending}.m4s`, discontinuitySequence: 0,
    ended: false, renditionReports: [{ uri: '../360p/index.m3u8', lastMsn: next, lastPart: 0 }],
    pendingSegment: { programDateTime: new Date(T0 + next * 1000), discontinuity: false }, ...extra,
  };
}

function valid(t: Pick<Tap, 'same'>, text: string, lowLatency = true): void {
  t.same(validateMediaPlaylist(text, { lowLatency }), [], 'the validator accepts it');
}

t.test('golden: a window of segments, parts near the live edge only', async (t) => {
  const text = render(live([0, 1, 2, 3, 4], 1));
  t.equal(text, `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=6.0
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:1.0,
s0.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:01.000Z
#EXTINF:1.0,
s1.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z
#EXTINF:1.0,
s2.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:03.000Z
#EXT-X-PART:DURATION=0.5,URI="p3.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="p3.1.m4s"
#EXTINF:1.0,
s3.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.000Z
#EXT-X-PART:DURATION=0.5,URI="p4.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="p4.1.m4s"
#EXTINF:1.0,
s4.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:05.000Z
#EXT-X-PART:DURATION=0.5,URI="p5.0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p5.1.m4s"
#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=5,LAST-PART=0
`);
  valid(t, text);
});

t.test('a new stream: only pending parts and a hint', async (t) => {
  const text = render(live([], 2));
  valid(t, text);
  const parsed = parseMediaPlaylist(text);
  t.equal(parsed.mediaSequence, 0);
  t.equal(parsed.segments.length, 0);
  t.same(parsed.pendingParts.map((p) => p.uri), ['p0.0.m4s', 'p0.1.m4s']);
  t.same(parsed.lastPart, { msn: 0, part: 1 });
  t.same(parsed.preloadHints, [{ type: 'PART', uri: 'p0.2.m4s' }]);
  t.match(text, /#EXT-X-MAP:URI="init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXT-X-PART:/);
  t.notMatch(render(live([], 0)), /#EXT-X-PROGRAM-DATE-TIME/, 'no dangling date before any part');
  valid(t, render(live([], 0)));
});

t.test('a sliding window keeps its media sequence and parts only near the edge', async (t) => {
  const text = render(live([40, 41, 42, 43, 44, 45, 46, 47], 0));
  valid(t, text);
  const parsed = parseMediaPlaylist(text);
  t.equal(parsed.mediaSequence, 40);
  t.same(parsed.segments.map((s) => s.msn), [40, 41, 42, 43, 44, 45, 46, 47]);
  t.same(parsed.segments.filter((s) => s.parts.length > 0).map((s) => s.msn), [45, 46, 47], 'parts that start within 3 s of the end');
  t.same(parsed.lastPart, { msn: 47, part: 1 });
  t.same(parsed.preloadHints, [{ type: 'PART', uri: 'p48.0.m4s' }]);
  t.ok(parsed.segments.every((s) => s.programDateTime !== null), 'every segment carries its wall clock');
});

/** Segments of `perSegment` parts of `partDuration` each, after `count` complete ones; the last `pending` are being built. */
function timeline(opts: { targetDuration: number; partDuration: number; perSegment: number; count: number; pending: number }): Fixture {
  const { targetDuration, partDuration, perSegment, count, pending } = opts;
  const state = live([], pending, { targetDuration, partTarget: partDuration });
  state.segments = Array.from({ length: count }, (_, msn) => segment(msn, {
    duration: perSegment * partDuration, parts: parts(msn, perSegment, partDuration),
    programDateTime: new Date(T0 + msn * perSegment * partDuration * 1000),
  }));
  state.pendingParts = parts(count, pending, partDuration);
  state.nextPartUri = `p${count}.${pending}.m4s`;
  return state;
}

const withParts = (text: string): number[] => parseMediaPlaylist(text).segments.filter((s) => s.parts.length > 0).map((s) => s.msn);

t.test('parts are listed while they start at most three target durations from the end (§6.2.2)', async (t) => {
  // 2 s segments of ten 0.2 s parts at TARGETDURATION 2, as a 2 s keyframe interval gives: the window for
  // parts is 6 s, so two complete segments and the one being filled; never three complete ones plus it.
  for (let pending = 1; pending < 10; pending++) {
    const text = render(timeline({ targetDuration: 2, partDuration: 0.2, perSegment: 10, count: 8, pending }));
    valid(t, text);
    t.same(withParts(text), [6, 7], `${pending} pending parts: segment 5 would start ${6 + pending * 0.2} s from the end`);
    t.equal(parseMediaPlaylist(text).pendingParts.length, pending, 'the segment being built keeps all its parts');
  }
  // Between segments (no part of the next one yet) segment 5 starts exactly 6 s from the end: not "greater than".
  const between = render(timeline({ targetDuration: 2, partDuration: 0.2, perSegment: 10, count: 8, pending: 0 }));
  valid(t, between);
  t.same(withParts(between), [5, 6, 7], 'exactly three target durations keeps its parts');
  const ended = render({ ...timeline({ targetDuration: 2, partDuration: 0.2, perSegment: 10, count: 8, pending: 0 }), ended: true });
  t.same(withParts(ended), [5, 6, 7], 'and so does an ended playlist');

  // Segments shorter than the target duration (a 1 s keyframe interval passed through at TARGETDURATION 2):
  // as many segments as fit in 6 s keep their parts, not a fixed count.
  const short = render(timeline({ targetDuration: 2, partDuration: 0.2, perSegment: 5, count: 12, pending: 2 }));
  valid(t, short);
  t.same(withParts(short), [7, 8, 9, 10, 11], 'segment 7 starts 5.4 s from the end, segment 6 at 6.4 s');

  const transcoded = render(timeline({ targetDuration: 1, partDuration: 0.2, perSegment: 5, count: 12, pending: 3 }));
  valid(t, transcoded);
  t.same(withParts(transcoded), [10, 11], '1 s segments at TARGETDURATION 1: within 3 s');
});

t.test('the retention boundary is drawn on the durations as printed', async (t) => {
  // Segment 0 is 2.000006 s (printed 2.00001), segments 1 and 2 are 1.999996 s (printed 2.0): in memory it
  // starts 5.999998 s from the end, but a player adding up the text finds 6.00001 s, beyond three targets.
  const state = live([], 0, { targetDuration: 2, partTarget: 1.1 });
  const twoParts = (msn: number, second: number): Part[] => [
    { uri: `p${msn}.0.m4s`, duration: 1, independent: true },
    { uri: `p${msn}.1.m4s`, duration: second, independent: false },
  ];
  state.segments = [0, 1, 2].map((msn) => {
    const second = msn === 0 ? 1.000006 : 0.999996;
    return segment(msn, { duration: 1 + second, parts: twoParts(msn, second), programDateTime: new Date(T0 + msn * 2000) });
  });
  state.nextPartUri = 'p3.0.m4s';
  const text = render(state);
  t.match(text, /#EXTINF:2\.00001,\ns0\.m4s/);
  t.same(withParts(text), [1, 2]);
  valid(t, text);
});

t.test('a restart: discontinuity, new init section, tags before the first part', async (t) => {
  const state = live([7, 8, 9], 1, { discontinuitySequence: 2 });
  state.segments[2] = segment(9, { discontinuity: true, mapUri: 'init-2.mp4', programDateTime: new Date(T0 + 60_000) });
  state.pendingSegment = { programDateTime: new Date(T0 + 61_000), discontinuity: false, mapUri: 'init-2.mp4' };
  const text = render(state);
  valid(t, text);
  t.match(text, /s8\.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-2.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:01:00.000Z\n#EXT-X-PART:DURATION=0.5,URI="p9.0.m4s"/);
  t.equal(text.match(/#EXT-X-MAP/g)?.length, 2, 'the unchanged init is not repeated for the pending parts');
  t.match(text, /#EXT-X-DISCONTINUITY-SEQUENCE:2\n/);
  const parsed = parseMediaPlaylist(text);
  t.same(parsed.segments.map((s) => [s.msn, s.discontinuity, s.mapUri]), [[7, false, 'init.mp4'], [8, false, 'init.mp4'], [9, true, 'init-2.mp4']]);

  const slid = live([9, 10], 1, { discontinuitySequence: 2 });
  slid.segments = slid.segments.map((s) => ({ ...s, mapUri: 'init-2.mp4' }));
  slid.pendingSegment = { programDateTime: new Date(T0 + 11_000), discontinuity: false, mapUri: 'init-2.mp4' };
  const slidText = render(slid);
  t.equal(slidText.match(/#EXT-X-MAP:[^\n]+/g)?.join(), '#EXT-X-MAP:URI="init-2.mp4"', 'the window names the init its segments use');
  t.equal(slidText.match(/#EXT-X-MAP:[^\n]+/g)?.length, 1);

  const restarting = live([7, 8], 1);
  restarting.pendingSegment = { programDateTime: new Date(T0 + 60_000), discontinuity: true, mapUri: 'init-2.mp4' };
  const building = render(restarting);
  valid(t, building);
  t.match(building, /s8\.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-2.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXT-X-PART:DURATION=0.5,URI="p9.0.m4s"/);
});

t.test('an ended stream: ENDLIST last, no hint, no parentless parts', async (t) => {
  const text = render(live([0, 1, 2, 3], 1, { ended: true }));
  valid(t, text);
  t.match(text, /s3\.m4s\n#EXT-X-RENDITION-REPORT:[^\n]+\n#EXT-X-ENDLIST\n$/);
  t.notMatch(text, /PRELOAD-HINT|p4\.0/);
  t.notMatch(render(live([0, 1, 2, 3], 1, { ended: true }), { skip: true }), /EXT-X-SKIP/, '_HLS_skip is ignored once ended');
  t.same(lastMsnAndPart(live([0, 1], 1, { ended: true })), { msn: 1, part: 1 });
});

t.test('a delta update skips what is older than CAN-SKIP-UNTIL', async (t) => {
  const msns = Array.from({ length: 12 }, (_, i) => 100 + i);
  const state = live(msns, 1, { discontinuitySequence: 3 });
  state.segments[1] = segment(101, { discontinuity: true });
  const full = render(state);
  const delta = render(state, { skip: true });
  valid(t, full);
  valid(t, delta);
  t.same(validateMediaPlaylist(delta, { lowLatency: true, previous: full }), [], 'consistent with the full playlist');
  // Boundary 6 s from the end of segment 111: segments 100..104 end 7..11 s before it.
  t.match(delta, /^#EXTM3U\n#EXT-X-VERSION:9\n/);
  t.match(delta, /#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n#EXT-X-MAP:URI="init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:01:45.000Z\n#EXTINF:1.0,\ns105.m4s\n/);
  t.notMatch(delta, /#EXT-X-DISCONTINUITY\n/, 'the skipped discontinuity goes with its segment');
  const parsed = parseMediaPlaylist(delta);
  t.same(parsed.segments.map((s) => s.msn), msns.slice(5));
  t.same(parsed.segments.map((s) => s.uri), parseMediaPlaylist(full).segments.slice(5).map((s) => s.uri));
  t.match(full, /^#EXTM3U\n#EXT-X-VERSION:6\n/);

  const short = live([0, 1, 2, 3, 4, 5], 1);
  t.equal(render(short, { skip: true }), render(short), 'nothing to skip: the full playlist');
});

t.test('PART-HOLD-BACK is at least three printed PART-TARGETs', async (t) => {
  for (const partTarget of [0.2, 0.23334, 0.33334, 0.5, 1.001]) {
    const state = live([0, 1], 0, { partTarget, targetDuration: 2 });
    state.segments = [];
    state.pendingParts = [{ uri: 'p0.0.m4s', duration: partTarget, independent: true }];
    const text = render(state);
    const parsed = parseMediaPlaylist(text);
    const holdBack = parsed.serverControl!.partHoldBack!;
    t.ok(holdBack >= 3 * parsed.partTarget! - 1e-9, `${partTarget}: ${holdBack}`);
    t.ok(partHoldBack(partTarget) - 3 * partTarget < 1e-4, 'and not much more');
    valid(t, text);
  }
});

t.test('newest part and part lookup', async (t) => {
  const state = live([3, 4], 1);
  t.same(lastMsnAndPart(state), { msn: 5, part: 0 });
  t.same(lastMsnAndPart(live([3, 4], 0)), { msn: 4, part: 1 });
  t.same(lastMsnAndPart(live([], 0)), { msn: 0, part: -1 });
  t.ok(hasPart(state, 4, 1));
  t.ok(hasPart(state, 5, 0));
  t.notOk(hasPart(state, 4, 2), 'past the last part of a segment');
  t.notOk(hasPart(state, 5, 1), 'not written yet');
  t.notOk(hasPart(state, 2, 0), 'older than the window');
  t.notOk(hasPart(state, 6, 0));
  t.notOk(hasPart(state, 4, -1));
});

t.test('a window with a gap in its sequence numbers is refused', async (t) => {
  const state = live([1, 2, 3], 0);
  state.segments[2] = segment(5);
  t.throws(() => render(state), RangeError);
});

t.test('a rendition without parts yet is reported without LAST-PART', async (t) => {
  const text = render(live([0], 1, { renditionReports: [{ uri: '../1080p/index.m3u8', lastMsn: 0, lastPart: -1 }] }));
  t.match(text, /#EXT-X-RENDITION-REPORT:URI="..\/1080p\/index.m3u8",LAST-MSN=0\n/);
  valid(t, text);
});
