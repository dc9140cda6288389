//! Plausible's CSV export, read and written: its ten files, their names
//! (`imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv`, or without the
//! `imported_` prefix) and their columns, as Plausible CE's "Export data"
//! writes them and its CSV importer reads them.
//!
//! Files are matched to a table by name; inside, columns are matched by the
//! header, so the order does not matter and columns a newer or older
//! Plausible adds (time on page, scroll depth) are passed over. A table's
//! dimension columns, `date` and `visitors` must be there; its other
//! counts are 0 when missing. Every row's date must lie in the range the
//! file's name gives.

use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ImportsError;

/// One of Plausible's export tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Visitors, visits, page views, bounces and duration per day.
    Visitors,
    /// The same per source, referrer and UTM tags.
    Sources,
    /// Visitors, visits and page views per page.
    Pages,
    /// Entrances, bounces and duration per entry page.
    EntryPages,
    /// Exits per exit page.
    ExitPages,
    /// Visitors and events per custom event (name, link and path).
    CustomEvents,
    /// Per country, region and city (a GeoNames id).
    Locations,
    /// Per device.
    Devices,
    /// Per browser and version.
    Browsers,
    /// Per operating system and version.
    OperatingSystems,
}

impl Kind {
    /// Every table, in the order an export writes them.
    pub const ALL: [Kind; 10] = [
        Kind::Visitors,
        Kind::Sources,
        Kind::Pages,
        Kind::EntryPages,
        Kind::ExitPages,
        Kind::CustomEvents,
        Kind::Locations,
        Kind::Devices,
        Kind::Browsers,
        Kind::OperatingSystems,
    ];

    /// The name stored in `imported.kind` (the file's name without
    /// `imported_`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Visitors => "visitors",
            Kind::Sources => "sources",
            Kind::Pages => "pages",
            Kind::EntryPages => "entry_pages",
            Kind::ExitPages => "exit_pages",
            Kind::CustomEvents => "custom_events",
            Kind::Locations => "locations",
            Kind::Devices => "devices",
            Kind::Browsers => "browsers",
            Kind::OperatingSystems => "operating_systems",
        }
    }

    /// The table's dimension columns, as the CSV header names them.
    pub fn dimensions(self) -> &'static [&'static str] {
        match self {
            Kind::Visitors => &[],
            Kind::Sources => &[
                "source",
                "referrer",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_content",
                "utm_term",
            ],
            Kind::Pages => &["hostname", "page"],
            Kind::EntryPages => &["entry_page"],
            Kind::ExitPages => &["exit_page"],
            Kind::CustomEvents => &["name", "link_url", "path"],
            Kind::Locations => &["country", "region", "city"],
            Kind::Devices => &["device"],
            Kind::Browsers => &["browser", "browser_version"],
            Kind::OperatingSystems => &["operating_system", "operating_system_version"],
        }
    }

    /// The table's counts, in Plausible's column order.
    pub fn counts(self) -> &'static [&'static str] {
        match self {
            Kind::Visitors => &[
                "visitors",
                "pageviews",
                "bounces",
                "visits",
                "visit_duration",
            ],
            Kind::Sources => &[
                "pageviews",
                "visitors",
                "visits",
                "visit_duration",
                "bounces",
            ],
            Kind::Pages => &["visits", "visitors", "pageviews", "pageleave_visitors"],
            Kind::EntryPages => &[
                "visitors",
                "entrances",
                "visit_duration",
                "bounces",
                "pageviews",
            ],
            Kind::ExitPages => &[
                "visitors",
                "visit_duration",
                "exits",
                "bounces",
                "pageviews",
            ],
            Kind::CustomEvents => &["visitors", "events"],
            Kind::Locations | Kind::Devices | Kind::Browsers | Kind::OperatingSystems => &[
                "visitors",
                "visits",
                "visit_duration",
                "bounces",
                "pageviews",
            ],
        }
    }

    /// The columns a file of this table must have.
    fn required(self) -> impl Iterator<Item = &'static str> {
        ["date", "visitors"]
            .into_iter()
            .chain(self.dimensions().iter().copied())
    }

    /// The table of a file's name stem (`imported_` optional) or of a
    /// stored `kind`.
    pub(super) fn from_stem(stem: &str) -> Option<Kind> {
        let stem = stem.strip_prefix("imported_").unwrap_or(stem);
        Kind::ALL.into_iter().find(|k| k.name() == stem)
    }
}

/// One stored row of `imported` (one row of one of Plausible's files).
/// The columns a file does not have stay empty or 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct ImportedRow {
    /// The site it is stored under.
    pub site: String,
    /// The import it came with.
    pub import_id: u64,
    /// When it was imported (Unix seconds).
    pub imported_at: u32,
    /// The file it came from.
    pub source_file: String,
    /// The table ([`Kind::name`]).
    pub kind: String,
    /// The day (days since 1970-01-01, ClickHouse's `Date`).
    pub date: u16,
    /// The page's host (pages).
    pub hostname: String,
    /// The page (pages).
    pub page: String,
    /// The entry page (entry pages).
    pub entry_page: String,
    /// The exit page (exit pages).
    pub exit_page: String,
    /// The referrer's source (sources).
    pub source: String,
    /// The referrer (sources).
    pub referrer: String,
    /// UTM tags (sources).
    pub utm_source: String,
    /// …
    pub utm_medium: String,
    /// …
    pub utm_campaign: String,
    /// …
    pub utm_content: String,
    /// …
    pub utm_term: String,
    /// ISO country code (locations).
    pub country: String,
    /// ISO 3166-2 region code (locations).
    pub region: String,
    /// GeoNames city id (locations).
    pub city: u64,
    /// Device (devices).
    pub device: String,
    /// Browser (browsers).
    pub browser: String,
    /// Its version.
    pub browser_version: String,
    /// Operating system (operating systems).
    pub os: String,
    /// Its version.
    pub os_version: String,
    /// Custom event name (custom events).
    pub name: String,
    /// Outbound or file link of the event (custom events).
    pub link_url: String,
    /// Page of the event (custom events: 404s).
    pub path: String,
    /// Unique visitors that day.
    pub visitors: u64,
    /// Visits.
    pub visits: u64,
    /// Page views.
    pub pageviews: u64,
    /// Visits of one page view.
    pub bounces: u64,
    /// Total seconds of the visits.
    pub visit_duration: u64,
    /// Visits that entered here (entry pages).
    pub entrances: u64,
    /// Visits that left here (exit pages).
    pub exits: u64,
    /// Events (custom events).
    pub events: u64,
    /// Visitors that left the page with an engagement (pages).
    pub pageleave_visitors: u64,
}

impl ImportedRow {
    /// The row's day.
    pub fn day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
            + chrono::Days::new(u64::from(self.date))
    }

    /// A text column by its CSV name (`None` for a count or an unknown name).
    fn text_mut(&mut self, column: &str) -> Option<&mut String> {
        Some(match column {
            "hostname" => &mut self.hostname,
            "page" => &mut self.page,
            "entry_page" => &mut self.entry_page,
            "exit_page" => &mut self.exit_page,
            "source" => &mut self.source,
            "referrer" => &mut self.referrer,
            "utm_source" => &mut self.utm_source,
            "utm_medium" => &mut self.utm_medium,
            "utm_campaign" => &mut self.utm_campaign,
            "utm_content" => &mut self.utm_content,
            "utm_term" => &mut self.utm_term,
            "country" => &mut self.country,
            "region" => &mut self.region,
            "device" => &mut self.device,
            "browser" => &mut self.browser,
            "browser_version" => &mut self.browser_version,
            "operating_system" => &mut self.os,
            "operating_system_version" => &mut self.os_version,
            "name" => &mut self.name,
            "link_url" => &mut self.link_url,
            "path" => &mut self.path,
            _ => return None,
        })
    }

    /// A count column by its CSV name (`city`, an id, among them).
    fn count_mut(&mut self, column: &str) -> Option<&mut u64> {
        Some(match column {
            "city" => &mut self.city,
            "visitors" => &mut self.visitors,
            "visits" => &mut self.visits,
            "pageviews" => &mut self.pageviews,
            "bounces" => &mut self.bounces,
            "visit_duration" => &mut self.visit_duration,
            "entrances" => &mut self.entrances,
            "exits" => &mut self.exits,
            "events" => &mut self.events,
            "pageleave_visitors" => &mut self.pageleave_visitors,
            _ => return None,
        })
    }

    /// Sets a column from its CSV text (`date` as `YYYY-MM-DD`, counts
    /// as whole numbers, blank counts 0); unknown columns are an error.
    pub fn set_column(&mut self, column: &str, value: &str) -> Result<(), String> {
        if column == "date" {
            let day = NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map_err(|_| "not a date (YYYY-MM-DD)".to_string())?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
            self.date = u16::try_from((day - epoch).num_days())
                .map_err(|_| "outside ClickHouse's Date range".to_string())?;
        } else if let Some(text) = self.text_mut(column) {
            *text = value.to_string();
        } else if let Some(count) = self.count_mut(column) {
            *count = if value.is_empty() {
                0
            } else {
                value
                    .parse()
                    .map_err(|_| "not a whole number".to_string())?
            };
        } else {
            return Err(format!("no column {column:?}"));
        }
        Ok(())
    }

    /// A column's value as the CSV writes it.
    pub fn value_of(&self, column: &str) -> String {
        if column == "date" {
            return self.day().format("%Y-%m-%d").to_string();
        }
        let mut copy = self.clone();
        if let Some(text) = copy.text_mut(column) {
            return std::mem::take(text);
        }
        copy.count_mut(column)
            .map_or(String::new(), |n| n.to_string())
    }
}

/// The most a file of an export may hold once decompressed: a zip bomb is
/// an error, not an exhausted machine (Plausible's largest tables hold a row
/// per day and value; 1 GiB is millions of rows).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A file of an export: its name (without directories) and its bytes.
#[derive(Debug, Clone)]
pub struct ExportFile {
    /// The file name.
    pub name: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Reads an export: a zip archive, or a directory of CSV files. Files that
/// are not CSV are passed over (an archive may carry a read-me).
pub fn read_export(path: &Path) -> Result<Vec<ExportFile>, ImportsError> {
    let shown = path.display().to_string();
    let io = |source| ImportsError::Io {
        path: shown.clone(),
        source,
    };
    let mut files = Vec::new();
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(io)?
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".csv") && entry.path().is_file() {
                if entry.metadata().map_err(io)?.len() > MAX_FILE_BYTES {
                    return Err(ImportsError::File {
                        file: name,
                        message: format!("larger than {MAX_FILE_BYTES} bytes"),
                    });
                }
                let bytes = std::fs::read(entry.path()).map_err(io)?;
                files.push(ExportFile { name, bytes });
            }
        }
    } else {
        let zip_error = |source| ImportsError::Zip {
            path: shown.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(zip_error)?;
            if !entry.is_file() {
                continue;
            }
            let name = entry
                .name()
                .map_err(zip_error)?
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if !name.ends_with(".csv") {
                continue;
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(io)?;
            if bytes.len() as u64 > MAX_FILE_BYTES {
                return Err(ImportsError::File {
                    file: name,
                    message: format!("larger than {MAX_FILE_BYTES} bytes once unpacked"),
                });
            }
            files.push(ExportFile { name, bytes });
        }
    }
    if files.is_empty() {
        return Err(ImportsError::Empty(shown));
    }
    Ok(files)
}

/// A file's table and date range, from its name.
pub fn parse_file_name(name: &str) -> Option<(Kind, NaiveDate, NaiveDate)> {
    let stem = name.strip_suffix(".csv")?;
    let mut parts = stem.rsplitn(3, '_');
    let last = parts.next()?;
    let first = parts.next()?;
    let kind = Kind::from_stem(parts.next()?)?;
    let date = |s: &str| {
        (s.len() == 8)
            .then(|| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
            .flatten()
    };
    let (first, last) = (date(first)?, date(last)?);
    (first <= last).then_some((kind, first, last))
}

/// The file name of a table's rows over `[first, last]`, as Plausible
/// names it.
pub fn file_name(kind: Kind, first: NaiveDate, last: NaiveDate) -> String {
    format!(
        "imported_{}_{}_{}.csv",
        kind.name(),
        first.format("%Y%m%d"),
        last.format("%Y%m%d")
    )
}

/// Every row of an export's files, checked; `site`, `import_id` and
/// `imported_at` are left for the caller.
pub fn parse_export(files: &[ExportFile]) -> Result<Vec<ImportedRow>, ImportsError> {
    let mut rows = Vec::new();
    for file in files {
        rows.extend(parse_file(file)?);
    }
    Ok(rows)
}

fn parse_file(file: &ExportFile) -> Result<Vec<ImportedRow>, ImportsError> {
    let fail = |message: String| ImportsError::File {
        file: file.name.clone(),
        message,
    };
    let (kind, first, last) = parse_file_name(&file.name).ok_or_else(|| {
        fail(
            "not a Plausible export file name (imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv, \
             the table one of visitors, sources, pages, entry_pages, exit_pages, custom_events, \
             locations, devices, browsers, operating_systems)"
                .into(),
        )
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file.bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| fail(format!("line 1: unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    for required in kind.required() {
        if !header.iter().any(|h| h == required) {
            return Err(fail(format!(
                "line 1: no column {required:?} (a {} file has {})",
                kind.name(),
                kind.required().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let known = |column: &str| {
        column == "date" || kind.dimensions().contains(&column) || kind.counts().contains(&column)
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            fail(format!("line {line}: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let mut row = ImportedRow {
            kind: kind.name().to_string(),
            source_file: file.name.clone(),
            ..ImportedRow::default()
        };
        for (column, value) in header.iter().zip(record.iter()) {
            if !known(column) {
                continue;
            }
            row.set_column(column, value).map_err(|what| {
                fail(format!("line {line}, column {column:?}: {what}: {value:?}"))
            })?;
            if column == "date" && (row.day() < first || row.day() > last) {
                return Err(fail(format!(
                    "line {line}, column \"date\": outside the file's range {first} – {last}: {value:?}"
                )));
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> ExportFile {
        ExportFile {
            name: name.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn names_give_the_table_and_range() {
        let (kind, first, last) =
            parse_file_name("imported_entry_pages_20230101_20231231.csv").unwrap();
        assert_eq!(kind, Kind::EntryPages);
        assert_eq!(first.to_string(), "2023-01-01");
        assert_eq!(last.to_string(), "2023-12-31");
        assert_eq!(
            parse_file_name("devices_20230101_20230102.csv").unwrap().0,
            Kind::Devices
        );
        assert!(parse_file_name("imported_things_20230101_20230102.csv").is_none());
        assert!(parse_file_name("imported_devices_20230102_20230101.csv").is_none());
        assert!(parse_file_name("imported_devices.csv").is_none());
        assert_eq!(
            file_name(Kind::OperatingSystems, first, last),
            "imported_operating_systems_20230101_20231231.csv"
        );
    }

    #[test]
    fn columns_are_read_by_header_and_unknown_ones_passed_over() {
        let rows = parse_export(&[file(
            "imported_pages_20230101_20230131.csv",
            "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n\
             2023-01-02,example.com,\"/a,b\",3,2,5,,1\n",
        )])
        .unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(
            (row.page.as_str(), row.visits, row.visitors, row.pageviews),
            ("/a,b", 3, 2, 5)
        );
        assert_eq!(row.day().to_string(), "2023-01-02");
        assert_eq!(row.kind, "pages");
        assert_eq!(row.value_of("date"), "2023-01-02");
        assert_eq!(row.value_of("visitors"), "2");
    }

    #[test]
    fn bad_values_name_the_file_line_and_column() {
        let error = parse_export(&[file(
            "imported_visitors_20230101_20230131.csv",
            "date,visitors,pageviews,bounces,visits,visit_duration\n\
             2023-01-01,1,1,0,1,10\n2023-01-02,x,1,0,1,10\n",
        )])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("imported_visitors_20230101_20230131.csv"),
            "{error}"
        );
        assert!(error.contains("line 3"), "{error}");
        assert!(error.contains("\"visitors\""), "{error}");
        let outside = parse_export(&[file(
            "imported_visitors_20230101_20230131.csv",
            "date,visitors\n2023-02-01,1\n",
        )])
        .unwrap_err()
        .to_string();
        assert!(outside.contains("outside the file's range"), "{outside}");
        let missing = parse_export(&[file(
            "imported_sources_20230101_20230131.csv",
            "date,visitors\n",
        )])
        .unwrap_err()
        .to_string();
        assert!(missing.contains("no column \"source\""), "{missing}");
    }
}
