//! A map keyed by proposal id whose table keeps each id's hash beside it. Ids are hashed with the standard
//! keyed SipHash, so a peer cannot choose ids that collide; but the table stores that hash, so growing it
//! rehashes from the stored numbers instead of reading and hashing every id again. With a long log, that
//! re-reading (a cache miss per id) was the largest single cost of appending an entry.

use super::types::ProposalId;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};

/// An id with its keyed hash. Equal ids have equal hashes, so comparing the hashes first is only a shortcut.
#[derive(Clone)]
struct HashedId {
    hash: u64,
    id: ProposalId,
}

impl PartialEq for HashedId {
    fn eq(&self, other: &HashedId) -> bool {
        self.hash == other.hash && self.id == other.id
    }
}

impl Eq for HashedId {}

impl Hash for HashedId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hands the stored (already keyed and well mixed) hash to the table unchanged.
#[derive(Default)]
struct StoredHash(u64);

impl Hasher for StoredHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is ever called (by `HashedId`); this keeps any other use correct, if slow.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

pub struct IdMap<V> {
    keys: RandomState,
    map: HashMap<HashedId, V, BuildHasherDefault<StoredHash>>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap { keys: RandomState::new(), map: HashMap::default() }
    }
}

impl<V: fmt::Debug> fmt::Debug for IdMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.map.iter().map(|(key, value)| (&key.id, value))).finish()
    }
}

impl<V> IdMap<V> {
    fn key(&self, id: &ProposalId) -> HashedId {
        HashedId { hash: self.keys.hash_one(id), id: id.clone() }
    }

    pub fn get(&self, id: &ProposalId) -> Option<&V> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get(&self.key(id))
    }

    pub fn insert(&mut self, id: ProposalId, value: V) -> Option<V> {
        let key = HashedId { hash: self.keys.hash_one(&id), id };
        self.map.insert(key, value)
    }

    /// Inserts unless the id is already there; returns whether it inserted. One hash, one probe.
    pub fn insert_new(&mut self, id: ProposalId, value: V) -> bool {
        let key = HashedId { hash: self.keys.hash_one(&id), id };
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(value);
                true
            }
        }
    }

    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }

    pub fn remove(&mut self, id: &ProposalId) -> Option<V> {
        if self.map.is_empty() {
            return None;
        }
        let key = self.key(id);
        self.map.remove(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map_through_growth() {
        let mut map = IdMap::default();
        for i in 0..10_000u64 {
            assert_eq!(map.insert(ProposalId::from(format!("id_{i}").as_str()), i), None);
        }
        assert!(!map.insert_new(ProposalId::from("id_7"), 99));
        assert_eq!(map.get(&ProposalId::from("id_7")), Some(&7));
        assert!(map.insert_new(ProposalId::from("new"), 1));
        assert_eq!(map.remove(&ProposalId::from("id_9999")), Some(9999));
        assert_eq!(map.get(&ProposalId::from("id_9999")), None);
        assert_eq!(map.insert(ProposalId::from("id_1"), 5), Some(1));
        assert_eq!(map.map.len(), 10_000);
    }
}
