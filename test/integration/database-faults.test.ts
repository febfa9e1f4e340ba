// PostgreSQL dropping the connection under a query in flight: the query fails, the process lives
// on, and the next query gets a fresh connection (before the fix, the checked-out client's
// unhandled 'error' event killed the whole server, as a multi-node fault test caught).
import { sql } from 'kysely';
import t from 'tap';
import { openPostgres } from '../../src/db/database.ts';
import { createLogger } from '../../src/log.ts';
import { until } from '../helpers/media.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { createTestDatabase } from '../helpers/services.ts';

t.test('a connection cut during a query fails that query only', async (t) => {
  const url = new URL(await createTestDatabase(t));
  const proxy = await startTcpProxy(t, { host: url.hostname, port: Number(url.port || 5432) });
  const viaProxy = Object.assign(new URL(url), { host: `127.0.0.1:${proxy.port}` }).toString();
  const database = await openPostgres(viaProxy, createLogger('silent'));
  t.teardown(() => database.close());
  const watcher = await openPostgres(url.toString(), createLogger('silent'));
  t.teardown(() => watcher.close());
  t.same((await sql<{ n: number }>`select 1 as n`.execute(database.db)).rows, [{ n: 1 }], 'a query through the relay works');

  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.prependListener('uncaughtException', onUncaught);
  t.teardown(() => void process.removeListener('uncaughtException', onUncaught));

  const slow = sql`select pg_sleep(5)`.execute(database.db);
  // Cut only once the server is running it, so the connection drops under a query in flight.
  const running = async () => (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(5)' and state = 'active'`.execute(watcher.db)).rows[0]!.n > 0;
  await until(running, 'the slow query to be running on the server', 5000);
  proxy.cut();
  await t.rejects(slow, 'the query in flight fails');
  await new Promise((r) => setImmediate(r));
  t.same(uncaught, [], 'nothing escaped as an uncaught exception');

  proxy.restore();
  t.same((await sql<{ n: number }>`select 2 as n`.execute(database.db)).rows, [{ n: 2 }], 'the next query gets a new connection');
});
