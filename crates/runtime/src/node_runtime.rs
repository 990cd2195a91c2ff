//! `NodeRuntime`: the thread that runs a node's loop. It ticks the engine's clock, hands it the peers' messages
//! and the disk's acknowledgements, flushes it whenever something happened (persist, then send: the engine only
//! releases what its writes allow), sends its messages over the transport, and queues its outputs for the
//! application, waking the JS thread when the first of them is queued. The engine is shared behind a lock: the JS thread's calls take
//! it briefly, then `wake` the loop, which flushes what they started.

use crate::engine::Engine;
use crate::frames::{self, Frame};
use bytes::Bytes;
use flotilla_transport::{
    ClientEvent, ClientReplies, Inbound, Lane, PeerAddresses, Transport, TransportError, TransportOptions,
    TransportStats,
};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

/// Messages received in one go before the engine is flushed: enough to batch a burst, few enough that replies
/// do not wait long.
const RECEIVE_BATCH: usize = 256;
/// Frames the transport hands over before it waits for the loop.
const INBOUND_QUEUE: usize = 4096;
/// Clients' frames the transport hands over before it waits (then TCP pushes back on the clients).
const CLIENT_QUEUE: usize = 16;
/// Bytes of clients' frames handed to the application and not taken by it yet, at most (in KiB): beyond, the
/// clients wait, so that a slow application (or a flood of requests) cannot make the node hold more.
const CLIENT_BUDGET_KIB: usize = 32 * 1024;

/// A client frame's share of the budget of client bytes in flight to the application: dropping it gives it back.
pub struct ClientBudget(#[allow(dead_code)] OwnedSemaphorePermit);

pub struct RuntimeOptions {
    /// The length of one tick of the node's clock.
    pub tick: Duration,
    pub transport: TransportOptions,
}

/// What the runtime calls on the JS side (through threadsafe functions, which never block the loop).
pub struct Hooks {
    /// Outputs wait in `next_output`: called when the first one is queued; take them all, until None.
    pub output_ready: Box<dyn Fn() + Send>,
    /// The application's text from a peer.
    pub application: Box<dyn Fn(String, String) + Send>,
    /// With it, the node serves clients on its transport's port: each client's frames and the end of its
    /// connection (replies go out through `reply_to_client`), each with its share of the budget of client bytes
    /// on their way to the application, to drop once the application has the frame. Without it, clients are
    /// refused.
    pub client: Option<Box<dyn Fn(ClientEvent, ClientBudget) + Send>>,
}

#[derive(Debug)]
pub enum RuntimeError {
    /// The transport could not start (a bad address, the port taken, insecure settings).
    Transport(TransportError),
    /// The thread could not be started, or ended before it said whether the transport started.
    Thread(String),
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::Transport(why) => write!(f, "the transport cannot start: {why}"),
            RuntimeError::Thread(why) => write!(f, "the node's thread cannot start: {why}"),
        }
    }
}

impl std::error::Error for RuntimeError {}

/// The runtime's own counters, beside the transport's.
#[derive(Clone, Debug, Default)]
pub struct RuntimeStats {
    pub transport: TransportStats,
    /// Frames whose kind byte was unknown (or empty frames).
    pub unknown_frames: u64,
    /// Outputs handed to the application.
    pub outputs: u64,
    /// Times the application woke the loop (after inputs it gave the engine).
    pub wakeups: u64,
}

enum Command {
    SendApplication { to: String, text: Bytes },
    Close,
}

struct Shared<E> {
    engine: Arc<Mutex<E>>,
    wake: Notify,
    outputs: Mutex<VecDeque<String>>,
    stats: Mutex<TransportStats>,
    unknown_frames: AtomicU64,
    output_count: AtomicU64,
    wakeup_count: AtomicU64,
}

impl<E> Shared<E> {
    fn engine(&self) -> MutexGuard<'_, E> {
        // A panic while the lock was held cannot leave the engine half-changed in a way a later call could make
        // worse than stopping would; the binding catches panics, so keep serving.
        self.engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct NodeRuntime<E: Engine> {
    shared: Arc<Shared<E>>,
    commands: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
    local_addr: SocketAddr,
    client_replies: ClientReplies,
    peer_addresses: PeerAddresses,
}

impl<E: Engine> NodeRuntime<E> {
    /// Starts the node's thread and its transport; returns once the transport listens (or could not start).
    pub fn start(
        engine: Arc<Mutex<E>>,
        options: RuntimeOptions,
        persisted: mpsc::UnboundedReceiver<u64>,
        hooks: Hooks,
    ) -> Result<NodeRuntime<E>, RuntimeError> {
        let shared = Arc::new(Shared {
            engine,
            wake: Notify::new(),
            outputs: Mutex::new(VecDeque::new()),
            stats: Mutex::new(TransportStats::default()),
            unknown_frames: AtomicU64::new(0),
            output_count: AtomicU64::new(0),
            wakeup_count: AtomicU64::new(0),
        });
        let (commands, command_receiver) = mpsc::unbounded_channel();
        let (started, started_receiver) = std::sync::mpsc::channel();
        let looped = NodeLoop { shared: shared.clone(), hooks, tick: options.tick };
        let thread = std::thread::Builder::new()
            .name("flotilla-node".into())
            .spawn(move || looped.run(options.transport, command_receiver, persisted, started))
            .map_err(|why| RuntimeError::Thread(why.to_string()))?;
        match started_receiver.recv() {
            Ok(Ok(Started { local_addr, client_replies, peer_addresses })) => {
                Ok(NodeRuntime { shared, commands, thread: Some(thread), local_addr, client_replies, peer_addresses })
            }
            Ok(Err(why)) => {
                let _ = thread.join();
                Err(why)
            }
            Err(_) => {
                let _ = thread.join();
                Err(RuntimeError::Thread("it ended before the transport started".into()))
            }
        }
    }

    /// After a change to the engine: the loop flushes it.
    pub fn wake(&self) {
        self.shared.wakeup_count.fetch_add(1, Ordering::Relaxed);
        self.shared.wake.notify_one();
    }

    /// The oldest output the application has not taken, if any.
    pub fn next_output(&self) -> Option<String> {
        self.shared.outputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop_front()
    }

    /// Queues the application's text for the peer `to`; false once the runtime is closed.
    pub fn send_application(&self, to: &str, text: Bytes) -> bool {
        self.commands.send(Command::SendApplication { to: to.to_string(), text }).is_ok()
    }

    /// The address the transport dials `name` at (given, or learned from its handshake), if any.
    pub fn peer_address(&self, name: &str) -> Option<String> {
        self.peer_addresses.get(name)
    }

    /// Queues a reply to a client (as `Hooks::client` named it); false when the client is gone or does not read
    /// its replies (it is then disconnected).
    pub fn reply_to_client(&self, client: u64, frame: Bytes) -> bool {
        self.client_replies.send(client, frame)
    }

    /// The address the transport listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters, as of the last turn of the loop.
    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            transport: self.shared.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone(),
            unknown_frames: self.shared.unknown_frames.load(Ordering::Relaxed),
            outputs: self.shared.output_count.load(Ordering::Relaxed),
            wakeups: self.shared.wakeup_count.load(Ordering::Relaxed),
        }
    }

    /// Stops the loop and the transport and waits for the thread to end.
    pub fn close(&mut self) {
        let _ = self.commands.send(Command::Close);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<E: Engine> Drop for NodeRuntime<E> {
    fn drop(&mut self) {
        self.close();
    }
}

/// Hands each client event to the application with its share of the byte budget, waiting while the budget is
/// spent (the transport's queue then fills, and the clients' connections stop being read).
async fn hand_over_clients(
    mut clients: mpsc::Receiver<ClientEvent>,
    hook: Box<dyn Fn(ClientEvent, ClientBudget) + Send>,
) {
    let budget = Arc::new(Semaphore::new(CLIENT_BUDGET_KIB));
    while let Some(event) = clients.recv().await {
        let bytes = match &event {
            ClientEvent::Frame { frame, .. } => frame.len(),
            ClientEvent::Closed { .. } => 0,
        };
        let kib = u32::try_from((bytes / 1024 + 1).min(CLIENT_BUDGET_KIB)).unwrap_or(u32::MAX);
        let Ok(share) = Arc::clone(&budget).acquire_many_owned(kib).await else { return };
        hook(event, ClientBudget(share));
    }
}

/// What the loop's thread hands back once its transport listens.
struct Started {
    local_addr: SocketAddr,
    client_replies: ClientReplies,
    peer_addresses: PeerAddresses,
}

struct NodeLoop<E> {
    shared: Arc<Shared<E>>,
    hooks: Hooks,
    tick: Duration,
}

impl<E: Engine> NodeLoop<E> {
    fn run(
        mut self,
        mut transport: TransportOptions,
        commands: mpsc::UnboundedReceiver<Command>,
        persisted: mpsc::UnboundedReceiver<u64>,
        started: std::sync::mpsc::Sender<Result<Started, RuntimeError>>,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(why) => {
                let _ = started.send(Err(RuntimeError::Thread(why.to_string())));
                return;
            }
        };
        runtime.block_on(async move {
            let (inbound_sender, inbound) = mpsc::channel(INBOUND_QUEUE);
            let (client_sender, clients) = mpsc::channel(CLIENT_QUEUE);
            let client_hook = self.hooks.client.take();
            transport.clients = client_hook.is_some().then_some(client_sender);
            let transport = match Transport::start(transport, inbound_sender).await {
                Ok(transport) => transport,
                Err(why) => {
                    let _ = started.send(Err(RuntimeError::Transport(why)));
                    return;
                }
            };
            let _ = started.send(Ok(Started {
                local_addr: transport.local_addr(),
                client_replies: transport.client_replies(),
                peer_addresses: transport.peer_addresses(),
            }));
            // Clients' frames go to the application from a task of their own: they never delay the loop.
            let clients = client_hook.map(|hook| tokio::spawn(hand_over_clients(clients, hook)));
            let transport = self.serve(transport, commands, persisted, inbound).await;
            if let Some(clients) = clients {
                clients.abort();
            }
            transport.close().await;
        });
    }

    async fn serve(
        &self,
        transport: Transport,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut persisted: mpsc::UnboundedReceiver<u64>,
        mut inbound: mpsc::Receiver<Inbound>,
    ) -> Transport {
        let mut clock = tokio::time::interval(self.tick);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        clock.tick().await;
        loop {
            // After a tick the engine hands over everything; otherwise it may keep back what nobody waits for.
            let mut ticked = false;
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::SendApplication { to, text }) => {
                        transport.send(&to, Lane::Messages, frames::application(&text));
                        continue;
                    }
                    Some(Command::Close) | None => return transport,
                },
                Some(token) = persisted.recv() => self.shared.engine().persisted(token),
                Some(first) = inbound.recv() => {
                    let mut engine = self.shared.engine();
                    self.receive(&mut engine, first);
                    for _ in 1..RECEIVE_BATCH {
                        match inbound.try_recv() {
                            Ok(next) => self.receive(&mut engine, next),
                            Err(_) => break,
                        }
                    }
                }
                _ = clock.tick() => {
                    self.shared.engine().tick();
                    ticked = true;
                }
                () = self.shared.wake.notified() => {}
            }
            self.flush(&transport, !ticked);
            *self.shared.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = transport.stats();
        }
    }

    fn receive(&self, engine: &mut E, inbound: Inbound) {
        match frames::read(&inbound.frame) {
            Some(Frame::Engine(message)) => engine.receive(&inbound.from, message),
            Some(Frame::Application(text)) => match String::from_utf8(text.to_vec()) {
                Ok(text) => (self.hooks.application)(inbound.from, text),
                Err(_) => {
                    self.shared.unknown_frames.fetch_add(1, Ordering::Relaxed);
                }
            },
            None => {
                self.shared.unknown_frames.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Flushes the engine, sends its messages (after the lock is released) and queues its output.
    fn flush(&self, transport: &Transport, may_wait: bool) {
        let mut outgoing: Vec<(Option<String>, Lane, Bytes)> = Vec::new();
        let (output, addresses) = {
            let mut engine = self.shared.engine();
            let output = engine.flush(
                &mut |to, lane, message| {
                    outgoing.push((to.map(str::to_string), lane, frames::engine(message)));
                },
                may_wait,
            );
            (output, engine.take_addresses())
        };
        for (name, address) in addresses {
            transport.set_peer(&name, &address);
        }
        for (to, lane, frame) in outgoing {
            match to {
                Some(to) => {
                    transport.send(&to, lane, frame);
                }
                None => {
                    for (peer, _) in transport.peers() {
                        transport.send(&peer, lane, frame.clone());
                    }
                }
            }
        }
        if let Some(output) = output {
            let was_empty = {
                let mut outputs = self.shared.outputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                outputs.push_back(output);
                outputs.len() == 1
            };
            self.shared.output_count.fetch_add(1, Ordering::Relaxed);
            // One wake-up while outputs wait: the application takes them all (`next_output` until None).
            if was_empty {
                (self.hooks.output_ready)();
            }
            // The engine may hold more (a long committed log goes out in pieces): flush again.
            self.shared.wake.notify_one();
        }
    }
}
