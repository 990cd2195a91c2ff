//! Clients on the node's port: a client dials with the peers' handshake on its own route, authenticated the
//! same way, and exchanges frames both ways on its one connection; a node that serves no clients, a wrong secret
//! or a certificate of another CA refuse it (counted); a client that does not read its replies is disconnected; at
//! most 64 clients are served, in a pool apart from the peers' places, and a client frame above 4 MiB closes its
//! connection.

use std::time::Duration;

use bytes::Bytes;
use flotilla_transport::{
    client_key, Client, ClientEvent, ClientOptions, Security, TransportError, CLIENT_QUEUE_BYTES, CLIENT_QUEUE_FRAMES,
    IDLE_BEFORE_EVICTION, MAX_CLIENTS, MAX_CLIENT_FRAME_BYTES,
};
use tokio::sync::mpsc::{self, error::TryRecvError};

use crate::certs::{tls, Ca, CLUSTER_CA};
use crate::support::{insecure, options, secret, wait_until, Node, CLUSTER, SECRET};

const SOON: Duration = Duration::from_secs(10);

struct ServingNode {
    node: Node,
    events: mpsc::Receiver<ClientEvent>,
}

async fn serving(name: &str, security: Security) -> ServingNode {
    let (sender, events) = mpsc::channel(64);
    let mut node_options = options(name, security);
    node_options.clients = Some(sender);
    let node = crate::support::start(node_options).await;
    ServingNode { node, events }
}

fn client_options(node: &Node, security: Security) -> ClientOptions {
    ClientOptions {
        cluster: CLUSTER.to_string(),
        name: "admin".to_string(),
        address: node.addr(),
        security,
        max_frame_bytes: 1 << 20,
    }
}

async fn next_event(events: &mut mpsc::Receiver<ClientEvent>) -> ClientEvent {
    tokio::time::timeout(SOON, events.recv()).await.expect("an event in time").expect("the channel open")
}

async fn next_frame(replies: &mut mpsc::Receiver<Bytes>) -> Option<Bytes> {
    tokio::time::timeout(SOON, replies.recv()).await.expect("a reply or the end in time")
}

async fn exchanges_both_ways(node_security: Security, client_security: Security) {
    let mut serving = serving("a", node_security).await;
    let (sender, mut replies) = mpsc::channel(16);
    let client = Client::connect(client_options(&serving.node, client_security), sender).await.unwrap();
    assert_eq!(client.node(), "a");
    for i in 0..50 {
        assert!(client.send(Bytes::from(format!("request {i}"))));
    }
    for i in 0..50 {
        let ClientEvent::Frame { client: id, name, frame } = next_event(&mut serving.events).await else {
            panic!("a frame expected");
        };
        assert_eq!((name.as_str(), frame), ("admin", Bytes::from(format!("request {i}"))));
        assert!(serving.node.transport.send_to_client(id, Bytes::from(format!("reply {i}"))));
    }
    for i in 0..50 {
        assert_eq!(next_frame(&mut replies).await, Some(Bytes::from(format!("reply {i}"))));
    }
    let stats = serving.node.stats();
    assert_eq!((stats.clients_accepted, stats.connections_accepted), (1, 0), "a client is not a peer");
    assert!(serving.node.transport.peers().is_empty(), "a client is never dialed back");
    client.close();
    assert!(matches!(next_event(&mut serving.events).await, ClientEvent::Closed { .. }));
    assert_eq!(next_frame(&mut replies).await, None, "the client's replies end with its connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_exchanges_frames_with_a_node_that_serves_clients() {
    exchanges_both_ways(insecure(), insecure()).await;
}

/// A client's security for the tests' cluster secret: the client key, never the secret itself.
fn client_secret() -> Security {
    Security::Secret(client_key(SECRET).unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_the_client_key_exchanges_authenticated_frames_both_ways() {
    exchanges_both_ways(secret(), client_secret()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_whose_certificate_is_for_clients_only_is_served() {
    exchanges_both_ways(tls("a"), CLUSTER_CA.client_only("admin").security(&CLUSTER_CA)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_key_opens_no_peer_route_and_the_cluster_secret_no_client_route() {
    let mut serving = serving("a", secret()).await;
    // A node holding the client key only, dialing as a peer: refused.
    let mut intruder_options = options("intruder", client_secret());
    intruder_options.peers = vec![("a".to_string(), serving.node.addr())];
    let intruder = crate::support::start(intruder_options).await;
    assert!(intruder.send("a", flotilla_transport::Lane::Messages, Bytes::from_static(b"a vote, say")));
    wait_until("the intruder is refused", SOON, || intruder.stats().refused_bad_auth >= 1).await;
    assert_eq!(serving.node.stats().connections_accepted, 0);
    assert_eq!(serving.node.stats().frames_received, 0);
    // A client proving the cluster's secret instead of the client key: refused too.
    let (sender, _replies) = mpsc::channel(1);
    let refused = Client::connect(client_options(&serving.node, secret()), sender).await;
    assert!(matches!(refused, Err(TransportError::Connect { .. })), "{:?}", refused.err());
    assert!(serving.events.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_clients_only_opens_no_peer_route() {
    let serving = serving("a", tls("a")).await;
    let mut intruder_options = options("admin", CLUSTER_CA.client_only("admin").security(&CLUSTER_CA));
    intruder_options.peers = vec![("a".to_string(), serving.node.addr())];
    // A transport refuses to start as a node with a client's certificate.
    let (tx, _inbox) = mpsc::channel(1);
    assert!(matches!(
        flotilla_transport::Transport::start(intruder_options, tx).await,
        Err(TransportError::Tls { .. })
    ));
    // Played by hand: a TLS dialer with the client's certificate that says HELLO on a peer's lane.
    let cert = CLUSTER_CA.client_only("admin");
    let config = crate::certs::client_config(&CLUSTER_CA, Some(&cert));
    let stream = crate::certs::tls_connect(&config, &serving.node.addr(), "a").await.unwrap();
    let mut dialer = crate::wire::Client::over(stream);
    dialer.write_lossy(&crate::wire::frame(&crate::wire::hello(0, CLUSTER, "admin", "127.0.0.1:1", &[7; 32]))).await;
    assert!(dialer.closed_within(SOON).await, "the node closed the peer's lane");
    wait_until("the refusal is counted", SOON, || serving.node.stats().refused_bad_auth == 1).await;
    assert_eq!(serving.node.stats().connections_accepted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_with_a_certificate_of_the_cluster_naming_it_is_served() {
    exchanges_both_ways(tls("a"), tls("admin")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_serves_no_clients_refuses_them() {
    let node = crate::support::start(options("a", insecure())).await;
    let (sender, _replies) = mpsc::channel(1);
    let refused = Client::connect(client_options(&node, insecure()), sender).await;
    assert!(matches!(refused, Err(TransportError::Connect { .. })), "{:?}", refused.err());
    wait_until("the refusal is counted", SOON, || node.stats().refused_clients == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_the_wrong_secret_or_none_is_refused() {
    let mut serving = serving("a", secret()).await;
    for wrong in [Security::Secret(b"not the cluster's secret at all".to_vec()), insecure()] {
        let (sender, _replies) = mpsc::channel(1);
        let refused = Client::connect(client_options(&serving.node, wrong), sender).await;
        assert!(matches!(refused, Err(TransportError::Connect { .. })), "{:?}", refused.err());
    }
    // The client refuses the node's proof (it cannot check it, or it does not match) before it proves anything,
    // so the node sees only a connection that ended in its handshake.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(serving.node.stats().clients_accepted, 0);
    assert!(serving.events.try_recv().is_err(), "a refused client reaches nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_of_another_ca_is_refused() {
    let serving = serving("a", tls("a")).await;
    let other = Ca::new("another CA");
    let (sender, _replies) = mpsc::channel(1);
    let refused = Client::connect(client_options(&serving.node, other.node(&["admin"]).security(&other)), sender).await;
    assert!(matches!(refused, Err(TransportError::Connect { .. })), "{:?}", refused.err());
    wait_until("the refusal is counted", SOON, || serving.node.stats().refused_tls >= 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_its_replies_is_disconnected() {
    let mut serving = serving("a", secret()).await;
    // The client's side holds one reply and then stops reading: TCP's buffers fill, then the node's queue.
    let (sender, _unread) = mpsc::channel(1);
    let client = Client::connect(client_options(&serving.node, client_secret()), sender).await.unwrap();
    assert!(client.send(Bytes::from_static(b"hello")));
    let ClientEvent::Frame { client: id, .. } = next_event(&mut serving.events).await else { panic!("a frame") };
    let reply = Bytes::from(vec![7u8; 64 * 1024]);
    let mut sent = 0;
    while serving.node.transport.send_to_client(id, reply.clone()) {
        sent += 1;
        assert!(sent < 100_000, "the node queued replies without bound");
        if sent % CLIENT_QUEUE_FRAMES == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert!(matches!(next_event(&mut serving.events).await, ClientEvent::Closed { client } if client == id));
    assert!(serving.node.stats().dropped_queue_full >= 1);
    // Bounded in bytes: the replies queued, plus what the sockets' buffers took in meanwhile.
    assert!(sent * reply.len() < CLIENT_QUEUE_BYTES + (32 << 20), "{sent} replies of 64 KiB were queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serves_at_most_64_clients_apart_from_its_peers_places() {
    let serving = serving("a", insecure()).await;
    let mut clients = Vec::new();
    for _ in 0..MAX_CLIENTS {
        let (sender, replies) = mpsc::channel(1);
        clients.push((Client::connect(client_options(&serving.node, insecure()), sender).await.unwrap(), replies));
    }
    wait_until("every client is served", SOON, || serving.node.stats().clients_accepted == MAX_CLIENTS as u64).await;
    // One more completes its handshake, and is closed at once.
    let (sender, mut replies) = mpsc::channel(1);
    let _refused = Client::connect(client_options(&serving.node, insecure()), sender).await.unwrap();
    assert_eq!(next_frame(&mut replies).await, None, "the client beyond the cap is disconnected");
    assert_eq!(serving.node.stats().refused_too_many_clients, 1);
    // The clients hold none of the 256 places of the accepted connections: 256 more connections (silent ones,
    // still in their handshake) are all taken in, none refused.
    let mut silent = Vec::new();
    for _ in 0..256 {
        silent.push(tokio::net::TcpStream::connect(serving.node.addr()).await.unwrap());
    }
    wait_until("the silent connections are open", SOON, || serving.node.stats().open_connections >= 256).await;
    assert_eq!(serving.node.stats().refused_too_many_connections, 0);
    drop(silent);
    drop(clients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_beyond_the_cap_takes_the_place_of_the_one_idle_longest_once_it_idled_long_enough() {
    let mut serving = serving("a", insecure()).await;
    let mut clients = Vec::new();
    for _ in 0..MAX_CLIENTS {
        let (sender, replies) = mpsc::channel(1);
        clients.push((Client::connect(client_options(&serving.node, insecure()), sender).await.unwrap(), replies));
    }
    wait_until("every client is served", SOON, || serving.node.stats().clients_accepted == MAX_CLIENTS as u64).await;
    // The first client to connect stays active; one of the others is then the one idle longest (which one is the
    // order in which the node registered them, not always the order their connects returned in).
    let started = tokio::time::Instant::now();
    while started.elapsed() < IDLE_BEFORE_EVICTION + Duration::from_millis(500) {
        assert!(clients[0].0.send(Bytes::from_static(b"still here")));
        assert!(matches!(next_event(&mut serving.events).await, ClientEvent::Frame { .. }));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (sender, mut newcomer_replies) = mpsc::channel(1);
    let newcomer = Client::connect(client_options(&serving.node, insecure()), sender).await.unwrap();
    // A closed channel says so at every try; an open one has no reply waiting (the node sends none here).
    let closed = |replies: &mut mpsc::Receiver<Bytes>| replies.try_recv() == Err(TryRecvError::Disconnected);
    let mut disconnected = || clients.iter_mut().filter_map(|(_, replies)| closed(replies).then_some(())).count();
    wait_until("the client idle longest is disconnected", SOON, || disconnected() > 0).await;
    assert_eq!(disconnected(), 1, "one client gave up its place");
    assert!(!closed(&mut clients[0].1), "the active client keeps its place");
    assert!(matches!(next_event(&mut serving.events).await, ClientEvent::Closed { .. }));
    wait_until("the newcomer is served", SOON, || serving.node.stats().clients_accepted == MAX_CLIENTS as u64 + 1)
        .await;
    assert_eq!(serving.node.stats().refused_too_many_clients, 1, "the one that gave up its place");
    assert!(newcomer.send(Bytes::from_static(b"hello")));
    assert!(matches!(next_event(&mut serving.events).await, ClientEvent::Frame { frame, .. } if frame == "hello"));
    assert!(tokio::time::timeout(Duration::from_millis(200), newcomer_replies.recv()).await.is_err(), "still open");
    assert!(clients[0].0.send(Bytes::from_static(b"still served")));
    assert!(
        matches!(next_event(&mut serving.events).await, ClientEvent::Frame { frame, .. } if frame == "still served")
    );
    drop(clients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_frame_above_4_mib_closes_its_connection() {
    let mut serving = serving("a", secret()).await;
    let (sender, mut replies) = mpsc::channel(4);
    let mut options = client_options(&serving.node, client_secret());
    options.max_frame_bytes = 64 << 20;
    let client = Client::connect(options, sender).await.unwrap();
    assert!(client.send(Bytes::from(vec![b' '; MAX_CLIENT_FRAME_BYTES])), "the largest request");
    assert!(
        matches!(next_event(&mut serving.events).await, ClientEvent::Frame { frame, .. } if frame.len() == MAX_CLIENT_FRAME_BYTES)
    );
    assert!(client.send(Bytes::from(vec![b' '; MAX_CLIENT_FRAME_BYTES + 1])), "one byte more");
    assert_eq!(next_frame(&mut replies).await, None, "the connection is closed");
    assert!(matches!(next_event(&mut serving.events).await, ClientEvent::Closed { .. }));
    assert_eq!(serving.node.stats().dropped_oversized_frame, 1);
}
