// The in-process bus for a single node. Messages are copied through JSON, as Redis would, so a
// subscriber that mutates a message cannot affect another, and code behaves the same on both.
// No timers: TTLs and refills are computed from the clock when a key is touched.
import type { Bus, Unsubscribe } from './bus.ts';
import type { SharedCounters } from './counters.ts';
import type { BucketSpec, RateLimiter, TakeResult } from './rate-limiter.ts';

type Handler = (message: unknown) => void;

interface Counter {
  value: number;
  expiresAt: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** When the bucket is full again and can be forgotten, as Redis forgets it by PEXPIRE. */
  fullAt: number;
}

// Expired counters and refilled buckets are dropped at most this often, on a write, so a
// long-running node does not keep one entry per IP address it has ever rate-limited.
const SWEEP_INTERVAL_MS = 60_000;

export class MemoryBus implements Bus, SharedCounters, RateLimiter {
  private readonly topics = new Map<string, Set<Handler>>();
  private readonly counters = new Map<string, Counter>();
  private readonly buckets = new Map<string, Bucket>();
  private nextSweepAt = 0;
  private closed = false;

  constructor(private readonly onError: (err: Error) => void = () => {}) {}

  async publish(topic: string, message: unknown): Promise<void> {
    const text = toJson(message);
    const handlers = this.topics.get(topic);
    if (!handlers) return;
    const targets = [...handlers];
    // Delivered after publish returns, in publish order (microtasks run FIFO), as through Redis.
    queueMicrotask(() => {
      for (const handler of targets) {
        if (!this.topics.get(topic)?.has(handler)) continue;
        try {
          handler(JSON.parse(text));
        } catch (err) {
          this.onError(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
  }

  async subscribe(topic: string, handler: Handler): Promise<Unsubscribe> {
    if (this.closed) throw new Error('bus is closed');
    let handlers = this.topics.get(topic);
    if (!handlers) this.topics.set(topic, (handlers = new Set()));
    // A wrapper, so subscribing one function twice gives two independent subscriptions.
    const own: Handler = (m) => handler(m);
    handlers.add(own);
    return async () => {
      handlers.delete(own);
      if (handlers.size === 0 && this.topics.get(topic) === handlers) this.topics.delete(topic);
    };
  }

  async incr(key: string, delta = 1): Promise<number> {
    checkInteger('delta', delta);
    const now = this.sweep();
    const current = this.liveCounter(key, now);
    // Like INCRBY, adding keeps the TTL of a counter set with one.
    const next = { value: (current?.value ?? 0) + delta, expiresAt: current?.expiresAt ?? Infinity };
    this.counters.set(key, next);
    return next.value;
  }

  async getCounter(key: string): Promise<number> {
    return this.liveCounter(key, Date.now())?.value ?? 0;
  }

  async setCounter(key: string, value: number, ttlMs: number): Promise<void> {
    checkInteger('value', value);
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
    const now = this.sweep();
    this.counters.set(key, { value, expiresAt: now + ttlMs });
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<TakeResult> {
    checkTake(spec, cost);
    const now = this.sweep();
    const bucket = this.buckets.get(key);
    const elapsedS = bucket ? Math.max(0, now - bucket.updatedAt) / 1000 : 0;
    const tokens = bucket ? Math.min(spec.capacity, bucket.tokens + elapsedS * spec.refillPerSecond) : spec.capacity;
    const allowed = tokens >= cost;
    const left = allowed ? tokens - cost : tokens;
    const fullAt = now + ((spec.capacity - left) / spec.refillPerSecond) * 1000;
    this.buckets.set(key, { tokens: left, updatedAt: now, fullAt });
    return allowed
      ? { allowed, remaining: Math.floor(left), retryAfterMs: 0 }
      : { allowed, remaining: 0, retryAfterMs: Math.ceil(((cost - tokens) / spec.refillPerSecond) * 1000) };
  }

  async resetBucket(key: string): Promise<void> {
    this.buckets.delete(key);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
  }

  private liveCounter(key: string, now: number): Counter | undefined {
    const entry = this.counters.get(key);
    if (entry && entry.expiresAt <= now) {
      this.counters.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): number {
    const now = Date.now();
    if (now < this.nextSweepAt) return now;
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [key, counter] of this.counters) if (counter.expiresAt <= now) this.counters.delete(key);
    for (const [key, bucket] of this.buckets) if (bucket.fullAt <= now) this.buckets.delete(key);
    return now;
  }
}

// Argument checks shared with RedisBus, so a bad call fails alike on both (Redis would refuse a
// fractional INCRBY; a bucket that never refills, or a cost above the capacity, never allows).
export function checkInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer, got ${value}`);
}

export function checkTake(spec: BucketSpec, cost: number): void {
  const { capacity, refillPerSecond } = spec;
  if (!(capacity > 0 && Number.isFinite(capacity) && refillPerSecond > 0 && Number.isFinite(refillPerSecond))) {
    throw new RangeError(`a bucket needs a positive capacity and refill rate, got ${capacity} and ${refillPerSecond}/s`);
  }
  if (!(cost > 0 && cost <= capacity)) throw new RangeError(`cost must be above 0 and at most the capacity ${capacity}, got ${cost}`);
}

export function toJson(message: unknown): string {
  const text = JSON.stringify(message);
  if (text === undefined) throw new TypeError(`a bus message must be JSON-serialisable, got ${typeof message}`);
  return text;
}
