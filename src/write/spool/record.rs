//! The spool's on-disk record format and the reader that finds records in
//! a segment, skipping damage. Separate from the store because it is the
//! part that meets untrusted bytes (a torn or corrupted file): the fuzz
//! target `spool_segment` drives exactly this module.
//!
//! A record is `MAGIC` (4 bytes), the payload length (u32 LE), a CRC-32 of
//! length and payload (u32 LE), then the payload: a [`SpooledBatch`] as JSON.

use super::SpooledBatch;

/// Start of every record.
pub const MAGIC: [u8; 4] = *b"SMSP";
/// Magic + length + checksum.
pub const HEADER_BYTES: usize = 12;
/// Largest payload a reader believes; larger lengths are corruption.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

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
        let mut batch: SpooledBatch = serde_json::from_slice(payload).ok()?;
        // A record written by a collector from before Plausible's names
        // carries the old ones; the stored rows were rewritten by migration
        // 7, and these must land the same.
        for row in &mut batch.rows {
            crate::enrich::useragent::upgrade_legacy_names(
                &mut row.browser,
                &mut row.os,
                &mut row.device,
            );
        }
        Some((end, batch))
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
