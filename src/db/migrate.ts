// Forward-only migrations: sql/NNN_name.sql applied in order, each in its own transaction together
// with its row in schema_migrations, so a failed file leaves nothing half-applied and none runs twice.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Generated, type Kysely } from 'kysely';
import type { Logger } from '../log.ts';
import type { Database } from './database.ts';

export interface MigrationTables {
  schema_migrations: { version: number; name: string; applied_at: Generated<Date> };
}

export const SQL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sql');
const FILE_NAME = /^(\d{3})_[a-z0-9_]+\.sql$/;

export async function listMigrations(dir = SQL_DIR): Promise<Array<{ version: number; name: string; file: string }>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const seen = new Set<number>();
  return names.map((name) => {
    const match = FILE_NAME.exec(name);
    if (!match) throw new Error(`migration file ${name} does not match NNN_name.sql`);
    const version = Number(match[1]);
    if (seen.has(version)) throw new Error(`two migrations share version ${match[1]}`);
    seen.add(version);
    return { version, name, file: path.join(dir, name) };
  });
}

/** Applies every pending migration; returns the names applied. */
export async function migrate<T extends MigrationTables>(database: Database<T>, log: Logger, dir = SQL_DIR): Promise<string[]> {
  // T has schema_migrations (the bound says so); kysely's invariance needs the cast.
  const db = database.db as unknown as Kysely<MigrationTables>;
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`.execute(db);
  const applied = new Set(
    (await db.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version),
  );
  const done: string[] = [];
  for (const m of await listMigrations(dir)) {
    if (applied.has(m.version)) continue;
    const script = await readFile(m.file, 'utf8');
    await database.execScript(script, async (trx) => {
      await (trx as unknown as Kysely<MigrationTables>).insertInto('schema_migrations').values({ version: m.version, name: m.name }).execute();
    });
    log.info({ migration: m.name }, 'migration applied');
    done.push(m.name);
  }
  return done;
}
