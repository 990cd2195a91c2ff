//! Deterministic simulation of the shipped node driver and its core: seeded clusters of 1, 2, 3, 5 and 7 nodes, each
//! a `flotilla_node::NodeDriver` on an in-memory disk, on a network that
//! drops, duplicates, delays, reorders and partitions, with disks that acknowledge late and nodes that crash and
//! restart from what they persisted (their latest snapshot, then their log). Nodes snapshot their state machine and
//! compact their logs every few entries (the seed picks how often, or never), so lagging nodes catch up by
//! InstallSnapshot. Raft's safety properties are checked after every step; once the faults heal, the cluster must
//! elect a leader and apply every acknowledged or pending proposal everywhere, exactly once.
//!
//! Readers ask random nodes for linearizable reads (ReadIndex, and lease reads with CheckQuorum) beside the writes;
//! every completed read is checked against the writes and reads that completed before it was asked.
//!
//! `cargo test --release -p flotilla-harness --test simulation` runs seeds 0..2000 (400 per cluster size) of 10,000 faulty
//! steps each, 1,000 churning seeds, 1,000 seeds of clusters that replace their members (gaggle's kept in memory), 40
//! lagging-follower seeds, and shows that the checker finds each `InjectedBug` (the core's, and the driver's
//! `AcknowledgeBeforeDurable` and `SeatGivenAwayOutsideTheLog`).
//! Environment variables: `FLOTILLA_SIM_SEEDS=<n>` runs seeds 0..n, `FLOTILLA_SIM_STEPS=<n>` sets the faulty steps per
//! seed, `FLOTILLA_SIM_COMPACT=<n>` makes every seed compact every n applied entries (0: never). The ignored test
//! `replay_one_seed` is a tool: `FLOTILLA_SIM_SEED=<seed> cargo test --release -p flotilla-harness --test simulation
//! replay_one_seed -- --ignored --nocapture` replays one seed (add `FLOTILLA_SIM_TRACE=1` to print every event,
//! `FLOTILLA_SIM_BUG=<InjectedBug variant>` to replay a seed of a bug-finding test, `FLOTILLA_SIM_LAGGING=1` one of
//! the lagging-follower test, `FLOTILLA_SIM_CHURN=1` or `FLOTILLA_SIM_REPLACING=1` a churning or a replacing one). A
//! failure prints its replay command. The simulation itself is the harness's (`crates/harness/src/simulation`):
//! `world.rs` (the event loop), `world/driver.rs` (runs each node's driver), `world/nemesis.rs`, `world/churn.rs`
//! (membership changes), `world/seats.rs` (seat replacement), `network.rs`, `storage.rs`, `clients.rs`,
//! `checker.rs` (the invariants), `scenario.rs` and `tuning.rs` (what a seed means), `outcome.rs`.

use flotilla_harness::simulation::{Invariant, Outcome, Scenario, Violation, World, SIZES};
use flotilla_raft::InjectedBug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

const DEFAULT_SEEDS: u64 = 2_000;
const DEFAULT_STEPS: u64 = 10_000;
/// Injected bugs show once histories are long enough to hold diverging suffixes of several terms.
const BUG_STEPS: u64 = 20_000;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")))
}

fn steps() -> u64 {
    env_u64("FLOTILLA_SIM_STEPS").unwrap_or(DEFAULT_STEPS)
}

/// The command that replays a seed exactly.
fn replay_command(seed: u64, bug: Option<InjectedBug>) -> String {
    let steps = match (env_u64("FLOTILLA_SIM_STEPS"), bug) {
        (Some(steps), _) => format!("FLOTILLA_SIM_STEPS={steps} "),
        (None, Some(_)) => format!("FLOTILLA_SIM_STEPS={BUG_STEPS} "),
        (None, None) => String::new(),
    };
    let bug = bug.map_or(String::new(), |bug| format!("FLOTILLA_SIM_BUG={bug:?} "));
    format!("FLOTILLA_SIM_SEED={seed} {bug}{steps}{REPLAY_TAIL}")
}

/// Runs one scenario; a panic of the core is reported as a violation too.
fn run(scenario: Scenario) -> Result<Outcome, Violation> {
    let result = catch_unwind(AssertUnwindSafe(|| World::new(scenario).run()));
    result.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".to_string());
        Err(Violation::new(Invariant::Panic, message))
    })
}

/// The part of every replay command after the environment: `replay_one_seed` is a tool, ignored unless asked for.
const REPLAY_TAIL: &str =
    "cargo test --release -p flotilla-harness --test simulation replay_one_seed -- --ignored --nocapture";

fn replaying() -> bool {
    env_u64("FLOTILLA_SIM_SEED").is_some()
}

/// Replays `FLOTILLA_SIM_SEED` (with `FLOTILLA_SIM_BUG`, a seed of a bug-finding test), printing every event when
/// `FLOTILLA_SIM_TRACE` is set. A tool, not a test: ignored by default, and it fails when run without a seed, so
/// that it never passes without having replayed anything.
#[test]
#[ignore = "a tool: replays FLOTILLA_SIM_SEED (run with --ignored)"]
fn replay_one_seed() {
    let seed = env_u64("FLOTILLA_SIM_SEED")
        .unwrap_or_else(|| panic!("set FLOTILLA_SIM_SEED=<seed> to replay it: FLOTILLA_SIM_SEED=0 {REPLAY_TAIL}"));
    let mut scenario = match std::env::var("FLOTILLA_SIM_BUG") {
        Ok(name) => {
            let bug =
                Scenario::bug_named(&name).unwrap_or_else(|| panic!("FLOTILLA_SIM_BUG: no injected bug {name:?}"));
            Scenario::with_bug(seed, env_u64("FLOTILLA_SIM_STEPS").unwrap_or(BUG_STEPS), bug)
        }
        Err(_) if env_u64("FLOTILLA_SIM_CHURN").is_some_and(|on| on != 0) => Scenario::churning(seed, steps()),
        Err(_) if env_u64("FLOTILLA_SIM_REPLACING").is_some_and(|on| on != 0) => Scenario::replacing(seed, steps()),
        Err(_) if env_u64("FLOTILLA_SIM_LAGGING").is_some_and(|on| on != 0) => {
            Scenario::lagging_follower(seed, env_u64("FLOTILLA_SIM_STEPS").unwrap_or(LAGGING_STEPS))
        }
        Err(_) => Scenario::for_seed(seed, steps()),
    };
    scenario.trace = std::env::var("FLOTILLA_SIM_TRACE").is_ok_and(|value| value != "0");
    let description = scenario.describe();
    match run(scenario) {
        Ok(outcome) => println!("seed {seed} ({description}) passed: {outcome:?}"),
        Err(violation) => panic!("seed {seed} ({description}) failed: {violation}"),
    }
}

/// Runs the seeds of one cluster size (`SIZES[size_index]`): seeds 0..FLOTILLA_SIM_SEEDS that are `size_index`
/// modulo the number of sizes.
fn simulate_size(size_index: u64) {
    if replaying() {
        return;
    }
    let started = Instant::now();
    let sizes = SIZES.len() as u64;
    let seeds = env_u64("FLOTILLA_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let seeds: Vec<u64> = (0..seeds).filter(|seed| seed % sizes == size_index).collect();
    let mut total = Outcome::default();
    let mut slowest = (0, 0);
    for &seed in &seeds {
        let scenario = Scenario::for_seed(seed, steps());
        let description = scenario.describe();
        match run(scenario) {
            Ok(outcome) => {
                if outcome.ticks_to_recover >= slowest.1 {
                    slowest = (seed, outcome.ticks_to_recover);
                }
                total.add(&outcome);
            }
            Err(violation) => panic!(
                "simulation seed {seed} ({description}) failed: {violation}\nreplay: {}",
                replay_command(seed, None)
            ),
        }
    }
    println!(
        "{} seeds of {} node(s) in {:.1}s: {} steps, {} entries committed, {} leader terms, {} proposals, {} \
         acknowledged, {} reads checked ({} by lease), {} crashes, at most {} ticks to recover (seed {})\n  core \
         counters: {:?}",
        seeds.len(),
        SIZES[size_index as usize],
        started.elapsed().as_secs_f64(),
        total.steps,
        total.committed,
        total.leader_terms,
        total.proposed,
        total.acknowledged,
        total.reads,
        total.lease_reads,
        total.crashes,
        slowest.1,
        slowest.0,
        total.core
    );
}

#[test]
fn one_node_clusters_are_safe_and_live() {
    simulate_size(0);
}

#[test]
fn two_node_clusters_are_safe_and_live() {
    simulate_size(1);
}

#[test]
fn three_node_clusters_are_safe_and_live() {
    simulate_size(2);
}

#[test]
fn five_node_clusters_are_safe_and_live() {
    simulate_size(3);
}

#[test]
fn seven_node_clusters_are_safe_and_live() {
    simulate_size(4);
}

/// Runs seeds 0..`seeds` of `scenario_of(seed, steps)`, `what` runs replayed with `replay_env`: a safety violation
/// or a panic fails the test, and a liveness violation too where pre-vote and check-quorum are both on; the other
/// seeds that did not recover are returned (without them, a node outside the configuration may keep deposing the
/// leaders with higher terms: thesis 4.2.3).
fn run_live_where_protected(
    seeds: u64,
    what: &str,
    replay_env: &str,
    scenario_of: fn(u64, u64) -> Scenario,
) -> (Outcome, Vec<u64>) {
    let mut total = Outcome::default();
    let mut stalled = Vec::new();
    for seed in 0..seeds {
        let scenario = scenario_of(seed, steps());
        let description = scenario.describe();
        let protected = scenario.pre_vote && scenario.check_quorum;
        match run(scenario) {
            Ok(outcome) => total.add(&outcome),
            Err(violation) if protected || violation.is_safety() || violation.invariant == Invariant::Panic => panic!(
                "{what} seed {seed} ({description}) failed: {violation}\nreplay: {replay_env} {}",
                replay_command(seed, None)
            ),
            Err(_) => stalled.push(seed),
        }
    }
    (total, stalled)
}

// ---- membership churn ------------------------------------------------------------------------------------

const CHURN_SEEDS: u64 = 1_000;

/// Membership changes under every fault (`Scenario::churning`): two more nodes start as joining nodes, and the
/// leader adds learners, promotes them, removes members (itself too) and moves several voters at once through a
/// joint configuration; crashes land in the middle of changes, learners fall behind a compacted log. Every safety
/// property is checked after every step. Liveness after healing is asserted where pre-vote and check-quorum are
/// both on: without them a removed node that missed its removal may keep deposing the leaders with higher terms
/// (thesis 4.2.3: that is what they are for), so those seeds are counted, not asserted. `FLOTILLA_SIM_CHURN_SEEDS=<n>`
/// runs more; a seed replays with `FLOTILLA_SIM_CHURN=1 FLOTILLA_SIM_SEED=<seed>`.
#[test]
fn membership_churn_is_safe_and_live_with_pre_vote_and_check_quorum() {
    if replaying() {
        return;
    }
    let started = Instant::now();
    let seeds = env_u64("FLOTILLA_SIM_CHURN_SEEDS").unwrap_or(CHURN_SEEDS);
    let (total, stalled) = run_live_where_protected(seeds, "churning", "FLOTILLA_SIM_CHURN=1", Scenario::churning);
    println!(
        "{seeds} churning seeds in {:.1}s: {} entries committed, {} membership changes, {} hand-overs by removed \
         leaders, {} reads checked; {} seeds without pre-vote or check-quorum did not recover a leader after healing \
         ({:?})",
        started.elapsed().as_secs_f64(),
        total.committed,
        total.core.membership_changes,
        total.core.removed_leader_hand_overs,
        total.reads,
        stalled.len(),
        &stalled[..stalled.len().min(10)]
    );
    assert!(total.core.membership_changes >= seeds, "the churn changed the membership");
}

// ---- seat replacement (gaggle's clusters kept in memory) ---------------------------------------------------

const REPLACING_SEEDS: u64 = 1_000;

/// gaggle's clusters kept in memory (`Scenario::replacing`, clusters of 3 and 5): the nodes discover each other; a
/// crashed node never comes back, and a spare starts under a new name to take its seat; spares also start by
/// themselves, and members are cut off for longer than a seat is kept, then come back to find it given away. The
/// leader keeps its seats filled by membership changes through the log, under every other fault. Every safety
/// property is checked after every step; once healed, the leader's configuration must be whole again (every
/// member alive and caught up), which needs the seats of the members gone for good given to newcomers. As in the
/// churning runs, liveness is asserted where pre-vote and check-quorum are both on: without them a newcomer not
/// seated yet, or a member whose seat was given away, may keep deposing the leaders with higher terms.
/// `FLOTILLA_SIM_REPLACING_SEEDS=<n>` runs more; a seed replays with `FLOTILLA_SIM_REPLACING=1 FLOTILLA_SIM_SEED=<seed>`.
#[test]
fn clusters_kept_in_memory_give_the_seats_of_silent_members_to_newcomers_safely() {
    if replaying() {
        return;
    }
    let started = Instant::now();
    let seeds = env_u64("FLOTILLA_SIM_REPLACING_SEEDS").unwrap_or(REPLACING_SEEDS);
    let (total, stalled) =
        run_live_where_protected(seeds, "replacing", "FLOTILLA_SIM_REPLACING=1", Scenario::replacing);
    println!(
        "{seeds} replacing seeds in {:.1}s: {} entries committed, {} crashes for good, {} membership changes, {} \
         newcomers holding a voter's seat at the end, {} reads checked; {} seeds without pre-vote or check-quorum \
         did not recover after healing ({:?})",
        started.elapsed().as_secs_f64(),
        total.committed,
        total.crashes,
        total.core.membership_changes,
        total.newcomers_seated,
        total.reads,
        stalled.len(),
        &stalled[..stalled.len().min(10)]
    );
    assert!(total.newcomers_seated >= seeds / 4, "newcomers took seats");
}

// ---- the checker catches deliberate bugs ---------------------------------------------------------------

/// Runs seeds with `bug` in every node until the checker reports a safety violation; fails if none does.
/// (`BUG_STEPS` steps per seed, so that a replay of a found seed needs `FLOTILLA_SIM_STEPS`.)
fn find_injected_bug(bug: InjectedBug, max_seeds: u64) -> Violation {
    for seed in 0..max_seeds {
        let steps = env_u64("FLOTILLA_SIM_STEPS").unwrap_or(BUG_STEPS);
        if let Err(violation) = run(Scenario::with_bug(seed, steps, bug)) {
            if violation.is_safety() {
                println!("{bug:?} found by seed {seed}: {violation}\nreplay: {}", replay_command(seed, Some(bug)));
                return violation;
            }
        }
    }
    panic!("the simulation did not find the injected bug {bug:?} in {max_seeds} seeds");
}

// ---- a follower that missed what the others compacted ---------------------------------------------------

const LAGGING_SEEDS: u64 = 40;
const LAGGING_STEPS: u64 = 4_000;

/// A follower is cut off from the start while the others commit and compact far past it (every 3 or 10 entries),
/// on a lossy network; once it is reachable again it must catch up by InstallSnapshot (checked by the world), with
/// every safety check on.
#[test]
fn lagging_follower_catches_up_by_install_snapshot() {
    if replaying() {
        return;
    }
    let mut total = Outcome::default();
    for seed in 0..LAGGING_SEEDS {
        let scenario = Scenario::lagging_follower(seed, LAGGING_STEPS);
        let description = scenario.describe();
        match run(scenario) {
            Ok(outcome) => total.add(&outcome),
            Err(violation) => panic!(
                "lagging-follower seed {seed} ({description}) failed: {violation}\nreplay: \
                 FLOTILLA_SIM_SEED={seed} FLOTILLA_SIM_LAGGING=1 FLOTILLA_SIM_STEPS={LAGGING_STEPS} {REPLAY_TAIL}"
            ),
        }
    }
    assert!(total.core.snapshots_installed >= LAGGING_SEEDS);
    println!(
        "{LAGGING_SEEDS} lagging-follower seeds: {} entries committed, {} compactions, {} snapshot transfers begun, {} \
         chunks sent, {} snapshots installed",
        total.committed,
        total.core.compactions,
        total.core.snapshot_needed,
        total.core.snapshot_chunks_sent,
        total.core.snapshots_installed
    );
}

/// A bug of seat replacement in the node driver: a seat given to a newcomer in the leader's configuration only.
#[test]
fn finds_a_seat_given_away_outside_the_log() {
    if !replaying() {
        find_injected_bug(InjectedBug::SeatGivenAwayOutsideTheLog, 1_000);
    }
}

#[test]
fn finds_commit_of_previous_term_entries_by_counting() {
    if !replaying() {
        find_injected_bug(InjectedBug::CommitPreviousTermByCount, 1_000);
    }
}

#[test]
fn finds_two_votes_in_one_term() {
    if !replaying() {
        find_injected_bug(InjectedBug::VoteTwiceInOneTerm, 100);
    }
}

#[test]
fn finds_votes_granted_without_the_log_check() {
    if !replaying() {
        find_injected_bug(InjectedBug::IgnoreLogUpToDateCheck, 100);
    }
}

#[test]
fn finds_a_snapshot_installed_over_a_suffix_of_another_history() {
    if !replaying() {
        find_injected_bug(InjectedBug::SnapshotKeepsSuffixWithoutTermCheck, 300);
    }
}

/// A bug in the node driver, not the core: the simulation runs the shipped driver, so it finds this too.
#[test]
fn finds_writes_acknowledged_before_they_are_durable() {
    if !replaying() {
        find_injected_bug(InjectedBug::AcknowledgeBeforeDurable, 300);
    }
}

/// A deposed leader that has not heard of its successor answers reads from its stale commit index.
#[test]
fn finds_reads_served_without_a_quorum_round() {
    if !replaying() {
        find_injected_bug(InjectedBug::ReadWithoutQuorumRound, 300);
    }
}

/// A lease that outlives the followers' promise not to vote lets a new leader commit while the old one still
/// answers reads from its lease.
#[test]
fn finds_a_read_lease_longer_than_the_election_timeout() {
    if !replaying() {
        find_injected_bug(InjectedBug::LeaseLongerThanElectionTimeout, 1_000);
    }
}

/// Two voters added at once without the joint step: an old majority and a new one need not overlap.
#[test]
fn finds_a_change_of_several_voters_without_the_joint_step() {
    if !replaying() {
        find_injected_bug(InjectedBug::JointStepSkipped, 500);
    }
}

/// A second change while the first has not committed: two configurations in force whose majorities need not
/// overlap.
#[test]
fn finds_two_membership_changes_in_flight() {
    if !replaying() {
        find_injected_bug(InjectedBug::TwoChangesInFlight, 2_000);
    }
}

/// Learners in the quorum that commits: an entry held by a minority of the voters commits, and a new leader
/// lacks it.
#[test]
fn finds_a_learner_counted_in_a_quorum() {
    if !replaying() {
        find_injected_bug(InjectedBug::LearnerCountedInQuorum, 500);
    }
}

/// Without the checks of who may say what, the stranger's proposals, notices, read answers or appends are taken.
#[test]
fn finds_what_a_stranger_says_taken_on_trust() {
    if !replaying() {
        find_injected_bug(InjectedBug::StrangersTrusted, 300);
    }
}
