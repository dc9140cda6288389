-- Funnels: ordered steps of a site's goals (by display name), shared by
-- every collector of a database. As with goals, adding and removing each
-- append a row and a funnel's state is its row with the highest `version`
-- (microseconds). Nothing here is about a visitor.
CREATE TABLE IF NOT EXISTS {{db}}.funnels (
    site String,
    name String,
    steps Array(String),
    created UInt64,
    removed UInt8,
    version UInt64
) ENGINE = MergeTree
ORDER BY (site, name)
