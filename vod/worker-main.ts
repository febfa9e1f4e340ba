// `npm run worker`: a process that runs transcoding jobs and nothing else, beside servers started
// with WORKER=external (same environment; with local storage, the same DATA_DIR). With REDIS_URL,
// any number of workers on any machines share the BullMQ queue, WORKER_CONCURRENCY jobs each; a
// worker killed mid-job has its job taken over by another once BullMQ sees it stalled.
import { registerTranscodeJobs } from './transcode-job.ts';
import { sourceReader, transcodeDepsOf } from './register-uploads.ts';
import type { VodDb } from './vod-tables.ts';
import type { MigrationTables } from '../src/db/migrate.ts';
import { narrow } from '../src/db/narrow.ts';
import { createLogger, logDestination } from '../src/log.ts';
import { closeInReverse, loadConfigOrExit, openServices, runIfEntry, stopOnSignals } from '../src/process-entry.ts';

async function main(): Promise<void> {
  const config = loadConfigOrExit('spillway worker');
  const log = createLogger(config.logLevel, logDestination(process.stdout)).child({ mod: 'worker', pid: process.pid });
  const closers: Array<() => Promise<void>> = [];
  const { database, bus, jobs, storage } = await openServices<MigrationTables & VodDb>(config, log, closers);
  const db = narrow(database.db).to<VodDb>();
  registerTranscodeJobs(jobs, transcodeDepsOf(config, db, storage, sourceReader(config, storage), log, bus), { concurrency: config.workerConcurrency });
  // Stop taking and running jobs before storage and the database close under them (close is idempotent).
  closers.push(() => jobs.close());
  log.info({ queue: jobs.kind, concurrency: config.workerConcurrency, storage: config.s3 ? 's3' : 'local' }, 'worker is up');
  // A job running at shutdown is aborted and goes back to the queue for another worker.
  stopOnSignals(log, () => closeInReverse(closers, log), { what: 'worker', forceMs: 30_000 });
}

runIfEntry(import.meta.url, 'spillway worker', main);
