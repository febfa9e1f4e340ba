-- Uploaded videos share the vods table with recordings: one library, one player path. An upload's
-- row exists from the tus creation request ('uploading'), then the transcoding job turns it
-- 'processing' → 'ready' or 'failed' (with a reason the owner can read).
ALTER TABLE vods ALTER COLUMN live_session_id DROP NOT NULL;
ALTER TABLE vods ADD COLUMN source text NOT NULL DEFAULT 'recording' CHECK (source IN ('recording', 'upload'));
ALTER TABLE vods ADD CONSTRAINT vods_source_session CHECK ((source = 'recording') = (live_session_id IS NOT NULL));
ALTER TABLE vods DROP CONSTRAINT vods_status_check;
ALTER TABLE vods ADD CONSTRAINT vods_status_check
  CHECK (status IN ('recording', 'finalizing', 'uploading', 'processing', 'ready', 'failed'));
ALTER TABLE vods ADD COLUMN description text NOT NULL DEFAULT '';
-- The tus upload's id (its storage key); null for recordings and once the source is gone.
ALTER TABLE vods ADD COLUMN upload_id text UNIQUE;
ALTER TABLE vods ADD COLUMN upload_size bigint CHECK (upload_size >= 0);
ALTER TABLE vods ADD COLUMN upload_offset bigint NOT NULL DEFAULT 0 CHECK (upload_offset >= 0);
ALTER TABLE vods ADD COLUMN upload_expires_at timestamptz;
-- Transcoding progress, 0–100, and why a VOD failed, in words for its owner.
ALTER TABLE vods ADD COLUMN progress real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 100);
ALTER TABLE vods ADD COLUMN failure_reason text;
CREATE INDEX vods_uploading ON vods (channel_id) WHERE status = 'uploading';
CREATE INDEX vods_upload_expiry ON vods (upload_expires_at) WHERE status = 'uploading';
