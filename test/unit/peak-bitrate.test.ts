import t from 'tap';
import { PeakBitrate } from '../../packager/peak-bitrate.ts';

const fragment = (at: number, bytes: number, independent: boolean) => ({ baseMediaDecodeTime: at, independent, data: Buffer.alloc(bytes) });

t.test('the peak over whole keyframe intervals, not a running average', async (t) => {
  const rate = new PeakBitrate();
  // timescale 1000: a 2 s GOP of 10 parts × 25 kB (1 Mbit/s), then one of 10 × 50 kB (2 Mbit/s), then quiet again
  for (const [gop, bytes] of [[0, 25_000], [1, 50_000], [2, 25_000]] as const) {
    for (let i = 0; i < 10; i++) rate.onFragment(fragment(gop * 2000 + i * 200, bytes, i === 0), 1000);
  }
  rate.onFragment(fragment(6000, 1, true), 1000);
  t.equal(rate.peak, 2_000_000, 'the busiest GOP sets it');
});

t.test('nothing until a whole interval; a restarted timeline starts over', async (t) => {
  const rate = new PeakBitrate();
  for (let i = 0; i < 5; i++) rate.onFragment(fragment(5000 + i * 200, 10_000, i === 0), 1000);
  t.equal(rate.peak, 0);
  rate.onFragment(fragment(0, 10_000, true), 1000); // a new init section's timeline, from 0
  for (let i = 1; i < 5; i++) rate.onFragment(fragment(i * 200, 10_000, false), 1000);
  rate.onFragment(fragment(1000, 10_000, true), 1000);
  t.equal(rate.peak, 400_000, '50 kB in 1 s');
});
