import t from 'tap';
import { absoluteRange, parseByteRange } from '../../src/http/byte-range.ts';

const MAX = Number.MAX_SAFE_INTEGER;

t.test('a single bytes range is honoured', async (t) => {
  t.same(parseByteRange('bytes=0-99'), { start: 0, end: 99 });
  t.same(parseByteRange('bytes=100-'), { start: 100 });
  t.same(parseByteRange('bytes=-500'), { suffix: 500 });
  t.same(parseByteRange('Bytes=5-5'), { start: 5, end: 5 }, 'the unit is case-insensitive');
  t.same(parseByteRange(' bytes=1-2 '), { start: 1, end: 2 });
  t.same(parseByteRange('bytes=0000000000000000000000007-00000000000000000000009'), { start: 7, end: 9 }, 'leading zeros are not size');
});

t.test('positions past a safe integer are clamped, not turned into imprecise numbers', async (t) => {
  t.same(parseByteRange('bytes=9007199254740993-'), { start: MAX });
  t.same(parseByteRange('bytes=0-99999999999999999999'), { start: 0, end: MAX });
  t.same(parseByteRange('bytes=-99999999999999999999'), { suffix: MAX });
  t.same(parseByteRange(`bytes=${'9'.repeat(400)}-`), { start: MAX });
});

t.test('anything else is ignored: the whole file is served', async (t) => {
  for (const header of [undefined, '', 'bytes=', 'bytes=-', 'bytes=5-2', 'bytes=abc', 'items=0-5', 'bytes=0-1,4-5', 'bytes=--1', 'bytes=1.5-2', 'bytes=+1-2', 'bytes=0x10-', 'bytes = 0-1', 'bytes=１-２']) {
    t.equal(parseByteRange(header), null, JSON.stringify(header));
  }
});

t.test('a suffix is resolved against the size', async (t) => {
  t.same(absoluteRange({ suffix: 10 }, 1000), { start: 990 });
  t.same(absoluteRange({ suffix: MAX }, 1000), { start: 0 });
  t.same(absoluteRange({ suffix: 0 }, 1000), { start: 1000 }, 'bytes=-0 selects nothing: unsatisfiable');
  t.same(absoluteRange({ start: 3, end: 4 }, 1000), { start: 3, end: 4 });
});
