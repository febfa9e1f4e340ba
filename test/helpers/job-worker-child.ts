// A separate worker process for the jobs tests: works one queue with a handler that reports each
// job it starts on stdout and then holds it until the process is killed.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { RedisBus } from '../../src/bus/redis-bus.ts';
import { BullJobs } from '../../src/jobs/bullmq-jobs.ts';
import { DatabaseJobs } from '../../src/jobs/database-jobs.ts';
import type { JobTables } from '../../src/jobs/job-tables.ts';
import type { Jobs } from '../../src/jobs/jobs.ts';
import { createLogger } from '../../src/log.ts';

const [kind, target, prefix, queue, lockMs] = process.argv.slice(2) as [string, string, string, string, string];
const log = createLogger('silent');
let jobs: Jobs;
if (kind === 'bullmq') {
  const bus = new RedisBus({ url: target, prefix, onError: () => {} });
  jobs = new BullJobs({ redisUrl: target, prefix: `${prefix}jobs`, bus, log, lockMs: Number(lockMs) });
} else {
  const db = new Kysely<JobTables>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: target, max: 2 }) }) });
  jobs = new DatabaseJobs({ db, log, leaseMs: Number(lockMs), pollMs: 50 });
}
jobs.work(queue, async (job) => {
  process.stdout.write(`started ${job.id} ${job.attempt}\n`);
  await new Promise(() => {});
});
if (jobs instanceof BullJobs) await jobs.ready();
process.stdout.write('ready\n');
