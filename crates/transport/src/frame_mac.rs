//! The MAC on every frame of a connection with a secret: HMAC-SHA256(session key, direction | sequence | payload)
//! truncated to 16 bytes, so that an altered, replayed, reordered or injected frame fails to verify.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the truncated tag after each payload.
pub(crate) const TAG_LEN: usize = 16;
/// Which way a frame travels, bound into its MAC so that a frame can never be reflected back: peer lanes carry
/// frames from dialer to acceptor only, a client's connection both ways.
#[derive(Clone, Copy)]
pub(crate) enum Direction {
    DialerToAcceptor = 1,
    AcceptorToDialer = 2,
}

pub(crate) type Tag = [u8; TAG_LEN];

/// One direction of one connection: the session key and the sequence number of the next frame.
pub(crate) struct FrameMac {
    keyed: HmacSha256,
    direction: Direction,
    sequence: u64,
}

/// One end of one connection: the MAC of the frames it writes and of those it reads.
pub(crate) struct FrameMacs {
    pub(crate) seal: FrameMac,
    pub(crate) open: FrameMac,
}

#[derive(Debug)]
pub(crate) struct BadMac;

impl FrameMac {
    pub(crate) fn new(session_key: [u8; 32], direction: Direction) -> FrameMac {
        // HMAC zero-pads a key shorter than its 64-byte block, so padding it here is the same key and makes the
        // construction infallible.
        let mut block = [0u8; 64];
        block[..session_key.len()].copy_from_slice(&session_key);
        FrameMac { keyed: HmacSha256::new(&block.into()), direction, sequence: 0 }
    }

    /// The tag for the next frame written.
    pub(crate) fn seal(&mut self, payload: &[u8]) -> Tag {
        let full = self.next_mac(payload).finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// Checks the next frame read against its tag (in constant time).
    pub(crate) fn open(&mut self, payload: &[u8], tag: &[u8]) -> Result<(), BadMac> {
        if tag.len() != TAG_LEN {
            return Err(BadMac);
        }
        self.next_mac(payload).verify_truncated_left(tag).map_err(|_| BadMac)
    }

    fn next_mac(&mut self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(&[self.direction as u8]);
        mac.update(&self.sequence.to_be_bytes());
        mac.update(payload);
        // 2^64 frames on one connection cannot happen; wrapping keeps even that from panicking.
        self.sequence = self.sequence.wrapping_add(1);
        mac
    }
}
