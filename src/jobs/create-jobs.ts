// BullMQ when REDIS_URL is set (workers on any machine share the queues), else the database queue
// of a single node. Both behind the Jobs interface.
import type { Kysely } from 'kysely';
import type { Bus } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { BullJobs } from './bullmq-jobs.ts';
import { DatabaseJobs } from './database-jobs.ts';
import type { JobTables } from './job-tables.ts';
import type { Jobs } from './jobs.ts';

export interface JobsDeps {
  db: Kysely<JobTables>;
  bus: Bus;
  log: Logger;
  /** The database queue's poll for jobs added by other processes (default 1 s). */
  pollMs?: number;
}

export function createJobs(config: Pick<Config, 'redisUrl' | 'redisPrefix'>, deps: JobsDeps): Jobs {
  return config.redisUrl
    ? new BullJobs({ redisUrl: config.redisUrl, prefix: `${config.redisPrefix}jobs`, bus: deps.bus, log: deps.log })
    : new DatabaseJobs({ db: deps.db, log: deps.log, pollMs: deps.pollMs });
}
