-- One audit row per real expiry run: what was removed, when, and whether it worked.
CREATE TABLE IF NOT EXISTS {{db}}.expiry_log (
    started DateTime,
    finished DateTime,
    run_as_of DateTime,
    cutoff DateTime,
    partitions_dropped Array(String),
    rows_deleted UInt64,
    salts_destroyed Array(Date),
    sites_erased Array(String),
    outcome String,
    message String
) ENGINE = MergeTree
ORDER BY started;

-- Leases for jobs that must run once across all collectors sharing a database.
-- A claim is valid until `expires` unless its holder released it; the
-- earliest valid claim (by taken, holder) holds the lock.
CREATE TABLE IF NOT EXISTS {{db}}.job_locks (
    name String,
    holder UInt64,
    taken DateTime,
    expires DateTime,
    released UInt8
) ENGINE = MergeTree
ORDER BY (name, taken, holder);

-- Site erasure requests: a site is blocked from the moment it is requested;
-- its events are deleted when `due` passes. The state is the row with the
-- latest `updated` per site.
CREATE TABLE IF NOT EXISTS {{db}}.site_erasures (
    site String,
    requested DateTime,
    due DateTime,
    status String,
    updated DateTime
) ENGINE = MergeTree
ORDER BY (site, updated)
