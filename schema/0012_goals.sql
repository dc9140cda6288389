-- Goals: what a site counts as a conversion, shared by every collector of
-- a database (in cluster mode one replicated dataset on every node).
-- A goal is named by its display name, unique per site. Adding and removing
-- each append a row; a goal's state is its row with the highest `version`
-- (microseconds, so a removal and a new add in one second stay ordered).
-- No row holds anything about a visitor.
--   * event_name: an event goal (a custom event of that name), else empty;
--   * page_path: a page goal (page views of the path, `*`/`**` wildcards),
--     or with scroll_threshold >= 0 a scroll goal (engagement on the page
--     with at least that scroll depth); else empty;
--   * prop_keys/prop_values: property conditions the event must meet too;
--   * currency: an event goal that carries revenue in this currency (ISO
--     4217), else empty;
--   * created: when the goal was added (its place in listings).
CREATE TABLE IF NOT EXISTS {{db}}.goals (
    site String,
    display_name String,
    event_name String,
    page_path String,
    scroll_threshold Int16,
    prop_keys Array(String),
    prop_values Array(String),
    currency String,
    created UInt64,
    removed UInt8,
    version UInt64
) ENGINE = MergeTree
ORDER BY (site, display_name)
