//! The wire format written again from SPEC.md, for tests that play a node by hand (a hostile dialer, a replay):
//! an independent reading of the spec, so that the tests also check the format.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

type HmacSha256 = Hmac<Sha256>;

pub const MAGIC: &[u8; 8] = b"FLOTILLA";
pub const VERSION: u16 = 1;
pub const LANE_MESSAGES: u8 = 0;

pub fn text(out: &mut Vec<u8>, text: &[u8]) {
    out.push(text.len() as u8);
    out.extend_from_slice(text);
}

/// The address hand-played dialers advertise.
pub const ADVERTISED: &str = "127.0.0.1:1";

pub fn hello(lane: u8, cluster: &str, dialer: &str, advertise: &str, nonce: &[u8; 32]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.push(lane);
    text(&mut out, cluster.as_bytes());
    text(&mut out, dialer.as_bytes());
    text(&mut out, advertise.as_bytes());
    out.extend_from_slice(nonce);
    out
}

pub fn proof(mac: Option<&[u8; 32]>) -> Vec<u8> {
    match mac {
        Some(mac) => {
            let mut out = vec![32];
            out.extend_from_slice(mac);
            out
        }
        None => vec![0],
    }
}

pub struct Welcome {
    pub acceptor: String,
    pub nonce: [u8; 32],
    pub mac: Option<[u8; 32]>,
}

pub fn parse_welcome(bytes: &[u8]) -> Welcome {
    assert_eq!(&bytes[..8], MAGIC);
    assert_eq!(&bytes[8..10], VERSION.to_be_bytes());
    let name_len = bytes[10] as usize;
    let acceptor = String::from_utf8(bytes[11..11 + name_len].to_vec()).unwrap();
    let rest = &bytes[11 + name_len..];
    let nonce: [u8; 32] = rest[..32].try_into().unwrap();
    let mac = match rest[32] {
        0 => None,
        32 => Some(rest[33..65].try_into().unwrap()),
        other => panic!("a MAC of {other} bytes"),
    };
    Welcome { acceptor, nonce, mac }
}

/// HMAC(secret, label | cluster | dialer | acceptor | nonce_d | nonce_a), each name behind its one-byte length.
#[allow(clippy::too_many_arguments)] // the transcript's fields, as the handshake's proof covers them
pub fn proof_mac(
    secret: &[u8],
    label: &str,
    route: u8,
    advertise: &str,
    cluster: &str,
    dialer: &str,
    acceptor: &str,
    nonce_d: &[u8; 32],
    nonce_a: &[u8; 32],
) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap();
    mac.update(label.as_bytes());
    mac.update(&[route]);
    for name in [advertise, cluster, dialer, acceptor] {
        mac.update(&[name.len() as u8]);
        mac.update(name.as_bytes());
    }
    mac.update(nonce_d);
    mac.update(nonce_a);
    mac.finalize().into_bytes().into()
}

pub fn session_key(secret: &[u8], nonce_d: &[u8; 32], nonce_a: &[u8; 32]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap();
    mac.update(b"flotilla session");
    mac.update(nonce_d);
    mac.update(nonce_a);
    mac.finalize().into_bytes().into()
}

/// A data frame's payload followed by its tag: HMAC(session, direction 1 | sequence | payload), 16 bytes.
pub fn sealed(session: &[u8; 32], sequence: u64, payload: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(session).unwrap();
    mac.update(&[1]);
    mac.update(&sequence.to_be_bytes());
    mac.update(payload);
    let mut out = payload.to_vec();
    out.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    out
}

/// The length prefix and the payload.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Splits a captured byte stream into its frames' payloads (a cut-off last frame is left out).
pub fn split_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while bytes.len() >= 4 {
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        if bytes.len() < 4 + len {
            break;
        }
        frames.push(bytes[4..4 + len].to_vec());
        bytes = &bytes[4 + len..];
    }
    frames
}

/// A byte stream a hand-played client talks over: plain TCP, or TLS over it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A hand-played connection to a node.
pub struct Client {
    pub stream: Box<dyn Stream>,
}

impl Client {
    pub async fn connect(addr: &str) -> Client {
        Client::over(TcpStream::connect(addr).await.unwrap())
    }

    pub fn over(stream: impl Stream + 'static) -> Client {
        Client { stream: Box::new(stream) }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Writes, ignoring a reset: a hostile client's bytes may meet a connection already closed.
    pub async fn write_lossy(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    pub async fn read_frame(&mut self) -> Option<Vec<u8>> {
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix).await.ok()?;
        let mut payload = vec![0u8; u32::from_be_bytes(prefix) as usize];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some(payload)
    }

    /// True if the node closes the connection within `timeout` (whatever it writes before is skipped).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let mut sink = [0u8; 4096];
        let drained = async {
            loop {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(timeout, drained).await.is_ok()
    }

    /// Plays the dialer's side of a whole handshake; returns the session key (with a secret).
    pub async fn handshake(
        addr: &str,
        cluster: &str,
        dialer: &str,
        acceptor: &str,
        secret: Option<&[u8]>,
    ) -> (Client, Option<[u8; 32]>) {
        Client::connect(addr).await.handshake_over(cluster, dialer, acceptor, secret).await
    }

    /// The same, on a connection already open (a TLS one, say).
    pub async fn handshake_over(
        mut self,
        cluster: &str,
        dialer: &str,
        acceptor: &str,
        secret: Option<&[u8]>,
    ) -> (Client, Option<[u8; 32]>) {
        let client = &mut self;
        let nonce_d: [u8; 32] = rand::random();
        client.write(&frame(&hello(LANE_MESSAGES, cluster, dialer, ADVERTISED, &nonce_d))).await;
        let welcome = parse_welcome(&client.read_frame().await.expect("a WELCOME"));
        assert_eq!(welcome.acceptor, acceptor);
        let proof_of = |label: &str| {
            secret.map(|secret| {
                let (route, advertise) = (LANE_MESSAGES, ADVERTISED);
                proof_mac(secret, label, route, advertise, cluster, dialer, acceptor, &nonce_d, &welcome.nonce)
            })
        };
        assert_eq!(welcome.mac, proof_of("flotilla acceptor"), "the acceptor's proof");
        let mac = proof_of("flotilla dialer");
        client.write(&frame(&proof(mac.as_ref()))).await;
        assert_eq!(client.read_frame().await.expect("an OK"), b"OK");
        let session = secret.map(|secret| session_key(secret, &nonce_d, &welcome.nonce));
        (self, session)
    }
}
