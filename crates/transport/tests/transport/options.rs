//! What `start` refuses before it touches the network.

use flotilla_transport::{Security, Transport, TransportError, TransportOptions};
use tokio::sync::mpsc;

use crate::support::{insecure, options, secret};

async fn start(options: TransportOptions) -> Result<Transport, TransportError> {
    let (tx, _rx) = mpsc::channel(1);
    Transport::start(options, tx).await
}

fn listening_on(listen: &str, security: Security) -> TransportOptions {
    TransportOptions { listen: listen.to_string(), ..options("a", security) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_none_refuses_a_non_loopback_listen_address_without_allow_remote() {
    let refused = start(listening_on("0.0.0.0:0", insecure())).await;
    assert!(matches!(refused, Err(TransportError::InsecureRemote { .. })), "{:?}", refused.err());
    let message = start(listening_on("0.0.0.0:0", insecure())).await.err().unwrap().to_string();
    assert!(message.contains("0.0.0.0:0") && message.contains("loopback"), "{message}");

    for allowed in [
        listening_on("0.0.0.0:0", Security::None { allow_remote: true }),
        listening_on("0.0.0.0:0", secret()),
        listening_on("localhost:0", insecure()),
        listening_on("127.0.0.1:0", insecure()),
    ] {
        start(allowed).await.unwrap().close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_are_refused_at_start() {
    let short_secret = options("a", Security::Secret(b"fifteen bytes!!".to_vec()));
    assert!(matches!(start(short_secret).await, Err(TransportError::ShortSecret { len: 15 })));
    assert!(matches!(start(options("", insecure())).await, Err(TransportError::InvalidName { .. })));
    assert!(matches!(start(options(&"n".repeat(256), insecure())).await, Err(TransportError::InvalidName { .. })));
    let bad_peer =
        TransportOptions { peers: vec![("b".to_string(), "no port".to_string())], ..options("a", insecure()) };
    assert!(matches!(start(bad_peer).await, Err(TransportError::BadAddress { .. })));
    assert!(matches!(start(listening_on("nonsense", insecure())).await, Err(TransportError::BadAddress { .. })));
    let no_queue = TransportOptions { queue_frames: 0, ..options("a", insecure()) };
    assert!(matches!(start(no_queue).await, Err(TransportError::InvalidLimit { what: "queue_frames", .. })));
    let no_frames = TransportOptions { max_frame_bytes: 0, ..options("a", insecure()) };
    assert!(matches!(start(no_frames).await, Err(TransportError::InvalidLimit { what: "max_frame_bytes", .. })));

    let taken = start(options("a", insecure())).await.unwrap();
    let busy = start(listening_on(&taken.local_addr().to_string(), insecure())).await;
    assert!(matches!(busy, Err(TransportError::Bind { .. })), "{:?}", busy.err());
    taken.close().await;
}

#[test]
fn start_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let (tx, _rx) = mpsc::channel(1);
    let mut started = std::pin::pin!(Transport::start(options("a", insecure()), tx));
    let polled = started.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    assert!(matches!(polled, Poll::Ready(Err(TransportError::NoRuntime))));
}

#[test]
fn the_transport_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Transport>();
    shareable::<TransportError>();
}
