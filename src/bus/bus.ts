// The bus carries one-to-many traffic that may cross processes (chat, stream online/offline,
// viewer counts), plus the small shared state that has to agree across nodes: counters and
// rate-limit buckets. In-process by default, Redis when REDIS_URL is set.

export type Unsubscribe = () => Promise<void>;

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

export interface Bus {
  /** Delivers `message` (JSON-serialisable) to every subscriber of `topic` on every node, in publish order. */
  publish(topic: string, message: unknown): Promise<void>;
  /** Resolves once the subscription is active, so a publish after it is seen. */
  subscribe(topic: string, handler: (message: unknown) => void): Promise<Unsubscribe>;
  /** Adds `delta` to a shared counter and returns the new value. */
  incr(key: string, delta?: number): Promise<number>;
  /** The counter's value, 0 when unset. */
  getCounter(key: string): Promise<number>;
  /** Sets a counter that disappears after `ttlMs` unless set again (per-node presence, heartbeats). */
  setCounter(key: string, value: number, ttlMs: number): Promise<void>;
  /** Takes `cost` tokens (default 1) from a token bucket named `key`. */
  take(key: string, spec: BucketSpec, cost?: number): Promise<TakeResult>;
  /** Empties a bucket back to full (e.g. after a successful login). */
  resetBucket(key: string): Promise<void>;
  /** Throws when the backing service is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
