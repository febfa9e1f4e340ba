// One Database for both backends: kysely over pg when DATABASE_URL is set, else PGlite on disk
// under the data directory. Both run the same sql/ migrations.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../log.ts';
import { PglitePool } from './pglite-pool.ts';
import type { MigrationTables } from './migrate.ts';

/** T is the whole schema, which only main.ts knows; each room gets a narrowed view (see narrow.ts). */
export interface Database<T = MigrationTables> {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Kysely<T>;
  /** Runs a multi-statement SQL script in one transaction, calling `after` inside it. */
  execScript(script: string, after: (trx: Kysely<T>) => Promise<void>): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

// int8 as a JS number, as PGlite returns it; counts and byte sizes stay far below 2^53.
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export async function openPostgres<T = MigrationTables>(url: string, log: Logger): Promise<Database<T>> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000, types: pgTypes });
  pool.on('error', (err) => log.error({ err }, 'idle postgres connection failed'));
  // pg-pool listens for errors only on idle clients. A connection lost while a client is checked
  // out (a query in flight when the network drops) makes that client emit 'error' with nobody
  // listening, which would kill the process; its query fails on its own, and the pool drops the
  // broken client when it is released.
  pool.on('connect', (client) => client.on('error', (err) => log.warn({ err }, 'postgres connection lost during a query')));
  const db = new Kysely<T>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    async execScript(script, after) {
      await db.transaction().execute(async (trx) => {
        // No parameters: pg sends it with the simple protocol, which allows several statements.
        await sql.raw(script).execute(trx);
        await after(trx);
      });
    },
    ping: async () => void (await sql`select 1`.execute(db)),
    close: () => db.destroy(),
  };
}

const PGLITE_SHARED_BUFFERS = '32MB';

export async function openPglite<T = MigrationTables>(dataDir: string): Promise<Database<T>> {
  const { PGlite } = await import('@electric-sql/pglite');
  const dir = path.join(dataDir, 'pglite');
  await mkdir(dir, { recursive: true });
  // PGlite's WebAssembly memory only ever grows, and initdb touches a lot of it: a new data directory
  // is initialised by an instance of its own, closed before the one the server keeps opens it.
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await (await PGlite.create(dir)).close();
  // An embedded instance's data is small; PGlite's 160 MB of shared buffers would be most of the
  // server's memory. Measured, a server at rest on a new data directory: RSS 585 → 436 MiB.
  const pglite = await PGlite.create(dir, { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`] });
  const pool = new PglitePool(pglite);
  const db = new Kysely<T>({ dialect: new PostgresDialect({ pool: pool as unknown as pg.Pool }) });
  return {
    kind: 'pglite',
    db,
    async execScript(script, after) {
      // Hold the single connection so nothing interleaves with the script's transaction.
      const client = await pool.connect();
      try {
        await pglite.exec(`BEGIN;\n${script}`);
        const trxDb = new Kysely<T>({ dialect: new PostgresDialect({ pool: { connect: async () => ({ query: client.query, release() {} }), end: async () => {} } as unknown as pg.Pool }) });
        await after(trxDb);
        await pglite.exec('COMMIT');
      } catch (err) {
        await pglite.exec('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    ping: async () => void (await sql`select 1`.execute(db)),
    async close() {
      await db.destroy();
      await pglite.close();
    },
  };
}

export function openDatabase<T = MigrationTables>(opts: { databaseUrl: string | null; dataDir: string }, log: Logger): Promise<Database<T>> {
  return opts.databaseUrl ? openPostgres<T>(opts.databaseUrl, log) : openPglite<T>(opts.dataDir);
}
