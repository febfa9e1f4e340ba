// Row types of the chat tables (sql/003_chat.sql), and the tables chat reads: main.ts merges them
// with the other rooms' tables and hands chat a Kysely typed to ChatDb.
import type { ColumnType, Generated } from 'kysely';
import type { AccountTables } from '../src/accounts/account-tables.ts';
import type { ChannelTables } from '../src/channels/channel-tables.ts';
import type { NullableTimestamp } from '../src/db/column-types.ts';
import type { LiveTables } from '../packager/live-tables.ts';
import type { VodTables } from '../vod/vod-tables.ts';

export type ChatAuditAction = 'delete' | 'timeout' | 'ban' | 'unban' | 'slow-mode' | 'moderator-add' | 'moderator-remove';

export interface ChatMessagesTable {
  id: Generated<string>;
  channel_id: string;
  live_session_id: string | null;
  user_id: string;
  text: string;
  // bigint arrives from pg as a string; the store converts it.
  offset_ms: ColumnType<string | number | null, number | null | undefined, number | null>;
  created_at: Generated<Date>;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
  /** sql/012: hidden while its author is suspended (shown again when lifted); deleted_at is for good. */
  hidden_at: NullableTimestamp;
}

export interface ChatModeratorsTable {
  channel_id: string;
  user_id: string;
  added_by: string | null;
  created_at: Generated<Date>;
}

export interface ChatBansTable {
  channel_id: string;
  user_id: string;
  expires_at: NullableTimestamp;
  reason: Generated<string>;
  created_by: string | null;
  created_at: Generated<Date>;
}

export interface ChatSettingsTable {
  channel_id: string;
  slow_mode_s: Generated<number>;
  updated_at: Generated<Date>;
}

export interface ChatAuditTable {
  id: Generated<string>;
  channel_id: string;
  actor_id: string | null;
  action: ChatAuditAction;
  target_user_id: string | null;
  details: ColumnType<unknown, string | undefined, string>;
  created_at: Generated<Date>;
}

export interface ChatTables {
  chat_messages: ChatMessagesTable;
  chat_moderators: ChatModeratorsTable;
  chat_bans: ChatBansTable;
  chat_settings: ChatSettingsTable;
  chat_audit: ChatAuditTable;
}

/** What chat reads and writes: its own tables, user names, live sessions, and (for replay) VODs. */
export type ChatDb = ChatTables & Pick<AccountTables, 'users'> & LiveTables & VodTables & ChannelTables;
