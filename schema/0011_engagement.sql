-- Engagement: how long a page view was looked at and how far it was
-- scrolled, as Plausible's tracker reports it in `engagement` events (sent
-- when a page is hidden or left). Those rows stay in `events`, so expiry,
-- erasure and the privacy scans cover them like every other row, and carry
-- their measures here; every other row has 0 in both. Queries leave the
-- rows out of page views, events, visits and custom events.
--   * scroll_depth: deepest scroll of the page view, percent; 255 where the
--     tracker did not say.
--   * engagement_time: engaged milliseconds since the page view's previous
--     engagement event (a delta: the page view's total is the sum).
ALTER TABLE {{db}}.events ADD COLUMN {{if_not_exists}} scroll_depth UInt8 DEFAULT 0;
ALTER TABLE {{db}}.events ADD COLUMN {{if_not_exists}} engagement_time UInt32 DEFAULT 0
