-- One row per accepted event. Nothing here identifies a person: visitor_id and
-- session_id are keyed hashes whose keys (salts) are destroyed after 48 hours.
-- {{lc}} is LowCardinality(String) on servers that have it, String on 18.16;
-- {{events_ttl}} is a TTL clause on servers that have TTL, empty on 18.16
-- (the expiry job enforces retention everywhere).
CREATE TABLE IF NOT EXISTS {{db}}.events (
    site {{lc}},
    timestamp DateTime,
    name {{lc}},
    pathname String,
    hostname {{lc}},
    referrer String,
    referrer_source {{lc}},
    utm_source {{lc}},
    utm_medium {{lc}},
    utm_campaign {{lc}},
    utm_content String,
    utm_term String,
    country_code {{lc}},
    region {{lc}},
    city {{lc}},
    browser {{lc}},
    browser_version {{lc}},
    os {{lc}},
    os_version {{lc}},
    device {{lc}},
    visitor_id UInt64,
    session_id UInt64,
    prop_keys Array(String),
    prop_values Array(String),
    batch_id UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (site, toDate(timestamp), name, visitor_id, timestamp)
SAMPLE BY visitor_id
{{events_ttl}}
SETTINGS index_granularity = 8192
