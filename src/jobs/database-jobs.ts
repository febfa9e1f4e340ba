// The embedded queue: jobs are rows of the `jobs` table (sql/008_jobs.sql), claimed one at a time with
// FOR UPDATE SKIP LOCKED and held by a lease the running process renews. A job whose process died
// is claimed again when its lease runs out, so a restart resumes unfinished work; a clean close puts
// running jobs back without spending an attempt. It serves the single-node setup (PGlite, no Redis):
// cancelling reaches only jobs running in this process.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type UpdateObject } from 'kysely';
import type { Logger } from '../log.ts';
import { backoffDelay, checkJobId, isPermanent, jobDefaults, type JobDefaults } from './job-rules.ts';
import type { JobsTable, JobTables } from './job-tables.ts';
import type { AddOptions, JobContext, JobHandler, JobInfo, Jobs, WorkOptions } from './jobs.ts';

export interface DatabaseJobsOptions {
  db: Kysely<JobTables>;
  log: Logger;
  /** How long a claim holds without renewal; renewed at a third of it. Default 30 s. */
  leaseMs?: number;
  /**
   * How often the process looks for due jobs, one query for all the queues it works, and wakes one
   * idle worker of each queue that has some. A job added in this process, or one of its delays
   * running out, wakes a worker at once. Default 1 s.
   */
  pollMs?: number;
  /** Finished jobs are forgotten after this long. Default 1 day (failed: 7 days). */
  keepCompletedMs?: number;
}

interface Running {
  controller: AbortController;
  /** Why it was aborted: the owner cancelled it, or this process is closing. */
  why?: 'cancelled' | 'closing';
}

/** A job a worker may take: waiting and due, or active under a lease that ran out. */
const DUE = sql<boolean>`((state = 'waiting' AND run_at <= now()) OR (state = 'active' AND locked_until < now()))`;

type ClaimedRow = Pick<JobsTable, 'queue' | 'id' | 'data' | 'max_attempts' | 'backoff_ms'> & { attempts: number };

export class DatabaseJobs implements Jobs {
  readonly kind = 'database' as const;
  private readonly db: Kysely<JobTables>;
  private readonly log: Logger;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly keepCompletedMs: number;
  private readonly running = new Map<string, Running>();
  private readonly wakers = new Map<string, Set<() => void>>();
  /** Queues this process works, and the one timer that looks for due work in all of them. */
  private readonly worked = new Set<string>();
  private poller: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly loops: Promise<void>[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(options: DatabaseJobsOptions) {
    this.db = options.db;
    this.log = options.log;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 1000;
    this.keepCompletedMs = options.keepCompletedMs ?? 24 * 3600_000;
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.log.warn({ err }, 'sweeping finished jobs failed')), 3600_000);
    this.sweeper.unref();
  }

  async add<T>(queue: string, data: T, options: AddOptions = {}): Promise<string> {
    const o: JobDefaults = jobDefaults(options);
    const id = options.jobId === undefined ? randomUUID() : checkJobId(options.jobId);
    await this.db
      .insertInto('jobs')
      .values({
        queue,
        id,
        data: JSON.stringify(data ?? null),
        state: 'waiting',
        max_attempts: o.attempts,
        backoff_ms: o.backoffMs,
        run_at: sql<Date>`now() + ${`${o.delayMs} milliseconds`}::interval`,
        locked_until: null,
        failed_reason: null,
      })
      .onConflict((oc) => oc.columns(['queue', 'id']).doNothing())
      .execute();
    this.wakeOneAfter(queue, o.delayMs);
    return id;
  }

  async get(queue: string, id: string): Promise<JobInfo | null> {
    const row = await this.db
      .selectFrom('jobs')
      .select(['queue', 'id', 'state', 'progress', 'attempts', 'failed_reason', sql<boolean>`run_at > now()`.as('later')])
      .where('queue', '=', queue)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    const state = row.state === 'waiting' && row.later ? 'delayed' : row.state;
    return { id: row.id, queue: row.queue, state, progress: row.progress, attempts: row.attempts, failedReason: row.failed_reason };
  }

  async cancel(queue: string, id: string): Promise<boolean> {
    const running = this.running.get(key(queue, id));
    if (running) {
      running.why = 'cancelled';
      running.controller.abort(new Error('cancelled'));
      return true;
    }
    const removed = await this.db.deleteFrom('jobs').where('queue', '=', queue).where('id', '=', id).where('state', '=', 'waiting').executeTakeFirst();
    if (removed.numDeletedRows > 0n) return true;
    // Running in another process: it sees the flag when it next renews its lease.
    const flagged = await this.db.updateTable('jobs').set({ cancel_requested: true }).where('queue', '=', queue).where('id', '=', id).where('state', '=', 'active').executeTakeFirst();
    return flagged.numUpdatedRows > 0n;
  }

  work<T>(queue: string, handler: JobHandler<T>, options: WorkOptions = {}): void {
    if (this.closed) throw new Error('jobs are closed');
    const concurrency = Math.max(1, options.concurrency ?? 1);
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop(queue, handler as JobHandler<unknown>));
    this.worked.add(queue);
    this.poller ??= setInterval(() => void this.poll(), this.pollMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    if (this.poller) clearInterval(this.poller);
    for (const r of this.running.values()) {
      r.why ??= 'closing';
      r.controller.abort(new Error('closing'));
    }
    for (const set of this.wakers.values()) for (const wake of set) wake();
    await Promise.all(this.loops);
  }

  private async loop(queue: string, handler: JobHandler<unknown>): Promise<void> {
    while (!this.closed) {
      let job: ClaimedRow | undefined;
      try {
        job = await this.claim(queue);
      } catch (err) {
        this.log.warn({ err, queue }, 'claiming a job failed; retrying');
      }
      if (job) {
        // There may be more: another idle worker looks too.
        this.wakeOne(queue);
        await this.run(job, handler);
      } else await this.idle(queue);
    }
  }

  /** Waits to be woken: by the queue's poll tick, a job added here, or close(). */
  private idle(queue: string): Promise<void> {
    // Closed while this worker was claiming: close() has already woken everyone it will wake.
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.wakers.get(queue);
      if (!set) this.wakers.set(queue, (set = new Set()));
      const done = () => {
        set.delete(done);
        resolve();
      };
      set.add(done);
    });
  }

  /**
   * The poll finds what no wake-up here announced: jobs added by other processes, and jobs whose
   * worker died with its lease. One query for all the queues, not a claim per queue: with five
   * queues that was five writes a second on an idle server.
   */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const due = await this.db.selectFrom('jobs').select('queue').distinct().where('queue', 'in', [...this.worked]).where(DUE).execute();
      for (const { queue } of due) this.wakeOne(queue);
    } catch (err) {
      this.log.warn({ err }, 'looking for due jobs failed; trying again at the next poll');
    } finally {
      this.polling = false;
    }
  }

  private wakeOne(queue: string): void {
    this.wakers.get(queue)?.values().next().value?.();
  }

  /** A job due in `delayMs` (a delayed add, a retry's backoff) wakes a worker of this process then. */
  private wakeOneAfter(queue: string, delayMs: number): void {
    if (delayMs <= 0) this.wakeOne(queue);
    else setTimeout(() => this.wakeOne(queue), delayMs).unref();
  }

  /** Takes the oldest due job, or one whose process stopped renewing its lease. */
  private async claim(queue: string): Promise<ClaimedRow | undefined> {
    const lease = `${this.leaseMs} milliseconds`;
    const result = await sql<ClaimedRow>`
      UPDATE jobs SET state = 'active', attempts = attempts + 1, locked_until = now() + ${lease}::interval, updated_at = now()
      WHERE (queue, id) = (
        SELECT queue, id FROM jobs
        WHERE queue = ${queue}
          AND ${DUE}
        ORDER BY run_at, created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      RETURNING queue, id, data, attempts, max_attempts, backoff_ms`.execute(this.db);
    return result.rows[0];
  }

  private async run(row: ClaimedRow, handler: JobHandler<unknown>): Promise<void> {
    const k = key(row.queue, row.id);
    const running: Running = { controller: new AbortController() };
    this.running.set(k, running);
    // Renewed often (at most every second) so a cancel from another process is seen quickly.
    const renew = setInterval(() => {
      void this.db
        .updateTable('jobs')
        .set({ locked_until: sql<Date>`now() + ${`${this.leaseMs} milliseconds`}::interval` })
        .where('queue', '=', row.queue)
        .where('id', '=', row.id)
        .where('state', '=', 'active')
        .returning('cancel_requested')
        .executeTakeFirst()
        .then((r) => {
          if (r?.cancel_requested && !running.why) {
            running.why = 'cancelled';
            running.controller.abort(new Error('cancelled'));
          }
        })
        .catch((err) => this.log.warn({ err, queue: row.queue, job: row.id }, 'renewing a job lease failed'));
    }, Math.max(50, Math.min(1000, Math.floor(this.leaseMs / 3))));
    const context: JobContext<unknown> = {
      id: row.id,
      queue: row.queue,
      data: row.data,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
      signal: running.controller.signal,
      progress: async (percent) => {
        const value = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0));
        await this.db.updateTable('jobs').set({ progress: value, updated_at: sql<Date>`now()` }).where('queue', '=', row.queue).where('id', '=', row.id).execute();
      },
    };
    try {
      if (row.attempts > row.max_attempts) throw new Error('its worker stopped responding too many times');
      await handler(context);
      await this.finish(row, { state: 'completed', progress: 100 });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (running.why === 'closing') {
        // Not the job's fault: it runs again after the restart, with the attempt given back.
        await this.finish(row, { state: 'waiting', attempts: row.attempts - 1, locked_until: null });
      } else if (running.why === 'cancelled') {
        await this.db.deleteFrom('jobs').where('queue', '=', row.queue).where('id', '=', row.id).execute().catch((e) => this.log.warn({ err: e }, 'forgetting a cancelled job failed'));
      } else if (isPermanent(err) || row.attempts >= row.max_attempts) {
        this.log.warn({ queue: row.queue, job: row.id, attempt: row.attempts, reason: message }, 'job failed');
        await this.finish(row, { state: 'failed', failed_reason: message, locked_until: null });
      } else {
        const delay = backoffDelay(row.backoff_ms, row.attempts);
        this.log.info({ queue: row.queue, job: row.id, attempt: row.attempts, retryInMs: delay, reason: message }, 'job failed; will retry');
        await this.finish(row, { state: 'waiting', failed_reason: message, locked_until: null, run_at: sql<Date>`now() + ${`${delay} milliseconds`}::interval` });
        this.wakeOneAfter(row.queue, delay);
      }
    } finally {
      clearInterval(renew);
      this.running.delete(k);
    }
  }

  private async finish(row: ClaimedRow, values: UpdateObject<JobTables, 'jobs'>): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ ...values, updated_at: sql<Date>`now()` })
      .where('queue', '=', row.queue)
      .where('id', '=', row.id)
      .execute()
      .catch((err) => this.log.error({ err, queue: row.queue, job: row.id }, 'recording a job outcome failed; its lease will expire and it runs again'));
  }

  /** Forgets finished jobs: completed ones after keepCompletedMs, failed ones after seven times that. */
  async sweep(): Promise<void> {
    await this.db
      .deleteFrom('jobs')
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'completed'), eb('updated_at', '<', sql<Date>`now() - ${`${this.keepCompletedMs} milliseconds`}::interval`)]),
          eb.and([eb('state', '=', 'failed'), eb('updated_at', '<', sql<Date>`now() - ${`${this.keepCompletedMs * 7} milliseconds`}::interval`)]),
        ]),
      )
      .execute();
  }
}

function key(queue: string, id: string): string {
  return `${queue}\u0000${id}`;
}
