//! Starting nodes and waiting on them: the plumbing every test shares.

use std::time::{Duration, Instant};

use bytes::Bytes;
use flotilla_transport::{Inbound, Lane, Security, Transport, TransportOptions, TransportStats};
use tokio::sync::mpsc;

pub const CLUSTER: &str = "test-cluster";
pub const SECRET: &[u8] = b"correct horse battery staple 42!";

pub struct Node {
    pub transport: Transport,
    pub inbox: mpsc::Receiver<Inbound>,
}

pub fn options(name: &str, security: Security) -> TransportOptions {
    TransportOptions { cluster: CLUSTER.to_string(), name: name.to_string(), security, ..Default::default() }
}

pub fn secret() -> Security {
    Security::Secret(SECRET.to_vec())
}

pub fn insecure() -> Security {
    Security::None { allow_remote: false }
}

pub async fn start(options: TransportOptions) -> Node {
    let (tx, inbox) = mpsc::channel(1024);
    let transport = Transport::start(options, tx).await.unwrap();
    Node { transport, inbox }
}

/// Two nodes, "a" and "b", dialing each other directly, with both messages lanes connected.
pub async fn pair(security: Security) -> (Node, Node) {
    pair_with(|_| security.clone()).await
}

/// The same, with each node's security settings (with TLS, each its own certificate).
pub async fn pair_with(security: impl Fn(&str) -> Security) -> (Node, Node) {
    let a = start(options("a", security("a"))).await;
    let mut b_options = options("b", security("b"));
    b_options.peers = vec![("a".to_string(), a.addr())];
    let b = start(b_options).await;
    a.transport.set_peer("b", &b.addr());
    wait_until("both messages lanes connect", Duration::from_secs(5), || {
        a.stats().connections_dialed >= 1 && b.stats().connections_dialed >= 1
    })
    .await;
    (a, b)
}

impl Node {
    pub fn addr(&self) -> String {
        self.transport.local_addr().to_string()
    }

    pub fn stats(&self) -> TransportStats {
        self.transport.stats()
    }

    pub fn send(&self, to: &str, lane: Lane, frame: impl Into<Bytes>) -> bool {
        self.transport.send(to, lane, frame.into())
    }

    /// The next `count` frames, which must all come within `timeout`.
    pub async fn receive(&mut self, count: usize, timeout: Duration) -> Vec<Inbound> {
        let deadline = Instant::now() + timeout;
        let mut received = Vec::with_capacity(count);
        while received.len() < count {
            match tokio::time::timeout_at(deadline.into(), self.inbox.recv()).await {
                Ok(Some(inbound)) => received.push(inbound),
                Ok(None) => panic!("inbox closed after {} of {count} frames", received.len()),
                Err(_) => panic!("only {} of {count} frames within {timeout:?}", received.len()),
            }
        }
        received
    }

    /// Whatever arrives within `window` (to show that nothing does).
    pub async fn drain(&mut self, window: Duration) -> Vec<Inbound> {
        let deadline = Instant::now() + window;
        let mut received = Vec::new();
        while let Ok(Some(inbound)) = tokio::time::timeout_at(deadline.into(), self.inbox.recv()).await {
            received.push(inbound);
        }
        received
    }
}

/// Polls `condition` every 5 ms until it holds; fails the test after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A loopback address on which nothing listens (bound, then released).
pub fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

pub fn numbered(i: usize) -> Bytes {
    Bytes::from(format!("frame-{i}"))
}

/// Asserts the frames are `numbered(first..)` from `from`, in order.
pub fn assert_numbered(frames: &[Inbound], from: &str, first: usize) {
    for (offset, inbound) in frames.iter().enumerate() {
        assert_eq!(inbound.from, from);
        assert_eq!(inbound.frame, numbered(first + offset), "frame {offset} out of order");
    }
}
