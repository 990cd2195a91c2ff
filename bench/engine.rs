//! The consensus core alone: three cores in one thread (the harness's lean `Cluster`), in memory, messages handed
//! straight from one core to another and every write acknowledged at once. Measures what the core costs per committed entry, with no
//! wire format, no boundary crossing and no timers.
//!
//! `cargo bench --bench engine [-- ENTRIES]`, or `FLOTILLA_BENCH_ENTRIES=N` (default 500000) and
//! `FLOTILLA_BENCH_REPEAT=R` (default 3; the median run is reported); `FLOTILLA_BENCH_CASE` picks one case.
//! Prints a table and one JSON line.

use flotilla_harness::Cluster;
use flotilla_raft::{Config, NodeId, Payload, ProposalId, Role};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENTRY_BYTES: usize = 64;
const IN_FLIGHT: usize = 1_000;
const LEADER: NodeId = 1;

/// Three cores of the harness's lean cluster (writes acknowledged at once, nothing kept but counts), node 1 leading.
fn three_cores() -> Cluster {
    let mut cluster = Cluster::lean(3, |id| {
        let mut config = Config::new(id);
        // No ticks run during the bench, but a generous limit keeps 1,000 proposals from ever queueing.
        config.max_pending_proposals = 1 << 20;
        config
    });
    cluster.node_mut(LEADER).campaign();
    while cluster.round() {}
    assert_eq!(cluster.node(LEADER).role(), Role::Leader, "node 1 should lead");
    cluster
}

/// User entries the leader handed out as committed.
fn leader_committed(cluster: &Cluster) -> u64 {
    cluster.nodes[&LEADER].applied_user_entries
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
    let mut cluster = three_cores();
    let proposals = make_proposals(entries);
    let start = Instant::now();
    for (id, data) in proposals {
        let target = leader_committed(&cluster) + 1;
        cluster.node_mut(LEADER).propose(id, data).expect("proposal accepted");
        while leader_committed(&cluster) < target {
            assert!(cluster.round(), "the cluster stalled");
        }
    }
    let elapsed = start.elapsed();
    CaseResult { entries: leader_committed(&cluster), elapsed, messages: cluster.delivered }
}

/// Keep `IN_FLIGHT` proposals outstanding on the leader, topping up as they commit.
fn many_in_flight(entries: usize) -> CaseResult {
    let mut cluster = three_cores();
    let mut proposals = make_proposals(entries).into_iter();
    let mut proposed = 0u64;
    let start = Instant::now();
    while leader_committed(&cluster) < entries as u64 {
        while proposed - leader_committed(&cluster) < IN_FLIGHT as u64 {
            let Some((id, data)) = proposals.next() else { break };
            cluster.node_mut(LEADER).propose(id, data).expect("proposal accepted");
            proposed += 1;
        }
        assert!(cluster.round(), "the cluster stalled");
    }
    let elapsed = start.elapsed();
    CaseResult { entries: leader_committed(&cluster), elapsed, messages: cluster.delivered }
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
