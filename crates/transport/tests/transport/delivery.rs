//! Frames get there: in order, on both lanes, across a restart, to learned and moved peers; and what cannot be
//! queued is dropped and counted rather than blocking the caller.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flotilla_transport::Lane;

use crate::proxy::{Config, Proxy};
use crate::support::{assert_numbered, dead_address, insecure, numbered, options, pair, secret, start, wait_until};

const SOON: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_flow_both_ways_between_two_nodes_in_order() {
    let (mut a, mut b) = pair(secret()).await;
    for i in 0..2000 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
        assert!(b.send("a", Lane::Messages, numbered(i)));
    }
    assert_numbered(&b.receive(2000, SOON).await, "a", 0);
    assert_numbered(&a.receive(2000, SOON).await, "b", 0);

    // The bulk lane keeps its order too, with frames of every size up to 1 MB.
    let chunks: Vec<Bytes> = (0..20u8).map(|i| Bytes::from(vec![i; usize::from(i) * 50_000])).collect();
    for chunk in &chunks {
        assert!(a.send("b", Lane::Bulk, chunk.clone()));
    }
    let received = b.receive(chunks.len(), SOON).await;
    assert!(received.iter().map(|inbound| &inbound.frame).eq(chunks.iter()));

    // Counted once flushed, which may be just after b has them.
    wait_until("a counts its frames sent", SOON, || a.stats().frames_sent == 2020).await;
    let stats = a.stats();
    assert_eq!(stats.frames_received, 2000);
    let message_bytes: usize = (0..2000).map(|i| numbered(i).len()).sum();
    let bulk_bytes: usize = chunks.iter().map(Bytes::len).sum();
    assert_eq!(stats.bytes_sent, (message_bytes + bulk_bytes) as u64);
    assert_eq!(b.stats().frames_received, 2020);
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialer_reconnects_after_the_peer_restarts() {
    let (mut a, b) = pair(secret()).await;
    let b_addr = b.addr();
    assert!(a.send("b", Lane::Messages, numbered(0)));
    let mut b = b;
    assert_numbered(&b.receive(1, SOON).await, "a", 0);

    b.transport.close().await;
    // a has seen the connection go and dialed again, in vain: what it queues now must wait.
    wait_until("a redials the stopped peer", SOON, || a.stats().reconnects >= 1).await;
    for i in 1..=100 {
        assert!(a.send("b", Lane::Messages, numbered(i)));
    }

    let mut b_options = options("b", secret());
    b_options.listen = b_addr;
    b_options.peers = vec![("a".to_string(), a.addr())];
    let mut b = start(b_options).await;
    assert_numbered(&b.receive(100, SOON).await, "a", 1);
    assert!(a.stats().connections_dialed >= 2);

    // And the other way: a accepted b's new connection in place of the old one.
    assert!(b.send("a", Lane::Messages, numbered(7)));
    assert_numbered(&a.receive(1, SOON).await, "b", 7);
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts() {
    let mut a_options = options("a", insecure());
    a_options.queue_frames = 8;
    a_options.peers = vec![("b".to_string(), dead_address())];
    let a = start(a_options).await;
    let accepted = (0..20).filter(|&i| a.send("b", Lane::Messages, numbered(i))).count();
    // The lane is not connected, so nothing leaves the queue: exactly its bound is kept.
    assert_eq!(accepted, 8);
    assert_eq!(a.stats().dropped_queue_full, 12);
    a.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_for_an_unknown_peer_or_above_the_size_limit_is_dropped_and_counted() {
    let mut a_options = options("a", insecure());
    a_options.max_frame_bytes = 1000;
    let a = start(a_options).await;
    a.transport.set_peer("b", &dead_address());
    assert!(!a.send("nobody", Lane::Messages, numbered(0)));
    assert!(!a.send("b", Lane::Bulk, vec![0u8; 1001]));
    assert!(a.send("b", Lane::Bulk, vec![0u8; 1000]));
    let stats = a.stats();
    assert_eq!((stats.dropped_unknown_peer, stats.dropped_too_large), (1, 1));
    a.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_lane_does_not_hold_up_the_messages_lane() {
    let mut b = start(options("b", secret())).await;
    // a reaches b through a proxy that lets the bulk lane through at about 16 MB/s.
    let proxy = Proxy::start(b.addr(), Config { throttle_bulk: true, ..Config::default() }).await;
    let mut a_options = options("a", secret());
    a_options.peers = vec![("b".to_string(), proxy.addr.clone())];
    let a = start(a_options).await;

    let snapshot = Bytes::from(vec![7u8; 10 * 1024 * 1024]);
    assert!(a.send("b", Lane::Bulk, snapshot.clone()));
    wait_until("the bulk frame is on its way", SOON, || proxy.bulk_bytes.load(Ordering::Relaxed) > 1_000_000).await;

    let mut latencies = Vec::new();
    for i in 0..20 {
        let sent = Instant::now();
        assert!(a.send("b", Lane::Messages, numbered(i)));
        let inbound = b.receive(1, SOON).await.remove(0);
        assert_eq!(inbound.frame, numbered(i), "a message frame waited behind the bulk frame");
        latencies.push(sent.elapsed());
    }
    let in_flight = proxy.bulk_bytes.load(Ordering::Relaxed);
    assert!(in_flight < snapshot.len() as u64, "the bulk frame was through before the messages were");
    let slowest = latencies.iter().max().unwrap();
    assert!(*slowest < Duration::from_millis(500), "a message frame took {slowest:?}");

    let bulk = b.receive(1, SOON).await.remove(0);
    assert_eq!((bulk.from.as_str(), bulk.frame), ("a", snapshot));
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_dialer_is_learned_as_a_peer_with_its_advertised_address() {
    let mut a = start(options("a", secret())).await;
    let mut b_options = options("b", secret());
    b_options.peers = vec![("a".to_string(), a.addr())];
    let mut b = start(b_options).await;
    let b_addr = b.addr();
    wait_until("a learns b", SOON, || a.transport.peers() == vec![("b".to_string(), b_addr.clone())]).await;
    // Read from another thread, without the transport's handle.
    let addresses = a.transport.peer_addresses();
    let learned = std::thread::spawn(move || (addresses.get("b"), addresses.get("c"))).join().unwrap();
    assert_eq!(learned, (Some(b_addr.clone()), None));

    // a can answer the newcomer at once, on a connection of its own.
    assert!(a.send("b", Lane::Messages, numbered(1)));
    assert_numbered(&b.receive(1, SOON).await, "a", 1);
    assert!(b.send("a", Lane::Messages, numbered(2)));
    assert_numbered(&a.receive(1, SOON).await, "b", 2);
    a.transport.close().await;
    b.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_given_a_new_address_is_dialed_there_and_a_removed_peer_is_forgotten() {
    let (a, mut b) = pair(insecure()).await;
    assert!(a.send("b", Lane::Messages, numbered(0)));
    assert_numbered(&b.receive(1, SOON).await, "a", 0);

    // "b" moves: a second node of that name elsewhere; a is told, and writes there from then on.
    let mut moved = start(options("b", insecure())).await;
    a.transport.set_peer("b", &moved.addr());
    assert_eq!(a.transport.peers(), vec![("b".to_string(), moved.addr())]);
    wait_until("a dials b's new address", SOON, || a.stats().connections_dialed >= 2).await;
    assert!(a.send("b", Lane::Messages, numbered(1)));
    assert_numbered(&moved.receive(1, SOON).await, "a", 1);
    assert!(b.drain(Duration::from_millis(100)).await.is_empty());

    assert_eq!(a.transport.peer_addresses().get("b"), Some(moved.addr()));
    a.transport.remove_peer("b");
    assert!(a.transport.peers().is_empty());
    assert_eq!(a.transport.peer_addresses().get("b"), None);
    assert!(!a.send("b", Lane::Messages, numbered(2)));
    assert_eq!(a.stats().dropped_unknown_peer, 1);
    // Its connection to the moved node closed with it.
    wait_until("the moved node sees a's connection close", SOON, || moved.stats().open_connections == 0).await;
    for node in [a, b, moved] {
        node.transport.close().await;
    }
}
