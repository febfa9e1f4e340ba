// One contract for both job queues (BullMQ on the CI Redis; the database queue on PostgreSQL and on
// PGlite, the embedded default), then what a user of the jobs notices when a process dies: a job
// held by a worker killed with SIGKILL is finished by another process, once.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import t from 'tap';
import type { AppTables } from '../../src/main.ts';
import { RedisBus } from '../../src/bus/redis-bus.ts';
import { openPglite, openPostgres, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { BullJobs } from '../../src/jobs/bullmq-jobs.ts';
import { DatabaseJobs } from '../../src/jobs/database-jobs.ts';
import type { JobTables } from '../../src/jobs/job-tables.ts';
import { PermanentJobError, type JobContext, type Jobs } from '../../src/jobs/jobs.ts';
import { createLogger } from '../../src/log.ts';
import { until } from '../helpers/media.ts';
import { createTestDatabase, tempDir, TEST_REDIS_URL, uniquePrefix } from '../helpers/services.ts';

const log = createLogger('silent');
const here = path.dirname(fileURLToPath(import.meta.url));

interface Setup {
  /** A Jobs instance; every call is another process's view of the same queues. */
  open(options?: { lockMs?: number }): Promise<Jobs>;
  /** For the kill test: what the child worker needs to reach the same queues. */
  child?: { kind: 'bullmq' | 'database'; target: string; prefix: string };
}

interface Test {
  teardown(fn: () => unknown): void;
}

async function databaseSetup(t: Test, database: Database<AppTables>, childTarget?: string): Promise<Setup> {
  await migrate(database, log);
  t.teardown(() => database.close());
  const db = database.db as unknown as Kysely<JobTables>;
  const opened: Jobs[] = [];
  t.teardown(() => Promise.all(opened.map((j) => j.close())));
  return {
    async open(options = {}) {
      const jobs = new DatabaseJobs({ db, log, leaseMs: options.lockMs ?? 30_000, pollMs: 50 });
      opened.push(jobs);
      return jobs;
    },
    child: childTarget ? { kind: 'database', target: childTarget, prefix: '' } : undefined,
  };
}

const backends: Array<[string, (t: Test) => Promise<Setup>]> = [
  [
    'bullmq',
    async (t) => {
      const prefix = uniquePrefix('jobs');
      const bus = new RedisBus({ url: TEST_REDIS_URL, prefix });
      t.teardown(() => bus.close());
      const opened: BullJobs[] = [];
      t.teardown(() => Promise.all(opened.map((j) => j.close())));
      return {
        async open(options = {}) {
          const jobs = new BullJobs({ redisUrl: TEST_REDIS_URL, prefix: `${prefix}jobs`, bus, log, lockMs: options.lockMs ?? 30_000 });
          opened.push(jobs);
          return jobs;
        },
        child: { kind: 'bullmq', target: TEST_REDIS_URL, prefix },
      };
    },
  ],
  [
    'database on postgres',
    async (t) => {
      const url = await createTestDatabase(t);
      return databaseSetup(t, await openPostgres<AppTables>(url, log), url);
    },
  ],
  ['database on pglite', async (t) => databaseSetup(t, await openPglite<AppTables>(await tempDir(t, 'jobs-pglite')))],
];

/** Collects what a handler saw, and lets a test decide each run's outcome. */
function recorder<T>(outcome: (job: JobContext<T>) => Promise<void> = async () => {}) {
  const runs: Array<{ id: string; data: T; attempt: number }> = [];
  return {
    runs,
    handler: async (job: JobContext<T>) => {
      runs.push({ id: job.id, data: job.data, attempt: job.attempt });
      await outcome(job);
    },
  };
}

async function ready(jobs: Jobs): Promise<void> {
  if (jobs instanceof BullJobs) await jobs.ready();
}

for (const [name, setup] of backends) {
  t.test(name, async (t) => {
    t.test('a job added runs once with its data, and reads as completed', async (t) => {
      const s = await setup(t);
      const jobs = await s.open();
      const r = recorder<{ video: string }>();
      jobs.work('transcode', r.handler);
      await ready(jobs);
      const id = await jobs.add('transcode', { video: 'v1' });
      await until(async () => (await jobs.get('transcode', id))?.state === 'completed', 'the job to complete');
      t.same(r.runs, [{ id, data: { video: 'v1' }, attempt: 1 }]);
      const info = await jobs.get('transcode', id);
      t.equal(info?.progress, 100);
      t.equal(info?.failedReason, null);
    });

    t.test('a job id given twice makes one job', async (t) => {
      const s = await setup(t);
      const jobs = await s.open();
      const first = await jobs.add('notify', { n: 1 }, { jobId: 'live-123' });
      const second = await jobs.add('notify', { n: 2 }, { jobId: 'live-123' });
      t.equal(first, 'live-123');
      t.equal(second, 'live-123');
      const r = recorder<{ n: number }>();
      jobs.work('notify', r.handler);
      await until(async () => (await jobs.get('notify', 'live-123'))?.state === 'completed', 'the job to complete');
      t.same(r.runs.map((x) => x.data), [{ n: 1 }], 'the first data wins and it ran once');
    });

    t.test('a failing job is retried with backoff and succeeds on its third attempt', async (t) => {
      const s = await setup(t);
      const jobs = await s.open();
      const r = recorder<null>(async (job) => {
        if (job.attempt < 3) throw new Error(`flaky ${job.attempt}`);
      });
      jobs.work('flaky', r.handler);
      const id = await jobs.add('flaky', null, { attempts: 3, backoffMs: 50 });
      await until(async () => (await jobs.get('flaky', id))?.state === 'completed', 'the job to complete on a retry');
      t.same(r.runs.map((x) => x.attempt), [1, 2, 3]);
    });

    t.test('a job that fails every attempt ends failed with its last error', async (t) => {
      const s = await setup(t);
      const jobs = await s.open();
      const r = recorder<null>(async (job) => {
        throw new Error(`broken on attempt ${job.attempt}`);
      });
      jobs.work('broken', r.handler);
      const id = await jobs.add('broken', null, { attempts: 2, backoffMs: 20 });
      await until(async () => (await jobs.get('broken', id))?.state === 'failed', 'the job to fail');
      t.equal(r.runs.length, 2);
      t.equal((await jobs.get('broken', id))?.failedReason, 'broken on attempt 2');
    });

    t.test('a permanent error fails the job at once, without retries', async (t) => {
      const s = await setup(t);
      const jobs = await s.open();
      const r = recorder<null>(async () => {
        throw new PermanentJobError('the file has no video stream');
      });
      jobs.work('probe', r.handler);
      const id = await jobs.add('probe', null, { attempts: 3, backoffMs: 20 });
      await until(async () => (await jobs.get('probe', id))?.state === 'failed', 'the job to fail');
      t.equal(r.runs.length, 1);
      t.equal((await jobs.get('probe', id))?.failedReason, 'the file has no video stream');
    });

    t.test('a delayed job waits, and cancelling it means it never runs', async (t) => {
      const s = await setup(t);
      const jobs = await s.open();
      const r = recorder<null>();
      jobs.work('later', r.handler);
      await ready(jobs);
      const id = await jobs.add('later', null, { delayMs: 60_000 });
      t.equal((await jobs.get('later', id))?.state, 'delayed');
      t.equal(await jobs.cancel('later', id), true);
      t.equal(await jobs.get('later', id), null, 'the cancelled job is gone');
      const soon = await jobs.add('later', null, { delayMs: 200 });
      await until(async () => (await jobs.get('later', soon))?.state === 'completed', 'a short delay to pass');
      t.same(r.runs.map((x) => x.id), [soon], 'only the job not cancelled ran');
    });

    t.test('progress is visible from another process while the job runs; cancelling aborts it for good', async (t) => {
      const s = await setup(t);
      const worker = await s.open();
      const api = await s.open();
      let aborted = false;
      const r = recorder<null>(async (job) => {
        await job.progress(42);
        await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = true;
        throw new Error('ffmpeg killed');
      });
      worker.work('long', r.handler);
      const id = await api.add('long', null, { attempts: 3, backoffMs: 20 });
      await until(async () => (await api.get('long', id))?.progress === 42, 'progress 42 to be readable');
      t.equal((await api.get('long', id))?.state, 'active');
      t.equal(await api.cancel('long', id), true);
      await until(() => aborted, 'the running handler to see the abort');
      await until(async () => {
        const info = await api.get('long', id);
        return info === null || info.state === 'failed';
      }, 'the cancelled job to be over');
      t.equal(r.runs.length, 1, 'a cancelled job is not retried');
    });

    t.test('closing a worker mid-job puts the job back without spending an attempt; the next process finishes it', async (t) => {
      const s = await setup(t);
      const first = await s.open();
      let started = false;
      first.work('resume', async (job: JobContext<null>) => {
        started = true;
        await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve(), { once: true }));
        throw new Error('stopped');
      });
      const id = await first.add('resume', null, { attempts: 1 });
      await until(() => started, 'the first worker to start the job');
      await first.close();
      const second = await s.open();
      const r = recorder<null>();
      second.work('resume', r.handler);
      await until(async () => (await second.get('resume', id))?.state === 'completed', 'the second process to finish the job');
      t.same(r.runs.map((x) => x.attempt), [1], 'its only attempt was not used up by the shutdown');
    });

    if (sharedAcrossProcesses(name)) {
      t.test('a worker killed with SIGKILL mid-job: another process takes the job over and runs it once', async (t) => {
        const s = await setup(t);
        const child = s.child!;
        const lockMs = 1500;
        const proc = spawn(process.execPath, ['--import=tsx', path.join(here, '../helpers/job-worker-child.ts'), child.kind, child.target, child.prefix, 'takeover', String(lockMs)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        t.teardown(() => proc.kill('SIGKILL'));
        const lines: string[] = [];
        createInterface({ input: proc.stdout! }).on('line', (line) => lines.push(line));
        await until(() => lines.includes('ready'), 'the child worker to be ready', 30_000);
        const api = await s.open({ lockMs });
        const id = await api.add('takeover', { clip: 1 }, { attempts: 3 });
        await until(() => lines.some((l) => l.startsWith(`started ${id}`)), 'the child to start the job', 30_000);
        proc.kill('SIGKILL');
        const r = recorder<{ clip: number }>();
        api.work('takeover', r.handler);
        await until(async () => (await api.get('takeover', id))?.state === 'completed', 'the surviving process to finish the job', 30_000);
        t.equal(r.runs.length, 1, 'run once by the survivor');
        t.same(r.runs[0]!.data, { clip: 1 });
      });
    }
  });
}

/** The kill test needs a second process on the same queues: BullMQ and PostgreSQL (PGlite is one process's). */
function sharedAcrossProcesses(name: string): boolean {
  return name !== 'database on pglite';
}

// The database queue polls once per tick for all its queues, not per queue or per worker: what wakes a worker
// otherwise is an add, a delay or a retry's backoff running out in this process. With a poll far
// longer than the test, every job still runs when it is due.
t.test('database queue: due jobs run without waiting for a poll tick', async (t) => {
  const database = await openPglite<AppTables>(await tempDir(t, 'jobs-wake'));
  await migrate(database, log);
  t.teardown(() => database.close());
  const jobs = new DatabaseJobs({ db: database.db as unknown as Kysely<JobTables>, log, pollMs: 3_600_000 });
  t.teardown(() => jobs.close());
  const r = recorder<{ n: number }>(async (job) => {
    if (job.data.n === 0 && job.attempt === 1) throw new Error('flaky once');
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
  jobs.work('wake', r.handler, { concurrency: 3 });
  const retried = await jobs.add('wake', { n: 0 }, { attempts: 2, backoffMs: 200 });
  const delayed = await jobs.add('wake', { n: 1 }, { delayMs: 300 });
  const burst = await Promise.all([2, 3, 4, 5, 6, 7].map((n) => jobs.add('wake', { n })));
  for (const id of [retried, delayed, ...burst]) await until(async () => (await jobs.get('wake', id))?.state === 'completed', `job ${id} to complete`, 20_000);
  t.same(r.runs.filter((x) => x.data.n === 0).map((x) => x.attempt), [1, 2], 'the retry ran after its backoff');
  t.same(r.runs.map((x) => x.data.n).filter((n) => n > 1).sort(), [2, 3, 4, 5, 6, 7], 'every job of the burst ran once');
  t.equal(r.runs.filter((x) => x.data.n === 1).length, 1, 'the delayed job ran once');
});
