-- Dashboard logins. A user's password is kept only as an argon2id hash (PHC
-- string). Changes append a row; a user's state is the row with the latest
-- `updated_us` (microseconds, so two changes in one second keep their order).
CREATE TABLE IF NOT EXISTS {{db}}.dashboard_users (
    user String,
    password_hash String,
    sites Array(String),
    updated_us UInt64,
    removed UInt8
) ENGINE = MergeTree
ORDER BY (user, updated_us);

-- Dashboard sessions, named by a blake3 hash of the cookie's token (a stolen
-- database yields no usable session). Logging out appends a revoked row.
CREATE TABLE IF NOT EXISTS {{db}}.dashboard_sessions (
    token_hash String,
    user String,
    created DateTime,
    expires DateTime,
    revoked UInt8
) ENGINE = MergeTree
ORDER BY (token_hash, created);

-- Read-only share links, one site each, stored as a blake3 hash of the token
-- that the link carries in its fragment. Revocation appends a row.
CREATE TABLE IF NOT EXISTS {{db}}.share_links (
    token_hash String,
    link_id String,
    site String,
    label String,
    created DateTime,
    revoked UInt8,
    updated DateTime
) ENGINE = MergeTree
ORDER BY (token_hash, link_id);
