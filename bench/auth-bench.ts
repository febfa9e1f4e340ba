// What the revocation check costs per authenticated request. Interleaves, in rounds, N calls of
// AccountService.authenticate (signature + one query: the user row, its tokens_not_before and
// whether the token's family is revoked) with N of what it did before the check (signature + the
// user row alone), so both meet the same machine load. The token's family has first rotated
// ROTATIONS times (672 is a week of 15-minute refreshes: the largest family a client keeps).
//   DATABASE_URL=postgres://… npx tsx bench/auth-bench.ts   (empty: embedded PGlite)
import { verifyAccessToken } from '../src/accounts/tokens.ts';
import { deriveKeys } from '../src/secrets.ts';
import { median, percentile, startBenchServer } from './bench-server.ts';

const N = Number(process.env.N ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ROTATIONS = Number(process.env.ROTATIONS ?? 672);
const SECRET = 'ab'.repeat(32);

const { server, stop } = await startBenchServer({ DATABASE_URL: process.env.DATABASE_URL ?? '', SECRET_KEY: SECRET });
try {
  const username = `bench${Date.now()}`;
  const reg = await server.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username, email: `${username}@bench.test`, password: 'benchmark password' } });
  let session = reg.json();
  for (let i = 0; i < ROTATIONS; i++) {
    session = (await server.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: session.refreshToken } })).json();
  }
  const token: string = session.accessToken;
  const jwtKey = deriveKeys(Buffer.from(SECRET, 'hex')).jwt;
  const db = server.database.db;
  const variants = {
    'without the check': async () => {
      const { userId } = await verifyAccessToken(jwtKey, token);
      await db.selectFrom('users').select(['id', 'username', 'email', 'created_at']).where('id', '=', userId).executeTakeFirstOrThrow();
    },
    'with the check': () => server.accounts.authenticate(token),
  };
  const times: Record<string, number[]> = { 'without the check': [], 'with the check': [] };
  for (const run of Object.values(variants)) for (let i = 0; i < 200; i++) await run(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants)) {
      for (let i = 0; i < N; i++) {
        const t0 = process.hrtime.bigint();
        await run();
        times[name]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  for (const [name, values] of Object.entries(times)) {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    console.log(`${name}: ${values.length} authentications, mean ${mean.toFixed(3)} ms, median ${median(values).toFixed(3)} ms, p99 ${percentile(values, 99).toFixed(3)} ms`);
  }
} finally {
  await stop();
}
