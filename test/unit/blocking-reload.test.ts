import t from 'tap';
import { advancePartLimit, decideReload, parseReloadQuery } from '../../packager/blocking-reload.ts';
import type { MediaPlaylistState, Part, Segment } from '../../packager/ll-hls-playlist.ts';

function parts(msn: number, count: number): Part[] {
  return Array.from({ length: count }, (_, i) => ({ uri: `p${msn}.${i}.m4s`, duration: 0.5, independent: i === 0 }));
}

function segment(msn: number): Segment {
  return { mediaSequence: msn, uri: `s${msn}.m4s`, duration: 2, parts: parts(msn, 4), programDateTime: new Date(0), discontinuity: false };
}

/** Segments 10..12 complete (four 0.5 s parts each), parts 13.0 and 13.1 written. */
function state(extra: Partial<MediaPlaylistState> = {}): MediaPlaylistState {
  return {
    targetDuration: 2, partTarget: 0.5, mapUri: 'init.mp4', segments: [10, 11, 12].map(segment),
    pendingParts: parts(13, 2), nextPartUri: 'p13.2.m4s', discontinuitySequence: 0, ended: false,
    ...extra,
  };
}

t.test('well-formed queries', async (t) => {
  t.same(parseReloadQuery({}), { skip: false });
  t.same(parseReloadQuery({ _HLS_msn: '13' }), { msn: 13, skip: false });
  t.same(parseReloadQuery({ _HLS_msn: '13', _HLS_part: '0' }), { msn: 13, part: 0, skip: false });
  t.same(parseReloadQuery({ _HLS_msn: '0013', _HLS_part: '2', _HLS_skip: 'YES' }), { msn: 13, part: 2, skip: true });
  t.same(parseReloadQuery({ _HLS_skip: 'v2' }), { skip: true });
  t.same(parseReloadQuery({ _HLS_msn: 13, _HLS_part: 1 }), { msn: 13, part: 1, skip: false }, 'numbers from a coercing schema');
  t.same(parseReloadQuery({ _HLS_msn: '13', other: 'x', _HLS_future: '1' }), { msn: 13, skip: false }, 'other parameters are not ours');
});

t.test('malformed queries are errors', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ _HLS_part: '1' }, /_HLS_part needs _HLS_msn/],
    [{ _HLS_msn: '-1' }, /_HLS_msn/],
    [{ _HLS_msn: '1.5' }, /_HLS_msn/],
    [{ _HLS_msn: '' }, /_HLS_msn/],
    [{ _HLS_msn: 'abc' }, /_HLS_msn/],
    [{ _HLS_msn: '1e3' }, /_HLS_msn/],
    [{ _HLS_msn: ' 1' }, /_HLS_msn/],
    [{ _HLS_msn: '99999999999999999999' }, /_HLS_msn/],
    [{ _HLS_msn: -1 }, /_HLS_msn/],
    [{ _HLS_msn: 1.5 }, /_HLS_msn/],
    [{ _HLS_msn: ['1', '2'] }, /_HLS_msn is given more than once/],
    [{ _HLS_msn: '1', _HLS_part: '-2' }, /_HLS_part/],
    [{ _HLS_msn: '1', _HLS_part: '0x1' }, /_HLS_part/],
    [{ _HLS_skip: 'NO' }, /_HLS_skip must be YES or v2/],
    [{ _HLS_skip: 'yes' }, /_HLS_skip/],
    [{ _HLS_skip: '' }, /_HLS_skip/],
  ];
  for (const [query, message] of cases) {
    const result = parseReloadQuery(query);
    t.ok('error' in result, `${JSON.stringify(query)} is refused`);
    if ('error' in result) t.match(result.error, message);
  }
});

t.test('a part that exists is answered now', async (t) => {
  const s = state();
  t.equal(decideReload(s, { msn: 13, part: 1, skip: false }), 'ready');
  t.equal(decideReload(s, { msn: 13, part: 0, skip: false }), 'ready');
  t.equal(decideReload(s, { msn: 12, part: 3, skip: false }), 'ready');
  t.equal(decideReload(s, { msn: 12, skip: false }), 'ready', 'a complete segment');
  t.equal(decideReload(s, { msn: 12, part: 4, skip: false }), 'ready', 'past the last part of 12 means 13.0, which exists');
  t.equal(decideReload(s, { msn: 2, part: 0, skip: false }), 'ready', 'older than the window: the whole playlist now');
  t.equal(decideReload(s, { skip: true }), 'ready', 'no msn: no blocking');
});

t.test('the next part waits', async (t) => {
  const s = state();
  t.equal(decideReload(s, { msn: 13, part: 2, skip: false }), 'wait');
  t.equal(decideReload(s, { msn: 13, skip: false }), 'wait', 'segment 13 is not complete yet');
  t.equal(decideReload(s, { msn: 14, part: 0, skip: false }), 'wait');
  t.equal(decideReload(s, { msn: 14, skip: false }), 'wait');
  t.equal(decideReload(state({ pendingParts: [], nextPartUri: 'p13.0.m4s' }), { msn: 12, part: 4, skip: false }), 'wait', '12.4 means 13.0');
  t.equal(decideReload(state({ segments: [], pendingParts: [] }), { msn: 0, part: 0, skip: false }), 'wait', 'a stream with no part yet');
  t.equal(decideReload(state({ segments: [], pendingParts: [] }), { msn: 1, skip: false }), 'wait');
});

t.test('too far ahead is refused', async (t) => {
  const s = state();
  t.same(decideReload(s, { msn: 15, skip: false }), { error: 'too-far-ahead' }, 'more than the last segment (12) plus two');
  t.same(decideReload(s, { msn: 15, part: 0, skip: false }), { error: 'too-far-ahead' });
  t.equal(decideReload(s, { msn: 14, part: 5, skip: false }), 'wait', 'at least six parts ahead: within 3 s');
  t.same(decideReload(s, { msn: 14, part: 6, skip: false }), { error: 'too-far-ahead' }, 'at least seven parts ahead');
  t.equal(decideReload(s, { msn: 13, part: 7, skip: false }), 'wait', 'six parts past 13.1');
  t.same(decideReload(s, { msn: 13, part: 8, skip: false }), { error: 'too-far-ahead' });
  t.same(decideReload(s, { msn: 13, part: 1000, skip: false }), { error: 'too-far-ahead' });
  t.same(decideReload(state({ segments: [], pendingParts: [] }), { msn: 2, skip: false }), { error: 'too-far-ahead' });
  t.equal(advancePartLimit(0.5), 6);
  t.equal(advancePartLimit(2), 3);
});

t.test('an ended playlist ignores the directives', async (t) => {
  t.equal(decideReload(state({ ended: true }), { msn: 13, part: 2, skip: false }), 'ready');
  t.equal(decideReload(state({ ended: true }), { msn: 99, skip: false }), 'ready');
});
