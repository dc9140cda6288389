//! Bringing rows stored by an older saltmark up to Plausible's vocabulary,
//! once, right after migration 7 added the columns (recorded as migration
//! [`VERSION`] in `schema_migrations`).
//!
//! Design:
//! - Three steps, each a single mutation of the events table, and each
//!   issued only when some row needs it: on 18.16 a mutation rewrites every
//!   part it touches, so a database without old rows pays nothing.
//!   1. names: the device, OS and browser names stored before Plausible's
//!      (`enrich::useragent::LEGACY_*_NAMES`) are rewritten;
//!   2. regions: `region_code` from the stored country and English region
//!      name, by the same table ingest uses (`enrich::geo::iso`);
//!   3. channels: `channel` from the stored source and UTM tags, by the
//!      same classifier ingest uses (`enrich::channel`).
//! - Steps 2 and 3 read the distinct inputs from ClickHouse, compute the
//!   answers in Rust and send them back as the two arrays of a `transform`,
//!   so the rules live in one place. At most [`MAX_KEYS`] distinct inputs
//!   are mapped; rows beyond that keep an empty value (answered `(not set)`
//!   for regions, and counted in the log line).
//! - Every value reaches the statement as a bound value.
//! - Rows a spool replays after the upgrade are upgraded as they are read
//!   (`write::spool::record`); new rows are written with the new names.

use super::sql::{Param, Sql};
use super::{Store, StoreError};
use crate::enrich::channel::{classify, ChannelInput};
use crate::enrich::useragent::{LEGACY_BROWSER_NAMES, LEGACY_DEVICE_NAMES, LEGACY_OS_NAMES};

/// The number this step is recorded under in `schema_migrations`.
pub const VERSION: u32 = 8;
/// Its name there.
pub const NAME: &str = "plausible_vocabulary_backfill";
/// Most distinct inputs one step maps.
pub const MAX_KEYS: usize = 50_000;

/// Separates the parts of a key: ingest strips control characters from
/// every stored text, so no stored value contains it.
pub const SEPARATOR: &str = "\u{1}";
/// [`SEPARATOR`] as a ClickHouse string literal's escape.
const SEPARATOR_SQL: &str = "\\x01";

/// What the backfill changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backfilled {
    /// Whether old names were rewritten.
    pub names: bool,
    /// Distinct (country, region) pairs given a code.
    pub regions: usize,
    /// Distinct (source, utm tags) inputs given a channel.
    pub channels: usize,
}

/// Runs the three steps (see the module comment).
#[tracing::instrument(skip_all, fields(database = store.database()))]
pub async fn run(store: &Store) -> Result<Backfilled, StoreError> {
    let mut done = Backfilled::default();
    let table = store.events_storage();
    let on_cluster = store.on_cluster();

    // 1. Names.
    let old_rows: u64 = legacy_names_count()
        .query(store.client())
        .fetch_one()
        .await?;
    if old_rows > 0 {
        legacy_names_update(table, &on_cluster)
            .query(store.client())
            .execute()
            .await?;
        done.names = true;
        tracing::info!(
            rows = old_rows,
            "stored device, OS and browser names upgraded"
        );
    }

    // 2. Region codes.
    let pairs: Vec<(String, String)> = region_inputs().query(store.client()).fetch_all().await?;
    let (keys, codes): (Vec<String>, Vec<String>) = pairs
        .iter()
        .filter_map(|(country, region)| {
            let code = crate::enrich::geo::iso::region_code(country, region)?;
            Some((format!("{country}{SEPARATOR}{region}"), code.to_string()))
        })
        .unzip();
    if !keys.is_empty() {
        region_update(table, &on_cluster, &keys, &codes)
            .query(store.client())
            .execute()
            .await?;
        done.regions = keys.len();
        tracing::info!(
            pairs = keys.len(),
            of = pairs.len(),
            "region codes backfilled"
        );
    }

    // 3. Channels.
    let inputs: Vec<(String, String, String, String)> =
        channel_inputs().query(store.client()).fetch_all().await?;
    let (keys, channels): (Vec<String>, Vec<String>) = inputs
        .iter()
        .map(|(source, utm_source, utm_medium, utm_campaign)| {
            let channel = classify(&ChannelInput {
                source,
                utm_source,
                utm_medium,
                utm_campaign,
                click_id: None,
            });
            (
                [source, utm_source, utm_medium, utm_campaign]
                    .map(String::as_str)
                    .join(SEPARATOR),
                channel.as_str().to_string(),
            )
        })
        .unzip();
    if !keys.is_empty() {
        channel_update(table, &on_cluster, &keys, &channels)
            .query(store.client())
            .execute()
            .await?;
        done.channels = keys.len();
        tracing::info!(inputs = keys.len(), "channels backfilled");
    }
    Ok(done)
}

/// The columns whose stored names changed, with their old → new tables.
const RENAMED: [(&str, &[(&str, &str)]); 3] = [
    ("device", LEGACY_DEVICE_NAMES),
    ("os", LEGACY_OS_NAMES),
    ("browser", LEGACY_BROWSER_NAMES),
];

fn olds(names: &[(&str, &str)]) -> Vec<String> {
    names.iter().map(|(old, _)| old.to_string()).collect()
}

fn news(names: &[(&str, &str)]) -> Vec<String> {
    names.iter().map(|(_, new)| new.to_string()).collect()
}

/// `device IN (old names) OR os IN (…) OR browser IN (…)`.
fn any_legacy_name() -> Sql {
    Sql::join(
        RENAMED
            .iter()
            .map(|(column, names)| Sql::has_str(&olds(names), &format!("toString({column})")))
            .collect(),
        " OR ",
    )
}

/// How many rows carry an old name.
pub fn legacy_names_count() -> Sql {
    let mut sql = Sql::raw("SELECT count() FROM events WHERE ");
    sql.push(any_legacy_name());
    sql
}

/// The mutation that renames them.
pub fn legacy_names_update(table: &str, on_cluster: &str) -> Sql {
    let mut update = Sql::raw(format!("ALTER TABLE {table}{on_cluster} UPDATE "));
    for (i, (column, names)) in RENAMED.iter().enumerate() {
        if i > 0 {
            update.text.push_str(", ");
        }
        update.push(Sql::new(
            format!("{column} = transform(toString({column}), ?, ?, toString({column}))"),
            vec![Param::Strs(olds(names)), Param::Strs(news(names))],
        ));
    }
    update.text.push_str(" WHERE ");
    update.push(any_legacy_name());
    update
}

/// The mutation that sets `region_code` from `keys` (country, SEPARATOR,
/// region name) to `codes`.
pub fn region_update(table: &str, on_cluster: &str, keys: &[String], codes: &[String]) -> Sql {
    let key = format!("concat(toString(country_code), '{SEPARATOR_SQL}', toString(region))");
    let mut update = Sql::new(
        format!(
            "ALTER TABLE {table}{on_cluster} UPDATE region_code = transform({key}, ?, ?, '') \
             WHERE region_code = '' AND "
        ),
        vec![Param::Strs(keys.to_vec()), Param::Strs(codes.to_vec())],
    );
    update.push(Sql::has_str(keys, &key));
    update
}

/// The mutation that sets `channel` from `keys` (source and the three UTM
/// tags, SEPARATOR between) to `channels`.
pub fn channel_update(table: &str, on_cluster: &str, keys: &[String], channels: &[String]) -> Sql {
    let key = format!(
        "concat(referrer_source, '{SEPARATOR_SQL}', toString(utm_source), '{SEPARATOR_SQL}', \
         toString(utm_medium), '{SEPARATOR_SQL}', toString(utm_campaign))"
    );
    let mut update = Sql::new(
        format!(
            "ALTER TABLE {table}{on_cluster} UPDATE channel = transform({key}, ?, ?, '') \
             WHERE channel = '' AND "
        ),
        vec![Param::Strs(keys.to_vec()), Param::Strs(channels.to_vec())],
    );
    update.push(Sql::has_str(keys, &key));
    update
}

/// The distinct (country, region name) pairs of rows without a region code.
pub fn region_inputs() -> Sql {
    Sql::raw(format!(
        "SELECT DISTINCT toString(country_code), toString(region) FROM events \
         WHERE region_code = '' AND region != '' AND country_code != '' LIMIT {MAX_KEYS}"
    ))
}

/// The distinct (source, utm_source, utm_medium, utm_campaign) of rows
/// without a channel.
pub fn channel_inputs() -> Sql {
    Sql::raw(format!(
        "SELECT DISTINCT referrer_source, toString(utm_source), toString(utm_medium), \
         toString(utm_campaign) FROM events WHERE channel = '' LIMIT {MAX_KEYS}"
    ))
}
