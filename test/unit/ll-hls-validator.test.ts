import t from 'tap';
import { parseMediaPlaylist, validateMasterPlaylist, validateMediaPlaylist } from '../helpers/ll-hls-validator.ts';

// Hand-written, not rendered: the validator is checked against the spec, not against our renderer.
const LIVE = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=12.0
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:2.0,
fileSequence266.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z
#EXTINF:2.0,
fileSequence267.m4s
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:10.000Z
#EXT-X-PART:DURATION=0.5,URI="filePart268.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="filePart268.1.m4s"
#EXT-X-PART:DURATION=0.5,URI="filePart268.2.m4s"
#EXT-X-PART:DURATION=0.3,URI="filePart268.3.m4s"
#EXTINF:1.8,
fileSequence268.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:11.800Z
#EXT-X-PART:DURATION=0.5,URI="filePart269.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="filePart269.1.m4s"
#EXT-X-PART:DURATION=0.5,URI="filePart269.2.m4s"
#EXT-X-PART:DURATION=0.5,URI="filePart269.3.m4s"
#EXTINF:2.0,
fileSequence269.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:13.800Z
#EXT-X-PART:DURATION=0.5,URI="filePart270.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="filePart270.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.2.m4s"
#EXT-X-RENDITION-REPORT:URI="../480p/index.m3u8",LAST-MSN=270,LAST-PART=1
`;

const ENDED = LIVE.replace(/#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:13.800Z\n[\s\S]*?(?=#EXT-X-RENDITION-REPORT)/, '') + '#EXT-X-ENDLIST\n';

// A delta update of a longer window: segments 260 to 265 replaced by EXT-X-SKIP.
const DELTA = LIVE.replace('#EXT-X-VERSION:6', '#EXT-X-VERSION:9')
  .replace('#EXT-X-MEDIA-SEQUENCE:266', '#EXT-X-MEDIA-SEQUENCE:260')
  .replace('#EXT-X-MAP:URI="init.mp4"\n', '#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n#EXT-X-MAP:URI="init.mp4"\n');

const MASTER = `#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,FRAME-RATE=29.970,CODECS="avc1.64001f,mp4a.40.2"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=750000,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS="avc1.64001e,mp4a.40.2"
360p/index.m3u8
`;

function mutate(text: string, from: string | RegExp, to: string): string {
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`fixture mutation did not apply: ${String(from)}`);
  return changed;
}

t.test('the fixtures are valid', async (t) => {
  t.same(validateMediaPlaylist(LIVE, { lowLatency: true }), []);
  t.same(validateMediaPlaylist(ENDED, { lowLatency: true }), []);
  t.same(validateMediaPlaylist(DELTA, { lowLatency: true }), []);
  t.same(validateMediaPlaylist(LIVE.replace(/\n/g, '\r\n'), { lowLatency: true }), [], 'CRLF line ends');
  t.same(validateMasterPlaylist(MASTER), []);
});

t.test('parsing finds segments, parts and hints', async (t) => {
  const p = parseMediaPlaylist(LIVE);
  t.equal(p.version, 6);
  t.equal(p.targetDuration, 2);
  t.equal(p.partTarget, 0.5);
  t.same(p.serverControl, { canBlockReload: true, partHoldBack: 1.5, canSkipUntil: 12, holdBack: null });
  t.same(p.segments.map((s) => [s.msn, s.uri, s.duration, s.parts.length, s.discontinuity]), [
    [266, 'fileSequence266.m4s', 2, 0, false], [267, 'fileSequence267.m4s', 2, 0, false],
    [268, 'fileSequence268.m4s', 1.8, 4, true], [269, 'fileSequence269.m4s', 2, 4, false],
  ]);
  t.equal(p.segments[2]!.programDateTime, '2024-05-01T12:00:10.000Z');
  t.same(p.segments[3]!.parts[0], { uri: 'filePart269.0.m4s', duration: 0.5, independent: true, msn: 269, index: 0 });
  t.same(p.pendingParts.map((part) => [part.msn, part.index, part.uri]), [[270, 0, 'filePart270.0.m4s'], [270, 1, 'filePart270.1.m4s']]);
  t.same(p.lastPart, { msn: 270, part: 1 });
  t.same(p.preloadHints, [{ type: 'PART', uri: 'filePart270.2.m4s' }]);
  t.same(p.renditionReports, [{ uri: '../480p/index.m3u8', lastMsn: 270, lastPart: 1 }]);
  t.notOk(p.ended);
  t.ok(parseMediaPlaylist(ENDED).ended);
  const delta = parseMediaPlaylist(DELTA);
  t.equal(delta.skippedSegments, 6);
  t.same(delta.segments.map((s) => s.msn), [266, 267, 268, 269], 'skipped segments count toward the numbers');
});

const PARTS_267 = [0, 1, 2, 3].map((i) => `#EXT-X-PART:DURATION=0.5,URI="filePart267.${i}.m4s"${i === 0 ? ',INDEPENDENT=YES' : ''}\n`).join('');

const LIVE_RULES: Array<[string | RegExp, string, RegExp, { lowLatency?: boolean; base?: string }?]> = [
  ['#EXTM3U\n', '', /EXTM3U must be the first line/],
  ['#EXT-X-VERSION:6\n', '', /EXT-X-VERSION is missing/],
  ['#EXT-X-VERSION:6', '#EXT-X-VERSION:5', /EXT-X-VERSION 5 is below 6 required by EXT-X-MAP/],
  ['#EXT-X-VERSION:6', '#EXT-X-VERSION:6\n#EXT-X-VERSION:6', /EXT-X-VERSION appears 2 times/],
  ['#EXT-X-TARGETDURATION:2\n', '', /EXT-X-TARGETDURATION is missing/],
  ['#EXT-X-TARGETDURATION:2', '#EXT-X-TARGETDURATION:2.5', /EXT-X-TARGETDURATION must be a decimal-integer/],
  ['#EXT-X-TARGETDURATION:2', '#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:2', /EXT-X-TARGETDURATION appears 2 times/],
  ['#EXTINF:2.0,\nfileSequence266', '#EXTINF:2.6,\nfileSequence266', /segment 266: EXTINF 2.6 rounds above EXT-X-TARGETDURATION 2/],
  ['#EXTINF:2.0,\nfileSequence266', '#EXTINF:abc,\nfileSequence266', /EXTINF must be "<duration>,"/],
  ['fileSequence266.m4s\n', '', /EXTINF must be followed by a URI line/],
  ['#EXTINF:2.0,\nfileSequence266', 'fileSequence266', /URI line "fileSequence266.m4s" has no EXTINF/],
  ['#EXT-X-PART-INF:PART-TARGET=0.5\n', '', /EXT-X-PART-INF is required when EXT-X-PART is present/],
  ['DURATION=0.5,URI="filePart269.1', 'DURATION=0.6,URI="filePart269.1', /part 269.1: DURATION 0.6 exceeds PART-TARGET 0.5/],
  ['DURATION=0.5,URI="filePart269.1', 'DURATION=0.4,URI="filePart269.1', /part 269.1: DURATION 0.4 is shorter than 85% of PART-TARGET/],
  ['DURATION=0.5,URI="filePart270.1', 'DURATION=0.4,URI="filePart270.1', /part 270.1: .* shorter than 85%/],
  ['#EXTINF:1.8,', '#EXTINF:1.9,', /segment 268: parts sum to 1.80000 but EXTINF is 1.9/],
  [',PART-HOLD-BACK=1.5', '', /PART-HOLD-BACK is required with EXT-X-PART-INF/],
  ['PART-HOLD-BACK=1.5', 'PART-HOLD-BACK=1.0', /PART-HOLD-BACK 1 is below 3 × PART-TARGET 0.5/],
  ['CAN-SKIP-UNTIL=12.0', 'CAN-SKIP-UNTIL=11.0', /CAN-SKIP-UNTIL 11 is below 6 × TARGETDURATION 2/],
  ['CAN-SKIP-UNTIL=12.0', 'CAN-SKIP-UNTIL=12.0,HOLD-BACK=5.0', /^HOLD-BACK 5 is below 3 × TARGETDURATION 2/],
  ['#EXT-X-MAP:URI="init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXTINF:2.0,\nfileSequence266.m4s\n',
    '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXTINF:2.0,\nfileSequence266.m4s\n#EXT-X-MAP:URI="init.mp4"\n',
    /EXT-X-MAP must appear before the first segment/],
  ['12:00:02.000Z', '12:00:02.000Z yesterday', /EXT-X-PROGRAM-DATE-TIME .* does not parse/],
  ['2024-05-01T12:00:02.000Z', '2024-13-45T12:00:02.000Z', /EXT-X-PROGRAM-DATE-TIME .* does not parse/],
  ['2024-05-01T12:00:02.000Z', '2024-05-01T12:00:00.500Z', /segment 267: EXT-X-PROGRAM-DATE-TIME overlaps the one before by 1.5 s/],
  ['#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:11.800Z\n#EXT-X-PART:DURATION=0.5,URI="filePart269.0.m4s",INDEPENDENT=YES\n',
    '#EXT-X-PART:DURATION=0.5,URI="filePart269.0.m4s",INDEPENDENT=YES\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:11.800Z\n',
    /EXT-X-PROGRAM-DATE-TIME must precede the first EXT-X-PART of its segment/],
  ['#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:10.000Z\n#EXT-X-PART:DURATION=0.5,URI="filePart268.0.m4s",INDEPENDENT=YES\n',
    '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:10.000Z\n#EXT-X-PART:DURATION=0.5,URI="filePart268.0.m4s",INDEPENDENT=YES\n#EXT-X-DISCONTINUITY\n',
    /EXT-X-DISCONTINUITY must precede the first EXT-X-PART of its segment/],
  ['#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.2.m4s"', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.2.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.3.m4s"',
    /more than one EXT-X-PRELOAD-HINT of TYPE=PART/],
  ['#EXT-X-PART:DURATION=0.5,URI="filePart270.1.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.2.m4s"',
    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.2.m4s"\n#EXT-X-PART:DURATION=0.5,URI="filePart270.1.m4s"',
    /EXT-X-PRELOAD-HINT must follow the last EXT-X-PART/],
  ['URI="filePart270.2.m4s"', 'URI="filePart270.1.m4s"', /EXT-X-PRELOAD-HINT names filePart270.1.m4s, an existing part/],
  ['#EXT-X-PRELOAD-HINT:TYPE=PART', '#EXT-X-PRELOAD-HINT:TYPE=SEGMENT', /EXT-X-PRELOAD-HINT needs TYPE=PART\|MAP/],
  ['#EXT-X-MEDIA-SEQUENCE:266', '#EXT-X-MEDIA-SEQUENCE:-1', /EXT-X-MEDIA-SEQUENCE must be a decimal-integer/],
  ['#EXT-X-MEDIA-SEQUENCE:266\n', '', /fileSequence266.m4s changed|EXT-X-MEDIA-SEQUENCE went back/, { base: LIVE }],
  ['#EXT-X-MEDIA-SEQUENCE:266\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI="init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXTINF:2.0,\nfileSequence266.m4s\n',
    '#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI="init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXTINF:2.0,\nfileSequence266.m4s\n#EXT-X-MEDIA-SEQUENCE:266\n',
    /EXT-X-MEDIA-SEQUENCE must appear before the first segment/],
  ['#EXT-X-DISCONTINUITY-SEQUENCE:1\n', '', /EXT-X-DISCONTINUITY-SEQUENCE went back from 1 to 0/, { base: LIVE }],
  ['fileSequence267.m4s', 'other267.m4s', /segment 267 changed URI from fileSequence267.m4s to other267.m4s/, { base: LIVE }],
  [/#EXT-X-DISCONTINUITY-SEQUENCE:1\n([\s\S]*?#EXT-X-DISCONTINUITY\n)/, '$1#EXT-X-DISCONTINUITY-SEQUENCE:1\n',
    /EXT-X-DISCONTINUITY-SEQUENCE must appear before any EXT-X-DISCONTINUITY/],
  ['#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n', '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n#EXT-X-PART:DURATION=0.5,URI="filePart266.0.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.5,URI="filePart266.1.m4s"\n#EXT-X-PART:DURATION=0.5,URI="filePart266.2.m4s"\n#EXT-X-PART:DURATION=0.5,URI="filePart266.3.m4s"\n',
    /part 266\.0: EXT-X-PART starts 8\.80000 s, more than three target durations, from the end/],
  // Segment 267 ends 4.8 s from the end of the playlist, but its first part starts 6.8 s from it.
  ['#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z\n', `#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z\n${PARTS_267}`,
    /part 267\.0: EXT-X-PART starts 6\.80000 s, more than three target durations, from the end/],
  ['URI="filePart269.0.m4s",INDEPENDENT=YES', 'URI="filePart269.0.m4s"', /low-latency: first part of segment 269 is not INDEPENDENT=YES/, { lowLatency: true }],
  ['URI="filePart270.0.m4s",INDEPENDENT=YES', 'URI="filePart270.0.m4s"', /low-latency: first part of segment 270 is not INDEPENDENT=YES/, { lowLatency: true }],
  ['#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.2.m4s"\n', '', /low-latency: a live playlist needs an EXT-X-PRELOAD-HINT/, { lowLatency: true }],
  ['CAN-BLOCK-RELOAD=YES,', '', /low-latency: CAN-BLOCK-RELOAD=YES is missing/, { lowLatency: true }],
  ['INDEPENDENT=YES', 'INDEPENDENT=YES,INDEPENDENT=YES', /attribute INDEPENDENT appears twice/],
  ['DURATION=0.5,URI="filePart269.2.m4s"', 'DURATION=0.5,,URI="filePart269.2.m4s"', /malformed attribute list/],
  ['DURATION=0.5,URI="filePart269.2.m4s"', 'DURATION=0.5,URI=filePart269.2.m4s', /EXT-X-PART needs DURATION and a quoted URI/],
  [',LAST-MSN=270', '', /EXT-X-RENDITION-REPORT needs a quoted URI and LAST-MSN/],
];

t.test('parts may stay until they start more than three target durations from the end (§6.2.2)', async (t) => {
  // Segment 267 gets its parts and the segment being built only a 0.2 s part: 267 then starts
  // 0.2 + 2.0 + 1.8 + 2.0 = 6.0 s from the end, which is not "greater than" three target durations.
  const atBoundary = (firstPart: string) => mutate(
    mutate(LIVE, '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z\n', `#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z\n${PARTS_267}`),
    '#EXT-X-PART:DURATION=0.5,URI="filePart270.0.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.5,URI="filePart270.1.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.2.m4s"',
    `#EXT-X-PART:DURATION=${firstPart},URI="filePart270.0.m4s",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.1.m4s"`,
  );
  t.same(validateMediaPlaylist(atBoundary('0.2'), { lowLatency: true }), [], 'exactly three target durations');
  t.match(validateMediaPlaylist(atBoundary('0.20001'), { lowLatency: true }), [/part 267\.0: EXT-X-PART starts 6\.00001 s/], 'a hundred-thousandth more');
  const ended = mutate(ENDED, '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n', '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n' +
    '#EXT-X-PART:DURATION=0.5,URI="filePart266.0.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.5,URI="filePart266.1.m4s"\n#EXT-X-PART:DURATION=0.5,URI="filePart266.2.m4s"\n#EXT-X-PART:DURATION=0.5,URI="filePart266.3.m4s"\n');
  t.match(validateMediaPlaylist(ended), [/part 266\.0: EXT-X-PART starts 7\.80000 s/], 'an ended playlist ends at its last segment');
});

t.test('each rule reports its violation', async (t) => {
  for (const [from, to, expected, options = {}] of LIVE_RULES) {
    const text = mutate(LIVE, from, to);
    const opts = { lowLatency: options.lowLatency ?? false, ...(options.base ? { previous: options.base } : {}) };
    const violations = validateMediaPlaylist(text, opts);
    t.ok(violations.some((v) => expected.test(v)), `${expected}: got ${JSON.stringify(violations)}`);
  }
});

t.test('the low-latency checks apply only when asked for', async (t) => {
  t.same(validateMediaPlaylist(mutate(LIVE, 'URI="filePart269.0.m4s",INDEPENDENT=YES', 'URI="filePart269.0.m4s"')), []);
  const plain = ENDED.replace(/#EXT-X-PART[^\n]*\n/g, '').replace(/#EXT-X-(PART-INF|SERVER-CONTROL)[^\n]*\n/g, '');
  t.same(validateMediaPlaylist(plain), [], 'a plain HLS playlist is valid HLS');
  t.match(validateMediaPlaylist(plain, { lowLatency: true }).join('\n'), /low-latency: EXT-X-PART-INF is missing/);
});

t.test('ended and delta playlists have their own rules', async (t) => {
  const cases: Array<[string, string | RegExp, string, RegExp]> = [
    [ENDED, '#EXT-X-ENDLIST\n', '#EXT-X-ENDLIST\n#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=269,LAST-PART=3\n', /EXT-X-ENDLIST must be the last line/],
    [ENDED, '#EXT-X-RENDITION-REPORT', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart270.0.m4s"\n#EXT-X-RENDITION-REPORT', /EXT-X-PRELOAD-HINT with EXT-X-ENDLIST/],
    [ENDED, '#EXT-X-MAP', '#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-MAP', /EXT-X-SKIP with EXT-X-ENDLIST/],
    [DELTA, ',CAN-SKIP-UNTIL=12.0', '', /EXT-X-SKIP without CAN-SKIP-UNTIL/],
    [DELTA, '#EXT-X-VERSION:9', '#EXT-X-VERSION:6', /EXT-X-VERSION 6 is below 9 required by EXT-X-SKIP/],
    [DELTA, '#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n', '', /EXT-X-MEDIA-SEQUENCE went back|changed URI/],
    [DELTA, /#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n([\s\S]*?fileSequence266.m4s\n)/, '$1#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n', /EXT-X-SKIP must appear before the first segment/],
    [LIVE, '#EXT-X-RENDITION-REPORT', '#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-RENDITION-REPORT', /EXT-X-STREAM-INF is a multivariant playlist tag/],
  ];
  for (const [base, from, to, expected] of cases) {
    const violations = validateMediaPlaylist(mutate(base, from, to), { previous: base === DELTA ? LIVE : base });
    t.ok(violations.some((v) => expected.test(v)), `${expected}: got ${JSON.stringify(violations)}`);
  }
});

t.test('each master playlist rule reports its violation', async (t) => {
  const cases: Array<[string | RegExp, string, RegExp]> = [
    ['#EXTM3U\n', '', /EXTM3U must be the first line/],
    ['BANDWIDTH=3000000,AVERAGE', 'AVERAGE', /needs BANDWIDTH as a decimal-integer/],
    ['BANDWIDTH=3000000,', 'BANDWIDTH=3.5e6,', /needs BANDWIDTH as a decimal-integer/],
    ['AVERAGE-BANDWIDTH=2500000', 'AVERAGE-BANDWIDTH=2.5', /AVERAGE-BANDWIDTH must be a decimal-integer/],
    ['RESOLUTION=1280x720,', '', /needs RESOLUTION/],
    ['RESOLUTION=1280x720', 'RESOLUTION=1280', /needs RESOLUTION/],
    ['FRAME-RATE=29.970,', '', /needs FRAME-RATE/],
    ['FRAME-RATE=29.970', 'FRAME-RATE=29.97003', /FRAME-RATE with at most three decimals/],
    [',CODECS="avc1.64001f,mp4a.40.2"', '', /needs a quoted CODECS/],
    ['720p/index.m3u8\n', '', /must be followed by a URI line/],
    ['360p/index.m3u8\n', '', /must be followed by a URI line/],
    ['FRAME-RATE=29.970', 'FRAME-RATE=29.970,FRAME-RATE=29.970', /attribute FRAME-RATE appears twice/],
    [/#EXT-X-STREAM-INF[^\n]*\n[^\n]*\n/g, '', /no EXT-X-STREAM-INF/],
    ['#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-TARGETDURATION:2', /EXT-X-TARGETDURATION is a media playlist tag/],
    ['#EXTM3U', '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-VERSION:3', /EXT-X-VERSION appears more than once/],
  ];
  for (const [from, to, expected] of cases) {
    const violations = validateMasterPlaylist(mutate(MASTER, from, to));
    t.ok(violations.some((v) => expected.test(v)), `${expected}: got ${JSON.stringify(violations)}`);
  }
});
