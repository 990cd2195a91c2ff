//! Membership changes (Raft thesis, chapter 4): what a configuration entry carries, how a requested change is
//! checked and turned into the next configuration, and the configurations the log holds.
//!
//! A change of exactly one voter (added or removed) goes in one step (thesis 4.1): any majority of the old voters
//! and any majority of the new ones overlap. Any other change of the voter set goes through a joint configuration
//! (thesis 4.3), in which decisions need a majority of the old voters and of the new ones; the leader proposes
//! leaving it once entering it has committed.
//!
//! A configuration takes effect on a node once its entry is committed (and known committed there), as in etcd's
//! raft, not when it is appended (the thesis's 4.1). Both are safe with one change at a time: a node still on the
//! old configuration and one already on the new hold quorums that overlap (one voter apart, or a joint
//! configuration that needs both majorities), and a node that missed a committed change has a log too old to win
//! any quorum's votes. Appended-time effect has a liveness trap this one lacks: a follower may hold a
//! configuration entry that removes it which the leader lost in a crash; it then stops campaigning while the only
//! voters it recognises lack the entry and cannot win its vote (its log is longer), and the cluster stalls with a
//! majority up. So the log's configurations are kept with their entries (dropped with an overwritten suffix),
//! and the one at the commit index is in force. The leader proposes the next change only once the last one has
//! committed, so "the latest configuration in the log" and "the committed one" are the same whenever a change
//! is validated.

use super::tracker::Membership;
use super::types::{Index, NodeId, Payload, Term};
use std::collections::BTreeSet;

/// At most this many members (voters and learners) in one configuration.
pub const MAX_MEMBERS: usize = 1024;

/// The data of a `EntryKind::ConfChange` entry: the configuration from that entry on, and the driver's own bytes
/// about it (the node layer puts the members' names there; the core never reads them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfEntry {
    pub membership: Membership,
    pub context: Payload,
}

/// The first byte of an encoded `ConfEntry`, so that a later form can be told apart.
const CONF_ENTRY_VERSION: u8 = 1;

impl ConfEntry {
    /// `[version][voters: u32 count, u64 ids][outgoing: ...][learners: ...][context bytes]`, little-endian.
    pub fn encode(&self) -> Payload {
        let m = &self.membership;
        let mut out = Vec::with_capacity(13 + 8 * (m.voters.len() + m.outgoing.len() + m.learners.len()));
        out.push(CONF_ENTRY_VERSION);
        for set in [&m.voters, &m.outgoing, &m.learners] {
            out.extend_from_slice(&(set.len() as u32).to_le_bytes());
            for id in set {
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.context);
        Payload::from(out)
    }

    /// Reads an entry's data; `None` unless it is a well-formed configuration (see `Membership::check`).
    pub fn decode(data: &[u8]) -> Option<ConfEntry> {
        let (&version, mut rest) = data.split_first()?;
        if version != CONF_ENTRY_VERSION {
            return None;
        }
        let mut sets: [BTreeSet<NodeId>; 3] = Default::default();
        for set in &mut sets {
            let (count, after) = rest.split_first_chunk::<4>()?;
            rest = after;
            let count = u32::from_le_bytes(*count) as usize;
            if count > MAX_MEMBERS {
                return None;
            }
            for _ in 0..count {
                let (id, after) = rest.split_first_chunk::<8>()?;
                rest = after;
                if !set.insert(u64::from_le_bytes(*id)) {
                    return None;
                }
            }
        }
        let [voters, outgoing, learners] = sets;
        let membership = Membership { voters, outgoing, learners };
        check(&membership).ok()?;
        Some(ConfEntry { membership, context: Payload::from(rest) })
    }
}

/// Why a membership change was refused. A refused change appends nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfChangeError {
    /// Only the leader changes the membership (the node layer forwards a change to it).
    NotLeader,
    /// A configuration entry not yet committed is in the log (one change at a time: thesis 4.1).
    InFlight { index: Index },
    /// A new leader's first entry (at `index`) has not committed yet: until it has, the leader does not know
    /// that no change of an earlier term is still uncommitted (thesis 4.1, the bug found in single-server changes).
    TermNotStarted { index: Index },
    /// The cluster is in a joint configuration; the leader leaves it once entering it has committed.
    Joint,
    /// The target is the configuration already in force.
    Unchanged,
    /// The target has no voters.
    NoVoters,
    /// Node id 0 means "no node".
    ZeroNodeId,
    /// A node is both a voter and a learner of the target.
    VoterAndLearner(NodeId),
    /// A voter of the target is neither a voter nor a learner now: a new node enters as a learner first, so that
    /// adding a voter never weakens the quorum while it catches up.
    NotALearner(NodeId),
    /// A learner to promote is too far behind the leader's log (more than `CATCH_UP_ENTRIES`).
    NotCaughtUp { id: NodeId, matched: Index, last_index: Index },
    /// A voter of the current configuration is a learner of the target: demotion is not supported (remove it,
    /// then add it again as a learner).
    Demotion(NodeId),
    /// More than `MAX_MEMBERS` members.
    TooManyMembers,
}

impl ConfChangeError {
    /// The node the refusal is about, if it is about one.
    pub fn member(&self) -> Option<NodeId> {
        match self {
            ConfChangeError::VoterAndLearner(id)
            | ConfChangeError::NotALearner(id)
            | ConfChangeError::Demotion(id)
            | ConfChangeError::NotCaughtUp { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The message with the node it is about called by its name (quoted) instead of its id: for a layer that
    /// knows the names.
    pub fn naming<'a>(&'a self, name: &'a str) -> impl std::fmt::Display + 'a {
        Named { error: self, name }
    }

    fn write_message(&self, f: &mut std::fmt::Formatter<'_>, member: &dyn std::fmt::Display) -> std::fmt::Result {
        match self {
            ConfChangeError::NotLeader => write!(f, "only the leader can change the membership"),
            ConfChangeError::InFlight { index } => {
                write!(f, "a membership change (entry {index}) has not committed yet: one change at a time")
            }
            ConfChangeError::TermNotStarted { index } => {
                write!(f, "this new leader's first entry ({index}) has not committed yet: try again shortly")
            }
            ConfChangeError::Joint => write!(f, "the cluster is leaving a joint configuration: try again shortly"),
            ConfChangeError::Unchanged => write!(f, "the membership is already that"),
            ConfChangeError::NoVoters => write!(f, "a cluster needs at least one voter"),
            ConfChangeError::ZeroNodeId => write!(f, "the node id must not be 0"),
            ConfChangeError::VoterAndLearner(_) => write!(f, "node {member} cannot be both a voter and a learner"),
            ConfChangeError::NotALearner(_) => {
                write!(f, "node {member} is not a learner: a new member is added as a learner, then promoted")
            }
            ConfChangeError::NotCaughtUp { matched, last_index, .. } => {
                write!(f, "learner {member} is behind: it holds the log up to {matched} of {last_index}")
            }
            ConfChangeError::Demotion(_) => {
                write!(f, "voter {member} cannot become a learner: remove it, then add it again as a learner")
            }
            ConfChangeError::TooManyMembers => write!(f, "a configuration has at most {MAX_MEMBERS} members"),
        }
    }
}

struct Named<'a> {
    error: &'a ConfChangeError,
    name: &'a str,
}

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.write_message(f, &format_args!("{:?}", self.name))
    }
}

impl std::fmt::Display for ConfChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.member() {
            Some(id) => self.write_message(f, &id),
            None => self.write_message(f, &""),
        }
    }
}

impl std::error::Error for ConfChangeError {}

/// Checks what any configuration must be: voters, no id 0, nobody both a voter and a learner, at most
/// `MAX_MEMBERS` members.
pub fn check(membership: &Membership) -> Result<(), ConfChangeError> {
    if membership.voters.is_empty() {
        return Err(ConfChangeError::NoVoters);
    }
    if membership.members().contains(&0) {
        return Err(ConfChangeError::ZeroNodeId);
    }
    if let Some(&id) = membership.learners.iter().find(|&&id| membership.is_voter(id)) {
        return Err(ConfChangeError::VoterAndLearner(id));
    }
    if membership.members().len() > MAX_MEMBERS {
        return Err(ConfChangeError::TooManyMembers);
    }
    Ok(())
}

/// The configuration that moves `current` towards `voters` and `learners`: the target itself when at most one
/// voter changes, else the joint configuration of the old and the new voters. `caught_up(id)` says whether a
/// learner is close enough to the leader's log to vote.
pub fn next_configuration(
    current: &Membership,
    voters: &BTreeSet<NodeId>,
    learners: &BTreeSet<NodeId>,
    caught_up: impl Fn(NodeId) -> Result<(), ConfChangeError>,
) -> Result<Membership, ConfChangeError> {
    if !current.outgoing.is_empty() {
        return Err(ConfChangeError::Joint);
    }
    let target = Membership { voters: voters.clone(), outgoing: BTreeSet::new(), learners: learners.clone() };
    check(&target)?;
    if target == *current {
        return Err(ConfChangeError::Unchanged);
    }
    if let Some(&id) = learners.iter().find(|&&id| current.voters.contains(&id)) {
        return Err(ConfChangeError::Demotion(id));
    }
    for &id in voters.difference(&current.voters) {
        if !current.learners.contains(&id) {
            return Err(ConfChangeError::NotALearner(id));
        }
        caught_up(id)?;
    }
    let changed_voters = voters.symmetric_difference(&current.voters).count();
    if changed_voters <= 1 {
        return Ok(target);
    }
    Ok(Membership { outgoing: current.voters.clone(), ..target })
}

/// The configuration that leaves the joint configuration `joint`: its incoming voters, and its learners.
pub fn leave_joint(joint: &Membership) -> Membership {
    Membership { voters: joint.voters.clone(), outgoing: BTreeSet::new(), learners: joint.learners.clone() }
}

/// The configurations a node's log holds: the one in force at `base_index` (the snapshot's, or the cluster's
/// first), and each configuration entry after it, in log order.
#[derive(Clone, Debug, Default)]
pub struct ConfigHistory {
    base_index: Index,
    base: Membership,
    /// The driver's context of the base configuration (a snapshot's).
    base_context: Payload,
    entries: Vec<(Index, Term, ConfEntry)>,
}

impl ConfigHistory {
    pub fn new(base_index: Index, base: Membership, base_context: Payload) -> ConfigHistory {
        ConfigHistory { base_index, base, base_context, entries: Vec::new() }
    }

    /// The latest configuration in the log: the one in force.
    pub fn latest(&self) -> &Membership {
        self.entries.last().map_or(&self.base, |(_, _, entry)| &entry.membership)
    }

    /// The index of the latest configuration entry (the base's index when the log holds none after it).
    pub fn latest_index(&self) -> Index {
        self.entries.last().map_or(self.base_index, |(index, _, _)| *index)
    }

    /// The driver's context of the latest configuration.
    pub fn latest_context(&self) -> Payload {
        self.entries.last().map_or_else(|| self.base_context.clone(), |(_, _, entry)| entry.context.clone())
    }

    /// The driver's context of the configuration in force at `index`.
    pub fn context_at(&self, index: Index) -> Payload {
        let entry = self.entries.iter().rev().find(|(at, _, _)| *at <= index);
        entry.map_or_else(|| self.base_context.clone(), |(_, _, entry)| entry.context.clone())
    }

    /// The index and term of the configuration entry in force at `index` (None for the base: a snapshot's or
    /// the start's).
    pub fn entry_at(&self, index: Index) -> Option<(Index, Term)> {
        self.entries.iter().rev().find(|(at, _, _)| *at <= index).map(|(at, term, _)| (*at, *term))
    }

    /// Whether no configuration the log holds has a member: a node that joins and has heard of none yet.
    pub fn holds_no_member(&self) -> bool {
        self.base.members().is_empty() && self.entries.iter().all(|(_, _, entry)| entry.membership.members().is_empty())
    }

    /// Whether `id` is a member (voter, outgoing voter or learner) of any configuration the log holds.
    pub fn ever_holds(&self, id: NodeId) -> bool {
        self.base.contains(id) || self.entries.iter().any(|(_, _, entry)| entry.membership.contains(id))
    }

    /// The configuration in force at `index` (as of that entry, for a snapshot taken there).
    pub fn at(&self, index: Index) -> &Membership {
        self.entries.iter().rev().find(|(at, _, _)| *at <= index).map_or(&self.base, |(_, _, entry)| &entry.membership)
    }

    /// A configuration entry appended to the log at `index`.
    pub fn push(&mut self, index: Index, term: Term, entry: ConfEntry) {
        self.entries.retain(|(at, _, _)| *at < index);
        self.entries.push((index, term, entry));
    }

    /// The configuration entries whose (index, term) the log no longer holds, per `term_at`: dropped.
    pub fn retain_held(&mut self, term_at: impl Fn(Index) -> Option<Term>) {
        if let Some(first_lost) = self.entries.iter().position(|(index, term, _)| term_at(*index) != Some(*term)) {
            self.entries.truncate(first_lost);
        }
    }

    /// The log was compacted up to `index`: the configuration in force there becomes the base.
    pub fn compact_to(&mut self, index: Index) {
        if index <= self.base_index {
            return;
        }
        self.base = self.at(index).clone();
        self.base_context = self.context_at(index);
        self.base_index = index;
        self.entries.retain(|(at, _, _)| *at > index);
    }

    /// `id` takes the seat `vacant` held, in every configuration (see `Raft::fill_vacant_seat`).
    pub fn reseat(&mut self, vacant: NodeId, id: NodeId) {
        let reseat = |membership: &mut Membership| {
            for set in [&mut membership.voters, &mut membership.outgoing, &mut membership.learners] {
                if set.remove(&vacant) {
                    set.insert(id);
                }
            }
        };
        reseat(&mut self.base);
        for (_, _, entry) in &mut self.entries {
            reseat(&mut entry.membership);
        }
    }

    /// A snapshot replaced the log up to `index`; `membership` is its configuration.
    pub fn rebase(&mut self, index: Index, membership: Membership, context: Payload) {
        self.base = membership;
        self.base_context = context;
        self.base_index = index;
        self.entries.retain(|(at, _, _)| *at > index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    fn members(voters: &[NodeId], learners: &[NodeId]) -> Membership {
        Membership { voters: set(voters), outgoing: BTreeSet::new(), learners: set(learners) }
    }

    fn ok(_: NodeId) -> Result<(), ConfChangeError> {
        Ok(())
    }

    #[test]
    fn a_configuration_entry_survives_encoding_and_a_damaged_one_is_refused() {
        let entry = ConfEntry {
            membership: Membership { voters: set(&[1, 2, 3]), outgoing: set(&[1, 4]), learners: set(&[9]) },
            context: Payload::from(&b"names"[..]),
        };
        let bytes = entry.encode();
        assert_eq!(ConfEntry::decode(&bytes), Some(entry));
        for cut in 0..bytes.len() - 5 {
            assert_eq!(ConfEntry::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut bad_version = bytes.to_vec();
        bad_version[0] = 2;
        assert_eq!(ConfEntry::decode(&bad_version), None);
        let learner_and_voter = ConfEntry { membership: members(&[1], &[1]), context: Payload::from(Vec::new()) };
        assert_eq!(ConfEntry::decode(&learner_and_voter.encode()), None);
        let huge_count = [1u8, 255, 255, 255, 255];
        assert_eq!(ConfEntry::decode(&huge_count), None);
    }

    #[test]
    fn one_voter_added_or_removed_is_a_single_step_4_1() {
        let current = members(&[1, 2, 3], &[4]);
        let added = next_configuration(&current, &set(&[1, 2, 3, 4]), &set(&[]), ok).expect("allowed");
        assert_eq!(added, members(&[1, 2, 3, 4], &[]));
        let removed = next_configuration(&current, &set(&[1, 2]), &set(&[4]), ok).expect("allowed");
        assert_eq!(removed, members(&[1, 2], &[4]));
    }

    #[test]
    fn any_other_change_of_the_voters_goes_through_a_joint_configuration_4_3() {
        let current = members(&[1, 2, 3], &[4, 5]);
        let joint = next_configuration(&current, &set(&[1, 4, 5]), &set(&[]), ok).expect("allowed");
        assert_eq!(joint.voters, set(&[1, 4, 5]));
        assert_eq!(joint.outgoing, set(&[1, 2, 3]), "the old voters decide too");
        assert_eq!(leave_joint(&joint), members(&[1, 4, 5], &[]));
        assert_eq!(next_configuration(&joint, &set(&[1]), &set(&[]), ok), Err(ConfChangeError::Joint));
    }

    #[test]
    fn learners_change_in_one_step_and_a_new_voter_must_have_been_a_learner() {
        let current = members(&[1, 2, 3], &[]);
        assert_eq!(
            next_configuration(&current, &set(&[1, 2, 3]), &set(&[7]), ok),
            Ok(members(&[1, 2, 3], &[7])),
            "adding a learner changes no quorum"
        );
        assert_eq!(
            next_configuration(&current, &set(&[1, 2, 3, 7]), &set(&[]), ok),
            Err(ConfChangeError::NotALearner(7))
        );
        let behind = |id| Err(ConfChangeError::NotCaughtUp { id, matched: 1, last_index: 900 });
        let with_learner = members(&[1, 2, 3], &[7]);
        assert!(matches!(
            next_configuration(&with_learner, &set(&[1, 2, 3, 7]), &set(&[]), behind),
            Err(ConfChangeError::NotCaughtUp { id: 7, .. })
        ));
        assert_eq!(next_configuration(&current, &set(&[1, 2]), &set(&[3]), ok), Err(ConfChangeError::Demotion(3)));
    }

    #[test]
    fn a_target_without_voters_or_with_a_member_twice_or_unchanged_is_refused() {
        let current = members(&[1, 2, 3], &[]);
        assert_eq!(next_configuration(&current, &set(&[]), &set(&[1]), ok), Err(ConfChangeError::NoVoters));
        assert_eq!(
            next_configuration(&current, &set(&[1, 2]), &set(&[2]), ok),
            Err(ConfChangeError::VoterAndLearner(2))
        );
        assert_eq!(next_configuration(&current, &set(&[1, 2, 3]), &set(&[]), ok), Err(ConfChangeError::Unchanged));
        assert_eq!(next_configuration(&current, &set(&[0, 1, 2]), &set(&[]), ok), Err(ConfChangeError::ZeroNodeId));
    }

    #[test]
    fn the_history_follows_appends_truncations_and_compaction() {
        let entry = |voters: &[NodeId]| ConfEntry { membership: members(voters, &[]), context: Payload::from(vec![]) };
        let mut history = ConfigHistory::new(0, members(&[1, 2, 3], &[]), Payload::from(vec![]));
        history.push(5, 1, entry(&[1, 2, 3, 4]));
        history.push(9, 2, entry(&[1, 2, 4]));
        assert_eq!(history.latest(), &members(&[1, 2, 4], &[]));
        assert_eq!(history.at(7), &members(&[1, 2, 3, 4], &[]));
        assert_eq!(history.at(4), &members(&[1, 2, 3], &[]));
        history.retain_held(|index| Some(if index == 9 { 4 } else { 1 }));
        assert_eq!(history.latest_index(), 5, "the log holds another entry at 9 now");
        assert_eq!(history.latest(), &members(&[1, 2, 3, 4], &[]));
        history.compact_to(6);
        assert_eq!((history.latest_index(), history.at(1)), (6, &members(&[1, 2, 3, 4], &[])));
    }
}
