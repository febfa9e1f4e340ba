// Work that outlives a request: transcoding an upload, fanning out notifications, delivering
// webhooks. BullMQ over Redis when REDIS_URL is set, so workers on any number of machines share the
// work and a stalled job (its worker killed) is taken over; with no Redis, an in-process queue with
// the same interface that keeps its jobs in the database, so a restart resumes unfinished work.
// Rooms define their queues' handlers; only composition roots (src/main.ts, vod/worker-main.ts)
// decide which process runs them.

export type JobStateName = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export interface AddOptions {
  /** A job with the same id in the same queue is not added twice while it is still known. */
  jobId?: string;
  /** Attempts in all, the first included. Default 3. */
  attempts?: number;
  /** First retry delay; each later one doubles it. Default 1000 ms. */
  backoffMs?: number;
  /** Runs no earlier than this many ms from now. */
  delayMs?: number;
}

export interface JobContext<T> {
  readonly id: string;
  readonly queue: string;
  readonly data: T;
  /** 1 on the first run. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Aborted when the job is cancelled or its worker closes; a handler stops its work (kills ffmpeg) on it. */
  readonly signal: AbortSignal;
  /** Progress as a percentage 0–100; readable through `get()` from any process. */
  progress(percent: number): Promise<void>;
}

/** Thrown by a handler for a failure that retrying cannot fix (a corrupt file): the job fails at once. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

export type JobHandler<T> = (job: JobContext<T>) => Promise<void>;

export interface JobInfo {
  id: string;
  queue: string;
  state: JobStateName;
  progress: number;
  /** Attempts started so far. */
  attempts: number;
  /** The last error's message, kept after the job fails for good. */
  failedReason: string | null;
}

export interface WorkOptions {
  /** Jobs of this queue this process runs at once. Default 1. */
  concurrency?: number;
}

export interface Jobs {
  readonly kind: 'bullmq' | 'database';
  /** Adds a job; returns its id (the given jobId, or a generated one). */
  add<T>(queue: string, data: T, options?: AddOptions): Promise<string>;
  get(queue: string, id: string): Promise<JobInfo | null>;
  /** Removes a waiting or delayed job, or aborts a running one (on whichever process runs it). True when there was one. */
  cancel(queue: string, id: string): Promise<boolean>;
  /** Runs this queue's jobs in this process from now on. */
  work<T>(queue: string, handler: JobHandler<T>, options?: WorkOptions): void;
  /** Stops taking jobs, aborts running ones (they are retried elsewhere or after a restart), closes connections. */
  close(): Promise<void>;
}
