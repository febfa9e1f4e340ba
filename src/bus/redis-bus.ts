// The bus across nodes: Redis pub/sub for messages, plain keys for counters and a Lua script for
// token buckets, so a rate limit holds however many nodes a user's requests land on.
import { Redis } from 'ioredis';
import type { BucketSpec, Bus, TakeResult, Unsubscribe } from './bus.ts';

type Handler = (message: unknown) => void;

// Uses the server's clock (TIME) so nodes whose clocks disagree still share one bucket fairly.
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + (math.max(0, now - ts) / 1000) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, math.floor(tokens), retry}
`;

export interface RedisBusOptions {
  url: string;
  prefix?: string;
  onError?: (err: Error) => void;
  connectTimeoutMs?: number;
}

export class RedisBus implements Bus {
  private readonly commands: Redis;
  private subscriber: Redis | null = null;
  private readonly topics = new Map<string, Set<Handler>>();
  private readonly prefix: string;
  private readonly onError: (err: Error) => void;

  constructor(private readonly opts: RedisBusOptions) {
    this.prefix = opts.prefix ?? '';
    this.onError = opts.onError ?? (() => {});
    this.commands = this.connect();
    this.commands.defineCommand('swTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  async publish(topic: string, message: unknown): Promise<void> {
    await this.commands.publish(this.prefix + topic, JSON.stringify(message));
  }

  async subscribe(topic: string, handler: Handler): Promise<Unsubscribe> {
    const sub = this.subscriberConnection();
    let handlers = this.topics.get(topic);
    if (!handlers) {
      handlers = new Set();
      this.topics.set(topic, handlers);
      await sub.subscribe(this.prefix + topic);
    }
    const entry: Handler = (m) => handler(m);
    handlers.add(entry);
    return async () => {
      handlers.delete(entry);
      if (handlers.size === 0 && this.topics.get(topic) === handlers) {
        this.topics.delete(topic);
        await sub.unsubscribe(this.prefix + topic).catch((err: Error) => this.onError(err));
      }
    };
  }

  async incr(key: string, delta = 1): Promise<number> {
    return this.commands.incrby(this.prefix + key, delta);
  }

  async getCounter(key: string): Promise<number> {
    return Number((await this.commands.get(this.prefix + key)) ?? 0);
  }

  async setCounter(key: string, value: number, ttlMs: number): Promise<void> {
    await this.commands.set(this.prefix + key, String(value), 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<TakeResult> {
    const run = (this.commands as unknown as { swTake(k: string, ...a: Array<string | number>): Promise<[number, number, number]> }).swTake;
    const [allowed, remaining, retryAfterMs] = await run.call(this.commands, this.prefix + 'bucket:' + key, spec.capacity, spec.refillPerSecond, cost);
    return { allowed: allowed === 1, remaining, retryAfterMs };
  }

  async resetBucket(key: string): Promise<void> {
    await this.commands.del(this.prefix + 'bucket:' + key);
  }

  async ping(): Promise<void> {
    await this.commands.ping();
  }

  async close(): Promise<void> {
    this.topics.clear();
    await Promise.all([this.commands, this.subscriber].map((c) => c?.quit().catch(() => c.disconnect())));
  }

  private connect(): Redis {
    const client = new Redis(this.opts.url, {
      connectTimeout: this.opts.connectTimeoutMs ?? 3000,
      // Fail commands fast while Redis is down instead of queueing them for ever; the client
      // keeps reconnecting in the background and recovers by itself.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    client.on('error', (err) => this.onError(err));
    return client;
  }

  private subscriberConnection(): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = this.connect();
    sub.on('message', (channel: string, text: string) => {
      const handlers = this.topics.get(channel.slice(this.prefix.length));
      if (!handlers) return;
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch (err) {
        this.onError(err as Error);
        return;
      }
      for (const handler of [...handlers]) {
        try {
          // Each handler gets its own copy, as with the in-process bus.
          handler(handlers.size > 1 ? structuredClone(message) : message);
        } catch (err) {
          this.onError(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
    this.subscriber = sub;
    return sub;
  }
}
