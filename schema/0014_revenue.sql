-- Revenue: what an event said it earned, as Plausible's tracker sends it
-- (`revenue` / `$`: an amount and an ISO 4217 currency). Kept in thousandths
-- of the currency's unit (Plausible's precision; no float rounding), with
-- the currency as sent: saltmark has no exchange rates, so an amount is
-- only ever added to amounts of the same currency. 0 and '' on every row
-- without revenue. The stats API counts it for events of revenue goals
-- (goals with a currency) only.
ALTER TABLE {{db}}.events ADD COLUMN {{if_not_exists}} revenue_milli Int64 DEFAULT 0;
ALTER TABLE {{db}}.events ADD COLUMN {{if_not_exists}} revenue_currency String DEFAULT ''
