// Issue #11's fuzz suite, bounded for CI: a few thousand seeded bad requests over every route (see
// test/fuzz/http-fuzz.ts). `npm run fuzz` runs the same property with many more cases.
import t from 'tap';
import { describeFinding, runHttpFuzz } from '../fuzz/http-fuzz.ts';
import { startTestServer } from '../helpers/server-harness.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_111);

t.test(`${RUNS} bad requests: no 5xx, every 4xx in the error shape, user B's data untouched`, async (t) => {
  const server = await startTestServer(t, { LOG_LEVEL: 'warn' });
  const result = await runHttpFuzz(server, { runs: RUNS, seed: SEED });
  t.comment(`seed ${result.seed}: ${result.cases} cases (${result.unsendable} unsendable) in ${(result.durationMs / 1000).toFixed(1)} s; statuses ${JSON.stringify(result.statuses)}`);
  t.equal(result.cases, RUNS, 'every case ran');
  t.same(result.findings.map(describeFinding), [], 'no findings');
});
