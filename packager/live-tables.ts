// Row type of the live sessions table (sql/002_live_sessions.sql, sql/006_publisher_lost.sql), kept
// by hand in step with sql/. main.ts merges it with the other rooms' tables.
import type { ColumnType, Generated } from 'kysely';
import type { NullableTimestamp } from '../src/db/column-types.ts';
import type { EndReason } from './stream-defs.ts';

export interface LiveSessionsTable {
  id: Generated<string>;
  channel_id: string;
  started_at: Generated<Date>;
  ended_at: NullableTimestamp;
  end_reason: EndReason | null;
  renditions: ColumnType<unknown, string | undefined, string>;
  restarts: Generated<number>;
}

export interface LiveTables {
  live_sessions: LiveSessionsTable;
}
