//! The simulated network: decides each message's fate (dropped, delivered once or twice, after a short or a long
//! delay, which reorders messages) and which directed links are cut by partitions, symmetric or one-way.

use flotilla_node::NamedMembership;
use flotilla_raft::{Message, NodeId};
use rand::rngs::StdRng;
use rand::Rng;

/// A message on the wire, tagged with the incarnations of both ends: a crash loses what is in flight to or from it.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub message: Message,
    /// A snapshot's membership by the sender's names, as gaggle's codec carries it (replacing runs).
    pub members: Option<NamedMembership>,
    pub from_incarnation: u64,
    pub to_incarnation: u64,
}

/// How badly the network behaves right now. All zero is a reliable (but still reordering) network.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    pub drop: f64,
    pub duplicate: f64,
    /// The probability that a message takes a long delay instead of a short one.
    pub long_delay: f64,
}

#[derive(Debug)]
pub struct Network {
    size: usize,
    /// `cut[from * size + to]` (0-based ids): messages from `from` to `to` are lost.
    cut: Vec<bool>,
    /// `held[id - 1]`: the node is cut off from every other until `release`d, whatever partitions heal.
    held: Vec<bool>,
    pub faults: Faults,
    /// The short delay is uniform in 1..=short_delay_max time units.
    short_delay_max: u64,
    long_delay_max: u64,
}

impl Network {
    pub fn new(size: usize, short_delay_max: u64, long_delay_max: u64) -> Network {
        Network {
            size,
            cut: vec![false; size * size],
            held: vec![false; size],
            faults: Faults::default(),
            short_delay_max,
            long_delay_max,
        }
    }

    fn link(&self, from: NodeId, to: NodeId) -> usize {
        (from - 1) as usize * self.size + (to - 1) as usize
    }

    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut[self.link(from, to)] || self.held[(from - 1) as usize] || self.held[(to - 1) as usize]
    }

    /// Cuts `id` off from every other node until `release(id)`: partitions that heal meanwhile do not reach it.
    pub fn hold(&mut self, id: NodeId) {
        self.held[(id - 1) as usize] = true;
    }

    pub fn release(&mut self, id: NodeId) {
        self.held[(id - 1) as usize] = false;
    }

    /// Whether a node is held (see `hold`).
    pub fn holds_any(&self) -> bool {
        self.held.contains(&true)
    }

    /// The delays after which one sent message arrives: none if it is lost, two if it is duplicated.
    pub fn fate(&self, rng: &mut StdRng, from: NodeId, to: NodeId) -> Vec<u64> {
        if self.is_cut(from, to) || (self.faults.drop > 0.0 && rng.random_bool(self.faults.drop)) {
            return Vec::new();
        }
        let copies = if self.faults.duplicate > 0.0 && rng.random_bool(self.faults.duplicate) { 2 } else { 1 };
        (0..copies).map(|_| self.delay(rng)).collect()
    }

    fn delay(&self, rng: &mut StdRng) -> u64 {
        if self.faults.long_delay > 0.0 && rng.random_bool(self.faults.long_delay) {
            // Now and then a message sits in some queue for many election timeouts.
            let max = if rng.random_bool(0.1) { 5 * self.long_delay_max } else { self.long_delay_max };
            rng.random_range(self.short_delay_max..=max)
        } else {
            rng.random_range(1..=self.short_delay_max)
        }
    }

    /// Cuts every link between `side` and the other nodes, both ways.
    pub fn split(&mut self, side: &[NodeId]) {
        for from in 1..=self.size as NodeId {
            for to in 1..=self.size as NodeId {
                if side.contains(&from) != side.contains(&to) {
                    let link = self.link(from, to);
                    self.cut[link] = true;
                }
            }
        }
    }

    /// Cuts the link from `from` to `to` only: `to` stops hearing `from`, but `from` still hears `to`.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        let link = self.link(from, to);
        self.cut[link] = true;
    }

    /// Heals the partitions, not the nodes held (see `hold`).
    pub fn heal_partitions(&mut self) {
        self.cut.iter_mut().for_each(|cut| *cut = false);
    }

    /// Heals everything: the partitions and the nodes held.
    pub fn heal_all(&mut self) {
        self.heal_partitions();
        self.held.iter_mut().for_each(|held| *held = false);
    }
}
