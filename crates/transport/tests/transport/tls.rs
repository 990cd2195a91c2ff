//! Mutual TLS: a cluster whose CA signed every node's certificate talks (encrypted: nothing of the frames or the
//! handshake is in clear on the wire); a certificate of another CA, no client certificate, plaintext or garbage
//! are refused at the TLS handshake and counted; a certificate that does not name the node is refused by either
//! side; bad TLS settings are an error at start; an altered TLS record closes its connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_transport::{Lane, Security, Transport, TransportError, TransportOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::certs::{client_config, contains, server_config, tls, tls_connect, CLUSTER_CA, OTHER_CA};
use crate::proxy::{Config, Proxy};
use crate::support::{
    assert_numbered, insecure, numbered, options, pair_with, secret, start, wait_until, Node, CLUSTER,
};
use crate::wire::{self, Client};

const SOON: Duration = Duration::from_secs(10);

/// Sends `bytes` to `node` on a new plain TCP connection, ends the stream, and checks that the node closes it.
async fn closes_after(node: &Node, bytes: &[u8]) {
    let mut client = Client::connect(&node.addr()).await;
    client.write_lossy(bytes).await;
    let _ = client.stream.shutdown().await;
    assert!(client.closed_within(SOON).await, "the connection stayed open after {:?}", &bytes[..bytes.len().min(16)]);
}

/// A hand-played TLS dialer with `config`: the connection must end (the TLS handshake failing on either side;
/// in TLS 1.3 a refused client certificate shows only when the client reads).
async fn refused_tls_dial(config: &Arc<rustls::ClientConfig>, node: &Node) {
    if let Ok(stream) = tls_connect(config, &node.addr(), "b").await {
        let mut client = Client::over(stream);
        client.write_lossy(&wire::frame(&wire::hello(0, CLUSTER, "mallory", "127.0.0.1:1", &[7; 32]))).await;
        assert!(client.closed_within(SOON).await, "a refused TLS dialer's connection stayed open");
    }
}

fn assert_not_learned(node: &Node, name: &str) {
    assert!(!node.transport.peers().iter().any(|(peer, _)| peer == name), "{name} was learned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_exchanges_frames() {
    let mut b = start(options("b", tls("b"))).await;
    let mut a = start(options("a", tls("a"))).await;
    let to_b = Proxy::start(b.addr(), Config::default()).await;
    let to_a = Proxy::start(a.addr(), Config::default()).await;
    a.transport.set_peer("b", &to_b.addr);
    b.transport.set_peer("a", &to_a.addr);
    for i in 0..100 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
        assert!(b.send("a", Lane::Bulk, numbered(i)));
    }
    assert_numbered(&b.receive(100, SOON).await, "a", 0);
    assert_numbered(&a.receive(100, SOON).await, "b", 0);

    // Everything on the wire is TLS: no frame, no handshake message (its magic, the cluster's name) in clear.
    let captured: Vec<u8> = [to_b.captured(), to_a.captured()]
        .concat()
        .into_iter()
        .flat_map(|connection| [connection.up, connection.down].concat())
        .collect();
    assert!(captured.len() > 100 * 7, "the proxies saw the traffic");
    for clear in [&b"frame-"[..], b"FLOTILLA", CLUSTER.as_bytes()] {
        assert!(!contains(&captured, clear), "{:?} crossed the wire in clear", String::from_utf8_lossy(clear));
    }
    for node in [&a, &b] {
        let stats = node.stats();
        assert_eq!((stats.refused_tls, stats.refused_bad_auth), (0, 0), "{stats:?}");
    }
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused_and_counted() {
    let mut b = start(options("b", tls("b"))).await;
    // A node of another CA (which it trusts alone): each side refuses the other's certificate.
    let stranger = OTHER_CA.node(&["a"]).security(&OTHER_CA);
    let a = start(TransportOptions { peers: vec![("b".to_string(), b.addr())], ..options("a", stranger) }).await;
    assert!(a.send("b", Lane::Messages, numbered(0)));
    wait_until("a and b refuse each other twice", SOON, || a.stats().refused_tls >= 2 && b.stats().refused_tls >= 2)
        .await;
    assert_eq!(a.stats().connections_dialed, 0);
    a.transport.close().await;

    // A dialer that trusts the cluster's CA but presents another CA's certificate: b refuses it.
    let before = b.stats().refused_tls;
    let config = client_config(&CLUSTER_CA, Some(&OTHER_CA.node(&["mallory"])));
    refused_tls_dial(&config, &b).await;
    wait_until("b refuses the other CA's certificate", SOON, || b.stats().refused_tls == before + 1).await;

    let stats = b.stats();
    assert_eq!((stats.connections_accepted, stats.frames_received), (0, 0), "{stats:?}");
    assert!(b.drain(Duration::from_millis(100)).await.is_empty());
    assert_not_learned(&b, "a");
    assert_not_learned(&b, "mallory");
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialer_without_a_client_certificate_is_refused() {
    let mut b = start(options("b", tls("b"))).await;
    let config = client_config(&CLUSTER_CA, None);
    refused_tls_dial(&config, &b).await;
    wait_until("b refuses a dialer without a certificate", SOON, || b.stats().refused_tls == 1).await;
    let stats = b.stats();
    assert_eq!((stats.connections_accepted, stats.frames_received), (0, 0), "{stats:?}");
    assert!(b.drain(Duration::from_millis(100)).await.is_empty());
    assert_not_learned(&b, "mallory");

    // The same dialer with a certificate of the cluster's is heard (so the refusal was about the certificate).
    let config = client_config(&CLUSTER_CA, Some(&CLUSTER_CA.node(&["c"])));
    let stream = tls_connect(&config, &b.addr(), "b").await.unwrap();
    let (mut client, _) = Client::over(stream).handshake_over(CLUSTER, "c", "b", None).await;
    client.write(&wire::frame(&numbered(0))).await;
    assert_numbered(&b.receive(1, SOON).await, "c", 0);
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_or_garbage_to_a_tls_listener_is_refused_and_harmless() {
    let (mut a, mut b) = pair_with(tls).await;

    // A plaintext HELLO, another protocol, bytes that are nothing, and a TLS record that is not a ClientHello.
    let hello = wire::frame(&wire::hello(0, CLUSTER, "c", "127.0.0.1:1", &[0; 32]));
    let inputs: [&[u8]; 4] =
        [&hello, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n", &[0xff; 64], &[0x16, 0x03, 0x03, 0x00, 0x04, 0x01, 0, 0, 0]];
    for (i, bytes) in inputs.into_iter().enumerate() {
        closes_after(&b, bytes).await;
        wait_until("b counts the refusal", SOON, || b.stats().refused_tls == i as u64 + 1).await;
    }

    // Nodes without TLS, one plaintext and one with a secret, dialing b: refused by b's TLS.
    let c = start(TransportOptions { peers: vec![("b".to_string(), b.addr())], ..options("c", insecure()) }).await;
    let d = start(TransportOptions { peers: vec![("b".to_string(), b.addr())], ..options("d", secret()) }).await;
    wait_until("b refuses c and d", SOON, || b.stats().refused_tls >= 4 + 2).await;
    assert_eq!(c.stats().connections_dialed + d.stats().connections_dialed, 0);
    // And b dialing a plaintext node: its ClientHello's first bytes read as a length far above a HELLO's.
    b.transport.set_peer("c", &c.addr());
    wait_until("c refuses b's TLS", SOON, || c.stats().dropped_oversized_frame >= 1).await;
    assert_eq!(c.stats().connections_accepted, 0);
    b.transport.remove_peer("c");

    // A connection that never starts TLS holds its slot until the handshake timeout.
    let mut silent = TcpStream::connect(b.addr()).await.unwrap();
    wait_until("b drops the silent connection", SOON, || b.stats().refused_handshake_timeout == 1).await;
    assert_eq!(silent.read(&mut [0u8; 16]).await.unwrap_or(0), 0);

    // None of it touched the pair's connections.
    for i in 0..100 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
        assert!(b.send("a", Lane::Messages, numbered(i)));
    }
    assert_numbered(&b.receive(100, SOON).await, "a", 0);
    assert_numbered(&a.receive(100, SOON).await, "b", 0);
    assert_eq!((a.stats().connections_dialed, b.stats().connections_dialed), (1, 1));
    assert_eq!(b.stats().connections_accepted, 1);
    for name in ["c", "d"] {
        assert_not_learned(&b, name);
    }
    for node in [a, b, c, d] {
        node.transport.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_certificate_for_another_name_is_refused() {
    // At start: a node's own certificate must name it.
    let (tx, _rx) = mpsc::channel(1);
    let not_mine = CLUSTER_CA.node(&["c"]).security(&CLUSTER_CA);
    let refused = Transport::start(options("a", not_mine), tx).await.err().unwrap();
    assert!(matches!(&refused, TransportError::Tls { reason } if reason.contains("\"a\"")), "{refused}");

    // The acceptor's side: a dialer with c's certificate (signed by the CA) saying it is "a" is refused after
    // its HELLO, and not learned; under its own name it is heard.
    let mut b = start(options("b", tls("b"))).await;
    let c_config = client_config(&CLUSTER_CA, Some(&CLUSTER_CA.node(&["c"])));
    let mut impostor = Client::over(tls_connect(&c_config, &b.addr(), "b").await.unwrap());
    impostor.write(&wire::frame(&wire::hello(0, CLUSTER, "a", "127.0.0.1:1", &[0; 32]))).await;
    assert!(impostor.closed_within(SOON).await);
    // A handshake's fault is counted as its connection ends: the close may be seen first.
    wait_until("the impostor counted", SOON, || b.stats().refused_bad_auth == 1).await;
    assert_eq!(b.stats().connections_accepted, 0);
    assert_not_learned(&b, "a");
    let honest = tls_connect(&c_config, &b.addr(), "b").await.unwrap();
    let (mut honest, _) = Client::over(honest).handshake_over(CLUSTER, "c", "b", None).await;
    honest.write(&wire::frame(&numbered(0))).await;
    assert_numbered(&b.receive(1, SOON).await, "c", 0);

    // The dialer's side: at b's address, a TLS acceptor with c's certificate. The dialer refuses it before its
    // HELLO: no byte of the handshake reaches it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let impostor_addr = listener.local_addr().unwrap().to_string();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&CLUSTER_CA, &CLUSTER_CA.node(&["c"])));
    let heard: Arc<Mutex<Vec<usize>>> = Arc::default();
    let impostor = tokio::spawn({
        let heard = Arc::clone(&heard);
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                if let Ok(mut stream) = acceptor.accept(stream).await {
                    let mut bytes = Vec::new();
                    let _ = stream.read_to_end(&mut bytes).await;
                    heard.lock().unwrap().push(bytes.len());
                }
            }
        }
    });
    let a = start(TransportOptions { peers: vec![("b".to_string(), impostor_addr)], ..options("a", tls("a")) }).await;
    wait_until("a refuses the impostor twice", SOON, || a.stats().refused_bad_auth >= 2).await;
    wait_until("the impostor's connections end", SOON, || heard.lock().unwrap().len() >= 2).await;
    assert!(heard.lock().unwrap().iter().all(|&bytes| bytes == 0), "a dialer spoke to an impostor: {heard:?}");
    assert_eq!(a.stats().connections_dialed, 0);
    impostor.abort();
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_may_name_the_node_by_its_common_name() {
    // "node one" is no DNS name, so it can only be the certificate's common name.
    let named = |name: &str| CLUSTER_CA.node_by_common_name(name).security(&CLUSTER_CA);
    let mut a = start(options("node one", named("node one"))).await;
    let mut b =
        start(TransportOptions { peers: vec![("node one".to_string(), a.addr())], ..options("b", named("b")) }).await;
    for i in 0..10 {
        assert!(b.send("node one", Lane::Messages, numbered(i)));
    }
    assert_numbered(&a.receive(10, SOON).await, "b", 0);
    for i in 0..10 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
    }
    assert_numbered(&b.receive(10, SOON).await, "node one", 0);
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_settings_are_refused_at_start() {
    let (tx, _rx) = mpsc::channel(1);
    let a = CLUSTER_CA.node(&["a"]);
    let ca = CLUSTER_CA.pem.as_bytes();
    let settings = |cert_pem: &[u8], key_pem: &[u8], ca_pem: &[u8]| Security::Tls {
        cert_pem: cert_pem.to_vec(),
        key_pem: key_pem.to_vec(),
        ca_pem: ca_pem.to_vec(),
    };
    let other_key = CLUSTER_CA.node(&["a"]).key_pem;
    let server_only = CLUSTER_CA.server_only("a");
    let from_another_ca = OTHER_CA.node(&["a"]);
    let cases = [
        (settings(b"", a.key_pem.as_bytes(), ca), "holds no PEM CERTIFICATE"),
        (settings(b"not PEM at all", a.key_pem.as_bytes(), ca), "the certificate (cert)"),
        (settings(a.cert_pem.as_bytes(), b"", ca), "private key"),
        (settings(a.cert_pem.as_bytes(), a.cert_pem.as_bytes(), ca), "private key"),
        (settings(a.cert_pem.as_bytes(), a.key_pem.as_bytes(), b"garbage"), "the CA certificate (ca)"),
        (settings(a.cert_pem.as_bytes(), other_key.as_bytes(), ca), "private key"),
        (settings(from_another_ca.cert_pem.as_bytes(), from_another_ca.key_pem.as_bytes(), ca), "does not verify"),
        (settings(server_only.cert_pem.as_bytes(), server_only.key_pem.as_bytes(), ca), "clientAuth"),
    ];
    for (security, expected) in cases {
        let refused = Transport::start(options("a", security), tx.clone()).await.err().unwrap();
        let message = refused.to_string();
        assert!(matches!(refused, TransportError::Tls { .. }) && message.contains(expected), "{message}");
        assert!(message.starts_with("TLS settings: "), "{message}");
    }

    // TLS, like a secret, may listen on an address other than loopback.
    let security = a.security(&CLUSTER_CA);
    let open = TransportOptions { listen: "0.0.0.0:0".to_string(), ..options("a", security.clone()) };
    Transport::start(open, tx).await.unwrap().close().await;
    // Debug shows the sizes of the PEMs, never the key.
    let shown = format!("{:?}", options("a", security));
    assert!(shown.contains("key_pem: <redacted>"), "{shown}");
    let key_body = a.key_pem.lines().nth(1).unwrap();
    assert!(!shown.contains("PRIVATE KEY") && !shown.contains(key_body), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_tls_record_closes_the_connection_and_is_counted() {
    let mut b = start(options("b", tls("b"))).await;
    // The dialer's encrypted records on its first connection: its side of the TLS handshake, the HELLO, the PROOF,
    // then the frames (one a record, as they are written 10 ms apart); from the 9th record on they are altered, so
    // that a few frames get through first.
    let proxy = Proxy::start(b.addr(), Config { corrupt_tls_records_from: Some(8), ..Config::default() }).await;
    let a =
        start(TransportOptions { peers: vec![("b".to_string(), proxy.addr.clone())], ..options("a", tls("a")) }).await;
    wait_until("a connects", SOON, || a.stats().connections_dialed == 1).await;
    for i in 0..10 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_until("b catches the altered record", SOON, || b.stats().dropped_bad_frame_mac == 1).await;
    // a dials again (the proxy alters the first connection only) and the frames flow.
    wait_until("a dials again", SOON, || a.stats().connections_dialed >= 2).await;
    for i in 10..20 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
    }
    let mut delivered = Vec::new();
    while delivered.last().is_none_or(|inbound: &flotilla_transport::Inbound| inbound.frame != numbered(19)) {
        delivered.extend(b.receive(1, SOON).await);
    }
    // Frames before the altered record arrived, the one in it (and any written after it on that connection) did
    // not, the rest came on the new connection: each once, in order, and nothing else.
    let numbers: Vec<usize> = delivered
        .iter()
        .map(|inbound| (0..20).find(|&i| inbound.frame == numbered(i)).expect("a frame a never sent"))
        .collect();
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]), "out of order or twice: {numbers:?}");
    assert!(numbers.len() < 20 && numbers[0] == 0 && numbers.ends_with(&[10, 11, 12, 13, 14, 15, 16, 17, 18, 19]));
    assert_eq!(b.stats().dropped_bad_frame_mac, 1);
    assert_eq!(b.stats().refused_tls, 0);
    a.transport.close().await;
    b.transport.close().await;
}
