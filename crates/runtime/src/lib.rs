//! A flotilla node on its own thread (the runtime layer of ARCHITECTURE.md): the node's engine, its clock, its
//! disk acknowledgements and the native transport run on one Rust thread, so a busy JS event loop cannot delay a
//! heartbeat or cost a leadership. The JS thread shares the engine behind a lock (held briefly) to
//! propose, read or ask, and takes the engine's outputs for the application in batches (`next_output`), one
//! wake-up (`Hooks::output_ready`) per batch.

mod engine;
mod frames;
mod node_runtime;

pub use engine::{Engine, SendMessage};
pub use flotilla_transport::{
    client_key, Client, ClientEvent, ClientOptions, Lane, Security, TransportError, TransportOptions, TransportStats,
    DEFAULT_QUEUE_FRAMES, MAX_CLIENT_FRAME_BYTES, MIN_SECRET_BYTES,
};
pub use node_runtime::{ClientBudget, Hooks, NodeRuntime, RuntimeError, RuntimeOptions, RuntimeStats};
