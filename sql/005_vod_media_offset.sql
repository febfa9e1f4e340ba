-- Where a recording's first frame falls in its live session, in ms. A VOD starts at the first
-- complete segment (the first keyframe after the packager started), not at the session's start,
-- and chat offsets are measured from the session's start: replay subtracts this to stay in sync.
ALTER TABLE vods ADD COLUMN media_offset_ms integer NOT NULL DEFAULT 0 CHECK (media_offset_ms >= 0);
