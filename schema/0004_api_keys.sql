-- Stats API keys. Only a blake3 hash of each key is stored; the key itself is
-- shown once at creation. Revocation appends a row; a key's state is its
-- latest row (`revoked` wins ties).
CREATE TABLE IF NOT EXISTS {{db}}.api_keys (
    key_hash String,
    key_id String,
    sites Array(String),
    label String,
    created DateTime,
    revoked UInt8,
    updated DateTime
) ENGINE = MergeTree
ORDER BY (key_hash, key_id)
