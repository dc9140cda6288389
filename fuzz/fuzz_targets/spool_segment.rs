//! The spool segment reader on any bytes: never a panic, always progress,
//! items tile the input, and valid records survive surrounding garbage.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saltmark::write::spool::{encode_record, SegmentItem, SegmentReader, SpooledBatch};

fuzz_target!(|data: &[u8]| {
    let mut expected_offset = 0usize;
    for item in SegmentReader::new(data, 0) {
        let (offset, end) = match item {
            SegmentItem::Record { offset, end, .. } => (offset, end),
            SegmentItem::Corrupt { offset, bytes, .. } => (offset, offset + bytes),
        };
        assert_eq!(offset, expected_offset, "items tile the segment");
        assert!(end > offset && end <= data.len());
        expected_offset = end;
    }
    assert_eq!(expected_offset, data.len());
    // A valid record appended after arbitrary bytes is still read: the
    // last item is a record that ends where the bytes end (normally ours;
    // garbage could only swallow it with a checksum that matches).
    let record = encode_record(&SpooledBatch { batch_id: 7, rows: Vec::new() });
    let mut bytes = data.to_vec();
    bytes.extend_from_slice(&record);
    let last = SegmentReader::new(&bytes, 0).last();
    assert!(
        matches!(last, Some(SegmentItem::Record { end, .. }) if end == bytes.len()),
        "the trailing record is found"
    );
});
