-- A session records which version of its user it was opened for: the
-- `updated_us` of the user's row whose password the login verified. A
-- session is valid only while that row is still the user's latest, so
-- removing a user, re-creating them or changing their password ends every
-- session opened before, for good. Sessions from before this column (0)
-- match no user version: they end at the upgrade, and their users log in
-- once more. ({{if_not_exists}} is IF NOT EXISTS where the server has it;
-- 18.16 has not, and the migration runner accepts "already exists" there.)
ALTER TABLE {{db}}.dashboard_sessions ADD COLUMN {{if_not_exists}} user_version UInt64
