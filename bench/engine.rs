//! The consensus core alone: three cores in one thread, in memory, messages handed straight from one core to
//! another and every write acknowledged at once. Measures what the core costs per committed entry, with no
//! wire format, no boundary crossing and no timers.
//!
//! `cargo bench --bench engine [-- ENTRIES]`, or `FLOTILLA_BENCH_ENTRIES=N` (default 500000) and
//! `FLOTILLA_BENCH_REPEAT=R` (default 3; the median run is reported); `FLOTILLA_BENCH_CASE` picks one case.
//! Prints a table and one JSON line.

use flotilla_raft::{Config, Message, NodeId, Payload, ProposalId, Raft, RestoredState, Role};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENTRY_BYTES: usize = 64;
const IN_FLIGHT: usize = 1_000;
const LEADER: NodeId = 1;

/// Three cores and the messages between them.
struct Network {
    /// `nodes[id - 1]`.
    nodes: Vec<Raft>,
    in_flight: VecDeque<Message>,
    /// User entries the leader handed out as committed.
    leader_committed: u64,
    messages_delivered: u64,
}

impl Network {
    fn new() -> Network {
        let ids = [1, 2, 3];
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut config = Config::new(id);
                // No ticks run during the bench, but a generous limit keeps 1,000 proposals from ever queueing.
                config.max_pending_proposals = 1 << 20;
                Raft::new(config, RestoredState::new_cluster(ids)).expect("valid config")
            })
            .collect();
        let mut network = Network { nodes, in_flight: VecDeque::new(), leader_committed: 0, messages_delivered: 0 };
        network.nodes[0].campaign();
        network.settle();
        assert_eq!(network.nodes[0].role(), Role::Leader, "node 1 should lead");
        network
    }

    /// Carries out every core's ready work: writes are acknowledged at once, messages queued.
    fn process_ready(&mut self) {
        for node in &mut self.nodes {
            while node.has_ready() {
                let ready = node.ready();
                if let Some(request) = &ready.persist {
                    node.persisted(request.token);
                }
                self.in_flight.extend(ready.messages);
                if node.id() == LEADER {
                    self.leader_committed += ready.committed.iter().filter(|e| e.is_user_data()).count() as u64;
                }
            }
        }
    }

    /// Delivers the messages queued now (not those they cause); returns whether there were any.
    fn deliver_queued(&mut self) -> bool {
        let count = self.in_flight.len();
        for _ in 0..count {
            let Some(message) = self.in_flight.pop_front() else { break };
            let to = message.to as usize - 1;
            let _ = self.nodes[to].step(message);
            self.messages_delivered += 1;
        }
        count > 0
    }

    /// One round: every core's ready work, then every queued message.
    fn round(&mut self) -> bool {
        self.process_ready();
        self.deliver_queued()
    }

    fn settle(&mut self) {
        while self.round() {}
    }
}

/// Proposal ids and payloads, made before the clock starts: the core is measured, not the allocator of the caller.
fn make_proposals(count: usize) -> Vec<(ProposalId, Payload)> {
    (0..count)
        .map(|i| {
            let id: ProposalId = Arc::from(format!("bench_{i:010}").as_str());
            let mut data = [b'x'; ENTRY_BYTES];
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            (id, Payload::from(&data[..]))
        })
        .collect()
}

struct CaseResult {
    entries: u64,
    elapsed: Duration,
    messages: u64,
}

impl CaseResult {
    fn per_second(&self) -> f64 {
        self.entries as f64 / self.elapsed.as_secs_f64()
    }
}

/// Propose one entry, route until the leader has committed it, repeat.
fn one_in_flight(entries: usize) -> CaseResult {
    let mut network = Network::new();
    let proposals = make_proposals(entries);
    let start = Instant::now();
    for (id, data) in proposals {
        let target = network.leader_committed + 1;
        network.nodes[0].propose(id, data).expect("proposal accepted");
        while network.leader_committed < target {
            assert!(network.round(), "the cluster stalled");
        }
    }
    let elapsed = start.elapsed();
    CaseResult { entries: network.leader_committed, elapsed, messages: network.messages_delivered }
}

/// Keep `IN_FLIGHT` proposals outstanding on the leader, topping up as they commit.
fn many_in_flight(entries: usize) -> CaseResult {
    let mut network = Network::new();
    let mut proposals = make_proposals(entries).into_iter();
    let mut proposed = 0u64;
    let start = Instant::now();
    while network.leader_committed < entries as u64 {
        while proposed - network.leader_committed < IN_FLIGHT as u64 {
            let Some((id, data)) = proposals.next() else { break };
            network.nodes[0].propose(id, data).expect("proposal accepted");
            proposed += 1;
        }
        assert!(network.round(), "the cluster stalled");
    }
    let elapsed = start.elapsed();
    CaseResult { entries: network.leader_committed, elapsed, messages: network.messages_delivered }
}

fn median_run(repeat: usize, run: impl Fn() -> CaseResult) -> CaseResult {
    let mut runs: Vec<CaseResult> = (0..repeat.max(1)).map(|_| run()).collect();
    runs.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    let middle = runs.len() / 2;
    runs.swap_remove(middle)
}

fn entries_setting() -> usize {
    // `cargo bench` passes `--bench`; a bare number is the entry count.
    let from_args = std::env::args().skip(1).find_map(|arg| arg.replace('_', "").parse::<usize>().ok());
    let from_env = std::env::var("FLOTILLA_BENCH_ENTRIES").ok().and_then(|v| v.replace('_', "").parse().ok());
    from_args.or(from_env).unwrap_or(500_000).max(IN_FLIGHT)
}

fn main() {
    let entries = entries_setting();
    let repeat = std::env::var("FLOTILLA_BENCH_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    // `FLOTILLA_BENCH_CASE=one_in_flight` (or `in_flight_1000`) runs one case alone, for profiling.
    let only = std::env::var("FLOTILLA_BENCH_CASE").ok();
    let wanted = |key: &str| only.as_deref().is_none_or(|only| only == key);
    let mut cases: Vec<(&str, &str, f64, CaseResult)> = Vec::new();
    if wanted("one_in_flight") {
        cases.push((
            "one_in_flight",
            "1 in flight (commits/s)",
            200_000.0,
            median_run(repeat, || one_in_flight(entries)),
        ));
    }
    if wanted("in_flight_1000") {
        let result = median_run(repeat, || many_in_flight(entries));
        cases.push(("in_flight_1000", "1,000 in flight (entries/s)", 2_000_000.0, result));
    }

    println!("flotilla engine bench: 3 cores, one thread, {ENTRY_BYTES}-byte entries, {entries} entries per run, median of {repeat}");
    println!("{:<30} {:>14} {:>12} {:>12} {:>10} {:>6}", "case", "rate /s", "goal /s", "µs/entry", "msgs/entry", "met");
    for (_, label, goal, result) in &cases {
        let rate = result.per_second();
        println!(
            "{:<30} {:>14.0} {:>12.0} {:>12.3} {:>10.2} {:>6}",
            label,
            rate,
            goal,
            1e6 / rate,
            result.messages as f64 / result.entries as f64,
            if rate >= *goal { "yes" } else { "NO" }
        );
    }
    let fields: Vec<String> = cases
        .iter()
        .map(|(key, _, goal, result)| {
            format!(
                "\"{key}\":{{\"entries\":{},\"seconds\":{:.6},\"per_second\":{:.0},\"goal\":{goal:.0},\"messages\":{}}}",
                result.entries,
                result.elapsed.as_secs_f64(),
                result.per_second(),
                result.messages
            )
        })
        .collect();
    println!("{{\"bench\":\"engine\",\"entry_bytes\":{ENTRY_BYTES},\"repeat\":{repeat},{}}}", fields.join(","));
}
