//! Mutual TLS (`Security::Tls`): the configurations built once at start from the PEM settings, the TLS handshake
//! on each side of a connection, and the rule that a node's certificate must name it.
//!
//! Trust is the cluster's CA alone: it is the only root, on both sides, and both sides present a certificate.
//! TLS 1.3 only (both ends are flotilla), with rustls's ring provider; no session resumption (a reconnect is a
//! full handshake, so the peer's certificate is verified every time).
//!
//! Server names: peers are dialed by IP address or host name, which a node's certificate need not contain, so the
//! dialer's verifier checks the acceptor's chain against the CA and not the name it was dialed by (rustls's
//! WebPki server verifier would insist on that name). The name that matters is the node's: its certificate must
//! name it (a subjectAltName DNS entry, or the subject's common name, equal to the node's name), and each side
//! checks that the other's certificate names the node it says it is (the acceptor: the HELLO's dialer) or was
//! dialed as (the dialer: the peer). So a node's certificate, though signed by the cluster's CA, cannot pass for
//! another node.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{NoServerSessionStorage, ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::connection::Connection;
use crate::error::TransportError;
use crate::fault::Fault;

/// The name the dialer gives rustls for the acceptor. Never sent (no SNI) and never checked against the
/// certificate (see the module's comment): the node's name is.
const SERVER_NAME: &str = "flotilla";

/// Both sides of TLS for one transport, built once at start.
pub(crate) struct TlsContext {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    server_name: ServerName<'static>,
    /// Checks a chain as a node's (a server's) certificate: for the dialers of the peers' routes.
    node_verifier: Arc<ClusterCaVerifier>,
}

impl TlsContext {
    /// Reads the PEM settings and checks them: this node's certificate must verify against the CA (as a server
    /// and as a client; a client's, `as_node` false, as a client only) and name `node`, and the key must match it.
    pub(crate) fn new(
        node: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
        ca_pem: &[u8],
        as_node: bool,
    ) -> Result<TlsContext, TransportError> {
        let chain = certificates("the certificate (cert)", cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| {
            tls_error(format!(
                "the private key (key) is not a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block: {error}"
            ))
        })?;
        let mut roots = RootCertStore::empty();
        for ca in certificates("the CA certificate (ca)", ca_pem)? {
            roots.add(ca).map_err(|error| tls_error(format!("the CA certificate (ca) cannot be a root: {error}")))?;
        }
        let roots = Arc::new(roots);
        // ring, not aws-lc-rs (rustls's default): aws-lc is slow to build and needs cmake. rustls 0.23.48 marks
        // ring's provider deprecated for its lack of a post-quantum key exchange (X25519MLKEM768 comes with
        // aws-lc-rs): that is the price of ring, whose key exchanges (X25519, P-256, P-384) are otherwise the usual.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let client_verifier = WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
            .build()
            .map_err(|error| tls_error(format!("the CA certificate (ca): {error}")))?;
        let server_verifier = Arc::new(ClusterCaVerifier { roots, provider: Arc::clone(&provider) });
        let node_verifier = Arc::clone(&server_verifier);

        // This node's own certificate, checked as its peers will check it, so that a wrong one is an error here
        // rather than every connection failing later.
        let now = UnixTime::now();
        let (end_entity, intermediates) = chain.split_first().ok_or_else(|| tls_error("no certificate".into()))?;
        if as_node {
            server_verifier.verify_chain(end_entity, intermediates, now).map_err(|error| {
                tls_error(format!("this node's certificate does not verify against the CA (as a server): {error}"))
            })?;
        }
        client_verifier.verify_client_cert(end_entity, intermediates, now).map_err(|error| {
            tls_error(format!(
                "this node's certificate does not verify against the CA (as a client: it needs the clientAuth \
                 extended key usage, or none): {error}"
            ))
        })?;
        if !names_node(end_entity, node) {
            return Err(tls_error(format!(
                "this node's certificate does not name it: it needs a subjectAltName DNS entry or a subject \
                 common name equal to {node:?}"
            )));
        }

        let versions = [&rustls::version::TLS13];
        let mut server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)
            .map_err(|error| tls_error(error.to_string()))?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|error| tls_error(format!("the certificate and private key: {error}")))?;
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|error| tls_error(error.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(server_verifier)
            .with_client_auth_cert(chain, key)
            .map_err(|error| tls_error(format!("the certificate and private key: {error}")))?;
        client.resumption = Resumption::disabled();
        client.enable_sni = false;

        let server_name = ServerName::try_from(SERVER_NAME).map_err(|error| tls_error(error.to_string()))?;
        Ok(TlsContext {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
            server_name,
            node_verifier,
        })
    }

    /// Whether the other side's certificate (already verified as a client's by the TLS handshake) is a node's too:
    /// it verifies against the CA as a server (the serverAuth extended key usage, or none). A certificate for
    /// clientAuth alone is a client's.
    pub(crate) fn is_node_certificate(&self, connection: &Connection) -> bool {
        let Connection::Tls(stream) = connection else { return false };
        let Some((end_entity, intermediates)) =
            stream.get_ref().1.peer_certificates().and_then(|chain| chain.split_first())
        else {
            return false;
        };
        self.node_verifier.verify_chain(end_entity, intermediates, UnixTime::now()).is_ok()
    }

    /// The acceptor's TLS handshake: the dialer must present a certificate signed by the CA.
    pub(crate) async fn accept(&self, stream: TcpStream) -> Result<Connection, Fault> {
        match self.acceptor.accept(stream).await {
            Ok(stream) => Ok(Connection::Tls(Box::new(stream.into()))),
            Err(error) => Err(handshake_fault(&error)),
        }
    }

    /// The dialer's TLS handshake: the acceptor must present a certificate signed by the CA.
    pub(crate) async fn connect(&self, stream: TcpStream) -> Result<Connection, Fault> {
        match self.connector.connect(self.server_name.clone(), stream).await {
            Ok(stream) => Ok(Connection::Tls(Box::new(stream.into()))),
            Err(error) => Err(handshake_fault(&error)),
        }
    }
}

fn tls_error(reason: String) -> TransportError {
    TransportError::Tls { reason }
}

/// Every certificate in `pem`, in order; at least one.
fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| tls_error(format!("{what} is not PEM: {error}")))?;
    if certificates.is_empty() {
        return Err(tls_error(format!("{what} holds no PEM CERTIFICATE block")));
    }
    Ok(certificates)
}

/// A failed TLS handshake is a refusal when TLS said no (the other side is not TLS, has no certificate or one the
/// CA did not sign, or sent an alert saying so of this side's); a connection that merely ended is not counted.
fn handshake_fault(error: &io::Error) -> Fault {
    match tls_cause(error) {
        Some(_) => Fault::Tls,
        None => Fault::Gone,
    }
}

/// The TLS error behind an I/O error from a TLS stream, if it is one (tokio-rustls wraps rustls's errors so).
pub(crate) fn tls_cause(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// The dialer's check of the acceptor's certificate: the chain up to the cluster's CA, its validity dates and its
/// extended key usage (serverAuth, or none), not the name it was dialed by (see the module's comment).
struct ClusterCaVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for ClusterCaVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCaVerifier").field("roots", &self.roots.len()).finish_non_exhaustive()
    }
}

impl ClusterCaVerifier {
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let certificate = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &certificate,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )
    }
}

impl ServerCertVerifier for ClusterCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_chain(end_entity, intermediates, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, certificate, signature, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, certificate, signature, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Whether `certificate` (already verified against the CA) names the node `node`: a subjectAltName DNS entry or a
/// common name of its subject equal to it, byte for byte.
pub(crate) fn names_node(certificate: &CertificateDer<'_>, node: &str) -> bool {
    let Ok(certificate) = webpki::EndEntityCert::try_from(certificate) else {
        return false;
    };
    certificate.valid_dns_names().any(|name| name == node)
        || common_names(certificate.subject()).any(|name| name == node.as_bytes())
}

/// DER tags of a Name's parts and of the string types a common name comes in.
const SET: u8 = 0x31;
const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const IA5_STRING: u8 = 0x16;
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The common names in a certificate's subject (the DER of the Name's contents: a sequence of SETs of
/// SEQUENCE { OID, value }). A part that does not parse ends the walk; nothing here can panic.
fn common_names(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rdns = subject;
    std::iter::from_fn(move || {
        let (tag, rdn, rest) = der(rdns)?;
        rdns = rest;
        Some((tag == SET).then_some(rdn))
    })
    .flatten()
    .flat_map(|rdn| {
        let mut attributes = rdn;
        std::iter::from_fn(move || {
            let (tag, attribute, rest) = der(attributes)?;
            attributes = rest;
            Some((tag == SEQUENCE).then_some(attribute))
        })
        .flatten()
    })
    .filter_map(|attribute| {
        let (OID, oid, value) = der(attribute)? else {
            return None;
        };
        let (tag, text, _) = der(value)?;
        (oid == COMMON_NAME && matches!(tag, UTF8_STRING | PRINTABLE_STRING | IA5_STRING)).then_some(text)
    })
}

/// One DER element at the start of `input`: its tag, its contents and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        (bytes.iter().fold(0usize, |len, &byte| (len << 8) | usize::from(byte)), rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::{common_names, der};

    #[test]
    fn der_never_reads_past_its_input() {
        assert_eq!(der(&[]), None);
        assert_eq!(der(&[0x30]), None);
        assert_eq!(der(&[0x30, 0x05, 1, 2]), None);
        assert_eq!(der(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(der(&[0x30, 0x81, 0x01, 7, 8]), Some((0x30, &[7u8][..], &[8u8][..])));
    }

    #[test]
    fn common_names_are_found_among_other_attributes() {
        // SET { SEQUENCE { O, "x" } }, SET { SEQUENCE { CN, UTF8 "node-1" } }
        let subject = [
            0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'x', 0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03,
            0x55, 0x04, 0x03, 0x0c, 0x06, b'n', b'o', b'd', b'e', b'-', b'1',
        ];
        assert_eq!(common_names(&subject).collect::<Vec<_>>(), vec![&b"node-1"[..]]);
        // Cut anywhere, it finds at most that name and never panics.
        for end in 0..subject.len() {
            assert!(common_names(&subject[..end]).all(|name| name == b"node-1"));
        }
    }
}
