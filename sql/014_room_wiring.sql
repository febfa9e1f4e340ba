-- Wiring between rooms (admin/ and social/).
--
-- A reporter is told the outcome of their report in their notifications: a third kind, 'report',
-- whose subject is the report. It belongs to no channel, and carries what the bell shows (the
-- outcome, the kind of thing reported, the moderator's note) so social/ need not read admin's tables.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('live', 'video', 'report'));
ALTER TABLE notifications ALTER COLUMN channel_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN details jsonb;
ALTER TABLE notifications ADD CONSTRAINT notifications_channel_of_kind CHECK (kind = 'report' OR channel_id IS NOT NULL);

-- A suspended user's comments can be hidden (as their chat messages are) and shown again when the
-- suspension is lifted; hidden comments are out of the listings and the counts.
ALTER TABLE comments ADD COLUMN hidden_at timestamptz;
CREATE INDEX comments_user ON comments (user_id);
