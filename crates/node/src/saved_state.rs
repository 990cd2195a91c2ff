//! A state saved by another Raft library (brig's `LogState.serialize()`: term, vote, log) that a node starts from,
//! as if it had restarted from its own disk: the term and vote become its hard state and the entries its log
//! (with fresh ids), and Raft reconciles the nodes as after any restart. The commit point is not taken over: a
//! majority holds every committed entry, so the first leader commits them again.

use super::members::MemberRegistry;
use flotilla_raft::{Entry, EntryKind, HardState, Index, Payload, ProposalId, Term};
use std::fmt;
use std::path::PathBuf;

/// One entry of a saved log: its term and its data as JSON text.
#[derive(Clone, Debug)]
pub struct SavedEntry {
    pub term: Term,
    pub data_json: String,
}

#[derive(Clone, Debug)]
pub struct SavedState {
    pub term: Term,
    pub voted_for: Option<String>,
    pub entries: Vec<SavedEntry>,
}

/// The most entries a saved state may hold: what a node replays at a restart, well past any brig log that was
/// kept in memory and serialized whole.
pub const MAX_SAVED_ENTRIES: usize = 1_000_000;

/// Why a saved state cannot seed this node: one variant per cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SavedStateError {
    /// The data directory holds a log already: the node starts from one or the other, never both.
    DataDirHoldsALog { dir: PathBuf },
    /// `votedFor` names a node that is not a member.
    VoteForAStranger { name: String },
    /// More entries than a node replays at a restart.
    TooManyEntries { count: usize, limit: usize },
    /// An entry's term is below the one before it, or above the saved `currentTerm`.
    TermOutOfOrder { position: usize, term: Term, previous_term: Term, current_term: Term },
    /// An entry larger than a message may carry.
    EntryTooLarge { position: usize, bytes: u64, limit: u64 },
}

impl fmt::Display for SavedStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SavedStateError::DataDirHoldsALog { dir } => write!(
                f,
                "the data directory {} already holds a log; start from the saved state in an empty one, or from the \
                 data directory without it",
                dir.display()
            ),
            SavedStateError::VoteForAStranger { name } => write!(f, "votedFor {name:?} is not a member"),
            SavedStateError::TooManyEntries { count, limit } => {
                write!(f, "the log has {count} entries, more than the limit of {limit}")
            }
            SavedStateError::TermOutOfOrder { position, term, previous_term, current_term } => write!(
                f,
                "entry {position} has term {term}, which is not between the term before it ({previous_term}) and \
                 currentTerm ({current_term})"
            ),
            SavedStateError::EntryTooLarge { position, bytes, limit } => {
                write!(f, "entry {position} is {bytes} bytes, more than the limit of {limit}")
            }
        }
    }
}

impl std::error::Error for SavedStateError {}

impl SavedState {
    /// The hard state and log the node starts from; an error says what in the saved state cannot be a Raft
    /// node's (a term that goes down, an entry of a later term than the node's, a vote for a stranger, an entry
    /// larger than a message may be).
    pub fn restore(
        &self,
        peers: &MemberRegistry,
        max_entry_bytes: u64,
        mut fresh_id: impl FnMut() -> String,
    ) -> Result<(HardState, Vec<Entry>), SavedStateError> {
        let vote = match &self.voted_for {
            None => None,
            Some(name) if name == peers.self_name() => Some(peers.self_id()),
            Some(name) => {
                Some(peers.id_of(name).ok_or_else(|| SavedStateError::VoteForAStranger { name: name.clone() })?)
            }
        };
        if self.entries.len() > MAX_SAVED_ENTRIES {
            return Err(SavedStateError::TooManyEntries { count: self.entries.len(), limit: MAX_SAVED_ENTRIES });
        }
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut previous_term = 1;
        for (position, saved) in self.entries.iter().enumerate() {
            if saved.term < previous_term || saved.term > self.term {
                return Err(SavedStateError::TermOutOfOrder {
                    position,
                    term: saved.term,
                    previous_term,
                    current_term: self.term,
                });
            }
            previous_term = saved.term;
            let data = Payload::from(saved.data_json.as_bytes());
            let id = ProposalId::from(fresh_id());
            let index = position as Index + 1;
            let entry = Entry { term: saved.term, index, kind: EntryKind::Normal, id: Some(id), data };
            let bytes = entry.size_bytes();
            if bytes > max_entry_bytes {
                return Err(SavedStateError::EntryTooLarge { position, bytes, limit: max_entry_bytes });
            }
            entries.push(entry);
        }
        Ok((HardState { term: self.term, vote, commit: 0 }, entries))
    }
}
