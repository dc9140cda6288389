//! The durable spool: where batches wait on disk while ClickHouse is away.
//!
//! # Why
//! The memory queue (`writer.queue_capacity`) holds a few seconds to minutes
//! of traffic. An outage longer than that used to mean 503s. The spool moves
//! the bound from memory to disk (`spool.max_bytes`): while ClickHouse is
//! unreachable, or the memory queue is full, batches are appended here and
//! replayed, in order, once it answers again. Only a full spool makes ingest
//! answer 503.
//!
//! # Invariants
//! 1. **Append-only, in order.** Records are only ever appended to the newest
//!    segment; a segment is never modified afterwards, only deleted whole once
//!    every record in it is delivered. After a restart a *new* segment is
//!    started, so a torn tail left by a crash is never written after.
//! 2. **A record is a batch with its identity.** Each record is one
//!    [`SpooledBatch`]: a `batch_id` and the rows tagged with it. Replay first
//!    asks ClickHouse which of the batch ids it is about to insert are already
//!    stored (the writer's count-by-`batch_id` check) and inserts only the
//!    others, so a batch whose insert failed ambiguously — or whose delivery
//!    was not yet acknowledged when the process died — is never stored twice.
//! 3. **Only anonymous rows.** Records hold [`EventRow`]s, which have no field
//!    for an IP address or a user agent. Nothing else is written here.
//! 4. **Corruption never blocks.** Every record carries a CRC-32 over its
//!    length and payload. A record that fails the check (bit rot, a torn write
//!    at a crash) is skipped with a warning and counted in
//!    `saltmark_spool_corrupt_records_total`; the reader re-synchronises on the
//!    next valid record. Replay never stops on bad bytes and never panics.
//!    A record counts as valid only when its payload also decodes: a length
//!    and checksum that merely match (garbage crafted or struck by chance)
//!    must not let the reader jump over the real records behind them, so an
//!    undecodable payload is re-scanned byte by byte like any other damage.
//! 5. **Bounded.** The bytes of all segment files (delivered records included,
//!    until their segment is deleted) never exceed `spool.max_bytes`; an
//!    append that would is refused and the caller answers 503.
//! 6. **Delivery position.** `spool/ack` holds the segment and offset of the
//!    first undelivered record. It is replaced atomically (write + rename) and
//!    *not* fsynced: losing it only means replaying delivered records again,
//!    which invariant 2 makes harmless.
//!
//! # On-disk format
//! `data_dir/spool/` holds `lock` (flock: one collector per spool),
//! `ack` (`<segment> <offset>\n`) and segments `<20-digit sequence>.seg`.
//! A segment is a sequence of records:
//!
//! ```text
//! magic  b"SMSP"      4 bytes
//! length u32 LE       4 bytes   payload length (at most 64 MiB)
//! crc32  u32 LE       4 bytes   CRC-32 (IEEE) of the length bytes + payload
//! payload             length bytes: JSON of SpooledBatch {batch_id, rows}
//! ```
//!
//! JSON keeps the format readable with standard tools and tolerant of new
//! row fields (serde defaults); a spool is small next to the table.
//!
//! # What a crash loses
//! - `spool.fsync = "always"`: every append is written and `fdatasync`ed
//!   before it returns, so an event answered 202 while spooling survives
//!   `kill -9` and power loss.
//! - `spool.fsync = "<N>ms"`: appends are buffered in memory and written and
//!   synced every N ms; `kill -9` or power loss loses at most the events
//!   spooled in the last N ms (plus the time one flush takes).
//! - Either way, events still in the *memory* queue (ClickHouse healthy, the
//!   writer's current batch: at most `writer.batch_age_ms` of traffic plus one
//!   insert in flight) are lost by `kill -9`; a graceful stop writes them to
//!   ClickHouse or, if it is away, to the spool.
//! - A torn last record is detected by its checksum and skipped (counted).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::row::EventRow;
use crate::metrics::Metrics;

/// Start of every record.
pub const MAGIC: [u8; 4] = *b"SMSP";
/// Magic + length + checksum.
pub const HEADER_BYTES: usize = 12;
/// Largest payload a reader believes; larger lengths are corruption.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// One record: a batch and its identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpooledBatch {
    /// The batch's identity; every row carries it in `batch_id` too.
    pub batch_id: u64,
    /// The rows, already anonymised.
    pub rows: Vec<EventRow>,
}

/// When appended bytes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Write and `fdatasync` before an append returns.
    Always,
    /// Buffer; write and `fdatasync` on this interval.
    Every(Duration),
}

impl FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "always" {
            return Ok(FsyncPolicy::Always);
        }
        let millis = text
            .strip_suffix("ms")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{text:?} is neither \"always\" nor \"<N>ms\" (N ≥ 1)"))?;
        Ok(FsyncPolicy::Every(Duration::from_millis(millis)))
    }
}

/// Spool settings.
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    /// The spool directory (`data_dir/spool`).
    pub dir: PathBuf,
    /// Upper bound of all segment files together.
    pub max_bytes: u64,
    /// Durability of appends.
    pub fsync: FsyncPolicy,
}

impl SpoolSettings {
    /// A segment is rolled past this size: small enough that a delivered
    /// segment frees space soon, large enough to keep file counts low.
    pub fn segment_bytes(&self) -> u64 {
        (self.max_bytes / 8).clamp(4096, 16 * 1024 * 1024)
    }
}

/// Why an append or read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// `spool.max_bytes` is reached.
    #[error("the spool is full")]
    Full,
    /// Another process holds the spool directory.
    #[error("spool directory {0} is in use by another saltmark process")]
    Locked(PathBuf),
    /// Disk trouble.
    #[error("spool i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes one record (header + payload).
pub fn encode_record(batch: &SpooledBatch) -> Vec<u8> {
    let payload = serde_json::to_vec(batch).expect("rows serialise");
    let len = (payload.len() as u32).to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(&payload);
    let mut record = Vec::with_capacity(HEADER_BYTES + payload.len());
    record.extend_from_slice(&MAGIC);
    record.extend_from_slice(&len);
    record.extend_from_slice(&hasher.finalize().to_le_bytes());
    record.extend_from_slice(&payload);
    record
}

/// What the segment reader finds at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentItem {
    /// A valid record spanning `offset..end`.
    Record {
        /// Where it starts.
        offset: usize,
        /// Where the next one starts.
        end: usize,
        /// The batch.
        batch: SpooledBatch,
    },
    /// Bytes that are not a valid record (checksum, length, payload), skipped.
    Corrupt {
        /// Where the bad bytes start.
        offset: usize,
        /// How many were skipped.
        bytes: usize,
        /// True when they run to the end of the segment (a torn tail).
        tail: bool,
    },
}

/// Reads the records of a segment's bytes; never panics on any input, always
/// makes progress, and re-synchronises after corruption on the next record
/// whose header and checksum are valid.
#[derive(Debug)]
pub struct SegmentReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> SegmentReader<'a> {
    /// Reads `bytes` from `start`.
    pub fn new(bytes: &'a [u8], start: usize) -> Self {
        SegmentReader {
            bytes,
            pos: start.min(bytes.len()),
        }
    }

    /// A valid record at `at`: (end, batch). Valid means magic, length,
    /// checksum *and* a payload that decodes (invariant 4).
    fn record_at(&self, at: usize) -> Option<(usize, SpooledBatch)> {
        let header = self.bytes.get(at..at.checked_add(HEADER_BYTES)?)?;
        if header[0..4] != MAGIC {
            return None;
        }
        let len_bytes: [u8; 4] = header[4..8].try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > MAX_PAYLOAD_BYTES {
            return None;
        }
        let crc = u32::from_le_bytes(header[8..12].try_into().ok()?);
        let end = at + HEADER_BYTES + len;
        let payload = self.bytes.get(at + HEADER_BYTES..end)?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&len_bytes);
        hasher.update(payload);
        if hasher.finalize() != crc {
            return None;
        }
        Some((end, serde_json::from_slice(payload).ok()?))
    }
}

impl Iterator for SegmentReader<'_> {
    type Item = SegmentItem;

    fn next(&mut self) -> Option<SegmentItem> {
        let offset = self.pos;
        if offset >= self.bytes.len() {
            return None;
        }
        match self.record_at(offset) {
            Some((end, batch)) => {
                self.pos = end;
                Some(SegmentItem::Record { offset, end, batch })
            }
            None => {
                let mut next = offset + 1;
                while next < self.bytes.len() {
                    match memchr_magic(&self.bytes[next..]) {
                        Some(found) => {
                            next += found;
                            if self.record_at(next).is_some() {
                                break;
                            }
                            next += 1;
                        }
                        None => next = self.bytes.len(),
                    }
                }
                let next = next.min(self.bytes.len());
                self.pos = next;
                Some(SegmentItem::Corrupt {
                    offset,
                    bytes: next - offset,
                    tail: next == self.bytes.len(),
                })
            }
        }
    }
}

fn memchr_magic(haystack: &[u8]) -> Option<usize> {
    haystack.windows(MAGIC.len()).position(|w| w == MAGIC)
}

/// A position in the spool: segment sequence and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpoolPosition {
    /// Segment sequence number.
    pub segment: u64,
    /// Byte offset in it.
    pub offset: u64,
}

/// Batches read for delivery, and where delivery ends once they are stored.
#[derive(Debug)]
pub struct ReplayChunk {
    /// In spool order.
    pub batches: Vec<SpooledBatch>,
    /// The position after the last of them (pass to [`Spool::ack`]).
    pub end: SpoolPosition,
}

struct Segment {
    seq: u64,
    bytes: u64,
}

struct Inner {
    segments: VecDeque<Segment>,
    /// The segment being appended to (always the last of `segments`).
    writer: Option<BufWriter<File>>,
    read: SpoolPosition,
    records: u64,
    bytes: u64,
    next_seq: u64,
    unsynced: bool,
}

/// The spool; shared by ingest (appends while degraded), the writer (appends
/// failed batches) and the replay task (reads and acknowledges).
pub struct Spool {
    settings: SpoolSettings,
    inner: Mutex<Inner>,
    active: AtomicBool,
    notify: tokio::sync::Notify,
    metrics: Arc<Metrics>,
    _lock: File,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.settings.dir)
            .field("active", &self.is_active())
            .finish()
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

impl Spool {
    /// Opens (or creates) the spool directory, takes its lock, and counts
    /// what is left from before; a restart replays that first.
    pub fn open(settings: SpoolSettings, metrics: Arc<Metrics>) -> Result<Spool, SpoolError> {
        crate::files::private_dir(&settings.dir)?;
        let lock = crate::files::private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(settings.dir.join("lock"))?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        } != 0
        {
            return Err(SpoolError::Locked(settings.dir.clone()));
        }
        let mut seqs: Vec<u64> = std::fs::read_dir(&settings.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse::<u64>()
                    .ok()
            })
            .collect();
        seqs.sort_unstable();
        let ack = std::fs::read_to_string(settings.dir.join("ack"))
            .ok()
            .and_then(|text| {
                let (segment, offset) = text.trim().split_once(' ')?;
                Some(SpoolPosition {
                    segment: segment.parse().ok()?,
                    offset: offset.parse().ok()?,
                })
            });
        let mut segments = VecDeque::new();
        let mut records = 0u64;
        let mut bytes = 0u64;
        for seq in &seqs {
            let path = segment_path(&settings.dir, *seq);
            if ack.is_some_and(|a| a.segment > *seq) {
                std::fs::remove_file(&path)?;
                continue;
            }
            let content = std::fs::read(&path)?;
            let start = match ack {
                Some(a) if a.segment == *seq => a.offset as usize,
                _ => 0,
            };
            records += SegmentReader::new(&content, start)
                .filter(|item| matches!(item, SegmentItem::Record { .. }))
                .count() as u64;
            bytes += content.len() as u64;
            segments.push_back(Segment {
                seq: *seq,
                bytes: content.len() as u64,
            });
        }
        let read = match (ack, segments.front()) {
            (Some(a), Some(first)) if a.segment == first.seq => a,
            (_, Some(first)) => SpoolPosition {
                segment: first.seq,
                offset: 0,
            },
            (_, None) => SpoolPosition {
                segment: 0,
                offset: 0,
            },
        };
        // Never reuse a sequence number the ack file has moved past: its
        // segments count as delivered.
        let next_seq = seqs
            .last()
            .map_or(1, |s| s + 1)
            .max(ack.map_or(1, |a| a.segment));
        if records > 0 {
            tracing::info!(
                records,
                bytes,
                "spool holds undelivered events from before; replaying them first"
            );
        }
        let spool = Spool {
            settings,
            inner: Mutex::new(Inner {
                segments,
                writer: None,
                read,
                records,
                bytes,
                next_seq,
                unsynced: false,
            }),
            active: AtomicBool::new(records > 0),
            notify: tokio::sync::Notify::new(),
            metrics,
            _lock: lock,
        };
        spool.publish(&spool.lock());
        Ok(spool)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, inner: &Inner) {
        self.metrics.spool_bytes.set(inner.bytes as i64);
        self.metrics.spool_records.set(inner.records as i64);
        self.active.store(inner.records > 0, Ordering::SeqCst);
    }

    /// True while undelivered records exist: new events then go behind them
    /// (and `/healthz` reports degraded).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    /// The settings.
    pub fn settings(&self) -> &SpoolSettings {
        &self.settings
    }

    /// Appends one batch; durable per the fsync policy when it returns.
    pub fn append(&self, batch: &SpooledBatch) -> Result<(), SpoolError> {
        let record = encode_record(batch);
        let mut inner = self.lock();
        if inner.bytes + record.len() as u64 > self.settings.max_bytes {
            return Err(SpoolError::Full);
        }
        let roll = match (inner.writer.is_some(), inner.segments.back()) {
            (true, Some(last)) => last.bytes + record.len() as u64 > self.settings.segment_bytes(),
            _ => true,
        };
        if roll {
            self.roll(&mut inner)?;
        }
        let written = {
            let writer = inner.writer.as_mut().expect("rolled");
            writer
                .write_all(&record)
                .and_then(|()| match self.settings.fsync {
                    FsyncPolicy::Always => {
                        writer.flush().and_then(|()| writer.get_ref().sync_data())
                    }
                    FsyncPolicy::Every(_) => Ok(()),
                })
        };
        if let Err(e) = written {
            // The segment may now end in a partial record: never append after
            // it (the reader skips that tail as corrupt).
            inner.writer = None;
            let len = inner
                .segments
                .back()
                .and_then(|s| std::fs::metadata(segment_path(&self.settings.dir, s.seq)).ok())
                .map(|m| m.len());
            if let (Some(len), Some(last)) = (len, inner.segments.back_mut()) {
                let before = last.bytes;
                last.bytes = len;
                inner.bytes = inner.bytes - before + len;
            }
            self.publish(&inner);
            return Err(e.into());
        }
        inner.unsynced = self.settings.fsync != FsyncPolicy::Always;
        inner.records += 1;
        inner.bytes += record.len() as u64;
        if let Some(last) = inner.segments.back_mut() {
            last.bytes += record.len() as u64;
        }
        self.metrics.spool_appended.inc_by(batch.rows.len() as u64);
        self.publish(&inner);
        drop(inner);
        self.notify.notify_one();
        Ok(())
    }

    fn roll(&self, inner: &mut Inner) -> Result<(), SpoolError> {
        if let Some(mut old) = inner.writer.take() {
            old.flush()?;
            old.get_ref().sync_data()?;
        }
        let seq = inner.next_seq;
        let file = crate::files::private_options()
            .create_new(true)
            .append(true)
            .open(segment_path(&self.settings.dir, seq))?;
        if self.settings.fsync == FsyncPolicy::Always {
            File::open(&self.settings.dir)?.sync_all()?;
        }
        inner.next_seq += 1;
        if inner.segments.is_empty() {
            inner.read = SpoolPosition {
                segment: seq,
                offset: 0,
            };
        }
        inner.segments.push_back(Segment { seq, bytes: 0 });
        inner.writer = Some(BufWriter::with_capacity(256 * 1024, file));
        Ok(())
    }

    /// Writes buffered appends and syncs them (the interval policy's tick;
    /// also called at shutdown).
    pub fn sync(&self) -> Result<(), SpoolError> {
        let mut inner = self.lock();
        if !inner.unsynced {
            return Ok(());
        }
        if let Some(writer) = inner.writer.as_mut() {
            writer.flush()?;
            writer.get_ref().sync_data()?;
        }
        inner.unsynced = false;
        Ok(())
    }

    /// Waits until something is appended.
    pub async fn appended(&self) {
        self.notify.notified().await
    }

    /// Reads undelivered batches in order, up to about `max_rows` rows (at
    /// least one batch). Corrupt bytes on the way are skipped, logged and
    /// counted. Empty when everything is delivered.
    pub fn read_next(&self, max_rows: usize) -> Result<ReplayChunk, SpoolError> {
        let mut inner = self.lock();
        if let Some(writer) = inner.writer.as_mut() {
            writer.flush()?;
        }
        let mut batches = Vec::new();
        let mut rows = 0usize;
        loop {
            let read = inner.read;
            let Some(index) = inner.segments.iter().position(|s| s.seq == read.segment) else {
                break;
            };
            let is_last = index + 1 == inner.segments.len();
            let mut content = Vec::new();
            let mut file = File::open(segment_path(&self.settings.dir, read.segment))?;
            file.seek(SeekFrom::Start(read.offset))?;
            file.read_to_end(&mut content)?;
            let mut end = 0usize;
            for item in SegmentReader::new(&content, 0) {
                if !batches.is_empty() && rows >= max_rows {
                    break;
                }
                match item {
                    SegmentItem::Record {
                        end: record_end,
                        batch,
                        ..
                    } => {
                        rows += batch.rows.len();
                        batches.push(batch);
                        end = record_end;
                    }
                    SegmentItem::Corrupt { .. } if !batches.is_empty() => break,
                    SegmentItem::Corrupt {
                        offset,
                        bytes,
                        tail,
                    } => {
                        tracing::warn!(
                            segment = read.segment,
                            offset = read.offset + offset as u64,
                            bytes,
                            torn_tail = tail,
                            "corrupt spool record skipped"
                        );
                        self.metrics.spool_corrupt_records.inc();
                        end = offset + bytes;
                        // Skipped bytes count as delivered: move past them now
                        // so they are reported once.
                        inner.read.offset = read.offset + end as u64;
                    }
                }
            }
            let segment_done = end >= content.len();
            if !batches.is_empty() {
                return Ok(ReplayChunk {
                    batches,
                    end: SpoolPosition {
                        segment: read.segment,
                        offset: read.offset + end as u64,
                    },
                });
            }
            // Nothing valid left in this segment.
            if segment_done && !is_last {
                self.retire_front(&mut inner)?;
                continue;
            }
            if segment_done && is_last {
                // Everything appended is readable here (the buffer was just
                // flushed), so nothing is left to deliver.
                inner.records = 0;
                self.retire_front(&mut inner)?;
            }
            break;
        }
        self.publish(&inner);
        Ok(ReplayChunk {
            batches,
            end: inner.read,
        })
    }

    /// Records that everything before `end` (`batches` batches) is stored.
    pub fn ack(&self, end: SpoolPosition, batches: u64, rows: u64) -> Result<(), SpoolError> {
        let mut inner = self.lock();
        inner.read = end;
        inner.records = inner.records.saturating_sub(batches);
        self.metrics.spool_replayed.inc_by(rows);
        let front_len = inner.segments.front().map(|s| (s.seq, s.bytes));
        if let Some((seq, len)) = front_len {
            let is_last = inner.segments.len() == 1;
            if seq == end.segment && end.offset >= len && (!is_last || inner.records == 0) {
                self.retire_front(&mut inner)?;
            }
        }
        let ack = format!("{} {}\n", inner.read.segment, inner.read.offset);
        let tmp = self.settings.dir.join("ack.tmp");
        crate::files::write_private(&tmp, ack)?;
        std::fs::rename(&tmp, self.settings.dir.join("ack"))?;
        self.publish(&inner);
        Ok(())
    }

    /// Deletes the oldest segment (fully delivered) and moves the read
    /// position to the next one.
    fn retire_front(&self, inner: &mut Inner) -> Result<(), SpoolError> {
        let Some(front) = inner.segments.pop_front() else {
            return Ok(());
        };
        if inner.segments.is_empty() {
            inner.writer = None;
            inner.records = 0;
        }
        std::fs::remove_file(segment_path(&self.settings.dir, front.seq))?;
        inner.bytes = inner.bytes.saturating_sub(front.bytes);
        inner.read = SpoolPosition {
            segment: inner.segments.front().map_or(inner.next_seq, |s| s.seq),
            offset: 0,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs::OpenOptions;

    fn row(seq: u64) -> EventRow {
        EventRow {
            site: "example.com".into(),
            timestamp: 1_700_000_000 + seq as u32,
            name: "pageview".into(),
            pathname: format!("/n/{seq}"),
            batch_id: seq,
            ..EventRow::default()
        }
    }

    fn batch(id: u64, rows: usize) -> SpooledBatch {
        SpooledBatch {
            batch_id: id,
            rows: (0..rows as u64).map(|i| row(id * 1000 + i)).collect(),
        }
    }

    fn settings(dir: &Path, max_bytes: u64, fsync: FsyncPolicy) -> SpoolSettings {
        SpoolSettings {
            dir: dir.join("spool"),
            max_bytes,
            fsync,
        }
    }

    fn open(dir: &Path, max_bytes: u64) -> Spool {
        Spool::open(
            settings(dir, max_bytes, FsyncPolicy::Always),
            Arc::new(Metrics::new()),
        )
        .unwrap()
    }

    /// Reads and acknowledges everything, returning the batch ids in order.
    fn drain(spool: &Spool) -> Vec<u64> {
        let mut ids = Vec::new();
        loop {
            let chunk = spool.read_next(5).unwrap();
            if chunk.batches.is_empty() {
                return ids;
            }
            let rows: usize = chunk.batches.iter().map(|b| b.rows.len()).sum();
            ids.extend(chunk.batches.iter().map(|b| b.batch_id));
            spool
                .ack(chunk.end, chunk.batches.len() as u64, rows as u64)
                .unwrap();
        }
    }

    /// The batch ids of the valid records among `items`.
    fn record_ids(items: &[SegmentItem]) -> Vec<u64> {
        items
            .iter()
            .filter_map(|i| match i {
                SegmentItem::Record { batch, .. } => Some(batch.batch_id),
                _ => None,
            })
            .collect()
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("spool"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn fsync_policy_parses() {
        assert_eq!("always".parse(), Ok(FsyncPolicy::Always));
        assert_eq!(
            "250ms".parse(),
            Ok(FsyncPolicy::Every(Duration::from_millis(250)))
        );
        assert!("0ms".parse::<FsyncPolicy>().is_err());
        assert!("sometimes".parse::<FsyncPolicy>().is_err());
    }

    #[test]
    fn records_round_trip_in_order_and_the_spool_empties() {
        let dir = tempfile::tempdir().unwrap();
        let spool = open(dir.path(), 1 << 20);
        assert!(!spool.is_active());
        for id in 1..=20 {
            spool.append(&batch(id, 3)).unwrap();
        }
        assert!(spool.is_active());
        assert_eq!(drain(&spool), (1..=20).collect::<Vec<_>>());
        assert!(!spool.is_active());
        assert!(
            segments(dir.path()).is_empty(),
            "delivered segments deleted"
        );
    }

    #[test]
    fn restart_replays_what_is_left_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = open(dir.path(), 1 << 20);
            for id in 1..=10 {
                spool.append(&batch(id, 1)).unwrap();
            }
            let chunk = spool.read_next(4).unwrap();
            assert_eq!(chunk.batches.len(), 4);
            spool.ack(chunk.end, 4, 4).unwrap();
        }
        let spool = open(dir.path(), 1 << 20);
        assert!(spool.is_active());
        spool.append(&batch(11, 1)).unwrap();
        assert_eq!(drain(&spool), (5..=11).collect::<Vec<_>>());
    }

    #[test]
    fn a_second_process_cannot_open_the_same_spool() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(dir.path(), 1 << 20);
        let second = Spool::open(
            settings(dir.path(), 1 << 20, FsyncPolicy::Always),
            Arc::new(Metrics::new()),
        );
        assert!(matches!(second, Err(SpoolError::Locked(_))));
    }

    #[test]
    fn full_spool_refuses_and_frees_space_after_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let spool = open(dir.path(), 16 * 1024);
        let mut appended = 0;
        while spool.append(&batch(appended + 1, 2)).is_ok() {
            appended += 1;
        }
        assert!(matches!(
            spool.append(&batch(999, 2)),
            Err(SpoolError::Full)
        ));
        let on_disk: u64 = segments(dir.path())
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(on_disk <= 16 * 1024, "bound kept: {on_disk}");
        assert_eq!(drain(&spool).len() as u64, appended);
        spool.append(&batch(999, 2)).unwrap();
    }

    #[test]
    fn interval_policy_buffers_until_sync() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(
            settings(
                dir.path(),
                1 << 20,
                FsyncPolicy::Every(Duration::from_millis(100)),
            ),
            Arc::new(Metrics::new()),
        )
        .unwrap();
        spool.append(&batch(1, 1)).unwrap();
        let len = |p: &PathBuf| std::fs::metadata(p).unwrap().len();
        assert_eq!(len(&segments(dir.path())[0]), 0, "still buffered");
        spool.sync().unwrap();
        assert!(len(&segments(dir.path())[0]) > 0, "written by the tick");
    }

    #[test]
    fn truncated_segment_tail_is_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = open(dir.path(), 1 << 20);
            for id in 1..=3 {
                spool.append(&batch(id, 2)).unwrap();
            }
        }
        let path = segments(dir.path())[0].clone();
        let len = std::fs::metadata(&path).unwrap().len();
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len - 7).unwrap();
        let metrics = Arc::new(Metrics::new());
        let spool = Spool::open(
            settings(dir.path(), 1 << 20, FsyncPolicy::Always),
            metrics.clone(),
        )
        .unwrap();
        spool.append(&batch(4, 1)).unwrap();
        assert_eq!(drain(&spool), vec![1, 2, 4]);
        assert_eq!(metrics.spool_corrupt_records.get(), 1);
        assert!(!spool.is_active());
    }

    #[test]
    fn bit_flip_is_detected_and_reading_resumes_at_the_next_record() {
        let records: Vec<Vec<u8>> = (1..=3).map(|id| encode_record(&batch(id, 2))).collect();
        let mut bytes = records.concat();
        let flip = records[0].len() + HEADER_BYTES + 10;
        bytes[flip] ^= 0x04;
        let items: Vec<SegmentItem> = SegmentReader::new(&bytes, 0).collect();
        let ids = record_ids(&items);
        assert_eq!(ids, vec![1, 3]);
        assert!(items.iter().any(|i| matches!(
            i,
            SegmentItem::Corrupt { offset, bytes, tail: false }
                if *offset == records[0].len() && *bytes == records[1].len()
        )));
        // Also through the spool: a flipped bit in a segment file.
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = open(dir.path(), 1 << 20);
            for id in 1..=3 {
                spool.append(&batch(id, 2)).unwrap();
            }
        }
        let path = segments(dir.path())[0].clone();
        let mut content = std::fs::read(&path).unwrap();
        content[flip] ^= 0x04;
        std::fs::write(&path, content).unwrap();
        let metrics = Arc::new(Metrics::new());
        let spool = Spool::open(
            settings(dir.path(), 1 << 20, FsyncPolicy::Always),
            metrics.clone(),
        )
        .unwrap();
        assert_eq!(drain(&spool), vec![1, 3]);
        assert_eq!(metrics.spool_corrupt_records.get(), 1);
    }

    /// Found by the spool_segment fuzz target (seed-crc-valid-garbage): a
    /// length and checksum that match over bytes that are not a batch once
    /// made the reader skip everything they covered, real records included.
    #[test]
    fn checksum_valid_garbage_does_not_swallow_the_records_behind_it() {
        let one = encode_record(&batch(1, 1));
        let two = encode_record(&batch(2, 1));
        let mut payload = b"\x00not a batch".to_vec();
        payload.extend_from_slice(&two);
        let len = (payload.len() as u32).to_le_bytes();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&len);
        hasher.update(&payload);
        let mut bytes = one.clone();
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&len);
        bytes.extend_from_slice(&hasher.finalize().to_le_bytes());
        bytes.extend_from_slice(&payload);
        let items: Vec<SegmentItem> = SegmentReader::new(&bytes, 0).collect();
        let ids = record_ids(&items);
        assert_eq!(ids, vec![1, 2]);
        assert!(matches!(
            items.last(),
            Some(SegmentItem::Record { end, .. }) if *end == bytes.len()
        ));
    }

    #[test]
    fn garbage_only_segment_never_blocks_replay() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("spool")).unwrap();
        std::fs::write(
            dir.path().join("spool").join(format!("{:020}.seg", 1)),
            b"SMSP\xff\xff\xff\xffgarbageSMSPSMSP",
        )
        .unwrap();
        let spool = open(dir.path(), 1 << 20);
        spool.append(&batch(7, 1)).unwrap();
        assert_eq!(drain(&spool), vec![7]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append(usize),
        Deliver(usize),
        Restart,
        Sync,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1usize..4).prop_map(Op::Append),
            2 => (1usize..8).prop_map(Op::Deliver),
            1 => Just(Op::Restart),
            1 => Just(Op::Sync),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The model: a FIFO of batch ids. Whatever is appended is delivered
        /// exactly once, in order, across restarts and segment rolls.
        #[test]
        fn what_goes_in_comes_out_once_in_order(
            ops in proptest::collection::vec(op(), 1..60),
            interval in proptest::bool::ANY,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let policy = if interval { FsyncPolicy::Every(Duration::from_millis(5)) } else { FsyncPolicy::Always };
            let reopen = || Spool::open(settings(dir.path(), 8192, policy), Arc::new(Metrics::new())).unwrap();
            let mut spool = reopen();
            let mut next_id = 1u64;
            let mut model: VecDeque<u64> = VecDeque::new();
            let mut delivered = Vec::new();
            let mut expected = Vec::new();
            for op in ops {
                match op {
                    Op::Append(rows) => match spool.append(&batch(next_id, rows)) {
                        Ok(()) => { model.push_back(next_id); expected.push(next_id); next_id += 1; }
                        Err(SpoolError::Full) => {}
                        Err(e) => panic!("{e}"),
                    },
                    Op::Deliver(rows) => {
                        let chunk = spool.read_next(rows).unwrap();
                        let n = chunk.batches.len() as u64;
                        for b in &chunk.batches {
                            prop_assert_eq!(Some(b.batch_id), model.pop_front());
                            delivered.push(b.batch_id);
                        }
                        let rows: usize = chunk.batches.iter().map(|b| b.rows.len()).sum();
                        spool.ack(chunk.end, n, rows as u64).unwrap();
                    }
                    Op::Restart => {
                        spool.sync().unwrap();
                        drop(spool);
                        spool = reopen();
                    }
                    Op::Sync => spool.sync().unwrap(),
                }
                prop_assert_eq!(spool.is_active(), !model.is_empty());
            }
            delivered.extend(drain(&spool));
            prop_assert_eq!(delivered, expected);
            prop_assert!(!spool.is_active());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Torn tails (a crash mid-append, modelled by cutting 1..35 bytes, less than the smallest record,
        /// off the newest segment) and arbitrary batch sizes: reading never
        /// fails or stalls, what comes out is in order and at most once,
        /// and each tear loses at most the one record it cut.
        #[test]
        fn torn_tails_lose_at_most_the_torn_record(
            ops in proptest::collection::vec(
                prop_oneof![
                    4 => (0usize..6).prop_map(|rows| (0u8, rows)),
                    2 => (1usize..8).prop_map(|rows| (1u8, rows)),
                    1 => (1usize..36).prop_map(|cut| (2u8, cut)),
                ],
                1..50,
            ),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let reopen = || Spool::open(settings(dir.path(), 1 << 20, FsyncPolicy::Always), Arc::new(Metrics::new())).unwrap();
            let mut spool = reopen();
            let mut next_id = 1u64;
            let mut appended = Vec::new();
            let mut delivered = Vec::new();
            let mut tears = 0usize;
            for (kind, n) in ops {
                match kind {
                    0 => {
                        spool.append(&batch(next_id, n)).unwrap();
                        appended.push(next_id);
                        next_id += 1;
                    }
                    1 => {
                        let chunk = spool.read_next(n).unwrap();
                        let rows: usize = chunk.batches.iter().map(|b| b.rows.len()).sum();
                        delivered.extend(chunk.batches.iter().map(|b| b.batch_id));
                        spool.ack(chunk.end, chunk.batches.len() as u64, rows as u64).unwrap();
                    }
                    _ => {
                        drop(spool);
                        if let Some(newest) = segments(dir.path()).into_iter().rev()
                            .find(|p| std::fs::metadata(p).unwrap().len() > 0)
                        {
                            let len = std::fs::metadata(&newest).unwrap().len();
                            let file = OpenOptions::new().write(true).open(&newest).unwrap();
                            file.set_len(len.saturating_sub(n as u64)).unwrap();
                            tears += 1;
                        }
                        spool = reopen();
                    }
                }
            }
            delivered.extend(drain(&spool));
            prop_assert!(delivered.windows(2).all(|w| w[0] < w[1]), "in order, at most once: {:?}", delivered);
            prop_assert!(delivered.iter().all(|id| appended.contains(id)));
            prop_assert!(appended.len() - delivered.len() <= tears, "lost {} with {} tears", appended.len() - delivered.len(), tears);
            prop_assert!(!spool.is_active());
        }
    }
}
