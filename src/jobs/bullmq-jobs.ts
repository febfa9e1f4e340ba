// Jobs on BullMQ over Redis: any number of processes add and work the same queues. A worker killed
// mid-job stops renewing its lock and BullMQ's stalled-job check hands the job to another worker; a
// cleanly closing worker puts its running jobs back in the queue at once without spending an
// attempt. Cancelling a running job reaches whichever process runs it through the bus.
import { Queue, UnrecoverableError, WaitingError, Worker, type Job, type JobState } from 'bullmq';
import { Redis } from 'ioredis';
import type { Bus, Unsubscribe } from '../bus/bus.ts';
import type { Logger } from '../log.ts';
import { checkJobId, isPermanent, jobDefaults } from './job-rules.ts';
import type { AddOptions, JobHandler, JobInfo, Jobs, JobStateName, WorkOptions } from './jobs.ts';

export interface BullJobsOptions {
  redisUrl: string;
  /** Key prefix in Redis, so several instances (or tests) can share one server. */
  prefix: string;
  bus: Bus;
  log: Logger;
  /** A worker's lock on a running job; a job whose worker died is taken over within about twice this. Default 30 s. */
  lockMs?: number;
}

const CANCEL_TOPIC = 'jobs:cancel';

interface CancelMessage {
  queue: string;
  id: string;
}

interface Running {
  controller: AbortController;
  why?: 'cancelled' | 'closing';
}

export class BullJobs implements Jobs {
  readonly kind = 'bullmq' as const;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly running = new Map<string, Running>();
  private readonly connection: Redis;
  private cancelListener?: Promise<void>;
  private stopCancels?: Unsubscribe;
  private closed = false;
  private readonly connectedWorkers = new WeakSet<Worker>();

  constructor(private readonly options: BullJobsOptions) {
    // Commands fail fast while Redis is away, so an API request that adds a job gets an error, not a hang.
    this.connection = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
    this.connection.on('error', (err) => options.log.warn({ err }, 'job queue connection error'));
  }

  /** Listens for cancels once this process works a queue; retried while the bus is unreachable. */
  private listenForCancels(): void {
    if (this.cancelListener) return;
    this.cancelListener = (async () => {
      for (let delay = 1000; !this.closed; delay = Math.min(delay * 2, 30_000)) {
        try {
          this.stopCancels = await this.options.bus.subscribe(CANCEL_TOPIC, (message) => {
            const m = message as CancelMessage;
            const running = this.running.get(key(m.queue, m.id));
            if (running) {
              running.why = 'cancelled';
              running.controller.abort(new Error('cancelled'));
            }
          });
          if (this.closed) await this.stopCancels();
          return;
        } catch (err) {
          this.options.log.warn({ err, retryInMs: delay }, 'listening for job cancels failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
    })();
  }

  async add<T>(queue: string, data: T, options: AddOptions = {}): Promise<string> {
    const o = jobDefaults(options);
    const job = await this.queue(queue).add(queue, data, {
      jobId: options.jobId === undefined ? undefined : checkJobId(options.jobId),
      attempts: o.attempts,
      backoff: { type: 'exponential', delay: o.backoffMs },
      delay: o.delayMs || undefined,
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    return job.id as string;
  }

  async get(queue: string, id: string): Promise<JobInfo | null> {
    const job = await this.queue(queue).getJob(id);
    if (!job) return null;
    const state = toState(await job.getState());
    if (!state) return null;
    return {
      id,
      queue,
      state,
      progress: typeof job.progress === 'number' ? job.progress : 0,
      attempts: job.attemptsStarted ?? job.attemptsMade,
      failedReason: job.failedReason || null,
    };
  }

  async cancel(queue: string, id: string): Promise<boolean> {
    const job = await this.queue(queue).getJob(id);
    if (!job) return false;
    const state = await job.getState();
    if (state === 'active') {
      await this.options.bus.publish(CANCEL_TOPIC, { queue, id } satisfies CancelMessage);
      return true;
    }
    if (state === 'completed' || state === 'failed' || state === 'unknown') return false;
    try {
      await job.remove();
      return true;
    } catch {
      // It became active between the two calls: cancel it where it runs.
      await this.options.bus.publish(CANCEL_TOPIC, { queue, id } satisfies CancelMessage);
      return true;
    }
  }

  work<T>(queue: string, handler: JobHandler<T>, options: WorkOptions = {}): void {
    if (this.closed) throw new Error('jobs are closed');
    this.listenForCancels();
    const lockMs = this.options.lockMs ?? 30_000;
    const worker = new Worker(
      queue,
      async (job: Job, token?: string) => {
        const k = key(queue, job.id as string);
        const running: Running = { controller: new AbortController() };
        this.running.set(k, running);
        try {
          await handler({
            id: job.id as string,
            queue,
            data: job.data as T,
            attempt: job.attemptsMade + 1,
            maxAttempts: job.opts.attempts ?? 1,
            signal: running.controller.signal,
            progress: (percent) => job.updateProgress(Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0))),
          });
          await job.updateProgress(100);
        } catch (err) {
          if (running.why === 'closing') {
            await job.moveToWait(token);
            throw new WaitingError();
          }
          if (running.why === 'cancelled') throw new UnrecoverableError('cancelled');
          if (isPermanent(err)) throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
          throw err;
        } finally {
          this.running.delete(k);
        }
      },
      {
        connection: { url: this.options.redisUrl, maxRetriesPerRequest: null },
        prefix: this.options.prefix,
        concurrency: Math.max(1, options.concurrency ?? 1),
        lockDuration: lockMs,
        stalledInterval: lockMs,
        maxStalledCount: 2,
        autorun: true,
      },
    );
    worker.on('error', (err) => this.options.log.warn({ err, queue }, 'job worker error'));
    worker.once('ready', () => this.connectedWorkers.add(worker));
    worker.on('failed', (job, err) => {
      if (job && err.message !== 'cancelled') this.options.log.warn({ queue, job: job.id, attempt: job.attemptsMade, reason: err.message }, 'job failed');
    });
    this.workers.push(worker);
  }

  /** Resolves when every worker started so far is connected and taking jobs. */
  async ready(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.running.values()) {
      r.why ??= 'closing';
      r.controller.abort(new Error('closing'));
    }
    // A worker that never reached Redis holds no job, and its graceful close would wait for the
    // connection for ever (Redis down since start): it is closed at once.
    await Promise.all(this.workers.map((w) => w.close(!this.connectedWorkers.has(w))));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.stopCancels?.().catch(() => {});
    this.connection.disconnect();
  }

  private queue(name: string): Queue {
    if (this.closed) throw new Error('jobs are closed');
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.options.prefix });
      q.on('error', (err) => this.options.log.warn({ err, queue: name }, 'job queue error'));
      this.queues.set(name, q);
    }
    return q;
  }
}

function toState(state: JobState | 'unknown'): JobStateName | null {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return state;
    default:
      return null;
  }
}

function key(queue: string, id: string): string {
  return `${queue}\u0000${id}`;
}
