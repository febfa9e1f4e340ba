-- Running an instance: roles, email verification, approval, suspension, single-use account tokens
-- (password reset, email verification), invites, reports, the admin audit trail and the instance
-- settings admins edit.

-- Instance roles, distinct from a channel's owner and moderators. 'moderator' moderates the whole
-- instance (reports, suspensions); 'admin' also grants roles and edits the settings.
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin'));
-- NULL: not verified yet (only asked for when SMTP is configured). Existing accounts count as verified.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
-- Registration under the 'approval' policy: the account exists but cannot sign in until approved.
ALTER TABLE users ADD COLUMN pending_approval boolean NOT NULL DEFAULT false;
-- Suspension: while suspended_at is set (and suspended_until is NULL or in the future) the account
-- cannot sign in or stream, and its channel page says it is suspended.
ALTER TABLE users ADD COLUMN suspended_at timestamptz;
ALTER TABLE users ADD COLUMN suspended_until timestamptz;
ALTER TABLE users ADD COLUMN suspension_reason text;
ALTER TABLE users ADD COLUMN suspended_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX users_role ON users (role) WHERE role <> 'user';
CREATE INDEX users_suspended_until ON users (suspended_until) WHERE suspended_at IS NOT NULL;
-- An instance upgraded from before roles keeps someone in charge: its oldest account.
UPDATE users SET role = 'admin' WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1);

-- Single-use links sent by email, stored as SHA-256 of the token (like refresh tokens).
CREATE TABLE account_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('password-reset', 'email-verify')),
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);

-- Invite links for the 'invite' registration policy, stored hashed.
CREATE TABLE invites (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash text NOT NULL UNIQUE,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  max_uses integer NOT NULL CHECK (max_uses BETWEEN 1 AND 1000),
  uses integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
  revoked_at timestamptz
);

-- Reports: a target (kind + id; comments live in another room, so no foreign key), its author at
-- the time of the report, the reporter's reason, and the outcome the reporter can read back.
CREATE TABLE reports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  reporter_id uuid REFERENCES users (id) ON DELETE SET NULL,
  target_kind text NOT NULL CHECK (target_kind IN ('channel', 'video', 'chat-message', 'comment')),
  target_id uuid NOT NULL,
  target_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'content-deleted', 'user-suspended')),
  resolved_by uuid REFERENCES users (id) ON DELETE SET NULL,
  resolved_at timestamptz,
  resolution_note text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_queue ON reports (created_at, id) WHERE status = 'open';
CREATE INDEX reports_reporter ON reports (reporter_id, created_at DESC);
-- One open report per reporter and target: reporting the same thing again is a no-op, not a flood.
CREATE UNIQUE INDEX reports_one_open ON reports (reporter_id, target_kind, target_id) WHERE status = 'open';

-- Every instance-level action by an admin or instance moderator.
CREATE TABLE admin_audit (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  actor_id uuid REFERENCES users (id) ON DELETE SET NULL,
  action text NOT NULL,
  target_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  target_kind text,
  target_id text,
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_created ON admin_audit (created_at DESC, id DESC);

-- The instance settings: one row, a JSON document checked by the server's schema on every write.
CREATE TABLE instance_settings (
  id smallint PRIMARY KEY CHECK (id = 1),
  settings jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid REFERENCES users (id) ON DELETE SET NULL
);

-- A suspended user's chat messages can be hidden, and shown again when the suspension is lifted
-- (deleted_at stays what moderators deleted for good).
ALTER TABLE chat_messages ADD COLUMN hidden_at timestamptz;

-- A live stream ended by a suspension, or by an admin from the admin page. Keeps every earlier reason, and 'node-lost' (a session whose
-- owning node's lease expired, from another migration), whichever of the two runs first.
ALTER TABLE live_sessions DROP CONSTRAINT live_sessions_end_reason_check;
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_end_reason_check
  CHECK (end_reason IN ('unpublished', 'publisher-lost', 'ffmpeg-failed', 'key-rotated', 'max-duration', 'server-shutdown', 'server-restart', 'storage-quota', 'node-lost', 'suspended', 'ended-by-admin'));
