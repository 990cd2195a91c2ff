//! The shared secret at work: it never crosses the wire, a node without it gets nowhere (and never gets a
//! proof to study), and a frame altered, replayed, reordered or injected after the handshake is caught.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_transport::{Lane, Security, TransportOptions};

use crate::proxy::{Config, Proxy, Tamper};
use crate::support::{
    assert_numbered, insecure, numbered, options, pair, secret, start, wait_until, Node, CLUSTER, SECRET,
};
use crate::wire::{self, split_frames, Client};

const SOON: Duration = Duration::from_secs(10);

/// Starts "b", and "a" dialing it through a proxy with `config`.
async fn through_proxy(a_security: Security, b_security: Security, config: Config) -> (Node, Node, Proxy) {
    let b = start(options("b", b_security)).await;
    let proxy = Proxy::start(b.addr(), config).await;
    let a = start(TransportOptions { peers: vec![("b".to_string(), proxy.addr.clone())], ..options("a", a_security) })
        .await;
    (a, b, proxy)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_cluster_exchanges_frames_and_never_sends_the_secret() {
    let mut b = start(options("b", secret())).await;
    let mut a = start(options("a", secret())).await;
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

    let captured: Vec<u8> = [to_b.captured(), to_a.captured()]
        .concat()
        .into_iter()
        .flat_map(|connection| [connection.up, connection.down].concat())
        .collect();
    assert!(contains(&captured, b"frame-99"), "the proxies saw the traffic");
    // Not the secret, nor any 8 bytes of it in a row.
    for piece in SECRET.windows(8) {
        assert!(!contains(&captured, piece), "{:?} of the secret crossed the wire", String::from_utf8_lossy(piece));
    }
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_and_counted() {
    let wrong = Security::Secret(b"not the cluster's secret at all".to_vec());
    let (a, mut b, proxy) = through_proxy(wrong, secret(), Config::default()).await;
    assert!(a.send("b", Lane::Messages, numbered(0)));
    // The dialer finds that the acceptor cannot prove a secret it shares, and says no more: every connection
    // carried the HELLO and nothing else towards the acceptor.
    wait_until("a refuses b's proof twice", SOON, || a.stats().refused_bad_auth >= 2).await;
    for connection in proxy.captured() {
        assert!(split_frames(&connection.up).len() <= 1, "a dialer sent its proof to a node that did not prove itself");
    }
    assert!(b.drain(Duration::from_millis(100)).await.is_empty());
    assert_eq!((a.stats().frames_sent, a.stats().connections_dialed), (0, 0));

    // The acceptor's side: a dialer proving the wrong secret is refused after its PROOF.
    let mut client = Client::connect(&b.addr()).await;
    let nonce_d: [u8; 32] = rand::random();
    client.write(&wire::frame(&wire::hello(0, CLUSTER, "mallory", "127.0.0.1:1", &nonce_d))).await;
    let welcome = wire::parse_welcome(&client.read_frame().await.unwrap());
    let forged = wire::proof_mac(
        b"a guessed secret, 32 bytes long!",
        "flotilla dialer",
        0,
        "127.0.0.1:1",
        CLUSTER,
        "mallory",
        "b",
        &nonce_d,
        &welcome.nonce,
    );
    client.write(&wire::frame(&wire::proof(Some(&forged)))).await;
    assert!(client.closed_within(SOON).await);
    // A handshake's fault is counted as its connection ends: the close may be seen first.
    wait_until("the forged proof counted", SOON, || b.stats().refused_bad_auth == 1).await;
    assert_eq!(b.stats().connections_accepted, 0);
    assert!(!b.transport.peers().iter().any(|(name, _)| name == "mallory"), "an unproven dialer is not learned");
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_secret_and_one_without_refuse_each_other() {
    let (a, b, _proxy) = through_proxy(insecure(), secret(), Config::default()).await;
    assert!(a.send("b", Lane::Messages, numbered(0)));
    wait_until("a refuses b's unexpected proof", SOON, || a.stats().refused_bad_auth >= 1).await;
    let (c, d, _proxy) = through_proxy(secret(), insecure(), Config::default()).await;
    assert!(c.send("b", Lane::Messages, numbered(0)));
    wait_until("c refuses d's missing proof", SOON, || c.stats().refused_bad_auth >= 1).await;
    assert_eq!(b.stats().frames_received + d.stats().frames_received, 0);
    for node in [a, b, c, d] {
        node.transport.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_cluster_is_refused() {
    let mut b = start(options("b", secret())).await;
    let a_options = TransportOptions {
        cluster: "another-cluster".to_string(),
        peers: vec![("b".to_string(), b.addr())],
        ..options("a", secret())
    };
    let a = start(a_options).await;
    assert!(a.send("b", Lane::Messages, numbered(0)));
    wait_until("b refuses a twice", SOON, || b.stats().refused_wrong_cluster >= 2).await;
    assert!(b.drain(Duration::from_millis(100)).await.is_empty());
    assert!(b.transport.peers().is_empty(), "a stranger is not learned");
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialer_with_the_acceptors_own_name_or_a_stranger_at_a_peers_address_is_refused() {
    let b = start(options("b", secret())).await;
    // A dialer claiming to be "b" itself (a node of that name never dials itself, so it is played by hand).
    let mut impostor = Client::connect(&b.addr()).await;
    impostor.write(&wire::frame(&wire::hello(0, CLUSTER, "b", "127.0.0.1:1", &rand::random()))).await;
    assert!(impostor.closed_within(SOON).await);
    wait_until("the impostor counted", SOON, || b.stats().refused_unknown_or_self_name == 1).await;
    // A dialer that expects "c" at b's address finds "b" there instead.
    let a = start(TransportOptions { peers: vec![("c".to_string(), b.addr())], ..options("a", secret()) }).await;
    wait_until("a refuses b in c's place", SOON, || a.stats().refused_unknown_or_self_name >= 1).await;
    assert_eq!(b.stats().connections_accepted, 0);
    a.transport.close().await;
    b.transport.close().await;
}

/// Runs a tampering scenario: a sends numbered frames to b through a proxy that rewrites the first connection's
/// data frames with `tamper` (data frame 0 is the proxy's frame 2). Returns what b delivered.
async fn tampered(
    tamper: impl Fn(usize, Vec<u8>) -> Vec<Vec<u8>> + Send + Sync + 'static,
) -> Vec<flotilla_transport::Inbound> {
    let first_connection: Tamper =
        Arc::new(
            move |connection, index, frame| {
                if connection == 0 && index >= 2 {
                    tamper(index - 2, frame)
                } else {
                    vec![frame]
                }
            },
        );
    let (a, mut b, _proxy) =
        through_proxy(secret(), secret(), Config { tamper: Some(first_connection), ..Config::default() }).await;
    for i in 0..10 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
    }
    wait_until("b catches the tampered frame", SOON, || b.stats().dropped_bad_frame_mac == 1).await;
    let mut delivered = b.drain(Duration::from_millis(100)).await;
    wait_until("a dials again", SOON, || a.stats().connections_dialed >= 2).await;
    for i in 10..20 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
    }
    let after = b.receive(10, SOON).await;
    assert_numbered(&after, "a", 10);
    delivered.extend(after);
    assert_eq!(b.stats().dropped_bad_frame_mac, 1);
    a.transport.close().await;
    b.transport.close().await;
    delivered
}

/// Every frame b delivered is one a sent, once, in order.
fn assert_genuine(delivered: &[flotilla_transport::Inbound]) {
    let sent: Vec<_> = (0..20).map(numbered).collect();
    let mut last = None;
    for inbound in delivered {
        let position = sent.iter().position(|frame| *frame == inbound.frame).expect("a frame a never sent");
        assert!(last.is_none_or(|last| position > last), "a frame delivered twice or out of order");
        last = Some(position);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_or_replayed_frame_fails_its_mac() {
    // Altered: one bit of data frame 3's payload flipped.
    let delivered = tampered(|data, mut frame| {
        if data == 3 {
            frame[0] ^= 1;
        }
        vec![frame]
    })
    .await;
    assert_numbered(&delivered[..3], "a", 0);
    assert_genuine(&delivered);

    // Replayed: data frame 3 sent twice.
    let delivered = tampered(|data, frame| if data == 3 { vec![frame.clone(), frame] } else { vec![frame] }).await;
    assert_numbered(&delivered[..4], "a", 0);
    assert_genuine(&delivered);

    // Reordered: data frames 3 and 4 swapped.
    let held = Mutex::new(None);
    let delivered = tampered(move |data, frame| match data {
        3 => {
            *held.lock().unwrap() = Some(frame);
            vec![]
        }
        4 => vec![frame, held.lock().unwrap().take().unwrap()],
        _ => vec![frame],
    })
    .await;
    assert_numbered(&delivered[..3], "a", 0);
    assert_genuine(&delivered);

    // Injected: a frame of the attacker's own before data frame 3, with a tag it had to guess.
    let delivered = tampered(|data, frame| {
        if data == 3 {
            let mut forged = b"frame-0".to_vec();
            forged.extend_from_slice(&rand::random::<[u8; 16]>());
            vec![forged, frame]
        } else {
            vec![frame]
        }
    })
    .await;
    assert_numbered(&delivered[..3], "a", 0);
    assert_genuine(&delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_handshake_is_refused() {
    let (a, mut b, proxy) = through_proxy(secret(), secret(), Config::default()).await;
    for i in 0..5 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
    }
    assert_numbered(&b.receive(5, SOON).await, "a", 0);
    // Everything a wrote on that connection, HELLO, PROOF and frames, played back to b on a new one.
    let recorded = proxy.captured()[0].up.clone();
    assert_eq!(split_frames(&recorded).len(), 2 + 5);
    let mut replay = Client::connect(&b.addr()).await;
    replay.write(&recorded).await;
    assert!(replay.closed_within(SOON).await);
    wait_until("the replay counted", SOON, || b.stats().refused_bad_auth == 1).await;
    assert!(b.drain(Duration::from_millis(100)).await.is_empty(), "a replayed frame was delivered");
    assert_eq!(b.stats().connections_accepted, 1);
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_played_dialer_that_knows_the_secret_is_heard() {
    // The tests' own reading of the wire format agrees with the transport's.
    let (a, mut b) = pair(secret()).await;
    let (mut client, session) = Client::handshake(&b.addr(), CLUSTER, "hand", "b", Some(SECRET)).await;
    let session = session.unwrap();
    for sequence in 0..3u64 {
        client.write(&wire::frame(&wire::sealed(&session, sequence, &numbered(sequence as usize)))).await;
    }
    assert_numbered(&b.receive(3, SOON).await, "hand", 0);
    a.transport.close().await;
    b.transport.close().await;
}
