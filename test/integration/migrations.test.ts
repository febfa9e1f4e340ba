import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { sql } from 'kysely';
import { openPglite, openPostgres, type Database } from '../../src/db/database.ts';
import type { AppTables } from '../../src/main.ts';
import { listMigrations, migrate } from '../../src/db/migrate.ts';
import { createLogger } from '../../src/log.ts';
import { createTestDatabase, tempDir } from '../helpers/services.ts';

const log = createLogger('silent');

const backends: Array<[string, (t: { teardown(fn: () => unknown): void }) => Promise<Database<AppTables>>]> = [
  ['postgres', async (t) => openPostgres<AppTables>(await createTestDatabase(t), log)],
  ['pglite', async (t) => openPglite<AppTables>(await tempDir(t, 'pglite'))],
];

for (const [name, open] of backends) {
  t.test(`migrations on ${name}`, async (t) => {
    const database = await open(t);
    t.teardown(() => database.close());
    const all = await listMigrations();
    t.ok(all.length >= 1);

    const applied = await migrate(database, log);
    t.same(applied, all.map((m) => m.name), 'every migration applied in order');
    t.same(await migrate(database, log), [], 'a second run applies nothing');

    const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(database.db);
    const names = tables.rows.map((r) => r.table_name);
    for (const table of ['users', 'refresh_tokens', 'channels', 'schema_migrations']) t.ok(names.includes(table), `${table} exists`);

    await database.db.insertInto('users').values({ username: 'Zed', email: 'zed@example.test', password_hash: 'x' }).execute();
    await t.rejects(
      database.db.insertInto('users').values({ username: 'zED', email: 'other@example.test', password_hash: 'x' }).execute(),
      'usernames are unique without regard to case',
    );

    // A broken migration is rolled back whole and not recorded.
    const dir = await tempDir(t, 'sql');
    for (const m of all) await writeFile(path.join(dir, m.name), '-- already applied\n');
    await writeFile(path.join(dir, '900_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n');
    await t.rejects(migrate(database, log, dir));
    const half = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_name = 'half_done'`.execute(database.db);
    t.equal(half.rows[0]?.n, 0, 'the failed file left nothing behind');
    const recorded = await database.db.selectFrom('schema_migrations').select('version').where('version', '=', 900).execute();
    t.equal(recorded.length, 0, 'the failed file is not recorded');

    await writeFile(path.join(dir, '900_broken.sql'), 'CREATE TABLE fixed_now (id int);\n');
    t.same(await migrate(database, log, dir), ['900_broken.sql'], 'a fixed file applies on the next start');
  });
}

t.test('pglite keeps its data across restarts', async (t) => {
  const dir = await tempDir(t, 'pglite');
  const first = await openPglite<AppTables>(dir);
  await migrate(first, log);
  await first.db.insertInto('users').values({ username: 'persist', email: 'p@example.test', password_hash: 'x' }).execute();
  await first.close();
  const second = await openPglite<AppTables>(dir);
  t.teardown(() => second.close());
  t.same(await migrate(second, log), [], 'nothing re-applied');
  const row = await second.db.selectFrom('users').select('username').executeTakeFirst();
  t.equal(row?.username, 'persist');
});

t.test('migration files must be well named', async (t) => {
  const dir = await tempDir(t, 'sql');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'bad-name.sql'), 'select 1;');
  await t.rejects(listMigrations(dir), /NNN_name\.sql/);
});
