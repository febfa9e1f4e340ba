// Redis when REDIS_URL is set (several nodes share messages, counters and rate limits), else the
// in-process bus of a single node.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Bus } from './bus.ts';
import { MemoryBus } from './memory-bus.ts';
import { RedisBus } from './redis-bus.ts';

export function createBus(config: Pick<Config, 'redisUrl' | 'redisPrefix'>, log: Logger): Bus {
  const onError = (err: Error) => log.error({ err }, 'bus error');
  return config.redisUrl ? new RedisBus({ url: config.redisUrl, prefix: config.redisPrefix, onError }) : new MemoryBus(onError);
}
