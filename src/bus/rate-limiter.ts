// Token buckets shared by every node (login attempts, chat messages), kept by the bus's backend, in
// process or in Redis, but a separate interface from pub/sub, for the consumers that limit.

export interface TakeResult {
  allowed: boolean;
  /** Tokens left after this take (0 when refused). */
  remaining: number;
  /** When refused: milliseconds until one token is available again; 0 when allowed. */
  retryAfterMs: number;
}

export interface BucketSpec {
  /** Tokens the bucket holds when full: the burst allowed. */
  capacity: number;
  /** Tokens added per second: the sustained rate. */
  refillPerSecond: number;
}

export interface RateLimiter {
  /** Takes `cost` tokens (default 1) from a token bucket named `key`. */
  take(key: string, spec: BucketSpec, cost?: number): Promise<TakeResult>;
  /** Empties a bucket back to full (e.g. after a successful login). */
  resetBucket(key: string): Promise<void>;
}
