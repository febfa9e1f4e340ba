// Row types of the social tables (sql/011_social.sql), and the tables social/ reads: main.ts merges
// them with the other rooms' tables and hands social/ a Kysely typed to SocialDb. The search
// columns 011 adds to channels and vods (tags, category, description, search_vector) are reached
// through raw SQL in search-query.ts and discovery-routes.ts, so the owners' row types stay theirs.
import type { ColumnType, Generated } from 'kysely';
import type { AccountTables } from '../src/accounts/account-tables.ts';
import type { ChannelTables } from '../src/channels/channel-tables.ts';
import type { Nullable, NullableTimestamp } from '../src/db/column-types.ts';
import type { ChatTables } from '../chat/chat-tables.ts';
import type { LiveTables } from '../packager/live-tables.ts';
import type { VodTables } from '../vod/vod-tables.ts';

export type NotificationKind = 'live' | 'video' | 'report';

/** What a 'report' notification carries (sql/014): the outcome as the reporter is told it. */
export interface ReportNoticeDetails {
  status: string;
  targetKind: string;
  note: string;
}
export type WebhookEvent = 'stream.started' | 'stream.ended' | 'vod.ready';
export type DeliveryStatus = 'pending' | 'delivered' | 'retrying' | 'failed';

export interface FollowsTable {
  user_id: string;
  channel_id: string;
  created_at: Generated<Date>;
}

export interface ChannelStatsTable {
  channel_id: string;
  follower_count: Generated<number>;
}

export interface NotificationsTable {
  id: Generated<string>;
  user_id: string;
  kind: NotificationKind;
  /** null for kind 'report' only */
  channel_id: string | null;
  subject_id: string;
  created_at: Generated<Date>;
  read_at: NullableTimestamp;
  /** jsonb, written as JSON text: the outcome of kind 'report' */
  details: ColumnType<ReportNoticeDetails | null, string | null | undefined, string | null>;
}

export interface WebhooksTable {
  id: Generated<string>;
  channel_id: string;
  url: string;
  events: WebhookEvent[];
  secret_ciphertext: string;
  created_at: Generated<Date>;
  last_status: Nullable<Exclude<DeliveryStatus, 'pending'>>;
  last_status_code: Nullable<number>;
  last_error: Nullable<string>;
  last_attempt_at: NullableTimestamp;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  webhook_id: string;
  event: WebhookEvent;
  event_key: string;
  body: string;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: Generated<number>;
  last_status_code: Nullable<number>;
  last_error: Nullable<string>;
  created_at: Generated<Date>;
  last_attempt_at: NullableTimestamp;
  delivered_at: NullableTimestamp;
}

export interface CommentsTable {
  id: Generated<string>;
  vod_id: string;
  user_id: string;
  parent_id: string | null;
  text: string;
  like_count: Generated<number>;
  reply_count: Generated<number>;
  created_at: Generated<Date>;
  edited_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  deleted_by: Nullable<string>;
  /** set while the author is suspended with their content hidden (sql/014) */
  hidden_at: NullableTimestamp;
}

export interface VodLikesTable {
  vod_id: string;
  user_id: string;
  created_at: Generated<Date>;
}

export interface CommentLikesTable {
  comment_id: string;
  user_id: string;
  created_at: Generated<Date>;
}

export interface VodStatsTable {
  vod_id: string;
  like_count: Generated<number>;
  comment_count: Generated<number>;
  // bigint arrives from pg as a string
  view_count: ColumnType<string | number, number | undefined, number>;
}

export interface VodViewHoursTable {
  vod_id: string;
  hour: ColumnType<Date, Date | string, Date | string>;
  views: number;
}

export interface LiveSessionPeaksTable {
  live_session_id: string;
  peak_viewers: number;
}

export interface WatchHistoryTable {
  user_id: string;
  vod_id: string;
  position_s: number;
  updated_at: Generated<Date>;
}

export interface WatchHistoryPausedTable {
  user_id: string;
  paused_at: Generated<Date>;
}

export interface SocialTables {
  follows: FollowsTable;
  channel_stats: ChannelStatsTable;
  notifications: NotificationsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  comments: CommentsTable;
  vod_likes: VodLikesTable;
  comment_likes: CommentLikesTable;
  vod_stats: VodStatsTable;
  vod_view_hours: VodViewHoursTable;
  live_session_peaks: LiveSessionPeaksTable;
  watch_history: WatchHistoryTable;
  watch_history_paused: WatchHistoryPausedTable;
}

/** What social/ reads and writes: its own tables, users, channels, live sessions, videos and chat moderators. */
export type SocialDb = SocialTables & AccountTables & ChannelTables & LiveTables & VodTables & ChatTables;
