//! The terms of a log's entries kept as runs (the index where a term starts, and the term): a log of millions of
//! entries usually spans a handful of terms, so the entries reader can tell which copy of an entry the log kept
//! without holding a term per entry.

use flotilla_raft::{Entry, Index, Term};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TermRuns {
    /// (first index of the run, its term), by index.
    starts: Vec<(Index, Term)>,
    last_index: Index,
}

impl TermRuns {
    /// The runs of `entries`, which are contiguous and in index order (as a replayed log is).
    pub fn of(entries: &[Entry]) -> TermRuns {
        let mut starts: Vec<(Index, Term)> = Vec::new();
        for entry in entries {
            if starts.last().is_none_or(|&(_, term)| term != entry.term) {
                starts.push((entry.index, entry.term));
            }
        }
        TermRuns { starts, last_index: entries.last().map_or(0, |entry| entry.index) }
    }

    pub fn first_index(&self) -> Option<Index> {
        self.starts.first().map(|&(index, _)| index)
    }

    /// The term of the entry at `index`, or None when the log does not hold it.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index > self.last_index {
            return None;
        }
        let runs_started = self.starts.partition_point(|&(start, _)| start <= index);
        runs_started.checked_sub(1).map(|run| self.starts[run].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_raft::{EntryKind, Payload};

    #[test]
    fn each_index_has_the_term_of_its_run_and_none_outside_the_log() {
        let entries: Vec<Entry> = [(5, 1), (6, 1), (7, 3), (8, 3), (9, 4)]
            .into_iter()
            .map(|(index, term)| Entry {
                term,
                index,
                kind: EntryKind::Normal,
                id: None,
                data: Payload::from(&b""[..]),
            })
            .collect();
        let runs = TermRuns::of(&entries);
        let terms: Vec<Option<Term>> = (4..=10).map(|index| runs.term_at(index)).collect();
        assert_eq!(terms, vec![None, Some(1), Some(1), Some(3), Some(3), Some(4), None]);
        assert_eq!(runs.first_index(), Some(5));
        assert_eq!(TermRuns::of(&[]).term_at(0), None);
    }
}
