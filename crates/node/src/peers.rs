//! Maps the names nodes use on the wire to the core's numeric ids. A gaggle cluster is only given its size, not
//! its members: each node holds `cluster_size` slots, takes slot 1 for itself and binds the others to names as it
//! hears from them. Slots are local (node A's slot 2 may be node B's slot 3); only names cross the wire.

use flotilla_raft::NodeId;
use std::collections::HashMap;

#[derive(Debug)]
pub struct PeerDirectory {
    self_name: String,
    by_name: HashMap<String, NodeId>,
    /// `names[id - 1]` is the name bound to slot `id`, `None` while unbound.
    names: Vec<Option<String>>,
}

/// The slot of this node.
pub const SELF_ID: NodeId = 1;

impl PeerDirectory {
    /// A directory for a cluster of `cluster_size` nodes whose other members are not known yet.
    pub fn discovering(self_name: &str, cluster_size: usize) -> PeerDirectory {
        let mut names = vec![None; cluster_size.max(1)];
        names[0] = Some(self_name.to_string());
        let by_name = HashMap::from([(self_name.to_string(), SELF_ID)]);
        PeerDirectory { self_name: self_name.to_string(), by_name, names }
    }

    /// A directory whose members are all known: this node and `peers`.
    pub fn with_members(self_name: &str, peers: &[String]) -> PeerDirectory {
        let mut directory = PeerDirectory::discovering(self_name, peers.len() + 1);
        for peer in peers {
            directory.bind(peer);
        }
        directory
    }

    pub fn self_name(&self) -> &str {
        &self.self_name
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        1..=self.names.len() as NodeId
    }

    pub fn id_of(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    pub fn name_of(&self, id: NodeId) -> Option<&str> {
        let slot = usize::try_from(id).ok()?.checked_sub(1)?;
        self.names.get(slot)?.as_deref()
    }

    /// The names bound so far, in slot order (slots bind in order, so these are slots 1..=n).
    pub fn bound_names(&self) -> Vec<String> {
        self.names.iter().map_while(|name| name.clone()).collect()
    }

    pub fn has_unbound_slots(&self) -> bool {
        self.names.iter().any(Option::is_none)
    }

    /// The id of `name`, binding it to a free slot if it is new. `None` when every slot is taken by others.
    pub fn bind(&mut self, name: &str) -> Option<NodeId> {
        if let Some(id) = self.id_of(name) {
            return Some(id);
        }
        let slot = self.names.iter().position(Option::is_none)?;
        self.names[slot] = Some(name.to_string());
        let id = slot as NodeId + 1;
        self.by_name.insert(name.to_string(), id);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_new_names_until_the_cluster_is_full() {
        let mut directory = PeerDirectory::discovering("a", 3);
        assert_eq!(directory.id_of("a"), Some(SELF_ID));
        assert_eq!(directory.bind("b"), Some(2));
        assert_eq!(directory.bind("b"), Some(2));
        assert_eq!(directory.bind("c"), Some(3));
        assert_eq!(directory.bind("d"), None);
        assert!(!directory.has_unbound_slots());
        assert_eq!(directory.name_of(3), Some("c"));
        assert_eq!(directory.name_of(0), None);
        assert_eq!(directory.name_of(9), None);
    }
}
