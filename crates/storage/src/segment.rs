//! Reading one segment file back: its records in order, and where valid data ends. Damage at the very end of the
//! newest segment is a torn write (the process died mid-append) and is cut off; damage anywhere else means the
//! disk or someone changed acknowledged data, and is an error that names the file and offset. "At the very end"
//! is checked, not assumed: a crash leaves no whole record behind the one it tore, so damage followed by a valid
//! record (a flipped length that makes a record look cut short, say) is an error too. Zeros after the last
//! record of the newest segment are its unwritten end (the log makes the file longer ahead of its records), not
//! damage.

use super::codec::{self, Frame, Record, HEADER_BYTES, MAX_RECORD_BYTES};
use super::error::StorageError;
use std::path::Path;

pub struct ScannedSegment {
    /// The records in order, each with the offset it starts at (a split record: where its first part starts).
    pub records: Vec<(u64, Record)>,
    /// Bytes of valid records from the start of the file.
    pub valid_len: u64,
    /// Set when a torn tail was found (only in the newest segment): the offset where it starts.
    pub torn_at: Option<u64>,
}

/// The parts read so far of a record split over several frames: where the first starts, and their bytes.
struct OpenGroup {
    start: usize,
    payload: Vec<u8>,
}

/// Scans `bytes`, the content of `path`. `is_newest` allows a torn tail.
pub fn scan(path: &Path, bytes: &[u8], is_newest: bool) -> Result<ScannedSegment, StorageError> {
    let mut records = Vec::new();
    let mut offset = 0usize;
    let mut group: Option<OpenGroup> = None;
    let damaged = |offset: usize, why: &str| -> Result<ScannedSegment, StorageError> {
        Err(StorageError::at(path, offset as u64, why.to_string()))
    };
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let damage = if rest.len() < HEADER_BYTES {
            Some("a record header is cut short")
        } else {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
            if len == 0 || len > MAX_RECORD_BYTES {
                Some("a record length is impossible")
            } else if HEADER_BYTES + len > rest.len() {
                Some("a record is cut short")
            } else {
                let payload = &rest[HEADER_BYTES..HEADER_BYTES + len];
                if crc32c::crc32c(payload) != crc {
                    // A torn write if no whole record follows it (a crash leaves none behind the write it tore;
                    // later parts of a torn split write are not whole records); anything else is damage, a
                    // damaged length that swallows whole records (and runs into the unwritten end) included.
                    if is_newest && !valid_record_after(bytes, offset) {
                        // A torn part tears its whole group: none of the record was durable.
                        let cut = group.as_ref().map_or(offset, |g| g.start);
                        return Ok(ScannedSegment { records, valid_len: cut as u64, torn_at: Some(cut as u64) });
                    }
                    return damaged(offset, "a record fails its checksum");
                }
                match (codec::frame_of(payload), group.as_mut()) {
                    (Frame::Whole(_), Some(open)) => {
                        return damaged(open.start, "a split record lacks its last part, and other records follow it");
                    }
                    (Frame::Whole(payload), None) => {
                        let decoded =
                            codec::decode_write(payload).map_err(|why| StorageError::at(path, offset as u64, why))?;
                        records.extend(decoded.into_iter().map(|record| (offset as u64, record)));
                    }
                    (Frame::Part { bytes: part, last }, open) => {
                        let open = match open {
                            Some(open) => open,
                            None => group.insert(OpenGroup { start: offset, payload: Vec::new() }),
                        };
                        open.payload.extend_from_slice(part);
                        if last {
                            let start = open.start;
                            let decoded = codec::decode_write(&open.payload)
                                .map_err(|why| StorageError::at(path, start as u64, why))?;
                            records.extend(decoded.into_iter().map(|record| (start as u64, record)));
                            group = None;
                        }
                    }
                }
                offset += HEADER_BYTES + len;
                None
            }
        };
        if let Some(why) = damage {
            if is_newest && is_unwritten(&bytes[offset..]) {
                break;
            }
            // An incomplete record can only be a torn tail of the newest segment, with nothing valid after it.
            if is_newest {
                if valid_record_after(bytes, offset) {
                    return damaged(offset, &format!("{why}, and whole records follow it: not a torn write"));
                }
                let cut = group.as_ref().map_or(offset, |g| g.start);
                return Ok(ScannedSegment { records, valid_len: cut as u64, torn_at: Some(cut as u64) });
            }
            return damaged(offset, why);
        }
    }
    if let Some(open) = group {
        // The parts written so far, and nothing after them: a crash before the last part, in the newest segment.
        if is_newest {
            return Ok(ScannedSegment { records, valid_len: open.start as u64, torn_at: Some(open.start as u64) });
        }
        return damaged(open.start, "a split record lacks its last part at the end of an older segment");
    }
    Ok(ScannedSegment { records, valid_len: offset as u64, torn_at: None })
}

/// Whether `bytes` is only zeros: a segment's end that no record reached yet.
fn is_unwritten(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// The length of a segment's bytes without its unwritten (zero) end: what was written to it, whole or torn.
pub fn written_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1)
}

/// Zeros a record's payload may end with and still be found inside the written part of a segment (its last
/// field is a number, an empty entry's length or text: a few zero bytes at most).
const MOST_TRAILING_ZEROS: usize = 16;

/// Checksum work `valid_record_after` does at most, in bytes. A written part crafted so that most offsets read
/// as plausible lengths would otherwise cost time quadratic in its size; past this, whole records are taken to
/// follow, and the log is refused rather than cut.
const MOST_BYTES_CHECKED: usize = 1 << 30;

/// Whether a whole record with a matching checksum starts anywhere after `damage_at`. Only called on damage: a
/// torn tail is one unsynced write at most, and damage elsewhere finds the next record within one record's
/// length. Only the written part counts (a record in the zeros of the unwritten end is not one), and a part of a
/// split record is not a whole record: a torn write split into parts may keep later parts after a lost page.
fn valid_record_after(bytes: &[u8], damage_at: usize) -> bool {
    let written = (written_len(bytes) + MOST_TRAILING_ZEROS).min(bytes.len());
    let mut budget = MOST_BYTES_CHECKED;
    (damage_at + 1..written.saturating_sub(HEADER_BYTES)).any(|start| {
        let rest = &bytes[start..written];
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len == 0 || len > MAX_RECORD_BYTES || HEADER_BYTES + len > rest.len() {
            return false;
        }
        // (A part of a split record is not whole either: it fails this.)
        if !codec::could_be_whole(rest[HEADER_BYTES], len) {
            return false;
        }
        if budget < len {
            return true;
        }
        budget -= len;
        let payload = &rest[HEADER_BYTES..HEADER_BYTES + len];
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        crc32c::crc32c(payload) == crc
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_raft::HardState;

    fn two_records() -> Vec<u8> {
        let mut bytes = Vec::new();
        codec::encode(&Record::HardState(HardState { term: 1, vote: Some(1), commit: 0 }), &mut bytes);
        codec::encode(&Record::Members(vec![(1, "a".into()), (2, "b".into())]), &mut bytes);
        bytes
    }

    #[test]
    fn a_cut_tail_of_the_newest_segment_is_torn_not_fatal() {
        let bytes = two_records();
        let first_len = bytes.len() - (HEADER_BYTES + 1 + 4 + 2 * (8 + 4 + 1));
        for cut in first_len + 1..bytes.len() {
            let scanned = scan(Path::new("seg"), &bytes[..cut], true).expect("torn tail tolerated");
            assert_eq!(scanned.records.len(), 1);
            assert_eq!(scanned.torn_at, Some(first_len as u64));
        }
        assert!(scan(Path::new("seg"), &bytes[..bytes.len() - 1], false).is_err(), "older segments must be whole");
    }

    #[test]
    fn a_flipped_byte_before_the_last_record_is_an_error_naming_the_offset() {
        let mut bytes = two_records();
        bytes[HEADER_BYTES + 3] ^= 0x40;
        let error = scan(Path::new("seg"), &bytes, true).err().expect("damage detected");
        assert_eq!(error.offset, Some(0));
        assert!(error.to_string().contains("seg at offset 0"), "{error}");
    }

    #[test]
    fn a_damaged_length_that_looks_like_a_torn_write_but_has_records_after_it_is_an_error() {
        let mut bytes = two_records();
        // The first record's length now runs past the end of the file, as a torn write's would.
        bytes[3] ^= 0x10;
        let error = scan(Path::new("seg"), &bytes, true).err().expect("not taken for a torn tail");
        assert_eq!(error.offset, Some(0));
        assert!(error.to_string().contains("not a torn write"), "{error}");
        // A zero length (a zeroed sector) followed by a whole record: the same.
        let mut bytes = two_records();
        bytes[0..4].fill(0);
        assert_eq!(scan(Path::new("seg"), &bytes, true).err().map(|e| e.offset), Some(Some(0)));
    }

    #[test]
    fn zeros_after_the_last_record_of_the_newest_segment_are_its_unwritten_end_not_a_torn_tail() {
        let whole = two_records();
        let mut bytes = whole.clone();
        bytes.extend_from_slice(&[0; 100]);
        let scanned = scan(Path::new("seg"), &bytes, true).expect("an unwritten end is no damage");
        assert_eq!(scanned.records.len(), 2);
        assert_eq!((scanned.valid_len, scanned.torn_at), (whole.len() as u64, None));
        assert_eq!(written_len(&bytes), whole.len());
        assert!(scan(Path::new("seg"), &bytes, false).is_err(), "an older segment is its records only");
    }

    #[test]
    fn a_damaged_length_that_swallows_whole_records_before_the_unwritten_end_is_an_error() {
        let mut bytes = two_records();
        bytes.resize(bytes.len() + 4096, 0);
        // The first record now runs over the second one and into the zeros: its checksum fails, and only zeros
        // follow it, as after a torn write, but a whole record lies inside it.
        bytes[1] ^= 0x04;
        let error = scan(Path::new("seg"), &bytes, true).err().expect("not taken for a torn tail");
        assert_eq!(error.offset, Some(0));
    }

    /// `two_records`, then a torn frame (its checksum fails) whose payload is `pattern` repeated `times`, then the
    /// unwritten end.
    fn torn_after_two_records(pattern: [u8; 4], times: usize) -> Vec<u8> {
        let mut bytes = two_records();
        let payload: Vec<u8> = pattern.iter().copied().cycle().take(4 * times).collect();
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(crc32c::crc32c(&payload) ^ 1).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes.resize(bytes.len() + 4096, 0);
        bytes
    }

    #[test]
    fn a_torn_write_crafted_to_cost_more_checking_than_the_budget_is_refused_not_cut() {
        // Every fourth offset reads as a length of 61,441 bytes that fits in what follows, with a record type
        // after it: each one is checksummed.
        let small = torn_after_two_records([0x01, 0xF0, 0x00, 0x00], 20_000);
        let scanned = scan(Path::new("seg"), &small, true).expect("within the budget: a torn tail");
        assert_eq!(scanned.records.len(), 2);
        assert!(scanned.torn_at.is_some());
        let large = torn_after_two_records([0x01, 0xF0, 0x00, 0x00], 40_000);
        let error = scan(Path::new("seg"), &large, true).err().expect("past the budget: refused, not cut");
        assert!(error.to_string().contains("checksum"), "{error}");
    }

    #[test]
    fn a_record_cut_short_before_the_unwritten_end_is_a_torn_tail() {
        let whole = two_records();
        let first_len = whole.len() - (HEADER_BYTES + 1 + 4 + 2 * (8 + 4 + 1));
        for cut in first_len + 1..whole.len() {
            // The second record's bytes from `cut` on never reached the disk: zeros in the preallocated file.
            let mut bytes = whole[..cut].to_vec();
            bytes.resize(whole.len() + 100, 0);
            let scanned = scan(Path::new("seg"), &bytes, true).expect("torn tail tolerated");
            assert_eq!(scanned.records.len(), 1, "cut at {cut}");
            assert_eq!(scanned.torn_at, Some(first_len as u64), "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_byte_in_the_last_record_is_a_torn_tail() {
        let mut bytes = two_records();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let scanned = scan(Path::new("seg"), &bytes, true).expect("torn tail");
        assert_eq!(scanned.records.len(), 1);
    }
}
