//! A double-ended queue kept in fixed-size chunks, for the in-memory log. A `VecDeque` doubles as it grows, and
//! each doubling copies everything into fresh memory that must be faulted in again: with a log of a few hundred
//! thousand entries that was most of what appending cost. Chunks never move once filled, so a growing log costs
//! only the pages it fills, and a compacted prefix frees whole chunks.
//!
//! It offers the subset of `VecDeque`'s interface the log uses, under the same names.

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Bound, RangeBounds};

/// Items per chunk: 4096 log entries are about 224 KiB.
const CHUNK: usize = 4096;

pub struct ChunkedDeque<T> {
    /// Every chunk holds `CHUNK` items but the first (a prefix of it may have been drained) and the last (still
    /// filling). The first chunk may be the last.
    chunks: VecDeque<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedDeque<T> {
    fn default() -> Self {
        ChunkedDeque { chunks: VecDeque::new(), len: 0 }
    }
}

impl<T: fmt::Debug> fmt::Debug for ChunkedDeque<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> ChunkedDeque<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk and the offset in it of item `position` (which may be `len`, one past the last).
    fn locate(&self, position: usize) -> (usize, usize) {
        let first = self.chunks.front().map_or(0, Vec::len);
        if position < first {
            (0, position)
        } else {
            let rest = position - first;
            (1 + rest / CHUNK, rest % CHUNK)
        }
    }

    pub fn get(&self, position: usize) -> Option<&T> {
        if position >= self.len {
            return None;
        }
        let (chunk, offset) = self.locate(position);
        self.chunks[chunk].get(offset)
    }

    pub fn back(&self) -> Option<&T> {
        self.chunks.back().and_then(|chunk| chunk.last())
    }

    pub fn push_back(&mut self, item: T) {
        if self.chunks.back().is_none_or(|chunk| chunk.len() == CHUNK) {
            self.chunks.push_back(Vec::with_capacity(CHUNK));
        }
        if let Some(chunk) = self.chunks.back_mut() {
            chunk.push(item);
            self.len += 1;
        }
    }

    pub fn pop_back(&mut self) -> Option<T> {
        let item = self.chunks.back_mut()?.pop()?;
        self.len -= 1;
        if self.chunks.back().is_some_and(Vec::is_empty) {
            self.chunks.pop_back();
        }
        Some(item)
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// Removes the first `range.end` items (the range must start at the front) and returns them in order. Unlike
    /// `VecDeque::drain`, they are removed at once, whether or not the result is iterated.
    pub fn drain(&mut self, range: impl RangeBounds<usize>) -> Drain<T> {
        debug_assert!(matches!(range.start_bound(), Bound::Unbounded | Bound::Included(0)));
        let count = match range.end_bound() {
            Bound::Included(&last) => last + 1,
            Bound::Excluded(&end) => end,
            Bound::Unbounded => self.len,
        };
        let mut remaining = count.min(self.len);
        self.len -= remaining;
        let mut removed = Vec::new();
        while remaining > 0 {
            let Some(first) = self.chunks.front_mut() else { break };
            if first.len() <= remaining {
                remaining -= first.len();
                removed.extend(self.chunks.pop_front());
            } else {
                removed.push(first.drain(..remaining).collect());
                remaining = 0;
            }
        }
        Drain { items: removed.into_iter().flatten() }
    }

    pub fn iter(&self) -> Iter<'_, T> {
        self.range(..)
    }

    /// The items at the positions in `range`, which must lie within `0..len`.
    pub fn range(&self, range: impl RangeBounds<usize>) -> Iter<'_, T> {
        let start = match range.start_bound() {
            Bound::Included(&start) => start,
            Bound::Excluded(&start) => start + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&last) => last + 1,
            Bound::Excluded(&end) => end,
            Bound::Unbounded => self.len,
        };
        assert!(start <= end && end <= self.len, "range {start}..{end} out of 0..{}", self.len);
        if start == end {
            return Iter { front: [].iter(), middle: self.chunks.range(0..0), back: [].iter(), len: 0 };
        }
        let (first_chunk, first_offset) = self.locate(start);
        let (last_chunk, last_offset) = self.locate(end - 1);
        let (front, middle, back) = if first_chunk == last_chunk {
            (&self.chunks[first_chunk][first_offset..=last_offset], self.chunks.range(0..0), &[][..])
        } else {
            (
                &self.chunks[first_chunk][first_offset..],
                self.chunks.range(first_chunk + 1..last_chunk),
                &self.chunks[last_chunk][..=last_offset],
            )
        };
        Iter { front: front.iter(), middle, back: back.iter(), len: end - start }
    }
}

impl<T: Clone> ChunkedDeque<T> {
    /// Copies of the items at the positions in `range` (as `range(range).cloned().collect()`, a slice at a time).
    pub fn clone_range(&self, range: impl RangeBounds<usize>) -> Vec<T> {
        let items = self.range(range);
        let mut out = Vec::with_capacity(items.len());
        out.extend_from_slice(items.front.as_slice());
        for chunk in items.middle {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(items.back.as_slice());
        out
    }
}

impl<'a, T> IntoIterator for &'a ChunkedDeque<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// Items drained from the front, in order.
pub struct Drain<T> {
    items: std::iter::Flatten<std::vec::IntoIter<Vec<T>>>,
}

impl<T> Iterator for Drain<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.items.next()
    }
}

/// The items of a range, front to back: the rest of the first chunk, whole chunks, then the start of the last.
pub struct Iter<'a, T> {
    front: std::slice::Iter<'a, T>,
    middle: std::collections::vec_deque::Iter<'a, Vec<T>>,
    back: std::slice::Iter<'a, T>,
    len: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(item) = self.front.next() {
                self.len -= 1;
                return Some(item);
            }
            match self.middle.next() {
                Some(chunk) => self.front = chunk.iter(),
                None => {
                    let item = self.back.next()?;
                    self.len -= 1;
                    return Some(item);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.back.next_back() {
                self.len -= 1;
                return Some(item);
            }
            match self.middle.next_back() {
                Some(chunk) => self.back = chunk.iter(),
                None => {
                    let item = self.front.next_back()?;
                    self.len -= 1;
                    return Some(item);
                }
            }
        }
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same operations on a `ChunkedDeque` and a `VecDeque` give the same contents.
    fn assert_same(chunked: &ChunkedDeque<usize>, model: &VecDeque<usize>) {
        assert_eq!(chunked.len(), model.len());
        assert_eq!(chunked.back(), model.back());
        assert!(chunked.iter().eq(model.iter()));
        assert!(chunked.iter().rev().eq(model.iter().rev()));
        for (start, end) in [(0, model.len()), (model.len() / 3, model.len() / 2), (1, model.len().max(1))] {
            if start <= end && end <= model.len() {
                assert!(chunked.range(start..end).eq(model.range(start..end)), "{start}..{end}");
                assert!(chunked.range(start..end).rev().eq(model.range(start..end).rev()));
                assert_eq!(chunked.range(start..end).len(), end - start);
                assert!(chunked.clone_range(start..end).iter().eq(model.range(start..end)));
            }
        }
        for position in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, model.len().saturating_sub(1), model.len()] {
            assert_eq!(chunked.get(position), model.get(position), "at {position}");
        }
    }

    #[test]
    fn behaves_as_a_vec_deque_across_chunk_boundaries() {
        let mut chunked = ChunkedDeque::new();
        let mut model = VecDeque::new();
        for item in 0..3 * CHUNK + 5 {
            chunked.push_back(item);
            model.push_back(item);
        }
        assert_same(&chunked, &model);
        for _ in 0..CHUNK + 7 {
            assert_eq!(chunked.pop_back(), model.pop_back());
        }
        assert_same(&chunked, &model);
        // Drain a prefix that ends inside a chunk, then one that takes whole chunks.
        assert!(chunked.drain(..10).eq(model.drain(..10)));
        assert_same(&chunked, &model);
        for item in 0..CHUNK {
            chunked.push_back(item);
            model.push_back(item);
        }
        assert_same(&chunked, &model);
        assert!(chunked.drain(..CHUNK + 3).eq(model.drain(..CHUNK + 3)));
        assert_same(&chunked, &model);
        chunked.drain(..chunked.len());
        model.clear();
        assert_same(&chunked, &model);
        chunked.push_back(1);
        model.push_back(1);
        assert_same(&chunked, &model);
        chunked.clear();
        assert!(chunked.is_empty() && chunked.pop_back().is_none());
    }
}
