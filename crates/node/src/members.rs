//! The member registry: which node each name is. A node's id is a fixed hash of its name (`member_id`), so every
//! node computes the same id for the same name, and an id means the same node in memory, in the WAL, in snapshots
//! and on the wire. gaggle's discovery knows only how many members there are: the seats not yet taken hold
//! placeholder ids above the range of name ids (`vacant_seat`), which nothing is ever sent to, and each is filled
//! when a new name speaks (the core's `Raft::fill_vacant_seat`).

use flotilla_raft::{Membership, NodeId};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// The largest id a name hashes to: ids stay exact as JS numbers (`Number.MAX_SAFE_INTEGER`), and 0 is never one.
pub const MAX_MEMBER_ID: NodeId = (1 << 53) - 1;

/// A node's id: FNV-1a (64-bit) of its name's UTF-8 bytes, reduced to 1..=`MAX_MEMBER_ID`. Fixed forever: ids
/// are written to data directories and must mean the same node in every release.
pub fn member_id(name: &str) -> NodeId {
    const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = name.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME));
    hash % MAX_MEMBER_ID + 1
}

/// A membership by name, as a codec that speaks names carries it (gaggle's INSTALL_SNAPSHOT); `None` is a seat
/// whose member the teller had not met yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedMembership {
    pub voters: Vec<Option<String>>,
    pub outgoing: Vec<Option<String>>,
    pub learners: Vec<Option<String>>,
}

/// The placeholder id of the vacant seat at `position` (this node's own seat is position 0): outside the range of
/// name ids, so that it is never a member's.
pub fn vacant_seat(position: usize) -> NodeId {
    MAX_MEMBER_ID + 1 + position as NodeId
}

/// Why a name could not be bound to a seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindError {
    /// Every seat is taken by another member (the cluster already has `cluster_size` members).
    NoVacantSeat { name: String },
    /// The name hashes to the id of another member: the two cannot be told apart, so the newcomer is refused.
    IdCollision { name: String, member: String },
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindError::NoVacantSeat { name } => {
                write!(f, "no seat is left for {name:?}: the cluster already has all its members")
            }
            BindError::IdCollision { name, member } => write!(
                f,
                "the names {name:?} and {member:?} have the same node id ({}); rename one of them",
                member_id(name)
            ),
        }
    }
}

impl std::error::Error for BindError {}

/// What binding a name did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The name was a member already.
    Known(NodeId),
    /// The name took the vacant seat `vacant`: the core must seat `id` there too.
    Seated { id: NodeId, vacant: NodeId },
}

impl Bound {
    pub fn id(self) -> NodeId {
        match self {
            Bound::Known(id) | Bound::Seated { id, .. } => id,
        }
    }
}

#[derive(Debug)]
pub struct MemberRegistry {
    self_name: String,
    ids: HashMap<String, NodeId>,
    names: HashMap<NodeId, String>,
    /// The voter seats in the order they were taken, this node's first; a vacant one holds its placeholder id.
    seats: Vec<NodeId>,
    /// The ids of names learned only because they sent a request (`learn_stranger`), oldest first.
    strangers: VecDeque<NodeId>,
}

impl MemberRegistry {
    /// A registry for a cluster of `cluster_size` seats whose other members are not known yet.
    pub fn discovering(self_name: &str, cluster_size: usize) -> MemberRegistry {
        let self_id = member_id(self_name);
        let seats = std::iter::once(self_id).chain((1..cluster_size.max(1)).map(vacant_seat)).collect();
        MemberRegistry {
            self_name: self_name.to_string(),
            ids: HashMap::from([(self_name.to_string(), self_id)]),
            names: HashMap::from([(self_id, self_name.to_string())]),
            seats,
            strangers: VecDeque::new(),
        }
    }

    /// A registry whose members are all known: this node and `others` (distinct names, none of them its own).
    pub fn with_members(self_name: &str, others: &[String]) -> Result<MemberRegistry, BindError> {
        let mut registry = MemberRegistry::discovering(self_name, others.len() + 1);
        for name in others {
            registry.bind(name)?;
        }
        Ok(registry)
    }

    pub fn self_name(&self) -> &str {
        &self.self_name
    }

    pub fn self_id(&self) -> NodeId {
        self.seats[0]
    }

    /// Every seat's id, this node's first: the voters of a cluster that starts.
    pub fn seats(&self) -> &[NodeId] {
        &self.seats
    }

    /// The position of `id`'s seat (this node's is 0); past the last seat for an id that holds none.
    pub fn seat_of(&self, id: NodeId) -> usize {
        self.seats.iter().position(|&seat| seat == id).unwrap_or(self.seats.len())
    }

    pub fn id_of(&self, name: &str) -> Option<NodeId> {
        self.ids.get(name).copied()
    }

    pub fn name_of(&self, id: NodeId) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// Every seat in order with its member's id and name, an empty name for a vacant seat: what storage keeps, so
    /// that a restart finds the same seats (their number is the quorum's).
    pub fn seat_records(&self) -> Vec<(NodeId, String)> {
        self.seats.iter().map(|&id| (id, self.name_of(id).unwrap_or_default().to_string())).collect()
    }

    pub fn has_vacant_seats(&self) -> bool {
        self.seats.iter().any(|id| !self.names.contains_key(id))
    }

    /// The id of `name`, seating it in the first vacant seat if it is new.
    pub fn bind(&mut self, name: &str) -> Result<Bound, BindError> {
        if let Some(id) = self.id_of(name) {
            return Ok(Bound::Known(id));
        }
        let id = member_id(name);
        if let Some(member) = self.names.get(&id) {
            return Err(BindError::IdCollision { name: name.to_string(), member: member.clone() });
        }
        let Some(seat) = self.seats.iter().position(|id| !self.names.contains_key(id)) else {
            return Err(BindError::NoVacantSeat { name: name.to_string() });
        };
        let vacant = std::mem::replace(&mut self.seats[seat], id);
        self.ids.insert(name.to_string(), id);
        self.names.insert(id, name.to_string());
        Ok(Bound::Seated { id, vacant })
    }

    /// Whether `id` is known only because it sent a request (see `learn_stranger`).
    pub fn is_stranger(&self, id: NodeId) -> bool {
        self.strangers.contains(&id)
    }

    /// Learns the name of a sender in no configuration this node knows, because it sent a request (thesis 4.1:
    /// it may be a member added by a change this node has not seen). At most `limit` are kept: beyond, the oldest
    /// that `still_needed` lets go is forgotten, so that junk names cannot use up the room a real newcomer needs.
    /// `None` when each of them is still needed, or when the name's id is another's.
    pub fn learn_stranger(
        &mut self,
        name: &str,
        limit: usize,
        still_needed: impl Fn(NodeId) -> bool,
    ) -> Option<NodeId> {
        if let Some(id) = self.id_of(name) {
            return Some(id);
        }
        let id = member_id(name);
        if self.names.contains_key(&id) {
            return None;
        }
        if self.strangers.len() >= limit {
            let oldest_unneeded = self.strangers.iter().position(|&stranger| !still_needed(stranger))?;
            let forgotten = self.strangers.remove(oldest_unneeded)?;
            self.forget(forgotten);
        }
        self.ids.insert(name.to_string(), id);
        self.names.insert(id, name.to_string());
        self.strangers.push_back(id);
        Some(id)
    }

    fn forget(&mut self, id: NodeId) {
        if let Some(name) = self.names.remove(&id) {
            self.ids.remove(&name);
        }
    }

    /// Learns a member's name without giving it a seat: a member added by a membership change (its name comes
    /// with the configuration), or one that speaks and is a member of the configuration in force. A stranger
    /// known by that name is a member from now on; one whose name only has the same id gives way to it.
    pub fn learn(&mut self, name: &str) -> Result<NodeId, BindError> {
        let own_id = member_id(name);
        if self.is_stranger(own_id) && self.id_of(name) != Some(own_id) {
            self.forget(own_id);
        }
        self.strangers.retain(|&stranger| stranger != own_id);
        let id = self.id_to_learn(name)?;
        if self.ids.contains_key(name) {
            return Ok(id);
        }
        self.ids.insert(name.to_string(), id);
        self.names.insert(id, name.to_string());
        Ok(id)
    }

    /// The id `learn(name)` would give, without learning it: the name's id when known, else its own id unless
    /// another member holds that (a stranger holding it gives way).
    pub fn id_to_learn(&self, name: &str) -> Result<NodeId, BindError> {
        if let Some(id) = self.id_of(name) {
            return Ok(id);
        }
        let id = member_id(name);
        match self.names.get(&id) {
            Some(member) if !self.is_stranger(id) => {
                Err(BindError::IdCollision { name: name.to_string(), member: member.clone() })
            }
            _ => Ok(id),
        }
    }

    /// A membership told by someone else (a snapshot's, by id, `None` where its teller did not know the member)
    /// in this registry's terms: a member's id stays (a name's id, known here or not), and each unknown one (a
    /// placeholder, or `None`) takes one of this registry's seats that the membership does not name, in seat
    /// order (a placeholder of the teller's and a vacant seat here are the same unknown member). `None` when there
    /// are more unknowns than such seats.
    pub fn resolve(
        &self,
        voters: &[Option<NodeId>],
        outgoing: &[Option<NodeId>],
        learners: &[Option<NodeId>],
    ) -> Option<Membership> {
        let known = |id: &Option<NodeId>| id.filter(|&id| id <= MAX_MEMBER_ID || self.names.contains_key(&id));
        let named: BTreeSet<NodeId> = voters.iter().chain(outgoing).chain(learners).filter_map(known).collect();
        let mut unnamed_seats = self.seats.iter().copied().filter(|id| !named.contains(id));
        let mut seat_all = |ids: &[Option<NodeId>]| -> Option<BTreeSet<NodeId>> {
            ids.iter().map(|id| known(id).or_else(|| unnamed_seats.next())).collect()
        };
        Some(Membership { voters: seat_all(voters)?, outgoing: seat_all(outgoing)?, learners: seat_all(learners)? })
    }

    /// `resolve` for a membership by id, as this node stored it (its placeholders are unknowns).
    pub fn resolve_stored(&self, membership: &Membership) -> Option<Membership> {
        let some = |set: &BTreeSet<NodeId>| set.iter().map(|&id| Some(id)).collect::<Vec<_>>();
        self.resolve(&some(&membership.voters), &some(&membership.outgoing), &some(&membership.learners))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_fnv1a_64_of_the_name_reduced_below_2_pow_53() {
        // FNV-1a 64 reference values (the empty string is the offset basis), reduced by `% (2^53 - 1) + 1`.
        let fnv1a = [("", 0xcbf2_9ce4_8422_2325_u64), ("a", 0xaf63_dc4c_8601_ec8c), ("foobar", 0x8594_4171_f739_67e8)];
        for (name, hash) in fnv1a {
            assert_eq!(member_id(name), hash % MAX_MEMBER_ID + 1, "{name:?}");
        }
        // Fixed vectors: these ids are in data directories, so they must never change.
        assert_eq!(member_id("a"), 1_086_646_154_031_624);
        assert_eq!(member_id("node-1"), 6_452_768_000_213_240);
        assert_eq!(member_id("bé"), 7_308_561_468_768_889);
        for name in ["a", "b", "node-1", "x".repeat(1000).as_str()] {
            let id = member_id(name);
            assert!((1..=MAX_MEMBER_ID).contains(&id), "{name:?}: {id}");
            assert!(id < vacant_seat(1));
        }
    }

    #[test]
    fn binds_new_names_into_vacant_seats_until_the_cluster_is_full() {
        let mut registry = MemberRegistry::discovering("a", 3);
        let a = member_id("a");
        assert_eq!((registry.id_of("a"), registry.self_id()), (Some(a), a));
        assert_eq!(registry.seats(), &[a, vacant_seat(1), vacant_seat(2)]);
        assert_eq!((registry.seat_of(a), registry.seat_of(vacant_seat(2)), registry.seat_of(7)), (0, 2, 3));
        let b = member_id("b");
        assert_eq!(registry.bind("b"), Ok(Bound::Seated { id: b, vacant: vacant_seat(1) }));
        assert_eq!(registry.bind("b"), Ok(Bound::Known(b)));
        assert!(registry.has_vacant_seats());
        assert_eq!(registry.bind("c").map(Bound::id), Ok(member_id("c")));
        assert_eq!(registry.bind("d"), Err(BindError::NoVacantSeat { name: "d".into() }));
        assert!(!registry.has_vacant_seats());
        assert_eq!(registry.name_of(member_id("c")), Some("c"));
        assert_eq!(registry.name_of(0), None);
        assert_eq!(registry.name_of(vacant_seat(1)), None);
        let names: Vec<String> = registry.seat_records().into_iter().map(|(_, name)| name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let mut two_of_three = MemberRegistry::discovering("a", 3);
        two_of_three.bind("b").expect("seated");
        let seats = two_of_three.seat_records();
        assert_eq!(seats[2], (vacant_seat(2), String::new()), "a vacant seat is kept, nameless");
    }

    #[test]
    fn a_name_whose_id_collides_with_a_members_is_refused_at_bind() {
        let mut registry = MemberRegistry::discovering("a", 3);
        // A collision is made by planting a member under the id another name hashes to.
        let planted = member_id("b");
        let seat = registry.seats.iter().position(|&id| id == vacant_seat(1)).expect("a vacant seat");
        registry.seats[seat] = planted;
        registry.names.insert(planted, "impostor".into());
        registry.ids.insert("impostor".into(), planted);
        assert_eq!(registry.bind("b"), Err(BindError::IdCollision { name: "b".into(), member: "impostor".into() }));
        assert_eq!(registry.id_of("b"), None);
        assert!(registry.has_vacant_seats(), "the refused name took no seat");
    }

    #[test]
    fn a_membership_with_unknown_members_takes_the_seats_it_does_not_name() {
        // This node (c) met a and b; the teller met only a and b, and sends c's seat as unknown.
        let mut registry = MemberRegistry::discovering("c", 3);
        let (a, b, c) = (member_id("a"), member_id("b"), member_id("c"));
        registry.bind("a").expect("seated");
        registry.bind("b").expect("seated");
        let told = registry.resolve(&[Some(a), Some(b), None], &[], &[]).expect("resolved");
        assert_eq!(told, Membership::with_voters([a, b, c]));
        // A stored membership's placeholders are unknowns too.
        let stored = Membership::with_voters([c, a, vacant_seat(2)]);
        assert_eq!(registry.resolve_stored(&stored), Some(Membership::with_voters([a, b, c])));
        // More unknowns than seats it does not name cannot be this cluster's membership.
        assert_eq!(registry.resolve(&[Some(a), None, None, None], &[], &[]), None);
    }
}
