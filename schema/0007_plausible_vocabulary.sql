-- Plausible's vocabulary in the data (a report built for Plausible filters
-- on these exact strings):
--   * region_code: the ISO 3166-2 code of the first subdivision ("GB-ENG"),
--     beside `region`, which keeps its English name for visit:region_name.
--     Rows stored before this column get it from the region backfill that
--     runs after the migrations (`store::backfill`).
--   * channel: the acquisition channel of the event's visit ("Organic
--     Search", "Direct", …), classified at ingest by Plausible's rules.
--   * click_id: which ad click id the page URL carried ("gclid",
--     "msclkid", …) or empty. Only the parameter's name is kept, never its
--     value: the value identifies one click, and so one person.
-- Rows stored before these columns, and with the names saltmark stored
-- before it adopted Plausible's, are brought up to date once, after the
-- migrations, by `store::backfill` (only where such rows exist: on 18.16
-- every mutation rewrites whole parts).
ALTER TABLE {{db}}.events ADD COLUMN {{if_not_exists}} region_code {{lc}} DEFAULT '';
ALTER TABLE {{db}}.events ADD COLUMN {{if_not_exists}} channel {{lc}} DEFAULT '';
ALTER TABLE {{db}}.events ADD COLUMN {{if_not_exists}} click_id {{lc}} DEFAULT ''
