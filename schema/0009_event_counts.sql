-- Events per site, hour and name: the first derived table (see
-- src/store/rollup.rs for its design). It is filled only by the view below
-- from what is inserted into `events` — by ingest, spool replay, seed-demo,
-- imports, on every node of a cluster — and corrected by
-- `store::rollup::reconcile` where events are deleted (expiry, site and
-- visitor erasure) and once after this migration for the rows stored
-- before it. `events` is Int64: a correction is a row of the difference,
-- and a SummingMergeTree drops rows that sum to nothing when it merges.
-- It holds no visitor or visit identifier.
CREATE TABLE IF NOT EXISTS {{db}}.event_counts (
    site {{lc}},
    hour DateTime,
    name {{lc}},
    events Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site, hour, name);
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.event_counts_mv TO {{db}}.event_counts AS
SELECT site, toStartOfHour(timestamp) AS hour, name, toInt64(count()) AS events
FROM {{db}}.events
GROUP BY site, hour, name
