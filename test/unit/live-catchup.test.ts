// The web UI player's live catch-up: how fast a viewer who started late is played back to the
// target latency, and when it leaves the rate alone (at the target, thin buffer, rewound on purpose).
// The whole loop in a browser is measured by `npm run bench:latency -- --only "web UI"`.
import t from 'tap';
import { catchUpRate, DVR_BEHIND_S, MAX_RATE } from '../../web/src/live-catchup.ts';

const target = 0.3;

t.test('a late start is played faster, more the further behind, never above the cap', async (t) => {
  const at = (latency: number, ahead = latency - 0.1) => catchUpRate({ latency, target, ahead, rate: 1 });
  t.equal(at(2.3), MAX_RATE, '2 s behind: the most');
  t.equal(at(1.3), MAX_RATE, '1 s behind: the most');
  t.equal(at(0.7), 1.1, '0.4 s behind: a tenth faster');
  t.equal(at(0.62), 1.1, 'just behind: little speed-up');
  t.ok(at(0.9) > 1 && at(0.9) < MAX_RATE, 'in between');
});

t.test('at the target, or up to 0.3 s above it, the rate stays 1', async (t) => {
  t.equal(catchUpRate({ latency: 0.3, target, ahead: 0.3, rate: 1 }), 1);
  t.equal(catchUpRate({ latency: 0.55, target, ahead: 0.5, rate: 1 }), 1, '0.25 s behind it does not start');
});

t.test('once catching up it goes on until 0.15 s from the target (no flapping at the start threshold)', async (t) => {
  t.equal(catchUpRate({ latency: 0.55, target, ahead: 0.5, rate: 1.1 }), 1.05, '0.25 s behind while catching up: keeps going');
  t.equal(catchUpRate({ latency: 0.44, target, ahead: 0.4, rate: 1.05 }), 1, '0.14 s behind: done, the last stretch is where the buffer is thinnest');
});

t.test('a thin buffer ahead stops the speed-up: a stall would cost more than it gains', async (t) => {
  t.equal(catchUpRate({ latency: 1.3, target, ahead: 0.3, rate: 1 }), 1, 'does not start with 0.3 s ahead');
  t.equal(catchUpRate({ latency: 1.3, target, ahead: 0.15, rate: 1.25 }), 1, 'stops with 0.15 s ahead');
  t.equal(catchUpRate({ latency: 1.3, target, ahead: 0.5, rate: 1.25 }), MAX_RATE, 'goes on with 0.5 s ahead');
});

t.test('a viewer who paused or went back is left where they are, and nonsense gives 1', async (t) => {
  t.equal(catchUpRate({ latency: target + DVR_BEHIND_S + 1, target, ahead: 20, rate: 1 }), 1);
  t.equal(catchUpRate({ latency: Number.NaN, target, ahead: 1, rate: 1 }), 1);
  t.equal(catchUpRate({ latency: 1, target: Number.POSITIVE_INFINITY, ahead: 1, rate: 1 }), 1);
});
