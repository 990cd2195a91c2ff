//! Reading one segment file back: its records in order, and where valid data ends. Damage at the very end of the
//! newest segment is a torn write (the process died mid-append) and is cut off; damage anywhere else means the
//! disk or someone changed acknowledged data, and is an error that names the file and offset. "At the very end"
//! is checked, not assumed: a crash writes nothing after the write it tore, so damage followed by a valid record
//! (a flipped length that makes a record look cut short, say), or by any byte past the end a damaged whole frame
//! gives itself, is an error too. Zeros after the last
//! record of the newest segment are its unwritten end (the log makes the file longer ahead of its records), not
//! damage. Only a frame with the segment's salt counts as a whole record there (see `codec`): one a client laid out
//! in its entry data, inside the torn write, does not.

use super::codec::{self, Frame, Record, HEADER_BYTES, MAX_RECORD_BYTES};
use super::error::StorageError;
use super::range_checksums::RangeChecksums;
use std::path::Path;

pub struct ScannedSegment {
    /// The records in order, each with the offset it starts at (a split record: where its first part starts).
    pub records: Vec<(u64, Record)>,
    /// Bytes of valid records from the start of the file.
    pub valid_len: u64,
    /// Set when a torn tail was found (only in the newest segment): the offset where it starts.
    pub torn_at: Option<u64>,
    /// The salt of the segment's checksums after its opening frame (0: plain, a segment written before salts, or
    /// one whose opening frame was not read).
    pub salt: u32,
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
    // Plain for the frame that opens the segment, then what its `Follows` record says (`None` until it is read).
    let mut salt = None;
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
                if codec::checksum(salt.unwrap_or(0), payload) != crc {
                    // A torn write if no whole record follows it (a crash leaves none behind the write it tore;
                    // later parts of a torn split write are not whole records); anything else is damage, a
                    // damaged length that swallows whole records (and runs into the unwritten end) included.
                    // (Only in salted segments: releases before salts could write several frames per fsync.)
                    let salted = salt.is_some_and(|salt| salt != 0);
                    let written_after = salted && group.is_none() && written_after_whole_frame(bytes, offset);
                    if is_newest && !written_after && !valid_record_after(bytes, offset, salt) {
                        // A torn part tears its whole group: none of the record was durable.
                        let cut = group.as_ref().map_or(offset, |g| g.start);
                        return Ok(ScannedSegment {
                            records,
                            valid_len: cut as u64,
                            torn_at: Some(cut as u64),
                            salt: salt.unwrap_or(0),
                        });
                    }
                    return damaged(offset, "a record fails its checksum");
                }
                match (codec::frame_of(payload), group.as_mut()) {
                    (Frame::Whole(_) | Frame::Part { first: true, .. }, Some(open)) => {
                        return damaged(open.start, "a split record lacks its last part, and other records follow it");
                    }
                    (Frame::Whole(payload), None) => {
                        let decoded =
                            codec::decode_write(payload).map_err(|why| StorageError::at(path, offset as u64, why))?;
                        salt = salt_after(&records, &decoded, salt);
                        records.extend(decoded.into_iter().map(|record| (offset as u64, record)));
                    }
                    (Frame::Part { bytes: part, last, .. }, open) => {
                        let open = match open {
                            Some(open) => open,
                            None => group.insert(OpenGroup { start: offset, payload: Vec::new() }),
                        };
                        open.payload.extend_from_slice(part);
                        if last {
                            let start = open.start;
                            let decoded = codec::decode_write(&open.payload)
                                .map_err(|why| StorageError::at(path, start as u64, why))?;
                            salt = salt_after(&records, &decoded, salt);
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
                if valid_record_after(bytes, offset, salt) {
                    return damaged(offset, &format!("{why}, and whole records follow it: not a torn write"));
                }
                let cut = group.as_ref().map_or(offset, |g| g.start);
                let salt = salt.unwrap_or(0);
                return Ok(ScannedSegment { records, valid_len: cut as u64, torn_at: Some(cut as u64), salt });
            }
            return damaged(offset, why);
        }
    }
    if let Some(open) = group {
        // The parts written so far, and nothing after them: a crash before the last part, in the newest segment.
        if is_newest {
            let cut = Some(open.start as u64);
            return Ok(ScannedSegment { records, valid_len: open.start as u64, torn_at: cut, salt: salt.unwrap_or(0) });
        }
        return damaged(open.start, "a split record lacks its last part at the end of an older segment");
    }
    Ok(ScannedSegment { records, valid_len: offset as u64, torn_at: None, salt: salt.unwrap_or(0) })
}

/// The salt for the frames after `decoded`, the records of one frame (or group) read after `before`: once the
/// segment's opening frame is read, the one its `Follows` record names (0 if it has none, or no such record).
fn salt_after(before: &[(u64, Record)], decoded: &[Record], salt: Option<u32>) -> Option<u32> {
    match (before, decoded.first()) {
        ([], Some(Record::Follows { salt, .. })) => Some(*salt),
        ([], _) => Some(0),
        _ => salt,
    }
}

/// The salts a segment whose opening frame is damaged may have: plain (0), and the two copies the log writes in
/// that frame (`codec::OPENING_SALTS_AT`).
fn salts_in_opening_frame(bytes: &[u8]) -> Vec<u32> {
    std::iter::once(0).chain(codec::OPENING_SALTS_AT.into_iter().filter_map(|at| u32_at(bytes, at))).collect()
}

/// The u32 (little-endian) at `at`, if `bytes` holds one there.
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The payload length and checksum in the header of a frame at `at`, if the length is one a frame can have and the
/// frame fits in `bytes`.
fn frame_header_at(bytes: &[u8], at: usize) -> Option<(usize, u32)> {
    let len = u32_at(bytes, at)? as usize;
    let crc = u32_at(bytes, at + 4)?;
    (len != 0 && len <= MAX_RECORD_BYTES && at + HEADER_BYTES + len <= bytes.len()).then_some((len, crc))
}

/// Whether anything was written after the whole frame (not a part of a split record) at `at`, whose checksum
/// failed, as far as its length says where it ends. A write is one frame or one group of parts, and a crash tears
/// the last one: nothing follows a torn whole frame. (If its length is what was damaged, the search for a record
/// after it, `valid_record_after`, decides.)
fn written_after_whole_frame(bytes: &[u8], at: usize) -> bool {
    // A length field across a sector boundary may be half written (a torn write keeps one sector and loses the
    // other): then it may read shorter than it is, and where the frame ends is not known.
    if at / SECTOR_BYTES != (at + 3) / SECTOR_BYTES {
        return false;
    }
    let Some((len, _)) = frame_header_at(bytes, at) else { return false };
    let end = at + HEADER_BYTES + len;
    codec::could_be_whole(bytes[at + HEADER_BYTES], len) && written_len(bytes) > end
}

/// Whether anything was written after a salted segment's damaged opening frame, as far as its length (if one a
/// frame can have) says where it ends. A torn opening frame has nothing after it: the log syncs it alone before it
/// writes anything else (releases before salts did not always).
fn written_after_opening_frame(bytes: &[u8]) -> bool {
    let Some((len, _)) = frame_header_at(bytes, 0) else { return false };
    codec::opens_a_salted_segment(bytes) && written_len(bytes) > HEADER_BYTES + len
}

/// The smallest unit a disk writes whole: a torn write keeps or loses each sector of it.
const SECTOR_BYTES: usize = 512;

/// Whether `bytes` is only zeros: a segment's end that no record reached yet.
fn is_unwritten(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// The length of a segment's bytes without its unwritten (zero) end: what was written to it, whole or torn.
pub fn written_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1)
}

/// Whether a whole record with a matching checksum starts anywhere after `damage_at`, started from the segment's
/// `salt`. Only called on damage: a torn tail is one unsynced write at most, and damage elsewhere finds the next
/// record within one record's length. A record starts in the written part (not in the zeros of the unwritten end),
/// but may end in zeros (entry data can). A part of a split record is not a whole record: a torn write split into
/// parts may keep later parts after a lost page. A whole group is: its first part (marked as such), then each
/// part up to the last, every one with a matching checksum (`whole_group_at`). Every offset may read as a
/// plausible length, so each candidate's checksum costs constant time (`RangeChecksums`), not its length: the
/// search is linear in the bytes after the damage.
///
/// With the damage in the segment's opening frame (`salt` None: not known), anything written after that frame
/// (`written_after_opening_frame`) is evidence enough; if the frame's length is damaged too, a record is looked
/// for under the salts the segment may have (`salts_in_opening_frame`) or any one salt two records in a row agree
/// on (two identical frames in a row always agree: that only ever makes recovery refuse more).
fn valid_record_after(bytes: &[u8], damage_at: usize, salt: Option<u32>) -> bool {
    if salt.is_none() && written_after_opening_frame(bytes) {
        return true;
    }
    let Some(searched) = bytes.get(damage_at + 1..) else { return false };
    let written = written_len(searched);
    let salts = match salt {
        Some(salt) => vec![salt],
        None => salts_in_opening_frame(bytes),
    };
    let ranges = RangeChecksums::new(searched);
    // A frame's (payload start, payload end, checksum) if a frame of a plausible length starts at `start`.
    let frame_at = |start: usize| {
        let (len, crc) = frame_header_at(searched, start)?;
        Some((start + HEADER_BYTES, start + HEADER_BYTES + len, crc))
    };
    // The checksum of the searched bytes up to the payload of a frame at `start`, rolled forward one byte a step.
    let mut payload_prefix = ranges.prefix(HEADER_BYTES.min(searched.len()));
    for start in 0..written.min(searched.len().saturating_sub(HEADER_BYTES)) {
        if start > 0 {
            payload_prefix = crc32c::crc32c_append(payload_prefix, &searched[start + HEADER_BYTES - 1..][..1]);
        }
        let Some(frame) = frame_at(start) else { continue };
        if codec::opens_a_group(searched[frame.0]) {
            let first_part_matches =
                |salt: u32| ranges.checksum_after(salt, payload_prefix, frame.0, frame.1) == frame.2;
            if salts.iter().any(|&salt| first_part_matches(salt) && whole_group_after(searched, &ranges, frame.1, salt))
            {
                return true;
            }
            continue;
        }
        // (A part of a split record is not whole either: it fails this.)
        if !codec::could_be_whole(searched[frame.0], frame.1 - frame.0) {
            continue;
        }
        if salts.iter().any(|&salt| ranges.checksum_after(salt, payload_prefix, frame.0, frame.1) == frame.2) {
            return true;
        }
        if salt.is_none() && frame_at(frame.1).is_some_and(|next| ranges.one_seed_gives_both(frame, next)) {
            return true;
        }
    }
    false
}

/// Whether the frames from `at` on, in `bytes` (which `ranges` covers), are the later parts of a split record up to its last one,
/// each with a matching checksum from `salt`: with a first part just before `at`, a whole group.
fn whole_group_after(bytes: &[u8], ranges: &RangeChecksums, mut at: usize, salt: u32) -> bool {
    while let Some((len, crc)) = frame_header_at(bytes, at) {
        let payload = at + HEADER_BYTES;
        let Some(last) = codec::continues_a_group(bytes[payload]) else { return false };
        if ranges.checksum(salt, payload, payload + len) != crc {
            return false;
        }
        if last {
            return true;
        }
        at = payload + len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_raft::{Entry, EntryKind, HardState, Payload};

    fn two_records() -> Vec<u8> {
        let mut bytes = Vec::new();
        codec::encode(&Record::HardState(HardState { term: 1, vote: Some(1), commit: 0 }), &mut bytes);
        codec::encode(&Record::Members(vec![(1, "a".into()), (2, "b".into())]), &mut bytes);
        bytes
    }

    #[test]
    fn a_split_record_whose_first_part_is_not_marked_first_is_read_as_releases_before_the_mark_wrote_it() {
        let entries: Vec<Entry> = (1..=3)
            .map(|index| Entry { term: 1, index, kind: EntryKind::Normal, id: None, data: Payload::from(vec![7; 300]) })
            .collect();
        let record = Record::Write { hard_state: None, reset: None, entries: entries.clone() };
        let mut bytes = Vec::new();
        codec::encode_write(std::slice::from_ref(&record), &mut bytes, 200, 0);
        let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert!(codec::opens_a_group(bytes[HEADER_BYTES]), "written with the mark");
        // As before the mark: the first part's type is that of any part but the last (`continues_a_group`).
        bytes[HEADER_BYTES] = 6;
        assert_eq!(codec::continues_a_group(bytes[HEADER_BYTES]), Some(false));
        let crc = codec::checksum(0, &bytes[HEADER_BYTES..HEADER_BYTES + first_len]);
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        let scanned = scan(Path::new("seg"), &bytes, false).expect("read");
        assert_eq!(scanned.records, vec![(0, record)]);
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
    fn a_torn_write_crafted_so_that_every_fourth_offset_reads_as_a_record_is_cut_in_linear_time() {
        // Every fourth offset reads as a length of 61,441 bytes that fits in what follows, with a record type after
        // it: each one is a candidate whose checksum is compared. Checksumming each from its start would take
        // ~60 GB of CRC work here; the search is linear.
        let crafted = torn_after_two_records([0x01, 0xF0, 0x00, 0x00], 1_000_000);
        let scanned = scan(Path::new("seg"), &crafted, true).expect("a torn tail, not refused");
        assert_eq!(scanned.records.len(), 2);
        assert_eq!(scanned.torn_at, Some(two_records().len() as u64));
    }

    const SALT: u32 = 0x5a17_c0de;

    /// A segment as the log writes it: an opening frame checksummed plainly that names `SALT`, then two records
    /// checksummed from it. Returns the bytes and where the second record starts.
    fn salted_segment() -> (Vec<u8>, usize) {
        let mut bytes = Vec::new();
        let opening = [
            Record::Follows { sequence: 1, bytes: 4096, salt: SALT },
            Record::HardState(HardState { term: 1, vote: Some(1), commit: 0 }),
        ];
        codec::encode_write(&opening, &mut bytes, MAX_RECORD_BYTES, 0);
        codec::encode_salted(&Record::Members(vec![(1, "a".into()), (2, "b".into())]), &mut bytes, SALT);
        let second = bytes.len();
        codec::encode_salted(&Record::HardState(HardState { term: 2, vote: Some(1), commit: 3 }), &mut bytes, SALT);
        (bytes, second)
    }

    /// A write whose entry data holds whole frames as a client could send them, not knowing `SALT`: one checksummed
    /// plainly, one from a guess.
    fn write_holding_frames() -> Record {
        let mut data = Vec::new();
        codec::encode(&Record::HardState(HardState { term: 9, vote: None, commit: 0 }), &mut data);
        codec::encode_salted(&Record::HardState(HardState { term: 9, vote: None, commit: 0 }), &mut data, SALT ^ 1);
        data.push(b'!');
        let entry = Entry { term: 2, index: 1, kind: EntryKind::Normal, id: None, data: Payload::from(&data[..]) };
        Record::Write { hard_state: None, reset: None, entries: vec![entry] }
    }

    #[test]
    fn the_salt_named_by_the_opening_frame_checks_every_later_frame() {
        let (bytes, _) = salted_segment();
        let scanned = scan(Path::new("seg"), &bytes, false).expect("sound");
        assert_eq!((scanned.records.len(), scanned.salt), (4, SALT));
        // A later frame checksummed plainly is damage: the salt is not optional.
        let mut plain = bytes.clone();
        codec::encode(&Record::HardState(HardState { term: 3, vote: None, commit: 0 }), &mut plain);
        assert!(scan(Path::new("seg"), &plain, false).is_err());
        // A segment written before salts checks its frames plainly.
        let scanned = scan(Path::new("seg"), &two_records(), false).expect("sound");
        assert_eq!((scanned.records.len(), scanned.salt), (2, 0));
    }

    #[test]
    fn a_damaged_opening_frame_with_records_after_it_is_an_error_whichever_byte_is_damaged() {
        let (two_after, second) = salted_segment();
        let opening_len = HEADER_BYTES + u32::from_le_bytes(two_after[0..4].try_into().unwrap()) as usize;
        // Whatever the damage, something was written after the opening frame (which a torn opening frame never
        // has): with two records after it, and with one (then no two records can agree on a salt).
        for bytes in [two_after.clone(), two_after[..second].to_vec()] {
            for at in 0..opening_len {
                for mask in [0x01, 0x10, 0x80, 0xff] {
                    let mut damaged = bytes.clone();
                    damaged[at] ^= mask;
                    damaged.resize(bytes.len() + 4096, 0);
                    let error = scan(Path::new("seg"), &damaged, true).err();
                    assert!(error.is_some(), "byte {at} ^ {mask:#x} of {} taken for a torn write", bytes.len());
                }
                // A run of damaged bytes: both copies of the salt, say.
                for run in [2, 5, 9, 16] {
                    let mut damaged = bytes.clone();
                    let end = (at + run).min(opening_len);
                    damaged[at..end].iter_mut().for_each(|byte| *byte ^= 0x5a);
                    damaged.resize(bytes.len() + 4096, 0);
                    let error = scan(Path::new("seg"), &damaged, true).err();
                    assert!(error.is_some(), "bytes {at}..{end} of {} taken for a torn write", bytes.len());
                }
            }
        }
        // Torn inside the opening frame: nothing was written after it (the log syncs it alone).
        // (Its last bytes are zeros: a cut among them changes nothing.)
        for cut in 1..written_len(&two_after[..opening_len]) {
            let mut torn = two_after[..cut].to_vec();
            torn.resize(opening_len + 4096, 0);
            let scanned = scan(Path::new("seg"), &torn, true).expect("a torn opening frame");
            assert_eq!((scanned.records.len(), scanned.torn_at), (0, Some(0)), "cut at {cut}");
        }
    }

    #[test]
    fn damage_over_the_end_of_a_record_and_the_header_of_the_last_one_is_an_error() {
        let (whole, last) = salted_segment();
        // The record before the last fails its checksum and the last one's header is gone: no whole record
        // follows, but something was written after the damaged record's end, which a torn write never leaves.
        let mut bytes = whole.clone();
        bytes[last - 3..last + HEADER_BYTES + 2].iter_mut().for_each(|byte| *byte ^= 0xa5);
        bytes.resize(whole.len() + 4096, 0);
        let error = scan(Path::new("seg"), &bytes, true).err().expect("not taken for a torn tail");
        assert!(error.offset.is_some_and(|offset| offset < last as u64), "{error}");
        // Damage to the last record alone is a torn write.
        let mut torn = whole.clone();
        torn[last + 2..last + HEADER_BYTES + 2].iter_mut().for_each(|byte| *byte ^= 0xa5);
        torn.resize(whole.len() + 4096, 0);
        assert_eq!(scan(Path::new("seg"), &torn, true).expect("torn").torn_at, Some(last as u64));
    }

    #[test]
    fn a_torn_write_whose_length_lies_across_a_sector_boundary_is_cut_whichever_sector_was_lost() {
        for header_at in [SECTOR_BYTES - 3, SECTOR_BYTES - 2, SECTOR_BYTES - 1] {
            // A salted record padded so that the torn write's header starts `header_at` bytes into the file.
            let (mut bytes, _) = salted_segment();
            let name_len = header_at - bytes.len() - (HEADER_BYTES + 1 + 4 + 8 + 4);
            codec::encode_salted(&Record::Members(vec![(3, "n".repeat(name_len))]), &mut bytes, SALT);
            assert_eq!(bytes.len(), header_at);
            let data = vec![b'x'; 3000];
            let entry = Entry { term: 2, index: 1, kind: EntryKind::Normal, id: None, data: Payload::from(&data[..]) };
            codec::encode_salted(
                &Record::Write { hard_state: None, reset: None, entries: vec![entry] },
                &mut bytes,
                SALT,
            );
            bytes.resize(bytes.len() + 4096, 0);
            // The sector before the boundary lost (the length's low bytes read as the zeros that were there), or
            // the one after it (its high bytes): the length reads shorter, and the write's own bytes lie after it.
            for lost in [header_at..SECTOR_BYTES, SECTOR_BYTES..2 * SECTOR_BYTES] {
                let mut torn = bytes.clone();
                torn[lost.clone()].fill(0);
                let scanned = scan(Path::new("seg"), &torn, true).expect("a torn write, not damage");
                assert_eq!(scanned.torn_at, Some(header_at as u64), "header at {header_at}, {lost:?} lost");
            }
        }
    }

    #[test]
    fn damage_before_a_last_record_whose_entry_data_ends_in_zeros_is_an_error() {
        let (mut bytes, _) = salted_segment();
        let damaged_at = bytes.len();
        codec::encode_salted(&Record::HardState(HardState { term: 3, vote: Some(1), commit: 2 }), &mut bytes, SALT);
        let zeros = vec![0; 300];
        let entry = Entry { term: 3, index: 1, kind: EntryKind::Normal, id: None, data: Payload::from(&zeros[..]) };
        let last = Record::Write { hard_state: None, reset: None, entries: vec![entry] };
        codec::encode_salted(&last, &mut bytes, SALT);
        bytes.resize(bytes.len() + 4096, 0);
        assert!(scan(Path::new("seg"), &bytes, true).is_ok_and(|scanned| scanned.torn_at.is_none()));
        bytes[damaged_at + 9] ^= 0x01;
        let error = scan(Path::new("seg"), &bytes, true).err().expect("not taken for a torn tail");
        assert_eq!(error.offset, Some(damaged_at as u64));
    }

    #[test]
    fn a_torn_write_whose_entry_data_holds_a_whole_frame_is_cut_not_refused() {
        let (whole, _) = salted_segment();
        let mut torn = whole.clone();
        let write_at = torn.len();
        codec::encode_salted(&write_holding_frames(), &mut torn, SALT);
        let write_end = torn.len();
        torn.resize(write_end + 4096, 0);
        // Torn anywhere: its header's checksum lost, its last bytes lost, or some of it in the middle.
        for lost in [write_at + 4..write_at + 8, write_end - 3..write_end, write_at + 30..write_at + 40] {
            let mut bytes = torn.clone();
            bytes[lost.clone()].fill(0);
            let scanned = scan(Path::new("seg"), &bytes, true).expect("a torn tail, not refused");
            assert_eq!((scanned.records.len(), scanned.torn_at), (4, Some(write_at as u64)), "{lost:?} lost");
        }
        // The same write in a segment checksummed plainly (before salts): the plain frame inside passes for a
        // whole record, and the log is refused. This is what the salt is for.
        let mut plain = two_records();
        let write_at = plain.len();
        codec::encode(&write_holding_frames(), &mut plain);
        plain[write_at + 4] ^= 0xff;
        assert!(scan(Path::new("seg"), &plain, true).is_err());
    }

    #[test]
    fn a_damaged_length_in_a_salted_segment_with_whole_records_after_it_is_an_error() {
        let (mut bytes, second) = salted_segment();
        // Where the first salted record starts: after the opening frame.
        let first = HEADER_BYTES + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert!(first < second);
        bytes.resize(bytes.len() + 4096, 0);
        // The first salted record's length now runs over the second and into the zeros.
        bytes[first + 1] ^= 0x04;
        let error = scan(Path::new("seg"), &bytes, true).err().expect("not taken for a torn tail");
        assert_eq!(error.offset, Some(first as u64));
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
