-- Imported aggregates: another tool's history (Plausible's CSV export),
-- kept apart from `events` and never mixed into them (see src/imports/mod.rs
-- for the design). One row is one row of one of Plausible's files: `kind`
-- names the file (visitors, sources, pages, entry_pages, exit_pages,
-- custom_events, locations, devices, browsers, operating_systems); the
-- columns that file does not have stay empty or 0. Every row carries its
-- import's id, so an import is listed and removed as a whole.
-- Aggregates per day only: no visitor, visit or address, nothing that
-- identifies a person. Expiry deletes the days past the site's retention,
-- and a site erasure deletes the site's rows, as with events.
CREATE TABLE IF NOT EXISTS {{db}}.imported (
    site String,
    import_id UInt64,
    imported_at DateTime,
    source_file String,
    kind String,
    date Date,
    hostname String,
    page String,
    entry_page String,
    exit_page String,
    source String,
    referrer String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_content String,
    utm_term String,
    country String,
    region String,
    city UInt64,
    device String,
    browser String,
    browser_version String,
    os String,
    os_version String,
    name String,
    link_url String,
    path String,
    visitors UInt64,
    visits UInt64,
    pageviews UInt64,
    bounces UInt64,
    visit_duration UInt64,
    entrances UInt64,
    exits UInt64,
    events UInt64,
    pageleave_visitors UInt64
) ENGINE = MergeTree
PARTITION BY toYear(date)
ORDER BY (site, kind, date, import_id)
