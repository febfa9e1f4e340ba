// The bus across nodes: Redis pub/sub for messages, plain keys for counters and a Lua script for
// token buckets, so a rate limit holds however many nodes a user's requests land on.
import { Redis } from 'ioredis';
import type { Bus, Unsubscribe } from './bus.ts';
import type { SharedCounters } from './counters.ts';
import type { BucketSpec, RateLimiter, TakeResult } from './rate-limiter.ts';
import { checkInteger, checkTake, toJson } from './memory-bus.ts';

type Handler = (message: unknown) => void;

// Redis's own clock (TIME), not the caller's: nodes whose clocks disagree still share one bucket
// fairly. The hash forgets itself once it would be full again, so idle buckets cost nothing.
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - ts) / 1000 * rate)
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
if allowed == 1 then return {1, math.floor(tokens), 0} end
return {0, 0, retry}
`;

interface BusCommands {
  spillwayTake(key: string, capacity: number, refillPerSecond: number, cost: number): Promise<[number, number, number]>;
}

interface Topic {
  handlers: Set<Handler>;
  /** Settles when Redis acknowledges the SUBSCRIBE; every subscriber of the topic waits for it. */
  subscribed: Promise<unknown>;
}

export interface RedisBusOptions {
  url: string;
  /** Namespaces every key and channel, so several deployments (or tests) can share one Redis. */
  prefix?: string;
  onError?: (err: Error) => void;
  /** Longest wait for Redis to accept a connection or answer a command before the call fails. */
  connectTimeoutMs?: number;
}

export class RedisBus implements Bus, SharedCounters, RateLimiter {
  private readonly commands: Redis & BusCommands;
  private subscriber: Redis | null = null;
  private readonly topics = new Map<string, Topic>();
  private readonly prefix: string;
  private readonly onError: (err: Error) => void;
  private closed = false;

  constructor(private readonly opts: RedisBusOptions) {
    this.prefix = opts.prefix ?? '';
    this.onError = opts.onError ?? (() => {});
    this.commands = this.connect() as Redis & BusCommands;
    this.commands.defineCommand('spillwayTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  async publish(topic: string, message: unknown): Promise<void> {
    await this.commands.publish(this.prefix + topic, toJson(message));
  }

  async subscribe(topic: string, handler: Handler): Promise<Unsubscribe> {
    if (this.closed) throw new Error('bus is closed');
    let entry = this.topics.get(topic);
    if (!entry) {
      // One Redis subscription per topic, shared by all its handlers on this node.
      entry = { handlers: new Set(), subscribed: this.subscriberConnection().subscribe(this.prefix + topic) };
      this.topics.set(topic, entry);
    }
    const own: Handler = (m) => handler(m);
    entry.handlers.add(own);
    try {
      await entry.subscribed;
    } catch (err) {
      // Forget a subscription Redis never confirmed, so the next subscribe tries again; and undo
      // it in case a SUBSCRIBE that timed out still reaches Redis later.
      if (this.remove(topic, entry, own)) this.subscriber?.unsubscribe(this.prefix + topic).catch(() => {});
      throw err;
    }
    return async () => {
      if (this.remove(topic, entry, own)) {
        await this.subscriber?.unsubscribe(this.prefix + topic).catch((err: Error) => this.onError(err));
      }
    };
  }

  async incr(key: string, delta = 1): Promise<number> {
    checkInteger('delta', delta);
    return this.commands.incrby(this.key('counter', key), delta);
  }

  async getCounter(key: string): Promise<number> {
    return Number((await this.commands.get(this.key('counter', key))) ?? 0);
  }

  async setCounter(key: string, value: number, ttlMs: number): Promise<void> {
    checkInteger('value', value);
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
    await this.commands.set(this.key('counter', key), String(value), 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<TakeResult> {
    checkTake(spec, cost);
    const [allowed, remaining, retryAfterMs] = await this.commands.spillwayTake(this.key('bucket', key), spec.capacity, spec.refillPerSecond, cost);
    return { allowed: allowed === 1, remaining, retryAfterMs };
  }

  async resetBucket(key: string): Promise<void> {
    await this.commands.del(this.key('bucket', key));
  }

  async ping(): Promise<void> {
    // The subscriber connection too: with it down, messages from other nodes are being lost.
    await Promise.all([this.commands.ping(), this.subscriber?.ping()]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.topics.clear();
    await Promise.all([this.commands, this.subscriber].map((client) => client && shutDown(client)));
  }

  private key(kind: 'counter' | 'bucket', key: string): string {
    return `${this.prefix}${kind}:${key}`;
  }

  /** Removes one handler; true when it was the topic's last, so the caller should UNSUBSCRIBE. */
  private remove(topic: string, entry: Topic, own: Handler): boolean {
    if (!entry.handlers.delete(own) || entry.handlers.size > 0 || this.topics.get(topic) !== entry) return false;
    this.topics.delete(topic);
    return true;
  }

  private connect(): Redis {
    const timeoutMs = this.opts.connectTimeoutMs ?? 3000;
    const client = new Redis(this.opts.url, {
      connectTimeout: timeoutMs,
      // Every call fails within the timeout while Redis is down or hung, instead of waiting in
      // the offline queue for ever; the client keeps reconnecting in the background meanwhile.
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      // ioredis waits this long for a socket that already failed to close, holding the process
      // open after close(); 2 s by default.
      disconnectTimeout: 200,
    });
    // One report per outage, not one per reconnection attempt.
    let down = false;
    client.on('error', (err: Error) => {
      if (!down) this.onError(err);
      down = true;
    });
    client.on('ready', () => (down = false));
    return client;
  }

  private subscriberConnection(): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = this.connect();
    sub.on('message', (channel: string, text: string) => {
      const handlers = this.topics.get(channel.slice(this.prefix.length))?.handlers;
      if (!handlers) return;
      for (const handler of [...handlers]) {
        if (!handlers.has(handler)) continue; // unsubscribed by an earlier handler
        try {
          handler(JSON.parse(text)); // a copy per handler, as with the in-process bus
        } catch (err) {
          this.onError(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
    this.subscriber = sub;
    return sub;
  }
}

function shutDown(client: Redis): Promise<unknown> {
  // QUIT waits for pending replies; while disconnected it would wait in the offline queue.
  if (client.status !== 'ready') return Promise.resolve(client.disconnect());
  return client.quit().catch(() => client.disconnect());
}
