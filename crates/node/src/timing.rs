//! Turns gaggle's timing options, in milliseconds, into the core's logical clock: one tick length and the
//! election and heartbeat timeouts counted in ticks.

/// The timing a user asked for, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct TimingMs {
    pub election_min: f64,
    pub election_max: f64,
    pub heartbeat: f64,
}

/// The same timing on the core's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticks {
    pub tick_ms: u32,
    pub election_min: u32,
    pub election_max: u32,
    pub heartbeat: u32,
}

impl TimingMs {
    /// A tick fine enough to randomize election timeouts over about twenty steps, and never coarser than the
    /// heartbeat; the core needs heartbeat < election minimum, which is enforced here.
    pub fn to_ticks(self) -> Ticks {
        let finite = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
        let (election_min, election_max, heartbeat) =
            (finite(self.election_min), finite(self.election_max), finite(self.heartbeat));
        let mut tick = (election_min / 20.0).floor().clamp(1.0, 1000.0);
        if heartbeat >= 1.0 {
            tick = tick.min(heartbeat.floor());
        }
        let tick_ms = tick.max(1.0) as u32;
        let in_ticks = |ms: f64| (ms / f64::from(tick_ms)).round().min(f64::from(u32::MAX / 4)) as u32;
        let heartbeat_ticks = in_ticks(heartbeat).max(1);
        let election_min_ticks = in_ticks(election_min).max(heartbeat_ticks + 1);
        let election_max_ticks = in_ticks(election_max).max(election_min_ticks);
        Ticks {
            tick_ms,
            election_min: election_min_ticks,
            election_max: election_max_ticks,
            heartbeat: heartbeat_ticks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaggle_defaults_become_fifteen_millisecond_ticks() {
        let ticks = TimingMs { election_min: 300.0, election_max: 500.0, heartbeat: 50.0 }.to_ticks();
        assert_eq!(ticks, Ticks { tick_ms: 15, election_min: 20, election_max: 33, heartbeat: 3 });
    }

    #[test]
    fn degenerate_timings_still_satisfy_the_core() {
        for (min, max, heartbeat) in [(0.0, 0.0, 0.0), (1.0, 1.0, 50.0), (5.0, 3.0, 0.0), (f64::NAN, 1e300, -1.0)] {
            let t = TimingMs { election_min: min, election_max: max, heartbeat }.to_ticks();
            assert!(
                t.tick_ms >= 1 && t.heartbeat >= 1 && t.heartbeat < t.election_min && t.election_min <= t.election_max,
                "{t:?}"
            );
        }
    }
}
