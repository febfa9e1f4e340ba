// The in-process bus for a single node. Messages are copied through JSON, as Redis would, so a
// subscriber that mutates a message cannot affect another, and code behaves the same on both.
import type { BucketSpec, Bus, TakeResult, Unsubscribe } from './bus.ts';

type Handler = (message: unknown) => void;

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class MemoryBus implements Bus {
  private readonly topics = new Map<string, Set<Handler>>();
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private readonly buckets = new Map<string, Bucket>();
  private closed = false;

  constructor(private readonly onError: (err: Error) => void = () => {}) {}

  async publish(topic: string, message: unknown): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers || handlers.size === 0) return;
    const text = JSON.stringify(message);
    const targets = [...handlers];
    // Delivered after publish returns, in order, like a message that went through Redis.
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
    const entry: Handler = (m) => handler(m);
    handlers.add(entry);
    return async () => {
      handlers.delete(entry);
      if (handlers.size === 0 && this.topics.get(topic) === handlers) this.topics.delete(topic);
    };
  }

  async incr(key: string, delta = 1): Promise<number> {
    const current = this.live(key);
    const next = { value: (current?.value ?? 0) + delta, expiresAt: current?.expiresAt ?? Infinity };
    this.counters.set(key, next);
    return next.value;
  }

  async getCounter(key: string): Promise<number> {
    return this.live(key)?.value ?? 0;
  }

  async setCounter(key: string, value: number, ttlMs: number): Promise<void> {
    this.counters.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<TakeResult> {
    const now = Date.now();
    const bucket = this.buckets.get(key) ?? { tokens: spec.capacity, updatedAt: now };
    const tokens = Math.min(spec.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * spec.refillPerSecond);
    if (tokens >= cost) {
      this.buckets.set(key, { tokens: tokens - cost, updatedAt: now });
      return { allowed: true, remaining: Math.floor(tokens - cost), retryAfterMs: 0 };
    }
    this.buckets.set(key, { tokens, updatedAt: now });
    return { allowed: false, remaining: 0, retryAfterMs: Math.ceil(((cost - tokens) / spec.refillPerSecond) * 1000) };
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

  private live(key: string) {
    const entry = this.counters.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.counters.delete(key);
      return undefined;
    }
    return entry;
  }
}
