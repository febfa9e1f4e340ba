-- Community and discovery (social/): follows, notifications, webhooks and their deliveries,
-- comments, likes, view counts, watch history, and the full-text search vectors on channels and
-- videos. Every row of `vods` is a video, whatever made it (a recording or an upload).

CREATE TABLE follows (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, channel_id)
);
-- Fan-out walks a channel's followers in user_id order, a batch at a time.
CREATE INDEX follows_channel ON follows (channel_id, user_id);
-- A channel's follower count, changed in the same transaction as the follows row, so a channel
-- page does not count 100,000 rows on every view.
CREATE TABLE channel_stats (
  channel_id uuid PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
  follower_count integer NOT NULL DEFAULT 0 CHECK (follower_count >= 0)
);

-- One notification per user and subject (a live session, a video): a retried fan-out job, or a
-- second node seeing the same bus event, cannot notify twice.
CREATE TABLE notifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('live', 'video')),
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  subject_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  read_at timestamptz,
  UNIQUE (user_id, kind, subject_id)
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

-- Channel owners' webhooks. The signing secret must be usable to sign, so it is kept as
-- AES-256-GCM ciphertext under a key derived from SECRET_KEY (as stream keys are), never in clear.
CREATE TABLE webhooks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  url text NOT NULL CHECK (char_length(url) <= 2000),
  events text[] NOT NULL,
  secret_ciphertext text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_status text CHECK (last_status IN ('delivered', 'retrying', 'failed')),
  last_status_code integer,
  last_error text,
  last_attempt_at timestamptz
);
CREATE INDEX webhooks_channel ON webhooks (channel_id);

CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event text NOT NULL,
  -- the event and its subject ('stream.started:<session id>'): one delivery per hook and event,
  -- however often the event job runs
  event_key text NOT NULL,
  -- the exact bytes signed and sent, so every retry sends (and signs) the same body
  body text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'retrying', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  delivered_at timestamptz,
  UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at DESC);

-- Comments on videos: one level of replies (parent_id names a top-level comment).
CREATE TABLE comments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  vod_id uuid NOT NULL REFERENCES vods (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  parent_id uuid REFERENCES comments (id) ON DELETE CASCADE,
  text text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2000),
  like_count integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
  reply_count integer NOT NULL DEFAULT 0 CHECK (reply_count >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  deleted_by uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX comments_newest ON comments (vod_id, created_at DESC, id DESC) WHERE parent_id IS NULL AND deleted_at IS NULL;
CREATE INDEX comments_top ON comments (vod_id, like_count DESC, created_at DESC, id DESC) WHERE parent_id IS NULL AND deleted_at IS NULL;
CREATE INDEX comments_replies ON comments (parent_id, created_at, id) WHERE deleted_at IS NULL;

-- One like per user and object; the counts beside them change in the same transaction.
CREATE TABLE vod_likes (
  vod_id uuid NOT NULL REFERENCES vods (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (vod_id, user_id)
);
CREATE TABLE comment_likes (
  comment_id uuid NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (comment_id, user_id)
);

-- A video's counters (a row appears with its first like, comment or view).
CREATE TABLE vod_stats (
  vod_id uuid PRIMARY KEY REFERENCES vods (id) ON DELETE CASCADE,
  like_count integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
  comment_count integer NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
  view_count bigint NOT NULL DEFAULT 0 CHECK (view_count >= 0)
);
-- Views per video and hour, for "trending" (views in the last 48 hours).
CREATE TABLE vod_view_hours (
  vod_id uuid NOT NULL REFERENCES vods (id) ON DELETE CASCADE,
  hour timestamptz NOT NULL,
  views integer NOT NULL,
  PRIMARY KEY (vod_id, hour)
);
CREATE INDEX vod_view_hours_recent ON vod_view_hours (hour, vod_id);

-- The most concurrent viewers a live session had.
CREATE TABLE live_session_peaks (
  live_session_id uuid PRIMARY KEY REFERENCES live_sessions (id) ON DELETE CASCADE,
  peak_viewers integer NOT NULL CHECK (peak_viewers >= 0)
);

CREATE TABLE watch_history (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  vod_id uuid NOT NULL REFERENCES vods (id) ON DELETE CASCADE,
  position_s double precision NOT NULL CHECK (position_s >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, vod_id)
);
CREATE INDEX watch_history_recent ON watch_history (user_id, updated_at DESC);
-- A user who paused their history is not recorded until they resume it.
CREATE TABLE watch_history_paused (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  paused_at timestamptz NOT NULL DEFAULT now()
);

-- Search. 'simple' keeps every word as written (lower-cased), whatever the language: a
-- language-specific configuration would stem English well and mangle every other language.
-- array_to_string is only STABLE, so generated columns go through this IMMUTABLE wrapper.
CREATE FUNCTION social_tags_text(tags text[]) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
  $$ SELECT coalesce(array_to_string(tags, ' '), '') $$;

ALTER TABLE channels ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE channels ADD COLUMN category text NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('simple', slug), 'A') ||
  setweight(to_tsvector('simple', title), 'A') ||
  setweight(to_tsvector('simple', social_tags_text(tags)), 'B') ||
  setweight(to_tsvector('simple', description), 'C')
) STORED;
CREATE INDEX channels_search ON channels USING gin (search_vector);
CREATE INDEX channels_category ON channels (category) WHERE category <> '';

ALTER TABLE vods ADD COLUMN IF NOT EXISTS description text NOT NULL DEFAULT '';
ALTER TABLE vods ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE vods ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('simple', title), 'A') ||
  setweight(to_tsvector('simple', social_tags_text(tags)), 'B') ||
  setweight(to_tsvector('simple', description), 'C')
) STORED;
CREATE INDEX vods_search ON vods USING gin (search_vector);
