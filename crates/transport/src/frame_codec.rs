//! Frames on the wire: a u32 big-endian length prefix, the payload and, once a connection with a secret has
//! finished its handshake, the payload's 16-byte MAC tag. Decoding never allocates beyond the length limit.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::connection::Connection;
use crate::frame_mac::{FrameMacs, TAG_LEN};

const PREFIX_LEN: usize = 4;
/// The largest handshake message (a HELLO with three 255-byte strings is 811 bytes): until a peer has proven
/// itself, it cannot make this node allocate more.
const HANDSHAKE_MAX_FRAME: usize = 1024;

/// A connection's stream (plain or TLS) with its framing.
pub(crate) type FramedStream = tokio_util::codec::Framed<Connection, FrameCodec>;

/// Why a connection's stream of frames ended badly.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// A length prefix above the limit.
    Oversized,
    /// The stream ended inside a frame.
    Truncated,
    /// The frame's tag did not verify (or it was too short to carry one); with TLS, a record that did not
    /// decrypt.
    BadMac,
    /// With TLS: the TLS layer failed otherwise, most often an alert from the other side refusing this one's
    /// certificate (in TLS 1.3 the client learns of that only after its side of the handshake is done).
    Tls,
    /// The socket failed (a reset, say): nothing to count, the peer just went away.
    Io,
}

impl From<io::Error> for FrameError {
    fn from(error: io::Error) -> Self {
        match crate::tls::tls_cause(&error) {
            Some(rustls::Error::DecryptError) => FrameError::BadMac,
            Some(_) => FrameError::Tls,
            None => FrameError::Io,
        }
    }
}

pub(crate) struct FrameCodec {
    max_payload: usize,
    mac: Option<FrameMacs>,
}

impl FrameCodec {
    /// For the handshake: small frames, no MAC yet.
    pub(crate) fn handshake() -> FrameCodec {
        FrameCodec { max_payload: HANDSHAKE_MAX_FRAME, mac: None }
    }

    /// Switches to the data frames that follow the handshake (called at a frame boundary).
    pub(crate) fn start_frames(&mut self, max_payload: usize, mac: Option<FrameMacs>) {
        self.max_payload = max_payload;
        self.mac = mac;
    }

    /// Lowers the largest payload accepted from here on (a client's requests are smaller than a peer's frames).
    pub(crate) fn limit_payload(&mut self, max_payload: usize) {
        self.max_payload = self.max_payload.min(max_payload);
    }

    fn tag_len(&self) -> usize {
        if self.mac.is_some() {
            TAG_LEN
        } else {
            0
        }
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = src.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        let mut prefix_bytes = [0u8; PREFIX_LEN];
        prefix_bytes.copy_from_slice(prefix);
        let len = u32::from_be_bytes(prefix_bytes) as usize;
        if len > self.max_payload.saturating_add(self.tag_len()) {
            return Err(FrameError::Oversized);
        }
        let total = PREFIX_LEN.saturating_add(len);
        if src.len() < total {
            // Room for exactly this frame, no more: the check above bounds it.
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(PREFIX_LEN);
        let mut payload = src.split_to(len);
        if let Some(mac) = &mut self.mac {
            let Some(payload_len) = len.checked_sub(TAG_LEN) else {
                return Err(FrameError::BadMac);
            };
            let tag = payload.split_off(payload_len);
            mac.open.open(&payload, &tag).map_err(|_| FrameError::BadMac)?;
        }
        Ok(Some(payload.freeze()))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Truncated),
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        let len = payload.len().saturating_add(self.tag_len());
        let prefix = u32::try_from(len).map_err(|_| FrameError::Oversized)?;
        dst.reserve(PREFIX_LEN.saturating_add(len));
        dst.put_u32(prefix);
        dst.extend_from_slice(&payload);
        if let Some(mac) = &mut self.mac {
            dst.extend_from_slice(&mac.seal.seal(&payload));
        }
        Ok(())
    }
}
