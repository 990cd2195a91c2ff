//! The gaggle node as the runtime drives it on its own thread (the native transport): messages travel as the
//! gaggle JSON texts the node writes and reads, snapshot chunks on the bulk lane so that heartbeats never wait
//! behind them, and the rest of each flush is the same output batch the JS faces read.

use super::gaggle_node::GaggleNode;
use crate::runtime::{Engine, Lane, SendMessage};

/// How a snapshot chunk's text starts (see the gaggle wire's writer): those go on the bulk lane.
const INSTALL_SNAPSHOT: &[u8] = b"{\"type\":\"INSTALL_SNAPSHOT\",";

impl Engine for GaggleNode {
    fn tick(&mut self) {
        self.driver.tick();
    }

    fn receive(&mut self, from: &str, message: &[u8]) {
        match std::str::from_utf8(message) {
            Ok(text) => GaggleNode::receive(self, from, text),
            Err(_) => self.driver.receive_unreadable(from),
        }
    }

    fn persisted(&mut self, token: u64) {
        self.driver.persisted(token);
    }

    fn take_addresses(&mut self) -> Vec<(String, String)> {
        self.driver.take_member_addresses()
    }

    fn flush(&mut self, send: &mut SendMessage<'_>, may_wait: bool) -> Option<String> {
        self.flush_apart(
            &mut |to, message| {
                let lane = if message.as_bytes().starts_with(INSTALL_SNAPSHOT) { Lane::Bulk } else { Lane::Messages };
                send(to, lane, message.as_bytes());
            },
            may_wait,
        )
    }
}
