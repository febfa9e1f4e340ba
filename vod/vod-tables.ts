// Row types of the recording tables (sql/004_recording.sql, sql/005_vod_media_offset.sql,
// sql/010_uploads.sql), and the
// tables vod/ reads: main.ts merges them with the other rooms' tables and hands vod/ a Kysely<VodDb>.
import type { ColumnType, Generated } from 'kysely';
import type { ChannelTables } from '../src/channels/channel-tables.ts';
import type { Nullable, NullableTimestamp } from '../src/db/column-types.ts';
import type { LiveTables } from '../packager/live-tables.ts';

export type VodStatus = 'recording' | 'finalizing' | 'uploading' | 'processing' | 'ready' | 'failed';
export type VodSource = 'recording' | 'upload';
export type VodVisibility = 'public' | 'unlisted' | 'private';

/** One rendition of a finished VOD, as stored in vods.renditions. */
export interface VodRendition {
  name: string;
  width: number;
  height: number;
  frameRate: number;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
  segments: number;
}

export interface VodsTable {
  id: Generated<string>;
  /** null for uploads */
  live_session_id: ColumnType<string | null, string | null | undefined, string | null>;
  channel_id: string;
  title: Generated<string>;
  status: ColumnType<VodStatus, VodStatus | undefined, VodStatus>;
  visibility: ColumnType<VodVisibility, VodVisibility | undefined, VodVisibility>;
  started_at: ColumnType<Date, Date | string, Date | string>;
  duration_s: Generated<number>;
  renditions: ColumnType<VodRendition[], string | undefined, string>;
  size_bytes: Generated<number>;
  thumbnail_key: Nullable<string>;
  /** sql/005: where the recording's first frame falls in its live session (ms) */
  media_offset_ms: Generated<number>;
  storage_prefix: string;
  /** sql/009: who finalises it (one node), and whether it was finalised after its node was lost */
  finalizer_node: Nullable<string>;
  finalize_claimed_at: NullableTimestamp;
  interrupted: Generated<boolean>;
  created_at: Generated<Date>;
  deleted_at: NullableTimestamp;
  /** sql/010: uploads */
  source: ColumnType<VodSource, VodSource | undefined, VodSource>;
  description: Generated<string>;
  upload_id: Nullable<string>;
  upload_size: Nullable<number>;
  upload_offset: Generated<number>;
  upload_expires_at: NullableTimestamp;
  progress: Generated<number>;
  failure_reason: Nullable<string>;
}

export interface VodUploadsTable {
  id: Generated<number>;
  vod_id: string;
  rendition: string;
  file: string;
  kind: 'init' | 'segment';
  run: number;
  msn: Nullable<number>;
  duration_s: Nullable<number>;
  discontinuity: Generated<boolean>;
  size_bytes: number;
  state: ColumnType<'pending' | 'uploaded', 'pending' | 'uploaded' | undefined, 'pending' | 'uploaded'>;
  attempts: Generated<number>;
  last_error: Nullable<string>;
  file_ready_at: ColumnType<Date, Date | string | undefined, Date | string>;
  uploaded_at: NullableTimestamp;
}

export interface VodTables {
  vods: VodsTable;
  vod_uploads: VodUploadsTable;
}

/** What vod/ reads and writes: its own tables, the live sessions it records and their channels. */
export type VodDb = VodTables & LiveTables & ChannelTables;
