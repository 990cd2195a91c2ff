//! The shared secret, keyed once at start: the handshake's proofs and each connection's session key are HMACs
//! under it, so the secret itself never has to cross the wire.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::TransportError;
use crate::frame_mac::{Direction, FrameMac, FrameMacs};
use crate::handshake_messages::{Nonce, ProofMac};

type HmacSha256 = Hmac<Sha256>;

/// Which side a proof comes from (or a session's MACs are for); the labels differ so that an acceptor's proof can
/// never be replayed as a dialer's (a reflection attack).
#[derive(Clone, Copy)]
pub(crate) enum Prover {
    Acceptor,
    Dialer,
}

/// What both proofs cover: a fresh nonce from each side makes every handshake's proofs unique, and the route and
/// the address the dialer advertised are bound in, so that nobody on the way can change them.
pub(crate) struct Transcript<'a> {
    pub(crate) route: u8,
    pub(crate) advertise: &'a str,
    pub(crate) cluster: &'a str,
    pub(crate) dialer: &'a str,
    pub(crate) acceptor: &'a str,
    pub(crate) nonce_d: &'a Nonce,
    pub(crate) nonce_a: &'a Nonce,
}

#[derive(Clone)]
pub(crate) struct ClusterKey {
    keyed: HmacSha256,
}

/// The key clients prove themselves with: HMAC-SHA256(secret, "flotilla client key"). It opens the client route
/// only; the cluster's secret, which the peers' route needs, cannot be learned from it. So a client can be given
/// this key without being given the power to act as a member.
pub fn client_key(secret: &[u8]) -> Result<[u8; 32], TransportError> {
    let mut mac = ClusterKey::new(secret)?.keyed;
    mac.update(b"flotilla client key");
    Ok(mac.finalize().into_bytes().into())
}

impl ClusterKey {
    pub(crate) fn new(secret: &[u8]) -> Result<ClusterKey, TransportError> {
        // HMAC takes a key of any length; a refusal could only be about the length, so it is reported as such.
        HmacSha256::new_from_slice(secret)
            .map(|keyed| ClusterKey { keyed })
            .map_err(|_| TransportError::ShortSecret { len: secret.len() })
    }

    pub(crate) fn proof(&self, prover: Prover, transcript: &Transcript<'_>) -> ProofMac {
        self.proof_mac(prover, transcript).finalize().into_bytes().into()
    }

    /// Constant time, so that a forger learns nothing from how long a refusal takes.
    pub(crate) fn verify(&self, prover: Prover, transcript: &Transcript<'_>, mac: &[u8]) -> bool {
        self.proof_mac(prover, transcript).verify_slice(mac).is_ok()
    }

    /// The MACs for the frames of one connection, as seen from `side`, under the session key
    /// HMAC(secret, "flotilla session" | nonce_d | nonce_a).
    pub(crate) fn session(&self, nonce_d: &Nonce, nonce_a: &Nonce, side: Prover) -> FrameMacs {
        let mut mac = self.keyed.clone();
        mac.update(b"flotilla session");
        mac.update(nonce_d);
        mac.update(nonce_a);
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        let (written, read) = match side {
            Prover::Dialer => (Direction::DialerToAcceptor, Direction::AcceptorToDialer),
            Prover::Acceptor => (Direction::AcceptorToDialer, Direction::DialerToAcceptor),
        };
        FrameMacs { seal: FrameMac::new(key, written), open: FrameMac::new(key, read) }
    }

    fn proof_mac(&self, prover: Prover, transcript: &Transcript<'_>) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(match prover {
            Prover::Acceptor => b"flotilla acceptor",
            Prover::Dialer => b"flotilla dialer",
        });
        // Each name goes in behind its length, so that no two different (cluster, dialer, acceptor) triples
        // concatenate to the same bytes.
        mac.update(&[transcript.route]);
        for text in [transcript.advertise, transcript.cluster, transcript.dialer, transcript.acceptor] {
            mac.update(&[u8::try_from(text.len()).unwrap_or(u8::MAX)]);
            mac.update(text.as_bytes());
        }
        mac.update(transcript.nonce_d);
        mac.update(transcript.nonce_a);
        mac
    }
}
