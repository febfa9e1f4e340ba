// The packager's hand-over of just-written segments to the recorder in the same process: taken once,
// only when the size matches the file the recorder listed, and bounded by bytes and by age so that
// segments nobody records (an archiver in another process) do not pile up in memory.
import t from 'tap';
import { FreshSegments } from '../../packager/fresh-segments.ts';

const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

t.test('a segment is taken once, as the chunks it was written from', async (t) => {
  const fresh = new FreshSegments();
  const chunks = [bytes(10, 1), bytes(20, 2)];
  fresh.add('/m/live/s/source/seg-1.m4s', chunks);
  t.equal(fresh.held, 30);
  t.equal(fresh.take('/m/live/s/source/seg-1.m4s', 30), chunks);
  t.equal(fresh.take('/m/live/s/source/seg-1.m4s', 30), undefined, 'not twice');
  t.equal(fresh.take('/m/live/s/source/seg-2.m4s', 30), undefined, 'nothing for a file never handed over');
  t.equal(fresh.held, 0);
});

t.test('a size that differs from the file listed gets nothing, and the entry goes', async (t) => {
  const fresh = new FreshSegments();
  fresh.add('/seg-1.m4s', [bytes(10)]);
  t.equal(fresh.take('/seg-1.m4s', 11), undefined);
  t.equal(fresh.held, 0);
});

t.test('the same file written again replaces what was handed over', async (t) => {
  const fresh = new FreshSegments();
  fresh.add('/seg-1.m4s', [bytes(10, 1)]);
  const again = [bytes(12, 2)];
  fresh.add('/seg-1.m4s', again);
  t.equal(fresh.held, 12);
  t.equal(fresh.take('/seg-1.m4s', 12), again);
});

t.test('bounded by bytes: the oldest go first, and a segment larger than the bound is not kept', async (t) => {
  const fresh = new FreshSegments(100);
  for (let i = 1; i <= 5; i++) fresh.add(`/seg-${i}.m4s`, [bytes(30)]);
  t.equal(fresh.held, 90, 'three of 30 bytes fit in 100');
  t.equal(fresh.take('/seg-2.m4s', 30), undefined, 'the oldest were dropped');
  t.ok(fresh.take('/seg-3.m4s', 30) && fresh.take('/seg-5.m4s', 30), 'the newest are there');
  fresh.add('/big.m4s', [bytes(101)]);
  t.equal(fresh.take('/big.m4s', 101), undefined);
  t.equal(fresh.held, 30, 'and it did not push out what was there');
});

t.test('bounded by age: what nobody took within the limit goes when the next segment comes', async (t) => {
  let now = 0;
  const fresh = new FreshSegments(1000, 10_000, () => now);
  fresh.add('/a/seg-1.m4s', [bytes(10)]);
  now = 4000;
  fresh.add('/a/seg-2.m4s', [bytes(10)]);
  now = 12_000;
  fresh.add('/a/seg-3.m4s', [bytes(10)]);
  t.equal(fresh.held, 20, 'the 12 s old segment went, the 8 s old one stays');
  t.equal(fresh.take('/a/seg-1.m4s', 10), undefined);
  t.ok(fresh.take('/a/seg-2.m4s', 10));
});
