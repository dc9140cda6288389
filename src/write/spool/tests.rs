//! The spool's model and crash tests.

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
        dir: Some(dir.join("spool")),
        max_bytes,
        fsync,
        memory_rows: 1_000,
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
        spool.append(batch(id, 3)).unwrap();
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
            spool.append(batch(id, 1)).unwrap();
        }
        let chunk = spool.read_next(4).unwrap();
        assert_eq!(chunk.batches.len(), 4);
        spool.ack(chunk.end, 4, 4).unwrap();
    }
    let spool = open(dir.path(), 1 << 20);
    assert!(spool.is_active());
    spool.append(batch(11, 1)).unwrap();
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
    while spool.append(batch(appended + 1, 2)).is_ok() {
        appended += 1;
    }
    assert!(matches!(spool.append(batch(999, 2)), Err(SpoolError::Full)));
    let on_disk: u64 = segments(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(on_disk <= 16 * 1024, "bound kept: {on_disk}");
    assert_eq!(drain(&spool).len() as u64, appended);
    spool.append(batch(999, 2)).unwrap();
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
    spool.append(batch(1, 1)).unwrap();
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
            spool.append(batch(id, 2)).unwrap();
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
    spool.append(batch(4, 1)).unwrap();
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
            spool.append(batch(id, 2)).unwrap();
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
    spool.append(batch(7, 1)).unwrap();
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
                Op::Append(rows) => match spool.append(batch(next_id, rows)) {
                    Ok(_) => { model.push_back(next_id); expected.push(next_id); next_id += 1; }
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
                    spool.append(batch(next_id, n)).unwrap();
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

/// A record written by a collector from before Plausible's names is read
/// with the new ones (the stored rows were renamed by the backfill), and a
/// record from before the region, channel and click-id columns still reads.
#[test]
fn records_from_before_plausibles_vocabulary_read_with_its_names() {
    let mut legacy = row(1);
    legacy.device = "desktop".into();
    legacy.os = "macOS".into();
    legacy.browser = "Edge".into();
    let mut json = serde_json::to_value(SpooledBatch {
        batch_id: 1,
        rows: vec![legacy],
    })
    .unwrap();
    for column in ["region_code", "channel", "click_id"] {
        json["rows"][0].as_object_mut().unwrap().remove(column);
    }
    let payload = serde_json::to_vec(&json).unwrap();
    let len = (payload.len() as u32).to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(&payload);
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&len);
    bytes.extend_from_slice(&hasher.finalize().to_le_bytes());
    bytes.extend_from_slice(&payload);
    let items: Vec<SegmentItem> = SegmentReader::new(&bytes, 0).collect();
    let [SegmentItem::Record { batch, .. }] = items.as_slice() else {
        panic!("one record expected: {items:?}");
    };
    let read = &batch.rows[0];
    assert_eq!(
        (
            read.device.as_str(),
            read.os.as_str(),
            read.browser.as_str()
        ),
        ("Desktop", "Mac", "Microsoft Edge")
    );
    assert_eq!(read.region_code, "");
}
