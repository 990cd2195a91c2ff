//! The membership an INSTALL_SNAPSHOT carries (`members`), by name: the receiver derives each member's node id
//! from its name, as every node does, so the snapshot's membership means the same nodes on both sides. A seat
//! whose member the sender has not met yet (gaggle's discovery) is `null`.

use crate::json::JsonWriter;
use serde::Deserialize;

/// The most members a membership on the wire may list (gaggle's largest `clusterSize`).
pub const MAX_MEMBERS: usize = 1024;

/// A snapshot's membership by name; `None` is a seat whose member the sender did not know.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedMembership {
    pub voters: Vec<Option<String>>,
    #[serde(default)]
    pub outgoing: Vec<Option<String>>,
    #[serde(default)]
    pub learners: Vec<Option<String>>,
}

impl NamedMembership {
    /// Refuses what no cluster's membership can be: no voters, too many members, a name no member can have.
    pub(crate) fn check(&self, max_name_bytes: usize) -> Result<(), String> {
        let all = || self.voters.iter().chain(&self.outgoing).chain(&self.learners);
        if self.voters.is_empty() {
            return Err("members has no voters".into());
        }
        if all().count() > MAX_MEMBERS {
            return Err(format!("members lists more than {MAX_MEMBERS} members"));
        }
        if all().flatten().any(|name| name.is_empty() || name.len() > max_name_bytes) {
            return Err(format!("a member's name is empty or longer than {max_name_bytes} bytes"));
        }
        Ok(())
    }

    /// Writes it as the next value of `w`.
    pub(crate) fn write(&self, w: &mut JsonWriter) {
        w.begin_object();
        for (key, names) in [("voters", &self.voters), ("outgoing", &self.outgoing), ("learners", &self.learners)] {
            w.key(key).begin_array();
            for name in names {
                w.opt_string(name.as_deref());
            }
            w.end_array();
        }
        w.end_object();
    }
}
