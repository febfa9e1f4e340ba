-- A stream whose publisher dropped without an unpublish and did not come back within the grace
-- window ends as 'publisher-lost'; 'unpublished' now means the streamer pressed Stop.
ALTER TABLE live_sessions DROP CONSTRAINT live_sessions_end_reason_check;
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_end_reason_check
  CHECK (end_reason IN ('unpublished', 'publisher-lost', 'ffmpeg-failed', 'key-rotated', 'max-duration', 'server-shutdown', 'server-restart', 'storage-quota'));
