-- Several app nodes share one database. A live session is owned by the node that ingests it,
-- through a lease the owner renews every few seconds; other nodes proxy its playlists and media to
-- owner_url. A session whose lease has expired is ended once, by whichever node claims it first,
-- with reason 'node-lost'. Rows from before this migration have no owner and count as expired.
ALTER TABLE live_sessions ADD COLUMN owner_node text;
ALTER TABLE live_sessions ADD COLUMN owner_url text;
ALTER TABLE live_sessions ADD COLUMN lease_expires_at timestamptz;
-- When the master playlist became complete (every rendition has its init section): listings on
-- every node show a session only from then on, as the owner's own listing always did.
ALTER TABLE live_sessions ADD COLUMN ready_at timestamptz;
CREATE INDEX live_sessions_open_by_owner ON live_sessions (owner_node) WHERE ended_at IS NULL;

-- 'suspended' is listed too: the admin branch adds it for suspended users, and whichever of the
-- two migrations runs last must not drop the other's reason.
ALTER TABLE live_sessions DROP CONSTRAINT live_sessions_end_reason_check;
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_end_reason_check
  CHECK (end_reason IN ('unpublished', 'publisher-lost', 'ffmpeg-failed', 'key-rotated', 'max-duration', 'server-shutdown', 'server-restart', 'storage-quota', 'node-lost', 'suspended'));

-- One finaliser per VOD: the claim names the node and when it was taken, so a claim left by a
-- node that died mid-way can be taken over once it is stale.
ALTER TABLE vods ADD COLUMN finalizer_node text;
ALTER TABLE vods ADD COLUMN finalize_claimed_at timestamptz;
-- The VOD was finalised by another node from what reached storage after its owner was lost: it
-- may be shorter than the stream was, and says so.
ALTER TABLE vods ADD COLUMN interrupted boolean NOT NULL DEFAULT false;
