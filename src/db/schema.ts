// Row types for kysely, kept by hand in step with sql/. Generated<T> marks columns with defaults.
import type { ColumnType, Generated } from 'kysely';
import type { ChatTables } from '../../chat/chat-tables.ts';
import type { RecordingTables } from '../../vod/vod-tables.ts';
import type { EndReason } from '../../packager/stream-defs.ts';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Generated<Date>;
}

export interface UsersTable {
  id: Generated<string>;
  username: string;
  email: string;
  password_hash: string;
  created_at: Generated<Date>;
  /** Access tokens issued before this are refused (sign-out everywhere). */
  tokens_not_before: NullableTimestamp;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  user_id: string;
  family_id: string;
  token_hash: string;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface ChannelsTable {
  id: Generated<string>;
  owner_id: string;
  slug: string;
  title: Generated<string>;
  description: Generated<string>;
  stream_key_hash: string;
  stream_key_ciphertext: string;
  stream_key_rotated_at: Generated<Date>;
  created_at: Generated<Date>;
}


export interface LiveSessionsTable {
  id: Generated<string>;
  channel_id: string;
  started_at: Generated<Date>;
  ended_at: NullableTimestamp;
  end_reason: EndReason | null;
  renditions: ColumnType<unknown, string | undefined, string>;
  restarts: Generated<number>;
}

export interface DB extends ChatTables, RecordingTables {
  schema_migrations: SchemaMigrationsTable;
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
  channels: ChannelsTable;
  live_sessions: LiveSessionsTable;
}
