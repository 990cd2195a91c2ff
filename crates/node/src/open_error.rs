//! Why a node could not start: its storage, a data directory that is not this node's, or a saved state that cannot
//! seed it. One variant per cause, so the binding gives each its code; the messages name the directory.

use super::members::{member_id, BindError};
use super::saved_state::SavedStateError;
use flotilla_raft::ConfigError;
use flotilla_storage::StorageError;
use std::fmt;
use std::path::PathBuf;

/// Why a node could not open its storage.
#[derive(Debug)]
pub enum OpenError {
    Storage(StorageError),
    /// The data directory holds another node's, or another cluster's, state.
    Mismatch(MismatchError),
    /// The saved state to start from cannot be a node's, or there is a log already.
    SavedState(SavedStateError),
    /// The core refused the state the node recovered.
    Core(ConfigError),
    /// The members cannot all be seated: two names with one id, or more names than the cluster has seats.
    Members(BindError),
}

/// How a data directory shows that it is not this node's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MismatchError {
    /// The directory was written by a node of another name.
    AnotherNode { dir: PathBuf, owner: String, name: String },
    /// The directory was written by a cluster of another size (its number of seats, the quorum's).
    ClusterSizeChanged { dir: PathBuf, recorded: usize, configured: usize },
    /// The directory was written by a release whose node ids were per-node slots: refused, not guessed at.
    SlotIds { dir: PathBuf },
    /// The directory records a member under an id that is not its name's.
    ForeignId { dir: PathBuf, id: u64, name: String },
    /// The newest snapshot's membership is not this node's seats.
    SnapshotMembers { dir: PathBuf },
    /// The members named in the options are not the ones the directory recorded (this node first in both).
    MembersChanged { dir: PathBuf, recorded: Vec<String>, configured: Vec<String> },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Storage(error) => write!(f, "cannot recover the log: {error}"),
            OpenError::Mismatch(why) => write!(f, "{why}"),
            OpenError::SavedState(why) => write!(f, "the saved state cannot seed this node: {why}"),
            OpenError::Core(why) => write!(f, "{why}"),
            OpenError::Members(why) => write!(f, "{why}"),
        }
    }
}

impl fmt::Display for MismatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MismatchError::AnotherNode { dir, owner, name } => {
                write!(f, "the data directory {} belongs to node {owner:?}, not {name:?}", dir.display())
            }
            MismatchError::ClusterSizeChanged { dir, recorded, configured } => write!(
                f,
                "the data directory {} belongs to a cluster of {recorded} members, not {configured}: the cluster \
                 size cannot change by restarting",
                dir.display()
            ),
            MismatchError::SlotIds { dir } => write!(
                f,
                "the data directory {} was written by an older flotilla whose node ids were per-node slots, and \
                 cannot be opened by this release, whose node ids are the same on every node; start this node on an \
                 empty data directory (it catches up from the other members) or open it with the release that \
                 wrote it",
                dir.display()
            ),
            MismatchError::ForeignId { dir, id, name } => write!(
                f,
                "the data directory {} records node id {id} for {name:?}, whose id is {}: it was not written by \
                 flotilla",
                dir.display(),
                member_id(name)
            ),
            MismatchError::MembersChanged { dir, recorded, configured } => write!(
                f,
                "the data directory {} belongs to a cluster of {recorded:?}, not {configured:?}: members cannot \
                 change by restarting with other names",
                dir.display()
            ),
            MismatchError::SnapshotMembers { dir } => {
                write!(f, "the newest snapshot in {} names other members than this node's cluster", dir.display())
            }
        }
    }
}

impl std::error::Error for OpenError {}
impl std::error::Error for MismatchError {}

impl From<MismatchError> for OpenError {
    fn from(error: MismatchError) -> OpenError {
        OpenError::Mismatch(error)
    }
}

impl From<BindError> for OpenError {
    fn from(error: BindError) -> OpenError {
        OpenError::Members(error)
    }
}

impl From<SavedStateError> for OpenError {
    fn from(error: SavedStateError) -> OpenError {
        OpenError::SavedState(error)
    }
}
