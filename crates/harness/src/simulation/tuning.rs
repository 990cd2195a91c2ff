//! The knobs of one run, drawn from its seed: the core's timers and limits, how fast the disks and clients are,
//! and how hard the nemesis strikes.

use rand::rngs::StdRng;
use rand::Rng;

/// Time units per tick: message and disk delays are fractions of a tick.
pub const TICK: u64 = 100;

/// The knobs of one run, drawn from its seed: the core's timers and limits, and how fast the world around it is.
#[derive(Clone, Debug)]
pub struct Tuning {
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    pub heartbeat_ticks: u32,
    pub max_inflight_messages: usize,
    pub max_inflight_bytes: u64,
    pub max_message_bytes: u64,
    pub max_pending_proposals: usize,
    pub proposal_retry_ticks: u32,
    pub disk_latency_max: u64,
    pub client_interval_max: u64,
    pub fault_interval_max: u64,
    pub operator: bool,
    /// The probability that a new leader is crashed or isolated within a few ticks of its election, often before
    /// its first entries are durable or replicated.
    pub leader_striker: f64,
    /// Messages already on the wire survive a crash of either end (channels that route by node name deliver them
    /// to the next incarnation); otherwise a crash loses them.
    pub stale_deliveries: bool,
    /// The driver sometimes handles a node's `Ready` only after several inputs.
    pub batch_ready: bool,
}

impl Tuning {
    /// An aggressive nemesis strikes most new leaders and changes the faults every few ticks: it is what finds
    /// the races around a leader change (Figure 8 of the paper) in a few dozen seeds rather than a few hundred.
    pub fn draw(rng: &mut StdRng, aggressive: bool) -> Tuning {
        let aggressive = aggressive || rng.random_bool(0.3);
        let election_ticks_min = rng.random_range(4..=10);
        Tuning {
            election_ticks_min,
            // A timeout range too narrow makes split votes repeat (thesis 9.3); the core leaves that to its user.
            election_ticks_max: election_ticks_min + rng.random_range(2..=election_ticks_min),
            heartbeat_ticks: rng.random_range(1..=(election_ticks_min / 3).max(1)),
            max_inflight_messages: [1, 2, 4, 256][rng.random_range(0..4)],
            max_inflight_bytes: [150, 1_000, 16 << 20][rng.random_range(0..3)],
            max_message_bytes: [200, 600, 1 << 20][rng.random_range(0..3)],
            max_pending_proposals: [3, 16, 1_000_000][rng.random_range(0..3)],
            proposal_retry_ticks: rng.random_range(4..=30),
            disk_latency_max: [2, 30, 150][rng.random_range(0..3)],
            client_interval_max: rng.random_range(TICK / 2..=4 * TICK),
            fault_interval_max: if aggressive { rng.random_range(2..=10) } else { rng.random_range(3..=30) } * TICK,
            operator: rng.random_bool(0.5),
            leader_striker: if aggressive { 0.5 } else { [0.0, 0.1, 0.3][rng.random_range(0..3)] },
            stale_deliveries: rng.random_bool(0.5),
            batch_ready: rng.random_bool(0.5),
        }
    }
}
