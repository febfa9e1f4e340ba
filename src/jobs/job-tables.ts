// The `jobs` table (sql/008_jobs.sql) as kysely sees it: the embedded queue's rows.
import type { Generated } from 'kysely';
import type { NullableTimestamp, Timestamp } from '../db/column-types.ts';

export interface JobsTable {
  queue: string;
  id: string;
  data: unknown;
  state: 'waiting' | 'active' | 'completed' | 'failed';
  attempts: Generated<number>;
  max_attempts: number;
  backoff_ms: number;
  run_at: Timestamp;
  locked_until: NullableTimestamp;
  progress: Generated<number>;
  failed_reason: string | null;
  cancel_requested: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface JobTables {
  jobs: JobsTable;
}
