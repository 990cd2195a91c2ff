//! gaggle's clusters of nodes kept in memory, whose processes come back under a new id (gaggle's README names its
//! nodes with fresh uuids): gaggle counted any node it heard toward `clusterSize`, so a replacement simply took
//! part. Here the seats are members, and a new name finds them all taken. So a leader of such a cluster (seats
//! discovered, nothing on disk) gives the seat of a voter it has not heard from for `SILENT_ELECTION_TIMEOUTS`
//! election timeouts to a new name that asks to take part (it says hello, as a node that discovers its cluster
//! does, and finds no seat), by a membership change
//! through the log: the silent voter is removed and the new one added as a voter, together (a joint
//! configuration, which the members still heard from carry on their own).

use super::{MembershipError, NodeDriver};
use flotilla_raft::{ConfChangeError, NodeId, Role};
use std::collections::BTreeMap;

/// How many of its longest election timeouts a voter must have been silent for before its seat is given away.
pub const SILENT_ELECTION_TIMEOUTS: u64 = 10;

/// What a leader watches to replace silent voters: when it last heard each member, and the last new name that
/// asked to take part.
#[derive(Debug, Default)]
pub(crate) struct SeatWatch {
    /// Off for clusters whose members are named, or kept on disk (their members come back under their name).
    pub(crate) enabled: bool,
    ticks: u64,
    silent_after_ticks: u64,
    heard: BTreeMap<NodeId, u64>,
    /// A name outside the configuration that asked for a seat, and when.
    asking: Option<(String, u64)>,
    /// The learner that took a silent voter's seat, until it is promoted.
    promoting: Option<String>,
}

impl SeatWatch {
    pub(crate) fn new(enabled: bool, election_ticks_max: u32) -> SeatWatch {
        SeatWatch {
            enabled,
            silent_after_ticks: SILENT_ELECTION_TIMEOUTS * u64::from(election_ticks_max),
            ..SeatWatch::default()
        }
    }

    pub(crate) fn heard(&mut self, id: NodeId) {
        if self.enabled {
            self.heard.insert(id, self.ticks);
        }
    }

    pub(crate) fn asked_to_take_part(&mut self, name: &str) {
        if self.enabled {
            self.asking = Some((name.to_string(), self.ticks));
        }
    }
}

impl NodeDriver {
    /// At each tick: as the leader of a cluster that replaces silent voters, gives the seat of the voter silent
    /// longest (past `SILENT_ELECTION_TIMEOUTS`) to the name that asked to take part within the last
    /// `SILENT_ELECTION_TIMEOUTS` election timeouts, if no change is under way.
    pub(crate) fn replace_a_silent_voter(&mut self) {
        let watch = &mut self.seat_watch;
        if !watch.enabled {
            return;
        }
        watch.ticks += 1;
        let now = watch.ticks;
        if self.raft.role() != Role::Leader {
            // A new leader counts silence from when it took office (and promotes nobody another leader seated).
            watch.heard.clear();
            watch.promoting = None;
            return;
        }
        if let Some(learner) = watch.promoting.clone() {
            if self.pending_changes.is_empty() {
                match self.promote_member(&learner) {
                    Err(MembershipError::Refused { why: ConfChangeError::NotCaughtUp { .. }, .. }) => {}
                    _ => self.seat_watch.promoting = None,
                }
            }
            return;
        }
        let watch = &mut self.seat_watch;
        let Some((newcomer, asked_at)) = watch.asking.clone() else { return };
        if now - asked_at > watch.silent_after_ticks {
            watch.asking = None;
            return;
        }
        let membership = self.raft.membership();
        if !membership.outgoing.is_empty() || self.peers.has_vacant_seats() || !self.pending_changes.is_empty() {
            return;
        }
        let self_id = self.peers.self_id();
        let silent = membership
            .voters
            .iter()
            .filter(|&&id| id != self_id)
            .map(|&id| (*watch.heard.entry(id).or_insert(now), id))
            .filter(|&(heard, _)| now - heard >= watch.silent_after_ticks)
            .min();
        let Some((_, silent)) = silent else { return };
        let Some(silent_name) = self.peers.name_of(silent).map(str::to_string) else { return };
        let (Ok(voters), Ok(learners)) =
            (self.names_of(&membership.voters.clone()), self.names_of(&membership.learners.clone()))
        else {
            return;
        };
        let voters: Vec<String> = voters.into_iter().filter(|name| *name != silent_name).collect();
        let learners: Vec<String> = learners.into_iter().chain(std::iter::once(newcomer.clone())).collect();
        // Refused (an id collision, say): asked again only if the name asks again.
        if self.change_membership(&voters, &learners).is_ok() {
            self.seat_watch.promoting = Some(newcomer);
        }
        self.seat_watch.asking = None;
        self.seat_watch.heard.remove(&silent);
    }
}
