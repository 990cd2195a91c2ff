//! Why a leadership transfer could not start, in names: the core's `TransferError` speaks in node ids, which mean
//! nothing to a user.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferError {
    NotLeader,
    ToSelf,
    /// A member, but not one that votes.
    NotAVoter {
        name: String,
    },
    /// No member of this cluster has the name.
    NotAMember {
        name: String,
    },
    /// The leader is the only voter.
    NoOtherVoter,
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::NotLeader => write!(f, "only the leader can transfer leadership"),
            TransferError::ToSelf => write!(f, "this node is already the leader"),
            TransferError::NotAVoter { name } => write!(f, "node {name:?} is not a voter"),
            TransferError::NotAMember { name } => {
                write!(f, "node {name:?} is not a voter: no member of this cluster has that name")
            }
            TransferError::NoOtherVoter => write!(f, "this leader is the only voter: nobody can take over"),
        }
    }
}

impl std::error::Error for TransferError {}
