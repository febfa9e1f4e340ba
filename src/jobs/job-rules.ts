// What both queues agree on: defaults, job id rules, backoff, and which errors are final.
import { PermanentJobError, type AddOptions } from './jobs.ts';

export interface JobDefaults {
  attempts: number;
  backoffMs: number;
  delayMs: number;
}

export function jobDefaults(options: AddOptions): JobDefaults {
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  const delayMs = options.delayMs ?? 0;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) throw new RangeError(`attempts must be an integer from 1 to 100, not ${attempts}`);
  if (!Number.isInteger(backoffMs) || backoffMs < 0 || backoffMs > 86_400_000) throw new RangeError(`backoffMs must be an integer from 0 to one day, not ${backoffMs}`);
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 30 * 86_400_000) throw new RangeError(`delayMs must be an integer from 0 to 30 days, not ${delayMs}`);
  return { attempts, backoffMs, delayMs };
}

// BullMQ keeps ids in Redis keys and refuses some separators; both queues accept the same safe set.
const JOB_ID = /^[A-Za-z0-9_.-]{1,200}$/;

export function checkJobId(id: string): string {
  if (!JOB_ID.test(id)) throw new RangeError(`a job id is 1 to 200 of A-Z a-z 0-9 _ . - (got ${JSON.stringify(id.slice(0, 40))})`);
  return id;
}

/** The delay before the retry that follows attempt `attempt` (1-based): backoff, then doubling. */
export function backoffDelay(backoffMs: number, attempt: number): number {
  return Math.min(backoffMs * 2 ** Math.max(0, attempt - 1), 86_400_000);
}

export function isPermanent(err: unknown): boolean {
  return err instanceof PermanentJobError || (err instanceof Error && err.name === 'PermanentJobError');
}
