-- Chat: messages (with the live session and the offset into it, so a VOD can replay them beside the
-- recording), per-channel moderators, bans and timeouts, settings, and an audit trail of every
-- moderation action.
CREATE TABLE chat_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  -- NULL when the channel was offline: the message is in the live history but in no recording.
  live_session_id uuid REFERENCES live_sessions (id) ON DELETE SET NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  text text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 500),
  offset_ms bigint CHECK (offset_ms >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  deleted_by uuid REFERENCES users (id) ON DELETE SET NULL
);
-- The last N messages of a channel on join.
CREATE INDEX chat_messages_history ON chat_messages (channel_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
-- A time range of one recording for replay.
CREATE INDEX chat_messages_replay ON chat_messages (live_session_id, offset_ms, id) WHERE deleted_at IS NULL AND live_session_id IS NOT NULL;
CREATE INDEX chat_messages_user ON chat_messages (user_id);

CREATE TABLE chat_moderators (
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  added_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX chat_moderators_user ON chat_moderators (user_id);

-- A ban has no expiry; a timeout is a ban with one. Unbanning deletes the row.
CREATE TABLE chat_bans (
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz,
  reason text NOT NULL DEFAULT '',
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX chat_bans_user ON chat_bans (user_id);

CREATE TABLE chat_settings (
  channel_id uuid PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
  slow_mode_s integer NOT NULL DEFAULT 0 CHECK (slow_mode_s BETWEEN 0 AND 86400),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_audit (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  actor_id uuid REFERENCES users (id) ON DELETE SET NULL,
  action text NOT NULL CHECK (action IN ('delete', 'timeout', 'ban', 'unban', 'slow-mode', 'moderator-add', 'moderator-remove')),
  target_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_audit_channel ON chat_audit (channel_id, created_at DESC, id DESC);
