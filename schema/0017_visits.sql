-- Visits per site, hour and visit: the second derived table (see
-- src/store/visit_rollup.rs for its design). One row per visit and hour
-- that had events of the visit (engagement rows left out), holding
-- aggregate states — the page views and events counted, the first and last
-- time seen, the page of each page view and of each other event (what a
-- page filter counts), and each visit attribute as the raw query takes it from the
-- visit's events (`VisitAttr::aggregate`) — so a question over whole hours
-- merges a few rows per visit instead of regrouping its events.
-- It is filled only by the view below from what is inserted into `events`,
-- on every node of a cluster; deletes of events are mirrored by
-- `store::visit_rollup` (the same rows by site and visitor, or the
-- touched hours made again from the events left); the rows stored before
-- this migration are added once after it (`visit_rollup::backfill`).
-- The key puts the visitor right after the day: a sample (SAMPLE 1/n keeps
-- a range of visitor ids) then reads about 1/n of each day's granules
-- instead of every row of the period.
-- Attribute states hold Strings (a LowCardinality column is cast), so the
-- table's types are one on every server. Like `events`, it holds keyed
-- hashes of visitor and visit, never an address or a user agent.
CREATE TABLE IF NOT EXISTS {{db}}.visits (
    site {{lc}},
    hour DateTime,
    visitor_id UInt64,
    session_id UInt64,
    pageviews AggregateFunction(sum, UInt64),
    events AggregateFunction(sum, UInt64),
    first_seen AggregateFunction(min, DateTime),
    last_seen AggregateFunction(max, DateTime),
    page_paths AggregateFunction(groupArrayIf, String, UInt8),
    other_paths AggregateFunction(groupArrayIf, String, UInt8),
    s_entry_page AggregateFunction(argMinIf, String, DateTime, UInt8),
    s_exit_page AggregateFunction(argMaxIf, String, DateTime, UInt8),
    s_entry_hostname AggregateFunction(argMinIf, String, DateTime, UInt8),
    s_exit_hostname AggregateFunction(argMaxIf, String, DateTime, UInt8),
    s_referrer_source AggregateFunction(argMin, String, UInt64),
    s_referrer AggregateFunction(argMin, String, UInt64),
    s_utm_source AggregateFunction(argMin, String, UInt64),
    s_utm_medium AggregateFunction(argMin, String, UInt64),
    s_utm_campaign AggregateFunction(argMin, String, UInt64),
    s_utm_content AggregateFunction(argMin, String, UInt64),
    s_utm_term AggregateFunction(argMin, String, UInt64),
    s_country_code AggregateFunction(argMin, String, UInt64),
    s_region_code AggregateFunction(argMin, String, UInt64),
    s_region AggregateFunction(argMin, String, UInt64),
    s_city AggregateFunction(argMin, String, UInt64),
    s_channel AggregateFunction(argMin, String, UInt64),
    s_browser AggregateFunction(argMin, String, UInt64),
    s_browser_version AggregateFunction(argMin, String, UInt64),
    s_os AggregateFunction(argMin, String, UInt64),
    s_os_version AggregateFunction(argMin, String, UInt64),
    s_device AggregateFunction(argMin, String, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site, toDate(hour), visitor_id, hour, session_id)
SAMPLE BY visitor_id;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.visits_mv TO {{db}}.visits AS
SELECT site, toStartOfHour(timestamp) AS hour, visitor_id, session_id,
    sumState(toUInt64(name = 'pageview')) AS pageviews,
    sumState(toUInt64(1)) AS events,
    minState(timestamp) AS first_seen,
    maxState(timestamp) AS last_seen,
    groupArrayIfState(CAST(pathname AS String), name = 'pageview') AS page_paths,
    groupArrayIfState(CAST(pathname AS String), name != 'pageview') AS other_paths,
    argMinIfState(CAST(pathname AS String), timestamp, name = 'pageview') AS s_entry_page,
    argMaxIfState(CAST(pathname AS String), timestamp, name = 'pageview') AS s_exit_page,
    argMinIfState(CAST(hostname AS String), timestamp, name = 'pageview') AS s_entry_hostname,
    argMaxIfState(CAST(hostname AS String), timestamp, name = 'pageview') AS s_exit_hostname,
    argMinState(CAST(referrer_source AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_referrer_source,
    argMinState(CAST(referrer AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_referrer,
    argMinState(CAST(utm_source AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_source,
    argMinState(CAST(utm_medium AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_medium,
    argMinState(CAST(utm_campaign AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_campaign,
    argMinState(CAST(utm_content AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_content,
    argMinState(CAST(utm_term AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_term,
    argMinState(CAST(country_code AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_country_code,
    argMinState(CAST(region_code AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_region_code,
    argMinState(CAST(region AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_region,
    argMinState(CAST(city AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_city,
    argMinState(CAST(channel AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_channel,
    argMinState(CAST(browser AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_browser,
    argMinState(CAST(browser_version AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_browser_version,
    argMinState(CAST(os AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_os,
    argMinState(CAST(os_version AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_os_version,
    argMinState(CAST(device AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_device
FROM {{db}}.events
WHERE name != 'engagement'
GROUP BY site, hour, visitor_id, session_id
