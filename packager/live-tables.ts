// Row type of the live sessions table (sql/002_live_sessions.sql, 006_publisher_lost, 009_node_leases), kept
// by hand in step with sql/. main.ts merges it with the other rooms' tables.
import type { ColumnType, Generated } from 'kysely';
import type { Nullable, NullableTimestamp } from '../src/db/column-types.ts';
import type { EndReason } from './stream-defs.ts';

export interface LiveSessionsTable {
  id: Generated<string>;
  channel_id: string;
  started_at: Generated<Date>;
  ended_at: NullableTimestamp;
  end_reason: EndReason | null;
  renditions: ColumnType<unknown, string | undefined, string>;
  restarts: Generated<number>;
  /** sql/009: the node that ingests it, where other nodes reach it, and until when its lease runs */
  owner_node: Nullable<string>;
  owner_url: Nullable<string>;
  lease_expires_at: NullableTimestamp;
  ready_at: NullableTimestamp;
}

export interface LiveTables {
  live_sessions: LiveSessionsTable;
}
