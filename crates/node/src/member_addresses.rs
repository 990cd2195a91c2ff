//! The members' network addresses, as the configurations in the log carry them (see `member_names`): a member
//! added with an address is reachable by every node that learns the configuration, not only by those it dialed.
//! The transport takes the addresses learned since it last asked (`take_fresh`).

use std::collections::BTreeMap;

/// The most addresses kept: as many names as a node learns at most.
const MAX_ADDRESSES: usize = 4096;

#[derive(Default)]
pub struct MemberAddresses {
    known: BTreeMap<String, String>,
    fresh: Vec<(String, String)>,
}

impl MemberAddresses {
    /// `name` is at `address` (a newer configuration's word replaces an older one's).
    pub fn learn(&mut self, name: &str, address: &str) {
        if self.known.get(name).is_some_and(|known| known == address) {
            return;
        }
        if !self.known.contains_key(name) && self.known.len() >= MAX_ADDRESSES {
            return;
        }
        self.known.insert(name.to_string(), address.to_string());
        self.fresh.push((name.to_string(), address.to_string()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.known.get(name).map(String::as_str)
    }

    /// The addresses learned since the last call, oldest first.
    pub fn take_fresh(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_fresh_once_and_a_new_one_replaces_it() {
        let mut addresses = MemberAddresses::default();
        addresses.learn("a", "10.0.0.1:7100");
        addresses.learn("a", "10.0.0.1:7100");
        assert_eq!(addresses.take_fresh(), [("a".to_string(), "10.0.0.1:7100".to_string())]);
        assert!(addresses.take_fresh().is_empty());
        addresses.learn("a", "10.0.0.9:7100");
        assert_eq!(addresses.get("a"), Some("10.0.0.9:7100"));
        assert_eq!(addresses.take_fresh().len(), 1);
    }
}
