//! gaggle's clusters of nodes kept in memory, whose processes come back under a new id (gaggle's README names its
//! nodes with fresh uuids): gaggle counted any node it heard toward `clusterSize`, so a replacement simply took
//! part. Here the seats are members, and a new name finds them all taken. So the leader of such a cluster (seats
//! discovered, nothing on disk) keeps its `clusterSize` voters by membership changes through the log, one at a
//! time: a member it has not heard from for `SILENT_ELECTION_TIMEOUTS` election timeouts makes room for a new
//! name that asks to take part (it says hello, as a node that discovers its cluster does, and finds no seat),
//! which joins as a learner; a learner is promoted once caught up while voters are fewer than `clusterSize`; and a
//! learner silent that long is removed. Any leader carries on where the last one stopped.

use super::{MembershipError, NodeDriver};
use flotilla_raft::{ConfChangeError, NodeId, Role};
use std::collections::BTreeMap;

/// How many of its longest election timeouts a member must have been silent for before its seat is given away.
pub const SILENT_ELECTION_TIMEOUTS: u64 = 10;

/// What a leader watches to keep its seats filled: when it last heard each member, and the last new name that
/// asked to take part.
#[derive(Debug, Default)]
pub(crate) struct SeatWatch {
    /// The voters the cluster should have; 0 (off) for clusters whose members are named, or kept on disk (their
    /// members come back under their name).
    cluster_size: usize,
    ticks: u64,
    silent_after_ticks: u64,
    heard: BTreeMap<NodeId, u64>,
    /// A name outside the configuration that asked for a seat, and when.
    asking: Option<(String, u64)>,
    /// `InjectedBug::SeatGivenAwayOutsideTheLog`, switched on by the simulation's tests only.
    #[cfg(feature = "bug-injection")]
    pub(crate) gives_seats_outside_the_log: bool,
}

impl SeatWatch {
    pub(crate) fn new(cluster_size: usize, election_ticks_max: u32) -> SeatWatch {
        let silent_after_ticks = SILENT_ELECTION_TIMEOUTS * u64::from(election_ticks_max);
        SeatWatch { cluster_size, silent_after_ticks, ..SeatWatch::default() }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.cluster_size > 0
    }

    /// The member `id` spoke (called only while `enabled`).
    pub(crate) fn heard(&mut self, id: NodeId) {
        self.heard.insert(id, self.ticks);
    }

    pub(crate) fn asked_to_take_part(&mut self, name: &str) {
        if self.enabled() {
            self.asking = Some((name.to_string(), self.ticks));
        }
    }

    /// The member silent longest among `ids`, if silent long enough (one never heard counts from now).
    fn silent_longest(&mut self, ids: impl Iterator<Item = NodeId>) -> Option<NodeId> {
        let now = self.ticks;
        let silent_after = self.silent_after_ticks;
        ids.map(|id| (*self.heard.entry(id).or_insert(now), id))
            .filter(|&(heard, _)| now - heard >= silent_after)
            .min()
            .map(|(_, id)| id)
    }
}

impl NodeDriver {
    /// At each tick, as the leader of a cluster that keeps its seats filled: one change at a time, if none is
    /// under way (see the module's comment).
    pub(crate) fn keep_seats_filled(&mut self) {
        if !self.seat_watch.enabled() {
            return;
        }
        self.seat_watch.ticks += 1;
        let now = self.seat_watch.ticks;
        if self.raft.role() != Role::Leader {
            // A new leader counts silence from when it took office.
            self.seat_watch.heard.clear();
            return;
        }
        if let Some((_, asked_at)) = &self.seat_watch.asking {
            if now - asked_at > self.seat_watch.silent_after_ticks {
                self.seat_watch.asking = None;
            }
        }
        let membership = self.raft.membership().clone();
        if !membership.outgoing.is_empty() || self.discovering() || !self.pending_changes.is_empty() {
            return;
        }
        let (Ok(voters), Ok(learners)) = (self.names_of(&membership.voters), self.names_of(&membership.learners))
        else {
            return;
        };
        let name = |driver: &NodeDriver, id| driver.peers.name_of(id).map(str::to_string);
        // A learner silent that long goes (a newcomer that went away before it caught up, say).
        if let Some(gone) =
            self.seat_watch.silent_longest(membership.learners.iter().copied()).and_then(|id| name(self, id))
        {
            let learners: Vec<String> = learners.into_iter().filter(|learner| *learner != gone).collect();
            let _ = self.change_membership(&voters, &learners);
            return;
        }
        if voters.len() < self.seat_watch.cluster_size {
            for learner in &learners {
                match self.promote_member(learner) {
                    Err(MembershipError::Refused { why: ConfChangeError::NotCaughtUp { .. }, .. }) => continue,
                    _ => return,
                }
            }
        }
        let Some((newcomer, _)) = self.seat_watch.asking.clone() else { return };
        let self_id = self.peers.self_id();
        let mut voters = voters;
        if voters.len() + learners.len() >= self.seat_watch.cluster_size {
            let others = membership.voters.iter().copied().filter(|&id| id != self_id);
            let Some(silent_id) = self.seat_watch.silent_longest(others) else { return };
            let Some(silent) = name(self, silent_id) else { return };
            #[cfg(feature = "bug-injection")]
            if self.seat_watch.gives_seats_outside_the_log {
                if let Ok(id) = self.peers.learn(&newcomer) {
                    let _ = self.raft.fill_vacant_seat(silent_id, id);
                }
                self.seat_watch.asking = None;
                return;
            }
            voters.retain(|voter| *voter != silent);
        }
        let learners: Vec<String> = learners.into_iter().chain(std::iter::once(newcomer)).collect();
        // Refused (an id collision, say): asked again only if the name asks again.
        let _ = self.change_membership(&voters, &learners);
        self.seat_watch.asking = None;
    }
}
