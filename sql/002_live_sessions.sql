-- One row per live stream. A channel has at most one session without ended_at.
CREATE TABLE live_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  end_reason text CHECK (end_reason IN ('unpublished', 'ffmpeg-failed', 'key-rotated', 'max-duration', 'server-shutdown', 'server-restart')),
  renditions jsonb NOT NULL DEFAULT '[]',
  restarts integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX live_sessions_one_live_per_channel ON live_sessions (channel_id) WHERE ended_at IS NULL;
CREATE INDEX live_sessions_channel_started ON live_sessions (channel_id, started_at DESC);
