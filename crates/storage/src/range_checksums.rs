//! The CRC32C of any byte range of one buffer, each in constant time after one pass over the buffer: what a search
//! for whole records in damaged bytes needs, where every offset may start a record whose length its own bytes give.
//! Checksumming each such range from its start would cost time quadratic in the bytes searched (and a client can
//! fill entry data with plausible lengths); this costs one pass, then a few table lookups per range.
//!
//! CRC32C is linear: with `C(x)` the CRC of the buffer's first `x` bytes and `M^n` the operator that appends `n`
//! zero bytes to a CRC, the CRC of the range `a..b` started from `seed` is `C(b) ^ M^(b-a)(seed ^ C(a))`.
//! `C(x)` comes from the nearest checkpoint before `x` and the few bytes after it; `M^n` is a product of four
//! precomputed powers, one per byte of `n`.

use std::cell::Cell;

/// Bytes between checkpoints: a range's ends are each at most this far from one.
const STRIDE: usize = 256;
/// The CRC32C polynomial, bit-reflected (bit 31 is the coefficient of x^0).
const POLY: u32 = 0x82F6_3B78;
/// x^0 in the reflected representation.
const ONE: u32 = 1 << 31;

pub struct RangeChecksums<'a> {
    bytes: &'a [u8],
    /// `checkpoints[k]` is the CRC32C of `bytes[..k * STRIDE]`.
    checkpoints: Vec<u32>,
    /// `zeros[i][j]` is x^(8 * j * 256^i) mod P: appending `j * 256^i` zero bytes.
    zeros: Box<[[u32; 256]; 4]>,
    /// The last length asked of `appending_zeros`, and its operator: lengths repeat in a search.
    last_zeros: Cell<(usize, u32)>,
    /// The last length asked of `prefix`, and its CRC: a search asks for the next one, one byte further, again and
    /// again (each candidate's end, when one length repeats).
    last_prefix: Cell<(usize, u32)>,
}

impl<'a> RangeChecksums<'a> {
    pub fn new(bytes: &'a [u8]) -> RangeChecksums<'a> {
        let mut checkpoints = Vec::with_capacity(bytes.len() / STRIDE + 1);
        let mut crc = 0;
        checkpoints.push(crc);
        for chunk in bytes.chunks_exact(STRIDE) {
            crc = crc32c::crc32c_append(crc, chunk);
            checkpoints.push(crc);
        }
        let mut zeros = Box::new([[ONE; 256]; 4]);
        // x^8: one zero byte.
        let mut step = ONE >> 8;
        for table in zeros.iter_mut() {
            for j in 1..256 {
                table[j] = multiply(table[j - 1], step);
            }
            // The next table's step is 256 times this one's.
            step = multiply(table[255], step);
        }
        RangeChecksums { bytes, checkpoints, zeros, last_zeros: Cell::new((0, ONE)), last_prefix: Cell::new((0, 0)) }
    }

    /// The CRC32C of `bytes[start..end]`, started from `seed` (`crc32c::crc32c_append(seed, &bytes[start..end])`).
    /// The range must lie within the buffer.
    pub fn checksum(&self, seed: u32, start: usize, end: usize) -> u32 {
        self.checksum_after(seed, self.prefix(start), start, end)
    }

    /// `checksum`, given `prefix(start)` (which a caller moving `start` one byte at a time rolls forward cheaply).
    pub fn checksum_after(&self, seed: u32, prefix_at_start: u32, start: usize, end: usize) -> u32 {
        self.prefix(end) ^ multiply(self.appending_zeros(end - start), seed ^ prefix_at_start)
    }

    /// Whether one seed makes the checksums of both ranges (`start`, `end`) what is given for each, whatever that
    /// seed is: from `M^a s = x` and `M^b s = y` follows `M^b x = M^a y`, and since `M^n` is invertible, back.
    pub fn one_seed_gives_both(&self, first: (usize, usize, u32), second: (usize, usize, u32)) -> bool {
        let unseeded = |(start, end, crc): (usize, usize, u32)| crc ^ self.checksum(0, start, end);
        let (first_len, second_len) = (first.1 - first.0, second.1 - second.0);
        multiply(self.appending_zeros(second_len), unseeded(first))
            == multiply(self.appending_zeros(first_len), unseeded(second))
    }

    /// The CRC32C of the buffer's first `len` bytes.
    pub fn prefix(&self, len: usize) -> u32 {
        let (last_len, last) = self.last_prefix.get();
        let crc = if len == last_len + 1 {
            crc32c::crc32c_append(last, &self.bytes[last_len..len])
        } else {
            let checkpoint = len / STRIDE;
            crc32c::crc32c_append(self.checkpoints[checkpoint], &self.bytes[checkpoint * STRIDE..len])
        };
        self.last_prefix.set((len, crc));
        crc
    }

    /// x^(8 * len) mod P: the operator that appends `len` zero bytes to a CRC.
    fn appending_zeros(&self, len: usize) -> u32 {
        let (last_len, last) = self.last_zeros.get();
        if len == last_len {
            return last;
        }
        // (Ranges are within one segment's bytes, far below 4 GiB.)
        debug_assert!(len <= u32::MAX as usize);
        let [b0, b1, b2, b3] = (len as u32).to_le_bytes().map(usize::from);
        let low = multiply(self.zeros[0][b0], self.zeros[1][b1]);
        let high = multiply(self.zeros[2][b2], self.zeros[3][b3]);
        let operator = multiply(low, high);
        self.last_zeros.set((len, operator));
        operator
    }
}

/// `a * b mod P` over GF(2), both bit-reflected.
fn multiply(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    let mut bit = ONE;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        bit >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    product
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_checksum_is_the_crc32c_of_that_range_from_its_seed() {
        let mut state = 0x9e37_79b9_u32;
        let bytes: Vec<u8> = (0..3 * STRIDE + 77)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let ranges = RangeChecksums::new(&bytes);
        let mut checked = 0;
        for start in (0..bytes.len()).step_by(7) {
            for end in (start..=bytes.len()).step_by(13) {
                for seed in [0, 1, 0xdead_beef] {
                    let expected = crc32c::crc32c_append(seed, &bytes[start..end]);
                    assert_eq!(ranges.checksum(seed, start, end), expected, "{start}..{end} from {seed:#x}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn prefixes_asked_one_byte_apart_or_in_any_order_are_the_crc32c_of_the_buffers_start() {
        let bytes: Vec<u8> = (0..3 * STRIDE as u32 + 5).map(|i| (i * 31 + i / 7) as u8).collect();
        let ranges = RangeChecksums::new(&bytes);
        // One byte further each time (rolled from the last), then back and forth (from checkpoints).
        let order = (0..=bytes.len()).chain((0..=bytes.len()).rev()).chain((0..=bytes.len()).step_by(37));
        for len in order {
            assert_eq!(ranges.prefix(len), crc32c::crc32c(&bytes[..len]), "prefix of {len} bytes");
        }
    }

    #[test]
    fn two_ranges_checksummed_from_one_seed_are_told_apart_from_two_seeds() {
        let bytes: Vec<u8> = (0..2000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let ranges = RangeChecksums::new(&bytes);
        let (first, second) = ((10, 300), (300, 1777));
        let crc = |seed, (start, end): (usize, usize)| crc32c::crc32c_append(seed, &bytes[start..end]);
        for seed in [0, 1, 0x5a17_c0de] {
            let same = ((first.0, first.1, crc(seed, first)), (second.0, second.1, crc(seed, second)));
            assert!(ranges.one_seed_gives_both(same.0, same.1));
            let other = (second.0, second.1, crc(seed ^ 1, second));
            assert!(!ranges.one_seed_gives_both(same.0, other));
        }
    }

    #[test]
    fn appending_zeros_matches_the_crates_combine_for_long_lengths() {
        let ranges = RangeChecksums::new(&[]);
        for len in [1usize, 255, 256, 65_537, 16_777_216, 256 * 1024 * 1024 + 3, u32::MAX as usize] {
            for crc in [1, 0x1234_5678, u32::MAX] {
                assert_eq!(multiply(ranges.appending_zeros(len), crc), crc32c::crc32c_combine(crc, 0, len), "{len}");
            }
        }
    }
}
