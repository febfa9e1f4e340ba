-- Recordings. One VOD per live session, created when the session's first files appear; the
-- archiver fills the upload journal as files are made and turns the row 'ready' at the end.
CREATE TABLE vods (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  live_session_id uuid NOT NULL UNIQUE REFERENCES live_sessions (id) ON DELETE CASCADE,
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  title text NOT NULL DEFAULT '',
  status text NOT NULL DEFAULT 'recording' CHECK (status IN ('recording', 'finalizing', 'ready', 'failed')),
  visibility text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'unlisted', 'private')),
  started_at timestamptz NOT NULL,
  duration_s double precision NOT NULL DEFAULT 0,
  renditions jsonb NOT NULL DEFAULT '[]',
  size_bytes bigint NOT NULL DEFAULT 0,
  thumbnail_key text,
  storage_prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX vods_listing ON vods (started_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX vods_channel_listing ON vods (channel_id, started_at DESC, id DESC) WHERE deleted_at IS NULL;

-- One row per file to upload, written before the upload starts, so a crash forgets nothing and an
-- uploaded file is never sent again. Rows of one rendition upload in id order (journal order).
CREATE TABLE vod_uploads (
  id bigserial PRIMARY KEY,
  vod_id uuid NOT NULL REFERENCES vods (id) ON DELETE CASCADE,
  rendition text NOT NULL,
  file text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('init', 'segment')),
  -- init: the ffmpeg run n of init-<n>.mp4; segment: the run whose init it needs
  run integer NOT NULL,
  -- segments only: media sequence number and exact duration from the fragments
  msn integer,
  duration_s double precision,
  discontinuity boolean NOT NULL DEFAULT false,
  size_bytes bigint NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'uploaded')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  -- when the file was complete on disk, for the upload-lag figures
  file_ready_at timestamptz NOT NULL DEFAULT now(),
  uploaded_at timestamptz,
  UNIQUE (vod_id, rendition, file)
);
CREATE INDEX vod_uploads_pending ON vod_uploads (vod_id, rendition, id) WHERE state = 'pending';

-- A stream ended because its channel reached CHANNEL_STORAGE_LIMIT_MB.
ALTER TABLE live_sessions DROP CONSTRAINT live_sessions_end_reason_check;
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_end_reason_check
  CHECK (end_reason IN ('unpublished', 'ffmpeg-failed', 'key-rotated', 'max-duration', 'server-shutdown', 'server-restart', 'storage-quota'));
