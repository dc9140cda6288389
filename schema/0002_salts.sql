-- The daily visitor-hash salts, shared by every collector of a database.
-- One partition per UTC day, so destroying a salt is an instant
-- `ALTER TABLE salts DROP PARTITION '<day>'`, not a lazy mutation.
-- Several rows for one day can exist when collectors race at first start;
-- everybody uses the smallest salt of the day, so they all agree.
CREATE TABLE IF NOT EXISTS {{db}}.salts (
    day Date,
    salt String,
    created DateTime
) ENGINE = MergeTree
PARTITION BY day
ORDER BY (day, salt)
