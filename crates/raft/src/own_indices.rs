//! The log indices of a node's own proposals among what one `Ready` reports committed, kept as runs of
//! consecutive indices: a leader's own entries usually follow each other, so a `Ready` of a thousand of them holds
//! one run, and the common case (one run) allocates nothing.

use super::types::Index;

/// Ascending log indices, as runs `(first, last)` of consecutive ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnIndices {
    first: Option<(Index, Index)>,
    rest: Vec<(Index, Index)>,
}

impl OwnIndices {
    /// Adds `index`, which must be above every index added before.
    pub(crate) fn push(&mut self, index: Index) {
        let last = match self.rest.last_mut() {
            Some(run) => Some(run),
            None => self.first.as_mut(),
        };
        match last {
            Some((_, end)) if *end + 1 == index => *end = index,
            Some(_) => self.rest.push((index, index)),
            None => self.first = Some((index, index)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = Index> + '_ {
        self.first.iter().chain(&self.rest).flat_map(|&(first, last)| first..=last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_come_back_in_order_whether_they_run_on_or_not() {
        let mut own = OwnIndices::default();
        assert!(own.is_empty());
        for index in [3, 4, 5, 9, 11, 12] {
            own.push(index);
        }
        assert!(!own.is_empty());
        assert_eq!(own.iter().collect::<Vec<_>>(), vec![3, 4, 5, 9, 11, 12]);
        assert_eq!(own.rest, vec![(9, 9), (11, 12)], "three runs, the first inline");
        let mut one_run = OwnIndices::default();
        (1..=1000).for_each(|index| one_run.push(index));
        assert_eq!((one_run.first, one_run.rest.capacity()), (Some((1, 1000)), 0), "a single run allocates nothing");
    }
}
