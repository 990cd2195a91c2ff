//! Whatever arrives from the network: garbage, huge lengths, cut-off frames, floods of silent connections and
//! sweeps of thousands of hostile inputs (to a secret pair, and inside TLS to a TLS pair). Each closes only its
//! own connection, is counted, and the cluster keeps talking.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_transport::{Lane, Security, TransportOptions, TransportStats};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::certs::{tls, CLUSTER_CA};
use crate::support::{
    assert_numbered, insecure, numbered, options, pair, pair_with, secret, start, wait_until, Node, CLUSTER, SECRET,
};
use crate::wire::{self, Client};

const SOON: Duration = Duration::from_secs(10);

/// Sends `bytes` to `node` on a new connection and checks that the node closes it.
async fn closes_after(node: &Node, bytes: &[u8]) {
    let mut client = Client::connect(&node.addr()).await;
    client.write(bytes).await;
    // The end of the stream, so that a node waiting for the rest of a frame finds none coming.
    let _ = client.stream.shutdown().await;
    assert!(client.closed_within(SOON).await, "the connection stayed open after {:?}", &bytes[..bytes.len().min(16)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_and_a_huge_length_prefix_close_the_connection_and_are_counted() {
    let b = start(TransportOptions { max_frame_bytes: 1024, ..options("b", insecure()) }).await;

    // Another protocol altogether: its first four bytes read as a length far above the handshake's limit.
    closes_after(&b, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n").await;
    // A handshake's fault is counted as its connection ends: the close may be seen first.
    wait_until("one oversized frame counted", SOON, || b.stats().dropped_oversized_frame == 1).await;
    closes_after(&b, &[0xff; 64]).await;
    wait_until("two oversized frames counted", SOON, || b.stats().dropped_oversized_frame == 2).await;

    // A frame of the right size with the wrong magic, then with the right magic and another version.
    closes_after(&b, &wire::frame(&[0x42; 100])).await;
    let mut other_version = wire::hello(0, CLUSTER, "c", "127.0.0.1:1", &[0; 32]);
    other_version[9] = 2;
    closes_after(&b, &wire::frame(&other_version)).await;
    wait_until("two bad hellos counted", SOON, || b.stats().refused_bad_magic_or_version == 2).await;

    // After a completed handshake: a length above max_frame_bytes.
    let (mut client, _) = Client::handshake(&b.addr(), CLUSTER, "c", "b", None).await;
    client.write(&u32::MAX.to_be_bytes()).await;
    assert!(client.closed_within(SOON).await);
    let (mut client, _) = Client::handshake(&b.addr(), CLUSTER, "c", "b", None).await;
    client.write(&wire::frame(&[0u8; 1025])).await;
    assert!(client.closed_within(SOON).await);
    wait_until("four oversized frames counted", SOON, || b.stats().dropped_oversized_frame == 4).await;
    assert_eq!(b.stats().frames_received, 0);
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_frame_is_harmless() {
    let (a, mut b) = pair(insecure()).await;
    let b_addr = b.addr();

    // A cut-off HELLO, then a cut-off data frame after a good handshake, each followed by the end of the stream.
    let hello = wire::frame(&wire::hello(0, CLUSTER, "c", "127.0.0.1:1", &[0; 32]));
    closes_after(&b, &hello[..hello.len() / 2]).await;
    let (mut client, _) = Client::handshake(&b_addr, CLUSTER, "c", "b", None).await;
    client.write(&1000u32.to_be_bytes()).await;
    client.write(b"only ten..").await;
    client.stream.shutdown().await.unwrap();
    assert!(client.closed_within(SOON).await);
    assert_eq!(b.stats().malformed_frames, 2);

    // One left hanging mid-frame holds only its own connection: a and b talk on.
    let (mut hanging, _) = Client::handshake(&b_addr, CLUSTER, "d", "b", None).await;
    hanging.write(&1000u32.to_be_bytes()).await;
    for i in 0..100 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
    }
    let received = b.receive(100, SOON).await;
    assert_numbered(&received, "a", 0);
    drop(hanging);
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_half_open_connections_is_capped_and_a_member_still_connects_at_once() {
    let (mut a, mut b) = pair(secret()).await;
    let before = b.stats();
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(TcpStream::connect(b.addr()).await.unwrap());
    }
    // 256 of them in their handshake at most: the 44 that waited longest gave their places to newer ones.
    wait_until("b closes the oldest silent connections", SOON, || {
        b.stats().refused_too_many_connections == before.refused_too_many_connections + 44
    })
    .await;

    // While silent connections hold every place, a member that lost its connection connects again at once (it
    // takes the place of the oldest of them), instead of waiting out their handshake timeout.
    let started = Instant::now();
    Client::handshake(&b.addr(), CLUSTER, "reconnecting", "b", Some(SECRET)).await;
    assert!(started.elapsed() < Duration::from_secs(2), "connected after {:?}", started.elapsed());
    wait_until("the silent connection it replaced is closed", SOON, || {
        b.stats().refused_too_many_connections == before.refused_too_many_connections + 45
    })
    .await;

    // The connections already made carry on.
    for i in 0..100 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
        assert!(b.send("a", Lane::Messages, numbered(i)));
    }
    assert_numbered(&b.receive(100, SOON).await, "a", 0);
    assert_numbered(&a.receive(100, SOON).await, "b", 0);

    // The silent connections left are dropped when the handshake times out.
    wait_until("b drops the silent connections", SOON, || {
        b.stats().refused_handshake_timeout == before.refused_handshake_timeout + 255
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(7));
    wait_until("b's connections are back to the pair's", SOON, || {
        b.stats().open_connections == before.open_connections
    })
    .await;
    drop(flood);
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learned_peers_are_capped_at_4096() {
    let b = start(options("b", insecure())).await;
    let addr = b.addr();
    let mut joiners = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let addr = addr.clone();
        joiners.spawn(async move {
            for i in (worker..4200).step_by(16) {
                Client::handshake(&addr, CLUSTER, &format!("joiner-{i}"), "b", None).await;
            }
        });
    }
    while let Some(joined) = joiners.join_next().await {
        joined.unwrap();
    }
    // Every joiner was heard (each is learned just after its OK); only 4096 names are kept to dial back.
    wait_until("b has heard every joiner", SOON, || b.stats().connections_accepted == 4200).await;
    assert_eq!(b.transport.peers().len(), 4096);
    // Forgetting one makes room for another.
    let forgotten = b.transport.peers()[0].0.clone();
    b.transport.remove_peer(&forgotten);
    Client::handshake(&addr, CLUSTER, "late-joiner", "b", None).await;
    wait_until("b learns the late joiner", SOON, || b.transport.peers().iter().any(|(name, _)| name == "late-joiner"))
        .await;
    assert_eq!(b.transport.peers().len(), 4096);
    b.transport.close().await;
}

/// The kinds of hostile input the sweep sends.
const KINDS: u32 = 6;

/// How the sweep's clients reach the pair, and what they know.
#[derive(Clone)]
enum Sweep {
    /// Plain TCP to a secret pair; the clients know the secret (kind 5 uses it).
    Secret,
    /// TLS to a TLS pair, with an intruder's certificate that the cluster's CA signed (naming every
    /// `intruder-N`), so that the hostile input reaches the handshake inside TLS; and one case in `NOT_TLS`
    /// that is not TLS at all.
    Tls(Arc<rustls::ClientConfig>),
}

/// In the TLS sweep, one case in this many is plain TCP (garbage or a plaintext HELLO) to the TLS listener.
const NOT_TLS: u32 = 8;

/// One hostile case against `target` (a node named `target_name` of the pair). Ends once the node has closed
/// the connection, which it must after the client's end of stream.
async fn hostile_case(rng: &mut StdRng, target: &str, target_name: &str, sweep: &Sweep) {
    let (mut client, secret) = match sweep {
        Sweep::Secret => (Client::connect(target).await, Some(SECRET)),
        Sweep::Tls(_) if rng.random_range(0..NOT_TLS) == 0 => {
            let mut client = Client::connect(target).await;
            let bytes = if rng.random() {
                wire::frame(&wire::hello(0, CLUSTER, &intruder(rng), "127.0.0.1:1", &rng.random()))
            } else {
                let mut bytes = vec![0u8; rng.random_range(1..64)];
                rng.fill_bytes(&mut bytes);
                bytes
            };
            client.write_lossy(&bytes).await;
            let _ = client.stream.shutdown().await;
            assert!(client.closed_within(Duration::from_secs(10)).await, "a plain TCP connection to TLS stayed open");
            return;
        }
        Sweep::Tls(config) => match crate::certs::tls_connect(config, target, target_name).await {
            Ok(stream) => (Client::over(stream), None),
            Err(error) => panic!("the intruder's TLS handshake failed: {error}"),
        },
    };
    let kind = rng.random_range(0..KINDS);
    match kind {
        // Random bytes.
        0 => {
            let mut bytes = vec![0u8; rng.random_range(0..64)];
            rng.fill_bytes(&mut bytes);
            client.write_lossy(&bytes).await;
        }
        // A random length prefix, then some random bytes.
        1 => {
            let mut bytes = rng.random::<u32>().to_be_bytes().to_vec();
            bytes.extend((0..rng.random_range(0..2048)).map(|_| rng.random::<u8>()));
            client.write_lossy(&bytes).await;
        }
        // A HELLO with one field wrong.
        2 => {
            client.write_lossy(&wire::frame(&bad_hello(rng, target_name))).await;
        }
        // A good HELLO, then a PROOF that is random or misshapen (with TLS, any MAC is one too many).
        3 | 4 => {
            let nonce_d: [u8; 32] = rng.random();
            let hello = wire::hello(0, CLUSTER, &intruder(rng), "127.0.0.1:1", &nonce_d);
            if client.write_lossy(&wire::frame(&hello)).await && client.read_frame().await.is_some() {
                // A well-formed proof of a random MAC, or random bytes of a random length.
                let proof = if kind == 3 {
                    wire::proof(Some(&rng.random()))
                } else {
                    let mut bytes = vec![0u8; rng.random_range(0..40)];
                    rng.fill_bytes(&mut bytes);
                    bytes
                };
                client.write_lossy(&wire::frame(&proof)).await;
            }
        }
        // A full handshake (with the secret, or inside TLS), then frames with bad tags, huge or cut-off lengths,
        // or good ones.
        _ => {
            let nonce_d: [u8; 32] = rng.random();
            let dialer = intruder(rng);
            let lane = rng.random_range(0..2);
            let hello = wire::hello(lane, CLUSTER, &dialer, wire::ADVERTISED, &nonce_d);
            if !client.write_lossy(&wire::frame(&hello)).await {
                return;
            }
            let Some(welcome) = client.read_frame().await else {
                return;
            };
            let welcome = wire::parse_welcome(&welcome);
            let mac = secret.map(|secret| {
                let (label, advertise) = ("flotilla dialer", wire::ADVERTISED);
                wire::proof_mac(secret, label, lane, advertise, CLUSTER, &dialer, target_name, &nonce_d, &welcome.nonce)
            });
            client.write_lossy(&wire::frame(&wire::proof(mac.as_ref()))).await;
            if client.read_frame().await.is_none() {
                return;
            }
            let session = secret.map(|secret| wire::session_key(secret, &nonce_d, &welcome.nonce));
            for sequence in 0..rng.random_range(0..4u64) {
                let payload = b"hello from an intruder";
                let frame = match &session {
                    Some(session) => wire::sealed(session, sequence, payload),
                    None => payload.to_vec(),
                };
                client.write_lossy(&wire::frame(&frame)).await;
            }
            let bytes = match rng.random_range(0..3) {
                0 => {
                    let mut frame = vec![0u8; rng.random_range(0..64)];
                    rng.fill_bytes(&mut frame);
                    wire::frame(&frame)
                }
                1 => rng.random_range(16 * 1024 * 1024 + 17..=u32::MAX).to_be_bytes().to_vec(),
                _ => rng.random_range(17..100_000u32).to_be_bytes().to_vec(),
            };
            client.write_lossy(&bytes).await;
        }
    }
    let _ = client.stream.shutdown().await;
    assert!(client.closed_within(Duration::from_secs(10)).await, "a hostile connection of kind {kind} stayed open");
}

/// A name from a small pool, so that the intruders that do get in are learned as a few peers, not thousands.
fn intruder(rng: &mut StdRng) -> String {
    format!("intruder-{}", rng.random_range(0..INTRUDERS))
}

const INTRUDERS: usize = 8;

fn bad_hello(rng: &mut StdRng, target_name: &str) -> Vec<u8> {
    let nonce: [u8; 32] = rng.random();
    let mut hello = wire::hello(0, CLUSTER, &intruder(rng), "127.0.0.1:1", &nonce);
    match rng.random_range(0..8) {
        0 => hello[rng.random_range(0..8)] ^= 0x20,
        1 => hello[8..10].copy_from_slice(&rng.random_range(2..u16::MAX).to_be_bytes()),
        2 => hello[10] = rng.random_range(2..=u8::MAX),
        3 => hello = wire::hello(0, "some-other-cluster", "x", "127.0.0.1:1", &nonce),
        4 => hello = wire::hello(0, CLUSTER, target_name, "127.0.0.1:1", &nonce),
        5 => hello = wire::hello(0, CLUSTER, "x", "no port here", &nonce),
        6 => hello.truncate(rng.random_range(0..hello.len())),
        _ => {
            // A string length that runs past the message, or junk after it.
            if rng.random() {
                hello[11] = u8::MAX;
            } else {
                hello.extend_from_slice(b"trailing");
            }
        }
    }
    hello
}

/// Every counter that only a hostile input can move, for the sweep's kind of pair.
fn hostile_counters(stats: &TransportStats, sweep: &Sweep) -> Vec<(&'static str, u64)> {
    let mut counters = vec![
        ("refused_bad_magic_or_version", stats.refused_bad_magic_or_version),
        ("refused_wrong_cluster", stats.refused_wrong_cluster),
        ("refused_unknown_or_self_name", stats.refused_unknown_or_self_name),
        ("refused_bad_auth", stats.refused_bad_auth),
        ("dropped_oversized_frame", stats.dropped_oversized_frame),
        ("malformed_frames", stats.malformed_frames),
    ];
    match sweep {
        Sweep::Secret => counters.push(("dropped_bad_frame_mac", stats.dropped_bad_frame_mac)),
        // TLS protects the frames (a frame MAC could only fail on an altered record: see the TLS tests); what it
        // refuses is the clients that are not TLS.
        Sweep::Tls(_) => counters.push(("refused_tls", stats.refused_tls)),
    }
    counters
}

/// Runs `cases` hostile cases (16 clients at once, alternating between the two nodes) against a pair that talks
/// throughout: a frame each way every millisecond, each checked on arrival.
async fn sweep(cases: usize, security: impl Fn(&str) -> Security, sweep: Sweep) {
    let seed: u64 =
        std::env::var("FLOTILLA_TRANSPORT_HOSTILE_SEED").map_or_else(|_| rand::random(), |s| s.parse().unwrap());
    println!("hostile sweep: {cases} cases, seed {seed} (FLOTILLA_TRANSPORT_HOSTILE_SEED to replay)");
    let started = Instant::now();
    let (mut a, mut b) = pair_with(security).await;
    let targets = [(a.addr(), "a"), (b.addr(), "b")];

    let done = Arc::new(AtomicBool::new(false));
    let talk = {
        let done = Arc::clone(&done);
        async move {
            let mut sent = 0;
            let mut from_a = Vec::new();
            let mut from_b = Vec::new();
            while !done.load(Ordering::Relaxed) {
                assert!(a.send("b", Lane::Messages, numbered(sent)));
                assert!(b.send("a", Lane::Messages, numbered(sent)));
                sent += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
                // Intruders that get in may send frames too; only the pair's are counted here.
                from_b.extend(a.drain(Duration::ZERO).await.into_iter().filter(|inbound| inbound.from == "b"));
                from_a.extend(b.drain(Duration::ZERO).await.into_iter().filter(|inbound| inbound.from == "a"));
            }
            let deadline = Instant::now() + SOON;
            while from_a.len() < sent || from_b.len() < sent {
                assert!(Instant::now() < deadline, "the pair's last frames did not arrive");
                from_b
                    .extend(a.drain(Duration::from_millis(10)).await.into_iter().filter(|inbound| inbound.from == "b"));
                from_a
                    .extend(b.drain(Duration::from_millis(10)).await.into_iter().filter(|inbound| inbound.from == "a"));
            }
            assert_numbered(&from_a, "a", 0);
            assert_numbered(&from_b, "b", 0);
            (a, b, sent)
        }
    };
    let talk = tokio::spawn(talk);

    let workers = 16;
    let mut clients = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let targets = targets.clone();
        let sweep = sweep.clone();
        clients.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(worker as u64));
            for case in (worker..cases).step_by(workers) {
                let (target, name) = &targets[case % 2];
                hostile_case(&mut rng, target, name, &sweep).await;
            }
        });
    }
    while let Some(result) = clients.join_next().await {
        result.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let (a, b, sent) = talk.await.unwrap();
    println!("hostile sweep: {cases} cases in {:?}; the pair exchanged {sent} frames each way", started.elapsed());

    for node in [&a, &b] {
        let stats = node.stats();
        println!("hostile sweep: {stats:?}");
        for (counter, value) in hostile_counters(&stats, &sweep) {
            assert!(value > 0, "{counter} never moved: {stats:?}");
        }
        assert!(stats.frames_received >= sent as u64);
    }
    assert!(a.stats().connections_dialed == 1 && b.stats().connections_dialed == 1, "the pair's connections held");
    a.transport.close().await;
    b.transport.close().await;
}

fn cases(variable: &str, default: usize) -> usize {
    std::env::var(variable).map_or(default, |n| n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_hostile_inputs_neither_panic_nor_stop_a_pair_from_talking() {
    sweep(cases("FLOTILLA_TRANSPORT_HOSTILE_CASES", 10_000), |_| secret(), Sweep::Secret).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_inside_tls_neither_panic_nor_stop_a_tls_pair_from_talking() {
    let names: Vec<String> = (0..INTRUDERS).map(|i| format!("intruder-{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let intruder = crate::certs::client_config(&CLUSTER_CA, Some(&CLUSTER_CA.node(&names)));
    sweep(cases("FLOTILLA_TRANSPORT_HOSTILE_TLS_CASES", 2_000), tls, Sweep::Tls(intruder)).await;
}
