//! Why a node could not start: its storage, a data directory that is not this node's, or a saved state that cannot
//! seed it. One variant per cause, so the binding gives each its code; the messages name the directory.

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
}

/// How a data directory shows that it is not this node's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MismatchError {
    /// The directory was written by a node of another name.
    AnotherNode { dir: PathBuf, owner: String, name: String },
    /// The directory knows more members than this node's cluster has.
    MoreMembersThanClusterSize { dir: PathBuf, members: usize, cluster_size: usize },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Storage(error) => write!(f, "cannot recover the log: {error}"),
            OpenError::Mismatch(why) => write!(f, "{why}"),
            OpenError::SavedState(why) => write!(f, "the saved state cannot seed this node: {why}"),
            OpenError::Core(why) => write!(f, "{why}"),
        }
    }
}

impl fmt::Display for MismatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MismatchError::AnotherNode { dir, owner, name } => {
                write!(f, "the data directory {} belongs to node {owner:?}, not {name:?}", dir.display())
            }
            MismatchError::MoreMembersThanClusterSize { dir, members, cluster_size } => write!(
                f,
                "the data directory {} knows {members} members, more than the cluster size {cluster_size}",
                dir.display()
            ),
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

impl From<SavedStateError> for OpenError {
    fn from(error: SavedStateError) -> OpenError {
        OpenError::SavedState(error)
    }
}
