// Redis when REDIS_URL is set (several nodes share messages, counters and rate limits), else the
// in-process bus of a single node.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Bus } from './bus.ts';
import type { SharedCounters } from './counters.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { MemoryBus } from './memory-bus.ts';
import { RedisBus } from './redis-bus.ts';

/** One backend behind all three interfaces; main.ts hands each consumer the one it needs. */
export type BusBackend = Bus & SharedCounters & RateLimiter;

export function createBus(config: Pick<Config, 'redisUrl' | 'redisPrefix'>, log: Logger): BusBackend {
  const onError = (err: Error) => log.error({ err }, 'bus error');
  return config.redisUrl ? new RedisBus({ url: config.redisUrl, prefix: config.redisPrefix, onError }) : new MemoryBus(onError);
}
