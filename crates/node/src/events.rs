//! What a driver hands its caller as it carries out the core's work: typed events through an `EventSink`, in the
//! order they must be acted on (messages to send, entries appended and committed, snapshots to restore or take,
//! proposals settled or abandoned, state changes). The driver speaks raft indices and the core's entries; a sink
//! turns them into whatever its face needs (the binding's writes gaggle's JSON batch), and `Events` simply
//! records them (tests, the simulation).

use crate::members::MemberRegistry;
use flotilla_raft::{Entry, Index, Message, NodeId, Raft, Snapshot};

/// Who proposed a committed entry, from this node's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposer {
    /// One of this node's own proposals (`NodeDriver::propose`).
    ThisNode,
    /// A client request (`NodeDriver::propose_request`) this node was waiting for.
    WaitedRequest,
    /// Anyone else, or a request nobody here waits for any more.
    Other,
}

/// Where a driver's events go. Every method is called on the caller's thread, during the driver call that made
/// the event; the default methods ignore it.
pub trait EventSink {
    /// A message for the peer `to` (its id and name). Messages go out in the order given. `members` names the
    /// ids in the message (an InstallSnapshot's membership), for a codec that speaks names.
    fn send(&mut self, to: NodeId, to_name: &str, message: &Message, members: &MemberRegistry);

    /// This node should introduce itself (by name) to `to`, or to everyone when `None`: members discover each
    /// other by these greetings when only the cluster's size is known.
    fn introduce(&mut self, to: Option<&str>);

    /// The role, term, leader or vote changed (`core` is the node's state now). Called before the entries that
    /// the new state made are reported.
    fn state_changed(&mut self, core: &Raft) {
        let _ = core;
    }

    /// This node started an election (a pre-vote round or a vote) since the last flush.
    fn election_started(&mut self) {}

    /// The leader sent heartbeats in this flush.
    fn heartbeats_sent(&mut self) {}

    /// The leader appended one of its own entries of its current term (user data only) to its log.
    fn appended(&mut self, entry: &Entry) {
        let _ = entry;
    }

    /// The application must restore its state from this snapshot before it applies the entries that follow.
    fn restore(&mut self, snapshot: &Snapshot) {
        let _ = snapshot;
    }

    /// A proposal that committed inside `snapshot` (the restored one), at log `index`.
    fn settled_in_snapshot(&mut self, snapshot: &Snapshot, index: Index, id: &str, proposer: Proposer) {
        let _ = (snapshot, index, id, proposer);
    }

    /// An entry committed and is to be applied, in log order. Entries whose `Entry::is_user_data` is false are
    /// the engine's own (a new leader's empty entry) and carry no application data (their proposer is `Other`).
    fn committed(&mut self, entry: &Entry, proposer: Proposer) {
        let _ = (entry, proposer);
    }

    /// This node stopped waiting for a proposal or request: whether it committed is unknown.
    fn abandoned(&mut self, id: &str) {
        let _ = id;
    }

    /// The application should take a snapshot of its state as of log `index` (answer with `snapshot_taken`).
    fn snapshot_wanted(&mut self, index: Index) {
        let _ = index;
    }

    /// This node's read `request` (`NodeDriver::read`) is done: its read index is `index`, and every entry up to
    /// it has been handed to `committed` (or `restore`), so the application's state now serves the read.
    fn read_done(&mut self, request: u64, index: Index) {
        let _ = (request, index);
    }

    /// The configuration in force changed (a change appended here or received, a snapshot, leaving a joint
    /// configuration): `NodeDriver::member_names` says what it is now.
    fn membership_changed(&mut self) {}

    /// The membership change `request` (`NodeDriver::change_membership` and its kin) settled: committed (with
    /// leaving a joint configuration) when `committed`, else lost (a new leader overwrote the entry that held it).
    fn membership_change_settled(&mut self, request: u64, committed: bool) {
        let _ = (request, committed);
    }

    /// More committed entries are ready but were held back to keep this batch small: flush again soon.
    fn more(&mut self) {}
}

/// One recorded event (see `EventSink`), owning its data.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Send { to: NodeId, message: Message },
    Introduce { to: Option<String> },
    StateChanged,
    ElectionStarted,
    HeartbeatsSent,
    Appended(Entry),
    Restore(Snapshot),
    SettledInSnapshot { index: Index, id: String, proposer: Proposer },
    Committed { entry: Entry, proposer: Proposer },
    Abandoned(String),
    SnapshotWanted(Index),
    ReadDone { request: u64, index: Index },
    MembershipChanged,
    MembershipChangeSettled { request: u64, committed: bool },
    More,
}

/// A sink that records every event, in order.
#[derive(Clone, Debug, Default)]
pub struct Events(pub Vec<Event>);

impl Events {
    /// The messages sent, in order.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.0.iter().filter_map(|event| match event {
            Event::Send { message, .. } => Some(message),
            _ => None,
        })
    }

    /// The committed user entries (the application's), in order.
    pub fn committed(&self) -> impl Iterator<Item = (&Entry, Proposer)> {
        self.0.iter().filter_map(|event| match event {
            Event::Committed { entry, proposer } if entry.is_user_data() => Some((entry, *proposer)),
            _ => None,
        })
    }
}

impl EventSink for Events {
    fn send(&mut self, to: NodeId, _to_name: &str, message: &Message, _members: &MemberRegistry) {
        self.0.push(Event::Send { to, message: message.clone() });
    }
    fn introduce(&mut self, to: Option<&str>) {
        self.0.push(Event::Introduce { to: to.map(str::to_string) });
    }
    fn state_changed(&mut self, _core: &Raft) {
        self.0.push(Event::StateChanged);
    }
    fn election_started(&mut self) {
        self.0.push(Event::ElectionStarted);
    }
    fn heartbeats_sent(&mut self) {
        self.0.push(Event::HeartbeatsSent);
    }
    fn appended(&mut self, entry: &Entry) {
        self.0.push(Event::Appended(entry.clone()));
    }
    fn restore(&mut self, snapshot: &Snapshot) {
        self.0.push(Event::Restore(snapshot.clone()));
    }
    fn settled_in_snapshot(&mut self, _snapshot: &Snapshot, index: Index, id: &str, proposer: Proposer) {
        self.0.push(Event::SettledInSnapshot { index, id: id.to_string(), proposer });
    }
    fn committed(&mut self, entry: &Entry, proposer: Proposer) {
        self.0.push(Event::Committed { entry: entry.clone(), proposer });
    }
    fn abandoned(&mut self, id: &str) {
        self.0.push(Event::Abandoned(id.to_string()));
    }
    fn snapshot_wanted(&mut self, index: Index) {
        self.0.push(Event::SnapshotWanted(index));
    }
    fn read_done(&mut self, request: u64, index: Index) {
        self.0.push(Event::ReadDone { request, index });
    }
    fn membership_changed(&mut self) {
        self.0.push(Event::MembershipChanged);
    }
    fn membership_change_settled(&mut self, request: u64, committed: bool) {
        self.0.push(Event::MembershipChangeSettled { request, committed });
    }
    fn more(&mut self) {
        self.0.push(Event::More);
    }
}
