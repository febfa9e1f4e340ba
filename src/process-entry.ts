// What every process entry (the server in src/main.ts, the archiver in vod/archiver-main.ts) does
// the same way: read the configuration or exit 2, open the shared services (database with its
// migrations, bus, job queues, storage), stop on SIGINT/SIGTERM by closing in reverse, and report a failed start.
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Kysely } from 'kysely';
import { createBus, type BusBackend } from './bus/create-bus.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrate, type MigrationTables } from './db/migrate.ts';
import { createJobs } from './jobs/create-jobs.ts';
import type { JobTables } from './jobs/job-tables.ts';
import type { Jobs } from './jobs/jobs.ts';
import type { Logger } from './log.ts';
import { createStorage } from './storage/create-storage.ts';
import type { Storage } from './storage/storage.ts';

export function loadConfigOrExit(program: string): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${program}: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export interface Services<T> {
  database: Database<T>;
  bus: BusBackend;
  jobs: Jobs;
  storage: Storage;
}

/**
 * Opens the database (migrated), the bus and storage, pushing each one's close onto `closers` as
 * soon as it exists, so a failure half-way still closes what was opened.
 */
const EMBEDDED_JOB_POLL_MS = 10_000;

export async function openServices<T extends MigrationTables>(config: Config, log: Logger, closers: Array<() => Promise<void>>): Promise<Services<T>> {
  const database = await openDatabase<T>(config, log.child({ mod: 'db' }));
  closers.push(() => database.close());
  await migrate(database, log.child({ mod: 'migrate' }));
  const bus = createBus(config, log.child({ mod: 'bus' }));
  closers.push(() => bus.close());
  // The jobs table is one of every process's tables (sql/008_jobs.sql); T is the caller's whole schema.
  // Only this process can add jobs to an embedded database, and what it adds, delays or retries wakes
  // a worker itself: the poll is a safety net there, not the way jobs are found (five queues polled
  // every second were 40% of an idle server's CPU: 0.021 → 0.012 cores).
  const pollMs = database.kind === 'pglite' ? EMBEDDED_JOB_POLL_MS : undefined;
  const jobs = createJobs(config, { db: database.db as unknown as Kysely<JobTables>, bus, log: log.child({ mod: 'jobs' }), pollMs });
  closers.push(() => jobs.close());
  const storage = createStorage(config);
  closers.push(() => storage.close());
  return { database, bus, jobs, storage };
}

/** Runs `closers` last-opened first; a failing one is logged and the rest still run. */
export async function closeInReverse(closers: Array<() => Promise<void>>, log: Logger): Promise<void> {
  for (const close of [...closers].reverse()) await close().catch((err) => log.error({ err }, 'error while closing'));
}

/** On SIGINT or SIGTERM: `close()` once, then exit 0 (1 if it failed or, with `forceMs`, took longer). */
export function stopOnSignals(log: Logger, close: () => Promise<void>, options: { what?: string; forceMs?: number } = {}): void {
  const named = (message: string) => (options.what ? `${options.what} ${message}` : message);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, named('shutting down'));
    if (options.forceMs) {
      const force = setTimeout(() => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      }, options.forceMs);
      force.unref();
    }
    close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, named('shutdown failed'));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** Runs `main` when the module at `moduleUrl` is the process's entry (not when a test imports it). */
/**
 * Lets V8's old generation grow to twice its live size between full collections, instead of V8's
 * own factor (about 1.4 at a server's 60 MB). With the default, the headroom left after a full GC
 * is smaller than the young generation, so V8 starts marking again at once: at 10 streams the
 * server ran a mark-compact every second (about 60 ms of CPU each) for 3 MB of garbage. The
 * factor is read at each collection, so setting it once the process runs takes effect.
 */
export function tuneHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=100');
}

export function runIfEntry(moduleUrl: string, program: string, main: () => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  tuneHeapGrowth();
  main().catch((err) => {
    process.stderr.write(`${program}: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
