// Rate limits on everything users write in social/: a burst, then a sustained rate, per user and
// kind of write, shared by every node through the bus's token buckets.
import type { BucketSpec, RateLimiter } from '../src/bus/rate-limiter.ts';
import { AppError } from '../src/errors.ts';

export const WRITE_LIMITS = {
  // Comments: 5 at once, then one every 10 s (a conversation, not a flood).
  comment: { capacity: 5, refillPerSecond: 1 / 10 },
  // Likes and follows are clicks: generous bursts, still bounded.
  like: { capacity: 30, refillPerSecond: 1 },
  follow: { capacity: 20, refillPerSecond: 0.5 },
  webhook: { capacity: 10, refillPerSecond: 1 / 30 },
} as const satisfies Record<string, BucketSpec>;

export type WriteKind = keyof typeof WRITE_LIMITS;

/** Takes one token or throws RATE_LIMITED with the wait in details.retryAfterMs. */
export async function takeWrite(limiter: RateLimiter, kind: WriteKind, userId: string, limits: Partial<Record<WriteKind, BucketSpec>> = {}): Promise<void> {
  const result = await limiter.take(`social:${kind}:${userId}`, limits[kind] ?? WRITE_LIMITS[kind]);
  if (!result.allowed) throw new AppError('RATE_LIMITED', 'You are doing that too often; try again shortly.', { retryAfterMs: result.retryAfterMs });
}
