//! The write-ahead spool: every accepted event is here before its 202.
//!
//! # Why
//! An event answered 202 must reach ClickHouse exactly once, whatever
//! happens next: an outage, a stall, a restart, `kill -9`, power loss. A
//! queue in memory loses its contents on a crash — with ClickHouse healthy,
//! a `kill -9` once lost the writer's unsent batch (105 of 710 accepted
//! events). So every accepted event is appended here first, and the writer
//! delivers from here; a record is dropped only once ClickHouse has stored
//! it. This is how vector's disk buffer acknowledges.
//!
//! # Invariants
//! 1. **Append-only, in order.** Records are only ever appended to the newest
//!    segment; a segment is never modified afterwards, only deleted whole once
//!    every record in it is delivered. After a restart a *new* segment is
//!    started, so a torn tail left by a crash is never written after.
//! 2. **A record is a request with its identity.** Each record is one
//!    [`SpooledBatch`]: the rows of one accepted request (one per site it
//!    named) and a random `batch_id` that every one of them carries. The
//!    writer inserts many records at once; before inserting anything that
//!    may already be stored (a retry, or anything replayed after a restart)
//!    it asks ClickHouse which of those batch ids are there and inserts only
//!    the others, so nothing is stored twice.
//! 3. **Durable before the answer.** `spool.fsync = "always"`: the ingest
//!    path waits until the record is `fdatasync`ed ([`Spool::durable`])
//!    before it answers 202. Syncs are grouped: one sync thread writes and
//!    syncs whatever all requests appended meanwhile, so a thousand
//!    concurrent events cost one `fdatasync`, not a thousand.
//!    `"<N>ms"`: the sync thread writes and syncs every N ms and nobody
//!    waits; a crash loses at most the events of the last N ms (plus one
//!    sync's duration).
//! 4. **Memory holds only a cache.** The newest records are also kept in
//!    memory (up to `writer.queue_capacity` rows), so in the steady state
//!    the writer never reads the disk. While ClickHouse is away the cache
//!    fills; later records are on disk only, and the writer reads them back
//!    from the segments once it has caught up with the cache. With
//!    `spool.max_bytes = 0` there is no disk: the cache is the queue, and a
//!    crash loses it.
//! 5. **Only anonymous rows.** Records hold [`EventRow`]s, which have no field
//!    for an IP address or a user agent. Nothing else is written here.
//! 6. **Corruption never blocks.** Every record carries a CRC-32 over its
//!    length and payload. A record that fails the check (bit rot, a torn write
//!    at a crash) is skipped with a warning and counted in
//!    `saltmark_spool_corrupt_records_total`; the reader re-synchronises on the
//!    next valid record. Replay never stops on bad bytes and never panics.
//!    A record counts as valid only when its payload also decodes: a length
//!    and checksum that merely match (garbage crafted or struck by chance)
//!    must not let the reader jump over the real records behind them, so an
//!    undecodable payload is re-scanned byte by byte like any other damage.
//! 7. **Bounded.** The bytes of all segment files (delivered records included,
//!    until their segment is deleted) never exceed `spool.max_bytes`; an
//!    append that would is refused and ingest answers 503.
//! 8. **Delivery position.** `spool/ack` holds the segment and offset of the
//!    first undelivered record. It is replaced atomically (write + rename) and
//!    *not* fsynced: losing it only means replaying delivered records again,
//!    which invariant 2 makes harmless.
//!
//! # On-disk format
//! `data_dir/spool/` (mode 0700) holds `lock` (flock: one collector per
//! spool), `ack` (`<segment> <offset>\n`) and segments `<20-digit
//! sequence>.seg` (0600). A segment is a sequence of records:
//!
//! ```text
//! magic  b"SMSP"      4 bytes
//! length u32 LE       4 bytes   payload length (at most 64 MiB)
//! crc32  u32 LE       4 bytes   CRC-32 (IEEE) of the length bytes + payload
//! payload             length bytes: JSON of SpooledBatch {batch_id, rows}
//! ```
//!
//! JSON keeps the format readable with standard tools and tolerant of new
//! row fields (serde defaults).
//!
//! # What a crash loses
//! - `always`: nothing that was answered 202 (`kill -9` and power loss).
//! - `<N>ms`: at most the events accepted in the last N ms.
//! - `spool.max_bytes = 0`: everything not yet inserted.
//! - A torn last record is detected by its checksum and skipped (counted).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

mod record;

pub use record::{
    encode_record, SegmentItem, SegmentReader, HEADER_BYTES, MAGIC, MAX_PAYLOAD_BYTES,
};

use crate::metrics::Metrics;
use crate::write::row::EventRow;

/// One record: a batch and its identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpooledBatch {
    /// The batch's identity; every row carries it in `batch_id` too.
    pub batch_id: u64,
    /// The rows, already anonymised.
    pub rows: Vec<EventRow>,
}

pub use crate::config::FsyncPolicy;

/// Spool settings.
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    /// The spool directory (`data_dir/spool`); `None`: memory only.
    pub dir: Option<PathBuf>,
    /// Upper bound of all segment files together.
    pub max_bytes: u64,
    /// Durability of appends.
    pub fsync: FsyncPolicy,
    /// Rows kept in memory for the writer (`writer.queue_capacity`); in
    /// memory-only mode, the bound of the whole queue.
    pub memory_rows: usize,
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
    /// `spool.max_bytes` (or, without a disk, the memory bound) is reached.
    #[error("the spool is full")]
    Full,
    /// The collector is shutting down: nothing more is accepted.
    #[error("the spool is closed")]
    Closed,
    /// A sync failed: what was appended may not be on disk, so nothing
    /// more is accepted (the operator must look at the disk).
    #[error("the spool could not sync to disk; refusing events")]
    SyncFailed,
    /// Another process holds the spool directory.
    #[error("spool directory {0} is in use by another saltmark process")]
    Locked(PathBuf),
    /// Disk trouble.
    #[error("spool i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A position in the spool: segment sequence and byte offset (in
/// memory-only mode, segment 0 and the record count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SpoolPosition {
    /// Segment sequence number.
    pub segment: u64,
    /// Byte offset in it.
    pub offset: u64,
}

/// Records handed to the writer, and where delivery ends once they are stored.
#[derive(Debug)]
pub struct ReplayChunk {
    /// In spool order.
    pub batches: Vec<SpooledBatch>,
    /// The position after the last of them (pass to [`Spool::ack`]).
    pub end: SpoolPosition,
    /// Read back from the segments (after an outage, or after a restart).
    pub from_disk: bool,
    /// Written by an earlier run of the collector, which may have stored
    /// some of it before it stopped: the writer checks first.
    pub from_earlier_run: bool,
}

/// Whether the writer has something to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Nothing is waiting.
    Empty,
    /// A batch is ready (full, old enough, or a backlog on disk).
    Ready,
    /// Records wait, but the batch is neither full nor old: until then.
    At(Instant),
}

struct Segment {
    seq: u64,
    bytes: u64,
}

/// A segment file shared by the appender (through a `BufWriter`) and the
/// sync thread (which `fdatasync`s it without holding the spool's lock).
struct SharedFile(Arc<File>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        (&*self.0).flush()
    }
}

struct Cached {
    arrived: Instant,
    end: SpoolPosition,
    batch: SpooledBatch,
}

struct Inner {
    segments: VecDeque<Segment>,
    /// Appends go here (always the last of `segments`).
    writer: Option<BufWriter<SharedFile>>,
    /// The file behind `writer`, for the sync thread.
    current: Option<Arc<File>>,
    /// After the last appended record.
    end: SpoolPosition,
    /// The next record to hand to the writer.
    cursor: SpoolPosition,
    /// The first record not yet stored.
    acked: SpoolPosition,
    /// Records from `cursor` on, as long as they fit in memory.
    cache: VecDeque<Cached>,
    cache_rows: usize,
    /// Whether `cache` holds every record from `cursor` to `end`; false
    /// while a backlog exists only on disk.
    cache_complete: bool,
    /// Records appended and not yet acknowledged, and their rows.
    pending_records: u64,
    pending_rows: u64,
    bytes: u64,
    next_seq: u64,
    /// The end of what an earlier run left: records before it may be
    /// stored already.
    earlier_run_end: SpoolPosition,
    /// Appends so far (the group-commit sequence) and how many are synced.
    written: u64,
    synced: u64,
    stopping: bool,
}

/// The spool; shared by ingest (appends), the writer (reads, acknowledges)
/// and its sync thread.
pub struct Spool {
    settings: SpoolSettings,
    inner: Mutex<Inner>,
    /// Wakes the sync thread.
    sync_wanted: Condvar,
    /// Wakes the writer.
    appended: tokio::sync::Notify,
    /// The group-commit sequence known durable.
    synced: tokio::sync::watch::Sender<u64>,
    backlogged: AtomicBool,
    closed: AtomicBool,
    sync_failed: AtomicBool,
    metrics: Arc<Metrics>,
    _lock: Option<File>,
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
    /// what is left from before; that is delivered first. The sync thread
    /// is started by [`Spool::start_sync`].
    pub fn open(settings: SpoolSettings, metrics: Arc<Metrics>) -> Result<Spool, SpoolError> {
        let mut inner = Inner {
            segments: VecDeque::new(),
            writer: None,
            current: None,
            end: SpoolPosition::default(),
            cursor: SpoolPosition::default(),
            acked: SpoolPosition::default(),
            cache: VecDeque::new(),
            cache_rows: 0,
            cache_complete: true,
            pending_records: 0,
            pending_rows: 0,
            bytes: 0,
            next_seq: 1,
            earlier_run_end: SpoolPosition::default(),
            written: 0,
            synced: 0,
            stopping: false,
        };
        let lock = match &settings.dir {
            None => None,
            Some(dir) => Some(Self::open_dir(dir, &mut inner)?),
        };
        let (synced, _) = tokio::sync::watch::channel(0);
        let spool = Spool {
            settings,
            inner: Mutex::new(inner),
            sync_wanted: Condvar::new(),
            appended: tokio::sync::Notify::new(),
            synced,
            backlogged: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            sync_failed: AtomicBool::new(false),
            metrics,
            _lock: lock,
        };
        spool.publish(&spool.lock());
        Ok(spool)
    }

    /// Locks the directory and reads what is left in it into `inner`.
    fn open_dir(dir: &Path, inner: &mut Inner) -> Result<File, SpoolError> {
        crate::files::private_dir(dir)?;
        let lock = crate::files::private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        } != 0
        {
            return Err(SpoolError::Locked(dir.to_path_buf()));
        }
        let mut seqs: Vec<u64> = std::fs::read_dir(dir)?
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
        let ack = std::fs::read_to_string(dir.join("ack"))
            .ok()
            .and_then(|text| {
                let (segment, offset) = text.trim().split_once(' ')?;
                Some(SpoolPosition {
                    segment: segment.parse().ok()?,
                    offset: offset.parse().ok()?,
                })
            });
        for seq in &seqs {
            let path = segment_path(dir, *seq);
            if ack.is_some_and(|a| a.segment > *seq) {
                std::fs::remove_file(&path)?;
                continue;
            }
            let content = std::fs::read(&path)?;
            let start = match ack {
                Some(a) if a.segment == *seq => a.offset as usize,
                _ => 0,
            };
            for item in SegmentReader::new(&content, start) {
                if let SegmentItem::Record { batch, .. } = item {
                    inner.pending_records += 1;
                    inner.pending_rows += batch.rows.len() as u64;
                }
            }
            inner.bytes += content.len() as u64;
            inner.segments.push_back(Segment {
                seq: *seq,
                bytes: content.len() as u64,
            });
        }
        let start = match (ack, inner.segments.front()) {
            (Some(a), Some(first)) if a.segment == first.seq => a,
            (_, Some(first)) => SpoolPosition {
                segment: first.seq,
                offset: 0,
            },
            (_, None) => SpoolPosition::default(),
        };
        inner.acked = start;
        inner.cursor = start;
        inner.end = inner.segments.back().map_or(start, |last| SpoolPosition {
            segment: last.seq,
            offset: last.bytes,
        });
        inner.cache_complete = inner.pending_records == 0;
        inner.earlier_run_end = inner.end;
        // Never reuse a sequence number the ack file has moved past: its
        // segments count as delivered.
        inner.next_seq = seqs
            .last()
            .map_or(1, |s| s + 1)
            .max(ack.map_or(1, |a| a.segment));
        if inner.pending_records > 0 {
            tracing::info!(
                records = inner.pending_records,
                bytes = inner.bytes,
                "spool holds undelivered events from before; delivering them first"
            );
        }
        Ok(lock)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, inner: &Inner) {
        self.metrics.spool_bytes.set(inner.bytes as i64);
        self.metrics.spool_records.set(inner.pending_records as i64);
        self.metrics.queue_depth.set(inner.pending_rows as i64);
        self.backlogged
            .store(!inner.cache_complete, Ordering::SeqCst);
    }

    /// True while undelivered records exist.
    pub fn is_active(&self) -> bool {
        self.lock().pending_records > 0
    }

    /// True while some undelivered records are on disk only (ClickHouse
    /// has been away longer than the memory cache holds): `/healthz` then
    /// reports degraded.
    pub fn is_backlogged(&self) -> bool {
        self.backlogged.load(Ordering::SeqCst)
    }

    /// The settings.
    pub fn settings(&self) -> &SpoolSettings {
        &self.settings
    }

    /// Appends one request's rows; returns its group-commit sequence for
    /// [`Spool::durable`]. With a disk, the record is in the segment (in
    /// the write buffer until the sync thread writes and syncs it).
    pub fn append(&self, batch: SpooledBatch) -> Result<u64, SpoolError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(SpoolError::Closed);
        }
        if self.sync_failed.load(Ordering::SeqCst) {
            return Err(SpoolError::SyncFailed);
        }
        let rows = batch.rows.len();
        let record = self.settings.dir.is_some().then(|| encode_record(&batch));
        let mut inner = self.lock();
        let end = match (&self.settings.dir, &record) {
            (Some(_), Some(record)) => self.write_record(&mut inner, record)?,
            _ => {
                if inner.cache_rows + rows > self.settings.memory_rows {
                    return Err(SpoolError::Full);
                }
                SpoolPosition {
                    segment: 0,
                    offset: inner.end.offset + 1,
                }
            }
        };
        inner.end = end;
        inner.written += 1;
        let seq = inner.written;
        if inner.cache_complete && inner.cache_rows + rows <= self.settings.memory_rows {
            inner.cache_rows += rows;
            inner.cache.push_back(Cached {
                arrived: Instant::now(),
                end,
                batch,
            });
        } else {
            inner.cache_complete = false;
        }
        inner.pending_records += 1;
        inner.pending_rows += rows as u64;
        if self.settings.dir.is_some() {
            self.metrics.spool_appended.inc_by(rows as u64);
        }
        self.publish(&inner);
        drop(inner);
        if self.settings.fsync == FsyncPolicy::Always {
            self.sync_wanted.notify_one();
        }
        self.appended.notify_one();
        Ok(seq)
    }

    /// Writes `record` into the current segment (rolling first if it is
    /// full); returns the position after it.
    fn write_record(&self, inner: &mut Inner, record: &[u8]) -> Result<SpoolPosition, SpoolError> {
        if inner.bytes + record.len() as u64 > self.settings.max_bytes {
            return Err(SpoolError::Full);
        }
        let roll = match (inner.writer.is_some(), inner.segments.back()) {
            (true, Some(last)) => last.bytes + record.len() as u64 > self.settings.segment_bytes(),
            _ => true,
        };
        if roll {
            self.roll(inner)?;
        }
        let written = inner.writer.as_mut().expect("rolled").write_all(record);
        if let Err(e) = written {
            // The segment may now end in a partial record: never append
            // after it (the reader skips that tail as corrupt).
            inner.writer = None;
            inner.current = None;
            let dir = self.settings.dir.as_deref().expect("a disk spool");
            let len = inner
                .segments
                .back()
                .and_then(|s| std::fs::metadata(segment_path(dir, s.seq)).ok())
                .map(|m| m.len());
            if let (Some(len), Some(last)) = (len, inner.segments.back_mut()) {
                let before = last.bytes;
                last.bytes = len;
                inner.bytes = inner.bytes - before + len;
            }
            self.publish(inner);
            return Err(e.into());
        }
        inner.bytes += record.len() as u64;
        let last = inner.segments.back_mut().expect("a segment");
        last.bytes += record.len() as u64;
        Ok(SpoolPosition {
            segment: last.seq,
            offset: last.bytes,
        })
    }

    fn roll(&self, inner: &mut Inner) -> Result<(), SpoolError> {
        let dir = self.settings.dir.as_deref().expect("a disk spool");
        if let Some(mut old) = inner.writer.take() {
            // Whatever was appended to the old segment is made durable
            // here: the sync thread only ever syncs the current one.
            old.flush()?;
            old.get_ref().0.sync_data()?;
        }
        let seq = inner.next_seq;
        let file = crate::files::private_options()
            .create_new(true)
            .append(true)
            .open(segment_path(dir, seq))?;
        if self.settings.fsync == FsyncPolicy::Always {
            File::open(dir)?.sync_all()?;
        }
        inner.next_seq += 1;
        if inner.segments.is_empty() {
            let start = SpoolPosition {
                segment: seq,
                offset: 0,
            };
            inner.acked = start;
            inner.cursor = start;
            inner.end = start;
        }
        inner.segments.push_back(Segment { seq, bytes: 0 });
        let file = Arc::new(file);
        inner.current = Some(file.clone());
        inner.writer = Some(BufWriter::with_capacity(256 * 1024, SharedFile(file)));
        Ok(())
    }

    /// Waits until append `seq` is on disk per the fsync policy: with
    /// `always`, until the sync thread has synced it; otherwise at once.
    pub async fn durable(&self, seq: u64) -> Result<(), SpoolError> {
        if self.settings.dir.is_none() || self.settings.fsync != FsyncPolicy::Always {
            return Ok(());
        }
        let mut synced = self.synced.subscribe();
        let reached = synced.wait_for(|done| *done >= seq).await.is_ok();
        if reached && !self.sync_failed.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(SpoolError::SyncFailed)
        }
    }

    /// Starts the sync thread (disk mode only); it ends after [`Spool::close`]
    /// with a last write and sync.
    pub fn start_sync(self: &Arc<Self>) -> Option<std::thread::JoinHandle<()>> {
        self.settings.dir.as_ref()?;
        let spool = self.clone();
        std::thread::Builder::new()
            .name("spool-sync".into())
            .spawn(move || spool.sync_loop())
            .ok()
    }

    /// The group commit: write out and `fdatasync` everything appended
    /// since the last round, in one go, then tell the waiters.
    fn sync_loop(&self) {
        loop {
            let (target, file, last) = {
                let mut inner = self.lock();
                loop {
                    if inner.written > inner.synced || inner.stopping {
                        break;
                    }
                    inner = match self.settings.fsync {
                        FsyncPolicy::Always => self
                            .sync_wanted
                            .wait(inner)
                            .unwrap_or_else(|p| p.into_inner()),
                        FsyncPolicy::Every(every) => {
                            self.sync_wanted
                                .wait_timeout(inner, every)
                                .unwrap_or_else(|p| p.into_inner())
                                .0
                        }
                    };
                }
                let flushed = inner.writer.as_mut().map_or(Ok(()), |w| w.flush());
                if let Err(e) = flushed {
                    tracing::error!(error = %e, "spool write failed");
                    self.sync_failed.store(true, Ordering::SeqCst);
                }
                (inner.written, inner.current.clone(), inner.stopping)
            };
            if let Some(file) = file {
                if let Err(e) = file.sync_data() {
                    tracing::error!(error = %e, "spool fdatasync failed; refusing events");
                    self.sync_failed.store(true, Ordering::SeqCst);
                }
            }
            self.lock().synced = target;
            self.synced.send_replace(target);
            if last && self.lock().written == target {
                return;
            }
            if let FsyncPolicy::Every(every) = self.settings.fsync {
                // At most one sync per interval.
                let inner = self.lock();
                if !inner.stopping {
                    drop(
                        self.sync_wanted
                            .wait_timeout(inner, every)
                            .unwrap_or_else(|p| p.into_inner()),
                    );
                }
            }
        }
    }

    /// Writes buffered appends and syncs them now (shutdown, tests).
    pub fn sync(&self) -> Result<(), SpoolError> {
        let (target, file) = {
            let mut inner = self.lock();
            if let Some(writer) = inner.writer.as_mut() {
                writer.flush()?;
            }
            (inner.written, inner.current.clone())
        };
        if let Some(file) = file {
            file.sync_data()?;
        }
        self.lock().synced = target;
        self.synced.send_replace(target);
        Ok(())
    }

    /// Refuses further appends and lets the sync thread finish.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.lock().stopping = true;
        self.sync_wanted.notify_all();
    }

    /// Waits until something is appended.
    pub async fn appended(&self) {
        self.appended.notified().await
    }

    /// Whether a batch of `batch_rows` (or one `batch_age` old) is ready.
    pub fn readiness(&self, batch_rows: usize, batch_age: Duration) -> Readiness {
        let inner = self.lock();
        if inner.cursor >= inner.end && inner.cache.is_empty() {
            return Readiness::Empty;
        }
        if !inner.cache_complete || inner.cache_rows >= batch_rows {
            return Readiness::Ready;
        }
        match inner.cache.front() {
            Some(first) if first.arrived.elapsed() < batch_age => {
                Readiness::At(first.arrived + batch_age)
            }
            Some(_) => Readiness::Ready,
            None => Readiness::Empty,
        }
    }

    /// The next undelivered records, up to about `max_rows` rows (at least
    /// one record): from memory, or from the segments while a backlog is on
    /// disk only. Corrupt bytes on the way are skipped, logged and counted.
    /// Empty when nothing waits.
    pub fn read_next(&self, max_rows: usize) -> Result<ReplayChunk, SpoolError> {
        let mut inner = self.lock();
        if !inner.cache.is_empty() {
            let mut batches = Vec::new();
            let mut rows = 0usize;
            let mut end = inner.cursor;
            while let Some(next) = inner.cache.front() {
                if !batches.is_empty() && rows + next.batch.rows.len() > max_rows {
                    break;
                }
                let next = inner.cache.pop_front().expect("front exists");
                rows += next.batch.rows.len();
                inner.cache_rows -= next.batch.rows.len();
                end = next.end;
                batches.push(next.batch);
            }
            inner.cursor = end;
            return Ok(ReplayChunk {
                batches,
                end,
                from_disk: false,
                from_earlier_run: false,
            });
        }
        if inner.cache_complete || self.settings.dir.is_none() {
            let end = inner.cursor;
            return Ok(ReplayChunk {
                batches: Vec::new(),
                end,
                from_disk: false,
                from_earlier_run: false,
            });
        }
        let chunk = self.read_disk(&mut inner, max_rows)?;
        if inner.cursor >= inner.end {
            // Caught up: from here on the cache has every new record.
            inner.cache_complete = true;
        }
        if !chunk.batches.is_empty() {
            let rows: usize = chunk.batches.iter().map(|b| b.rows.len()).sum();
            self.metrics.spool_replayed.inc_by(rows as u64);
        }
        self.publish(&inner);
        Ok(chunk)
    }

    /// Reads records from `cursor` on from the segment files.
    fn read_disk(&self, inner: &mut Inner, max_rows: usize) -> Result<ReplayChunk, SpoolError> {
        let dir = self.settings.dir.as_deref().expect("a disk spool");
        if let Some(writer) = inner.writer.as_mut() {
            writer.flush()?;
        }
        let mut batches = Vec::new();
        let mut rows = 0usize;
        let from_earlier_run = inner.cursor < inner.earlier_run_end;
        loop {
            let cursor = inner.cursor;
            let Some(index) = inner.segments.iter().position(|s| s.seq == cursor.segment) else {
                break;
            };
            let is_last = index + 1 == inner.segments.len();
            let mut content = Vec::new();
            let mut file = File::open(segment_path(dir, cursor.segment))?;
            file.seek(SeekFrom::Start(cursor.offset))?;
            file.read_to_end(&mut content)?;
            let mut consumed = 0usize;
            for item in SegmentReader::new(&content, 0) {
                if !batches.is_empty() && rows >= max_rows {
                    break;
                }
                match item {
                    SegmentItem::Record { end, batch, .. } => {
                        rows += batch.rows.len();
                        batches.push(batch);
                        consumed = end;
                    }
                    SegmentItem::Corrupt { .. } if !batches.is_empty() => break,
                    SegmentItem::Corrupt {
                        offset,
                        bytes,
                        tail,
                    } => {
                        tracing::warn!(
                            segment = cursor.segment,
                            offset = cursor.offset + offset as u64,
                            bytes,
                            torn_tail = tail,
                            "corrupt spool record skipped"
                        );
                        self.metrics.spool_corrupt_records.inc();
                        consumed = offset + bytes;
                    }
                }
            }
            inner.cursor.offset = cursor.offset + consumed as u64;
            if !batches.is_empty() {
                break;
            }
            if consumed >= content.len() && !is_last {
                // Nothing valid left here: on to the next segment.
                inner.cursor = SpoolPosition {
                    segment: inner.segments[index + 1].seq,
                    offset: 0,
                };
                continue;
            }
            break;
        }
        if batches.is_empty() {
            // Only corrupt bytes were left: they count as delivered.
            let at = inner.cursor;
            inner.acked = inner.acked.max(at);
            inner.pending_records = 0;
            inner.pending_rows = 0;
            inner.end = inner.end.max(at);
        }
        Ok(ReplayChunk {
            batches,
            end: inner.cursor,
            from_disk: true,
            from_earlier_run,
        })
    }

    /// Records that everything before `end` (`records` records, `rows`
    /// rows) is stored: fully delivered segments are deleted.
    pub fn ack(&self, end: SpoolPosition, records: u64, rows: u64) -> Result<(), SpoolError> {
        let mut inner = self.lock();
        inner.acked = end;
        inner.pending_records = inner.pending_records.saturating_sub(records);
        inner.pending_rows = inner.pending_rows.saturating_sub(rows);
        if let Some(dir) = self.settings.dir.clone() {
            self.retire_delivered(&mut inner, &dir)?;
            let ack = format!("{} {}\n", inner.acked.segment, inner.acked.offset);
            let tmp = dir.join("ack.tmp");
            crate::files::write_private(&tmp, ack)?;
            std::fs::rename(&tmp, dir.join("ack"))?;
        }
        self.publish(&inner);
        Ok(())
    }

    /// Deletes every segment whose records are all delivered, the current
    /// one included (the next append starts a new one).
    fn retire_delivered(&self, inner: &mut Inner, dir: &Path) -> Result<(), SpoolError> {
        while let Some(front) = inner.segments.front() {
            let (seq, bytes) = (front.seq, front.bytes);
            let is_last = inner.segments.len() == 1;
            let delivered = inner.acked.segment > seq
                || (inner.acked.segment == seq && inner.acked.offset >= bytes);
            if !delivered {
                break;
            }
            if is_last {
                // The current segment goes too once everything in it is
                // delivered: a delivered event leaves no trace on disk.
                if inner.pending_records > 0 || inner.cursor < inner.end {
                    break;
                }
                inner.writer = None;
                inner.current = None;
            }
            inner.segments.pop_front();
            std::fs::remove_file(segment_path(dir, seq))?;
            inner.bytes = inner.bytes.saturating_sub(bytes);
            if let Some(next) = inner.segments.front() {
                let start = SpoolPosition {
                    segment: next.seq,
                    offset: 0,
                };
                inner.acked = inner.acked.max(start);
                inner.cursor = inner.cursor.max(start);
            } else {
                let start = SpoolPosition {
                    segment: inner.next_seq,
                    offset: 0,
                };
                inner.acked = start;
                inner.cursor = start;
                inner.end = start;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
