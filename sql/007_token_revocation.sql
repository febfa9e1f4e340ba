-- Access tokens are refused when issued before this time (sign-out everywhere; later a password
-- change or a suspension). NULL: never set. A single sign-out revokes one refresh-token family
-- instead, which access tokens name in their `fam` claim.
ALTER TABLE users ADD COLUMN tokens_not_before timestamptz;

-- Every authenticated request asks whether its token's family was revoked: a small partial index
-- answers that in one probe, however many rotations a long-lived family has piled up.
CREATE INDEX refresh_tokens_revoked_family ON refresh_tokens (family_id) WHERE revoked_at IS NOT NULL;
