//! What the runtime drives: an engine that ticks, takes peers' messages and disk acknowledgements, and hands out
//! its messages and its output for the application at each flush. The binding's node implements it (the runtime
//! knows no codec: messages are bytes the engine wrote and reads).

use flotilla_transport::Lane;

/// Where a flush puts each message: its recipient (None: every peer), its lane, its bytes.
pub type SendMessage<'a> = dyn FnMut(Option<&str>, Lane, &[u8]) + 'a;

pub trait Engine: Send + 'static {
    /// One tick of the node's clock.
    fn tick(&mut self);
    /// A message from the peer `from`, as the bytes its engine wrote. Anything malformed is the engine's to drop
    /// and count.
    fn receive(&mut self, from: &str, message: &[u8]);
    /// The disk made every write up to `token` durable.
    fn persisted(&mut self, token: u64);
    /// Runs the ready loop: each message goes to `send` (`to` None: every peer) with the lane it travels on; the
    /// output for the application comes back (None when there is none). `may_wait`: the engine may keep back
    /// what nobody waits for until a later flush; the flush after each tick of the clock passes false.
    fn flush(&mut self, send: &mut SendMessage<'_>, may_wait: bool) -> Option<String>;
    /// Members' addresses (name, "host:port") learned since the last call, from the configurations in the log:
    /// the transport dials them there.
    fn take_addresses(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }
}
