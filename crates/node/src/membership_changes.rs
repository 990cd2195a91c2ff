//! Membership changes in names (the core's `Raft::propose_membership` speaks ids): adding a member as a learner,
//! promoting it, removing a member, or any target set of voters and learners; the names travel with the
//! configuration (`member_names`), so every node learns whom it must reach. A change is settled once it (and, for
//! a joint configuration, leaving it) has committed, or failed once the entry that held it was overwritten.

use super::{NodeDriver, MAX_NAME_BYTES};
use crate::events::EventSink;
use crate::member_names::{self, MAX_ADDRESS_BYTES};
use crate::members::{BindError, NamedMembership};
use flotilla_raft::{ConfChangeError, ConfEntry, Entry, EntryKind, Index, Membership, NodeId, Snapshot, Term};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Why a membership change was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipError {
    /// The core refused it (not the leader, another change in flight, a learner behind, ...); `member`: the name
    /// of the node the refusal is about, if it is about one this node can name.
    Refused { why: ConfChangeError, member: Option<String> },
    /// A name no member can have (empty, or longer than `MAX_NAME_BYTES`).
    InvalidName { name: String },
    /// The name is not a member (to promote or remove).
    NotAMember { name: String },
    /// The name is a voter already (to add or promote).
    AlreadyAVoter { name: String },
    /// The name is a member already (to add).
    AlreadyAMember { name: String },
    /// A member of the configuration whose name this node does not know (a seat not yet discovered): the
    /// configuration cannot be written in names until it speaks.
    UnnamedMember { id: NodeId },
    /// The name's id is another member's.
    IdCollision(BindError),
    /// A member's address must be 1 to `MAX_ADDRESS_BYTES` bytes.
    InvalidAddress { address: String },
}

impl fmt::Display for MembershipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MembershipError::Refused { why, member: Some(name) } => write!(f, "{}", why.naming(name)),
            MembershipError::Refused { why, member: None } => write!(f, "{why}"),
            MembershipError::InvalidName { name } => {
                write!(f, "{name:?} cannot be a member's name: names are 1 to {MAX_NAME_BYTES} bytes")
            }
            MembershipError::NotAMember { name } => write!(f, "{name:?} is not a member of the cluster"),
            MembershipError::AlreadyAVoter { name } => write!(f, "{name:?} is a voter already"),
            MembershipError::AlreadyAMember { name } => write!(f, "{name:?} is a member already"),
            MembershipError::UnnamedMember { id } => {
                write!(f, "member {id} has not spoken yet, so its name is not known: try again shortly")
            }
            MembershipError::IdCollision(why) => write!(f, "{why}"),
            MembershipError::InvalidAddress { address } => {
                write!(f, "{address:?} cannot be a member's address: 1 to {MAX_ADDRESS_BYTES} bytes")
            }
        }
    }
}

impl std::error::Error for MembershipError {}

/// A change proposed here, waiting to settle: the configuration entry's index and term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PendingChange {
    request: u64,
    index: Index,
    term: Term,
}

impl NodeDriver {
    /// Adds `name` as a learner (it receives the log and never votes): the first step of adding a member. With
    /// `address` (the native transport's "host:port"), the configuration carries it, so every node can reach it.
    pub fn add_member(&mut self, name: &str, address: Option<&str>) -> Result<u64, MembershipError> {
        check_name(name)?;
        if let Some(address) = address.filter(|a| a.is_empty() || a.len() > MAX_ADDRESS_BYTES) {
            return Err(MembershipError::InvalidAddress { address: address.to_string() });
        }
        let current = self.raft.membership().clone();
        if self.member_named(name, &current).is_some() {
            return Err(MembershipError::AlreadyAMember { name: name.to_string() });
        }
        let (voters, mut learners) = (self.names_of(&current.voters)?, self.names_of(&current.learners)?);
        learners.push(name.to_string());
        self.change_membership_with(&voters, &learners, address.map(|address| (name, address)))
    }

    /// Makes the learner `name` a voter; refused while it is more than `CATCH_UP_ENTRIES` behind.
    pub fn promote_member(&mut self, name: &str) -> Result<u64, MembershipError> {
        let current = self.raft.membership().clone();
        let Some(id) = self.member_named(name, &current) else {
            return Err(MembershipError::NotAMember { name: name.to_string() });
        };
        if current.is_voter(id) {
            return Err(MembershipError::AlreadyAVoter { name: name.to_string() });
        }
        let (mut voters, mut learners) = (self.names_of(&current.voters)?, self.names_of(&current.learners)?);
        learners.retain(|learner| learner != name);
        voters.push(name.to_string());
        self.change_membership(&voters, &learners)
    }

    /// Removes `name` (a voter or a learner). A leader that removes itself hands over once the change commits.
    pub fn remove_member(&mut self, name: &str) -> Result<u64, MembershipError> {
        let current = self.raft.membership().clone();
        if self.member_named(name, &current).is_none() {
            return Err(MembershipError::NotAMember { name: name.to_string() });
        }
        let (mut voters, mut learners) = (self.names_of(&current.voters)?, self.names_of(&current.learners)?);
        voters.retain(|voter| voter != name);
        learners.retain(|learner| learner != name);
        self.change_membership(&voters, &learners)
    }

    /// Moves the membership to these voters and learners (the leader only): one step when at most one voter
    /// changes, else through a joint configuration. Returns the change's number, which `membership_settled`
    /// reports once the change (and leaving a joint configuration) has committed.
    pub fn change_membership(&mut self, voters: &[String], learners: &[String]) -> Result<u64, MembershipError> {
        self.change_membership_with(voters, learners, None)
    }

    /// `change_membership`, with a new member's address.
    fn change_membership_with(
        &mut self,
        voters: &[String],
        learners: &[String],
        new_address: Option<(&str, &str)>,
    ) -> Result<u64, MembershipError> {
        // Names are learned only once the change is accepted: a refused one leaves no trace.
        let mut named: BTreeMap<NodeId, String> = BTreeMap::new();
        let mut ids = |names: &[String]| -> Result<BTreeSet<NodeId>, MembershipError> {
            let mut ids = BTreeSet::new();
            for name in names {
                check_name(name)?;
                let id = self.peers.id_to_learn(name).map_err(MembershipError::IdCollision)?;
                if let Some(member) = named.insert(id, name.clone()).filter(|other| other != name) {
                    return Err(MembershipError::IdCollision(BindError::IdCollision { name: name.clone(), member }));
                }
                ids.insert(id);
            }
            Ok(ids)
        };
        let (voter_ids, learner_ids) = (ids(voters)?, ids(learners)?);
        // Every name the configuration may hold (the voters leaving a joint configuration too).
        let current = self.raft.membership().clone();
        let mut names: Vec<String> = self.names_of(&current.members())?;
        for name in voters.iter().chain(learners) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let address_of = |name: &str| match new_address {
            Some((new, address)) if new == name => Some(address),
            _ => self.addresses.get(name),
        };
        let members: Vec<(&str, Option<&str>)> = names.iter().map(|name| (name.as_str(), address_of(name))).collect();
        let context = member_names::encode_addressed(&members);
        let index = self.raft.propose_membership(&voter_ids, &learner_ids, context).map_err(|why| {
            let member = why
                .member()
                .and_then(|id| named.get(&id).cloned().or_else(|| self.peers.name_of(id).map(str::to_string)));
            MembershipError::Refused { why, member }
        })?;
        for name in voters.iter().chain(learners) {
            self.learn_name(name)?;
        }
        if let Some((name, address)) = new_address {
            self.addresses.learn(name, address);
        }
        self.last_change += 1;
        let term = self.raft.term();
        self.pending_changes.push(PendingChange { request: self.last_change, index, term });
        Ok(self.last_change)
    }

    /// The members' addresses learned from configurations since the last call (for the native transport).
    pub fn take_member_addresses(&mut self) -> Vec<(String, String)> {
        self.addresses.take_fresh()
    }

    /// The configuration in force, by name (`None` for a seat whose member has not spoken yet).
    pub fn member_names(&self) -> NamedMembership {
        self.names_of_membership(self.raft.membership())
    }

    /// `membership` by this node's names (`None` for a member it has not met): as a codec that speaks names sends
    /// a snapshot's.
    pub fn names_of_membership(&self, membership: &Membership) -> NamedMembership {
        let named = |ids: &BTreeSet<NodeId>| ids.iter().map(|&id| self.peers.name_of(id).map(str::to_string)).collect();
        NamedMembership {
            voters: named(&membership.voters),
            outgoing: named(&membership.outgoing),
            learners: named(&membership.learners),
        }
    }

    /// Reports the changes that settled: committed (with leaving a joint configuration), or lost with the entry
    /// that held them (a new leader overwrote it).
    pub(super) fn settle_membership_changes(&mut self, sink: &mut impl EventSink) {
        if self.pending_changes.is_empty() {
            return;
        }
        let log = self.raft.log();
        let committed = log.committed;
        // A joint configuration is settled only once leaving it has committed too.
        let settled = self.raft.membership_at(committed).outgoing.is_empty();
        let mut still = Vec::new();
        for change in std::mem::take(&mut self.pending_changes) {
            let overwritten =
                change.index > log.snapshot_index() && log.term(change.index).is_some_and(|t| t != change.term);
            if overwritten || change.index > log.last_index() {
                sink.membership_change_settled(change.request, false);
            } else if change.index <= committed && settled {
                sink.membership_change_settled(change.request, true);
            } else {
                still.push(change);
            }
        }
        self.pending_changes = still;
    }

    /// Learns the names a configuration entry or a snapshot carries (a name that collides with another member's
    /// id is left out, and counted as malformed).
    pub(super) fn learn_names_of_entries(&mut self, entries: &[Entry]) {
        for entry in entries.iter().filter(|entry| entry.kind == EntryKind::ConfChange) {
            if let Some(conf) = ConfEntry::decode(&entry.data) {
                self.learn_names_in(&conf.context);
            }
        }
    }

    pub(super) fn learn_names_of_snapshot(&mut self, snapshot: &Snapshot) {
        self.learn_names_in(&snapshot.membership_context);
    }

    pub(super) fn learn_names_in(&mut self, context: &[u8]) {
        let Some(members) = member_names::decode_addressed(context) else {
            self.wire_stats.malformed += 1;
            return;
        };
        for (name, address) in members {
            if let Some(address) = address.filter(|_| name != self.peers.self_name()) {
                self.addresses.learn(&name, &address);
            }
            if self.learn_name(&name).is_err() {
                self.wire_stats.malformed += 1;
            }
        }
    }

    fn learn_name(&mut self, name: &str) -> Result<NodeId, MembershipError> {
        self.peers.learn(name).map_err(MembershipError::IdCollision)
    }

    /// The id of the member `name` in `membership`, if it is one.
    fn member_named(&self, name: &str, membership: &Membership) -> Option<NodeId> {
        self.peers.id_of(name).filter(|&id| membership.contains(id))
    }

    pub(crate) fn names_of(&self, ids: &BTreeSet<NodeId>) -> Result<Vec<String>, MembershipError> {
        ids.iter()
            .map(|&id| self.peers.name_of(id).map(str::to_string).ok_or(MembershipError::UnnamedMember { id }))
            .collect()
    }
}

fn check_name(name: &str) -> Result<(), MembershipError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(MembershipError::InvalidName { name: name.to_string() });
    }
    Ok(())
}
