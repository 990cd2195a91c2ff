//! How long the disk thread's fsyncs take: a histogram with fixed upper bounds (Prometheus's `le` buckets),
//! counted in atomics that the disk thread bumps after each fsync and the node reads at any time without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The buckets' upper bounds in seconds: 50 µs (a disk with a write cache) to 2.5 s (a saturated or failing one).
pub const FSYNC_BUCKET_BOUNDS_SECONDS: [f64; 15] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The same bounds in nanoseconds, to place a measurement without floating point.
const BOUNDS_NANOS: [u64; 15] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
];

/// The live counts: one per bucket (not cumulative) and one for fsyncs slower than the last bound.
#[derive(Debug, Default)]
pub struct FsyncHistogram {
    in_bucket: [AtomicU64; BOUNDS_NANOS.len() + 1],
    sum_nanos: AtomicU64,
}

/// The fsync times so far, as a Prometheus histogram reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsyncTimes {
    /// For each bound of `FSYNC_BUCKET_BOUNDS_SECONDS`, the fsyncs that took at most that long (cumulative).
    pub cumulative: Vec<u64>,
    /// Every fsync (the `+Inf` bucket).
    pub count: u64,
    pub sum_nanos: u64,
}

impl FsyncHistogram {
    /// Counts one fsync that took `took`.
    pub fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        self.in_bucket[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts now. The total is the buckets' own sum, so it always equals the `+Inf` bucket even while an
    /// fsync is being counted (the sum of times may then lag by that one).
    pub fn times(&self) -> FsyncTimes {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(BOUNDS_NANOS.len());
        for (index, count) in self.in_bucket.iter().enumerate() {
            running += count.load(Ordering::Relaxed);
            if index < BOUNDS_NANOS.len() {
                cumulative.push(running);
            }
        }
        FsyncTimes { cumulative, count: running, sum_nanos: self.sum_nanos.load(Ordering::Relaxed) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_in_seconds_and_in_nanoseconds_are_the_same() {
        for (seconds, nanos) in FSYNC_BUCKET_BOUNDS_SECONDS.iter().zip(BOUNDS_NANOS) {
            assert_eq!((seconds * 1e9).round() as u64, nanos);
        }
    }

    #[test]
    fn each_fsync_counts_in_the_first_bucket_whose_bound_it_does_not_pass_and_in_every_later_one() {
        let histogram = FsyncHistogram::default();
        histogram.record(Duration::from_micros(30)); // <= 50 µs
        histogram.record(Duration::from_micros(100)); // exactly on the 100 µs bound: in it
        histogram.record(Duration::from_millis(3)); // <= 5 ms
        histogram.record(Duration::from_secs(10)); // beyond every bound: +Inf only
        let times = histogram.times();
        assert_eq!(times.count, 4);
        assert_eq!(times.sum_nanos, 30_000 + 100_000 + 3_000_000 + 10_000_000_000);
        assert_eq!(times.cumulative.len(), FSYNC_BUCKET_BOUNDS_SECONDS.len());
        assert_eq!(times.cumulative, vec![1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
    }

    #[test]
    fn no_fsync_yet_is_all_zeros() {
        let times = FsyncHistogram::default().times();
        assert_eq!((times.count, times.sum_nanos), (0, 0));
        assert!(times.cumulative.iter().all(|&count| count == 0));
    }
}
