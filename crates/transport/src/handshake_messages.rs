//! The handshake's messages (HELLO, WELCOME, PROOF, OK) as bytes, each one frame. Strings and MACs go behind a
//! one-byte length; decoding is strict (no trailing bytes) and never trusts a length it has not checked.

use bytes::{BufMut, Bytes, BytesMut};

use crate::options::{host_port_is_valid, name_is_valid, Lane};

pub(crate) const MAGIC: &[u8; 8] = b"FLOTILLA";
pub(crate) const VERSION: u16 = 1;
const OK: &[u8] = b"OK";

pub(crate) type Nonce = [u8; 32];
pub(crate) type ProofMac = [u8; 32];

/// Why a handshake message was not accepted.
#[derive(Debug)]
pub(crate) enum MessageError {
    /// Not this protocol, or another version of it.
    BadMagicOrVersion,
    /// The right protocol, but a field that does not parse.
    Malformed,
}

/// What a connection is for, as its HELLO says: one of a peer's lanes, or a client's requests and replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Peer(Lane),
    /// A client of the node's service (`Client`): frames both ways, and the dialer is not a peer to dial back.
    Client,
}

const CLIENT_ROUTE: u8 = 2;

impl Route {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Route::Peer(lane) => lane.to_byte(),
            Route::Client => CLIENT_ROUTE,
        }
    }

    fn from_byte(byte: u8) -> Option<Route> {
        match byte {
            CLIENT_ROUTE => Some(Route::Client),
            lane => Lane::from_byte(lane).map(Route::Peer),
        }
    }
}

/// dialer -> acceptor: who is calling, for which cluster and route, and where to call it back.
pub(crate) struct Hello {
    pub(crate) route: Route,
    pub(crate) cluster: String,
    pub(crate) dialer: String,
    pub(crate) advertise: String,
    pub(crate) nonce: Nonce,
}

/// acceptor -> dialer: the acceptor's name and nonce and, with a secret, its proof.
pub(crate) struct Welcome {
    pub(crate) acceptor: String,
    pub(crate) nonce: Nonce,
    pub(crate) mac: Option<ProofMac>,
}

/// dialer -> acceptor: with a secret, the dialer's proof.
pub(crate) struct Proof {
    pub(crate) mac: Option<ProofMac>,
}

impl Hello {
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = header();
        out.put_u8(self.route.to_byte());
        put_text(&mut out, &self.cluster);
        put_text(&mut out, &self.dialer);
        put_text(&mut out, &self.advertise);
        out.put_slice(&self.nonce);
        out.freeze()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Hello, MessageError> {
        let mut fields = Fields::after_header(bytes)?;
        let route = Route::from_byte(fields.byte()?).ok_or(MessageError::Malformed)?;
        let cluster = fields.name()?;
        let dialer = fields.name()?;
        let advertise = fields.text()?;
        if !host_port_is_valid(&advertise) {
            return Err(MessageError::Malformed);
        }
        let nonce = fields.nonce()?;
        fields.finish()?;
        Ok(Hello { route, cluster, dialer, advertise, nonce })
    }
}

impl Welcome {
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = header();
        put_text(&mut out, &self.acceptor);
        out.put_slice(&self.nonce);
        put_mac(&mut out, self.mac.as_ref());
        out.freeze()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Welcome, MessageError> {
        let mut fields = Fields::after_header(bytes)?;
        let acceptor = fields.name()?;
        let nonce = fields.nonce()?;
        let mac = fields.mac()?;
        fields.finish()?;
        Ok(Welcome { acceptor, nonce, mac })
    }
}

impl Proof {
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(33);
        put_mac(&mut out, self.mac.as_ref());
        out.freeze()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Proof, MessageError> {
        let mut fields = Fields { rest: bytes };
        let mac = fields.mac()?;
        fields.finish()?;
        Ok(Proof { mac })
    }
}

/// acceptor -> dialer: the handshake is over, frames may follow.
pub(crate) fn ok() -> Bytes {
    Bytes::from_static(OK)
}

pub(crate) fn is_ok(bytes: &[u8]) -> bool {
    bytes == OK
}

fn header() -> BytesMut {
    let mut out = BytesMut::with_capacity(1024);
    out.put_slice(MAGIC);
    out.put_u16(VERSION);
    out
}

/// Names are checked at the API, so a longer string never gets here; were one to, it is cut rather than
/// written with a length that lies.
fn put_text(out: &mut BytesMut, text: &str) {
    let bytes = text.as_bytes();
    let len = bytes.len().min(u8::MAX as usize);
    out.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
    out.put_slice(&bytes[..len]);
}

fn put_mac(out: &mut BytesMut, mac: Option<&ProofMac>) {
    match mac {
        Some(mac) => {
            out.put_u8(32);
            out.put_slice(mac);
        }
        None => out.put_u8(0),
    }
}

/// A cursor over a message's fields: every read checks that the bytes are there.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn after_header(bytes: &'a [u8]) -> Result<Fields<'a>, MessageError> {
        let mut fields = Fields { rest: bytes };
        let magic = fields.take(MAGIC.len()).map_err(|_| MessageError::BadMagicOrVersion)?;
        let version = fields.take(2).map_err(|_| MessageError::BadMagicOrVersion)?;
        if magic != MAGIC || version != VERSION.to_be_bytes() {
            return Err(MessageError::BadMagicOrVersion);
        }
        Ok(fields)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], MessageError> {
        if self.rest.len() < len {
            return Err(MessageError::Malformed);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, MessageError> {
        self.take(1)?.first().copied().ok_or(MessageError::Malformed)
    }

    fn text(&mut self) -> Result<String, MessageError> {
        let len = usize::from(self.byte()?);
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map(str::to_string).map_err(|_| MessageError::Malformed)
    }

    /// A node's or a cluster's name: text that is not empty.
    fn name(&mut self) -> Result<String, MessageError> {
        let text = self.text()?;
        if name_is_valid(&text) {
            Ok(text)
        } else {
            Err(MessageError::Malformed)
        }
    }

    fn nonce(&mut self) -> Result<Nonce, MessageError> {
        let mut nonce = [0u8; 32];
        nonce.copy_from_slice(self.take(32)?);
        Ok(nonce)
    }

    fn mac(&mut self) -> Result<Option<ProofMac>, MessageError> {
        match self.byte()? {
            0 => Ok(None),
            32 => {
                let mut mac = [0u8; 32];
                mac.copy_from_slice(self.take(32)?);
                Ok(Some(mac))
            }
            _ => Err(MessageError::Malformed),
        }
    }

    fn finish(self) -> Result<(), MessageError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(MessageError::Malformed)
        }
    }
}
