-- Sites added at run time (`saltmark sites add|remove`), shared by every
-- collector of a database (in cluster mode one replicated dataset on every
-- node). The configuration's `sites` are accepted besides these. Adding
-- and removing each append a row; a site's state is its row with the
-- highest `version` (microseconds). No row holds anything about a visitor.
--   * timezone: the site's IANA zone (empty: UTC or the configuration's);
--   * retention_months: its retention (0: the configured default).
CREATE TABLE IF NOT EXISTS {{db}}.sites (
    site String,
    timezone String,
    retention_months UInt16,
    removed UInt8,
    version UInt64
) ENGINE = MergeTree
ORDER BY (site, version)
