//! Certificates for the TLS tests, made with rcgen: the cluster's CA, node certificates it signs, and another CA
//! whose certificates the cluster must refuse. Also the hand-played TLS ends (a dialer, an acceptor) that the
//! tests use to play a peer the transport would never be.

use std::sync::{Arc, LazyLock};

use flotilla_transport::Security;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;

pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

/// A node's certificate and key, PEM.
#[derive(Clone)]
pub struct NodeCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The CA of the tests' cluster.
pub static CLUSTER_CA: LazyLock<Ca> = LazyLock::new(|| Ca::new("flotilla test cluster CA"));
/// A CA that has nothing to do with the cluster.
pub static OTHER_CA: LazyLock<Ca> = LazyLock::new(|| Ca::new("some other CA"));

impl Ca {
    pub fn new(common_name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { issuer: Issuer::new(params, key), pem }
    }

    /// A node certificate whose subjectAltName has a DNS entry for each of `names` (and whose common name is the
    /// first), good for both ends of a connection.
    pub fn node(&self, names: &[&str]) -> NodeCert {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0].as_str());
        self.sign(params)
    }

    /// A node certificate with `common_name` as its subject's CN and no subjectAltName (for names that are not
    /// DNS names).
    pub fn node_by_common_name(&self, common_name: &str) -> NodeCert {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        self.sign(params)
    }

    /// A certificate for `name` that is only good for a server (its extended key usage lacks clientAuth).
    pub fn server_only(&self, name: &str) -> NodeCert {
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        NodeCert { cert_pem: params.signed_by(&key, &self.issuer).unwrap().pem(), key_pem: key.serialize_pem() }
    }

    /// A certificate for `name` that is only good for a client (its extended key usage lacks serverAuth): a
    /// client's, which opens the client route and no peer's.
    pub fn client_only(&self, name: &str) -> NodeCert {
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        NodeCert { cert_pem: params.signed_by(&key, &self.issuer).unwrap().pem(), key_pem: key.serialize_pem() }
    }

    fn sign(&self, mut params: CertificateParams) -> NodeCert {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        NodeCert { cert_pem: params.signed_by(&key, &self.issuer).unwrap().pem(), key_pem: key.serialize_pem() }
    }
}

impl NodeCert {
    pub fn security(&self, ca: &Ca) -> Security {
        Security::Tls {
            cert_pem: self.cert_pem.clone().into_bytes(),
            key_pem: self.key_pem.clone().into_bytes(),
            ca_pem: ca.pem.clone().into_bytes(),
        }
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(self.cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap()
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

/// TLS settings for the node `name` of the tests' cluster: a fresh certificate naming it, signed by the CA.
pub fn tls(name: &str) -> Security {
    CLUSTER_CA.node(&[name]).security(&CLUSTER_CA)
}

#[allow(deprecated)] // ring's provider, as the transport's (see src/tls.rs)
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &Ca) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    Arc::new(roots)
}

/// A hand-played dialer's TLS: it trusts `trusted` and presents `cert` (none: no client certificate).
pub fn client_config(trusted: &Ca, cert: Option<&NodeCert>) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(trusted));
    Arc::new(match cert {
        Some(cert) => builder.with_client_auth_cert(cert.chain(), cert.key()).unwrap(),
        None => builder.with_no_client_auth(),
    })
}

/// Opens a TLS connection to `addr`, expecting the acceptor's certificate to name `acceptor`. Err when the TLS
/// handshake fails on this side.
pub async fn tls_connect(
    config: &Arc<ClientConfig>,
    addr: &str,
    acceptor: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(acceptor.to_string()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::clone(config)).connect(name, stream).await
}

/// A hand-played acceptor's TLS: it presents `cert` and requires a client certificate signed by `trusted`.
pub fn server_config(trusted: &Ca, cert: &NodeCert) -> Arc<ServerConfig> {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(trusted), provider()).build().unwrap();
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(cert.chain(), cert.key())
            .unwrap(),
    )
}

/// Whether `text` (a PEM, say) contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}
