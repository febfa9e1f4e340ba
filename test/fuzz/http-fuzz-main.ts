// `npm run fuzz`: the HTTP fuzz property of the CI test with many more cases, against real
// PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL). FUZZ_RUNS cases (default 100,000),
// FUZZ_SEED to replay a run (default: a new seed, printed). Exits 1 when anything was found.
import { startTestServer } from '../helpers/server-harness.ts';
import { describeFinding, runHttpFuzz } from './http-fuzz.ts';

const runs = Number(process.env.FUZZ_RUNS ?? 100_000);
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const teardowns: (() => unknown)[] = [];

try {
  const server = await startTestServer({ teardown: (fn) => teardowns.push(fn) }, { LOG_LEVEL: 'warn' });
  console.log(`http fuzz: ${runs} cases, seed ${seed} (replay with FUZZ_SEED=${seed})`);
  const result = await runHttpFuzz(server, { runs, seed, onProgress: (n) => console.log(`  ${n} cases…`) });
  console.log(`ran ${result.cases} cases (${result.unsendable} the client could not send) in ${(result.durationMs / 1000).toFixed(1)} s, seed ${result.seed}`);
  console.log(`statuses ${JSON.stringify(result.statuses)}`);
  console.log(result.findings.length === 0 ? 'no findings' : `${result.findings.length} finding(s):\n${result.findings.map(describeFinding).join('\n\n')}`);
  process.exitCode = result.findings.length === 0 ? 0 : 1;
} finally {
  for (const fn of teardowns.reverse()) await fn();
}
