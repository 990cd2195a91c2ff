//! The runtime's loop with a stand-in engine: it ticks on its own thread whether or not anyone takes its
//! outputs, carries the engine's messages to the peer's engine over the transport, wakes the application when
//! outputs start to wait, and carries the application's texts.

use flotilla_runtime::{Engine, Hooks, Lane, NodeRuntime, RuntimeOptions, Security, SendMessage, TransportOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts ticks, sends "ping <n>" to its peer at every tick, keeps what it received, and has an output after
/// every message it received.
#[derive(Default)]
struct Pinger {
    peer: String,
    ticks: u64,
    received: Vec<String>,
    unread: usize,
    /// Each flush: whether a tick came since the one before, and whether the engine was let keep back output.
    flushes: Vec<(bool, bool)>,
    ticks_at_last_flush: u64,
}

impl Engine for Pinger {
    fn tick(&mut self) {
        self.ticks += 1;
    }

    fn receive(&mut self, _from: &str, message: &[u8]) {
        self.received.push(String::from_utf8_lossy(message).into_owned());
        self.unread += 1;
    }

    fn persisted(&mut self, _token: u64) {}

    fn flush(&mut self, send: &mut SendMessage<'_>, may_wait: bool) -> Option<String> {
        self.flushes.push((self.ticks != self.ticks_at_last_flush, may_wait));
        self.ticks_at_last_flush = self.ticks;
        send(Some(&self.peer), Lane::Messages, format!("ping {}", self.ticks).as_bytes());
        (self.unread > 0).then(|| format!("read {}", std::mem::take(&mut self.unread)))
    }
}

/// A loopback address with a port free now (the runtime binds it a moment later).
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn options(name: &str, listen: &str, peer: &str, peer_address: &str) -> RuntimeOptions {
    RuntimeOptions {
        tick: Duration::from_millis(5),
        transport: TransportOptions {
            cluster: "runtime-test".into(),
            name: name.into(),
            listen: listen.into(),
            advertise: None,
            peers: vec![(peer.into(), peer_address.into())],
            security: Security::None { allow_remote: false },
            max_frame_bytes: 1 << 20,
            queue_frames: 1024,
            clients: None,
        },
    }
}

struct Started {
    runtime: NodeRuntime<Pinger>,
    engine: Arc<Mutex<Pinger>>,
    wakeups: Arc<AtomicUsize>,
    texts: Arc<Mutex<Vec<(String, String)>>>,
}

fn start(name: &str, listen: &str, peer: &str, peer_address: &str) -> Started {
    let engine = Arc::new(Mutex::new(Pinger { peer: peer.into(), ..Pinger::default() }));
    let wakeups = Arc::new(AtomicUsize::new(0));
    let texts = Arc::new(Mutex::new(Vec::new()));
    let (woken, heard) = (wakeups.clone(), texts.clone());
    let hooks = Hooks {
        output_ready: Box::new(move || {
            woken.fetch_add(1, Ordering::Relaxed);
        }),
        application: Box::new(move |from, text| heard.lock().unwrap().push((from, text))),
        client: None,
    };
    let (_persisted, tokens) = tokio::sync::mpsc::unbounded_channel();
    let runtime = NodeRuntime::start(engine.clone(), options(name, listen, peer, peer_address), tokens, hooks).unwrap();
    Started { runtime, engine, wakeups, texts }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_loop_ticks_and_carries_messages_while_nobody_takes_its_outputs() {
    let (a_address, b_address) = (free_address(), free_address());
    let a = start("a", &a_address, "b", &b_address);
    let b = start("b", &b_address, "a", &a_address);
    wait_until("a to hear b", || !a.engine.lock().unwrap().received.is_empty());
    wait_until("b to hear a", || !b.engine.lock().unwrap().received.is_empty());
    // Nobody took an output: the loop went on ticking and flushing all the same, one wake-up per output.
    std::thread::sleep(Duration::from_millis(100));
    let ticks = b.engine.lock().unwrap().ticks;
    assert!(ticks >= 10, "b ticked on its own thread ({ticks} ticks)");
    let queued = std::iter::from_fn(|| b.runtime.next_output()).count();
    assert!(queued > 0, "outputs waited for the application");
    assert_eq!(b.wakeups.load(Ordering::Relaxed), 1, "one wake-up for the outputs waiting");
    assert!(b.runtime.next_output().is_none(), "each output is taken once");
    assert!(b.runtime.stats().transport.frames_received > 0);
}

#[test]
fn the_flush_after_a_tick_hands_over_everything_and_the_others_may_keep_back_what_nobody_waits_for() {
    let (a_address, b_address) = (free_address(), free_address());
    let a = start("a", &a_address, "b", &b_address);
    let b = start("b", &b_address, "a", &a_address);
    wait_until("b to hear pings over a few ticks", || {
        let engine = b.engine.lock().unwrap();
        engine.received.len() >= 10 && engine.ticks >= 3
    });
    let wakeups = b.runtime.stats().wakeups;
    for _ in 0..3 {
        b.runtime.wake();
    }
    assert_eq!(b.runtime.stats().wakeups, wakeups + 3, "each of the application's wake-ups is counted");
    let flushes = std::mem::take(&mut b.engine.lock().unwrap().flushes);
    let after_tick = flushes.iter().filter(|(ticked, _)| *ticked).count();
    assert!(after_tick > 0 && after_tick < flushes.len(), "flushes after ticks and after messages: {flushes:?}");
    for (ticked, may_wait) in flushes {
        assert_eq!(may_wait, !ticked, "a flush may keep output back unless a tick came before it");
    }
    drop(a);
}

#[test]
fn application_texts_travel_beside_the_engines_messages() {
    let (a_address, b_address) = (free_address(), free_address());
    let a = start("a", &a_address, "b", &b_address);
    let b = start("b", &b_address, "a", &a_address);
    wait_until("b to hear a", || !b.engine.lock().unwrap().received.is_empty());
    assert!(b.runtime.send_application("a", "{\"dispatch\":1}".into()));
    wait_until("a to hear b's text", || !a.texts.lock().unwrap().is_empty());
    assert_eq!(a.texts.lock().unwrap()[0], ("b".to_string(), "{\"dispatch\":1}".to_string()));
    let engine_texts = a.engine.lock().unwrap().received.iter().filter(|text| text.contains("dispatch")).count();
    assert_eq!(engine_texts, 0, "the application's texts never reach the engine");
}

#[test]
fn a_closed_runtime_stops_ticking_and_sends_nothing_more() {
    let mut a = start("a", "127.0.0.1:0", "b", "127.0.0.1:1");
    std::thread::sleep(Duration::from_millis(30));
    a.runtime.close();
    let ticks = a.engine.lock().unwrap().ticks;
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(a.engine.lock().unwrap().ticks, ticks, "no tick after close");
    assert!(!a.runtime.send_application("b", "late".into()), "nothing is sent after close");
}
