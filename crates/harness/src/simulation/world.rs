//! The simulated world: a seeded discrete-event loop over virtual time that ticks the nodes, carries their
//! messages, completes their disk writes, runs clients and injects faults, then heals everything and waits for
//! the cluster to finish its work. Every step is followed by the safety checks. Each node is the shipped node
//! driver on an in-memory disk (`driver`); nodes snapshot their state machine and compact their log every few
//! applied entries when their driver asks; a restart restores the durable snapshot, then the log.

mod churn;
mod driver;
mod nemesis;
mod seats;
mod stranger;

use crate::simulation::checker::{Checker, Invariant, Violation};
use crate::simulation::clients::Clients;
use crate::simulation::network::{Envelope, Faults, Network};
use crate::simulation::outcome::{add_stats, Outcome};
use crate::simulation::reads::Reads;
use crate::simulation::scenario::Scenario;
use crate::simulation::storage::SharedDisk;
use crate::simulation::tuning::{Tuning, TICK};
use driver::describe;
use flotilla_node::{member_id, request_id_of, NodeDriver, Received, RequestProposed};
use flotilla_raft::{Config, NodeId, Payload, RestoredState, Role, Stats};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

/// Once healed, the cluster must have elected a leader and finished its work within this many ticks, plus one
/// tick per entry to replicate (the slowest flow-control settings move a few entries per round trip).
const LIVENESS_TICKS: u64 = 300;
/// Clients wait for answers: at most this many proposals wait on one node.
const CLIENT_OUTSTANDING_PER_NODE: usize = 64;
/// Every so many steps the checker re-reads every log in full rather than incrementally.
const FULL_CHECK_EVERY: u64 = 256;

#[derive(Debug)]
enum Event {
    Tick {
        node: NodeId,
        incarnation: u64,
    },
    Deliver(Envelope),
    DiskDone {
        node: NodeId,
        incarnation: u64,
    },
    Restart {
        node: NodeId,
        incarnation: u64,
    },
    /// A batching world gets round to flushing a node's driver.
    Ready {
        node: NodeId,
        incarnation: u64,
    },
    /// The reactive part of the nemesis: crash or isolate a new leader soon after its election.
    StrikeLeader {
        node: NodeId,
        incarnation: u64,
    },
    Client,
    /// The leader changes the membership.
    Churn,
    /// A reader asks a node for a linearizable read.
    Read,
    Operator,
    Fault,
    /// The stranger says what only members may (`world/stranger.rs`).
    Stranger,
    /// A replacing run's nemesis: a spare starts, or a member is cut off for longer than its seat is kept
    /// (`world/seats.rs`).
    Seats,
    /// A node held apart (see `Network::hold`) is reachable again.
    Release {
        node: NodeId,
    },
    /// A discovering node's hello (`Received::Introduction`).
    Introduction {
        from: NodeId,
        to: NodeId,
        from_incarnation: u64,
        to_incarnation: u64,
    },
}

#[derive(Debug)]
struct Scheduled {
    time: u64,
    /// Breaks ties in scheduling order, so that the run is deterministic.
    sequence: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.sequence) == (other.time, other.sequence)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.sequence).cmp(&(other.time, other.sequence))
    }
}

struct SimNode {
    /// `None` while crashed.
    driver: Option<NodeDriver>,
    /// Increases at each crash; events and messages of an older incarnation are void.
    incarnation: u64,
    disk: SharedDisk,
    /// A `DiskDone` event is scheduled.
    disk_busy: bool,
    /// A `Ready` event is scheduled.
    ready_pending: bool,
    /// The driver restarted from a snapshot on its disk, which its next restore is.
    restoring_at_start: bool,
    /// Led when last looked at (a new leader may be struck).
    leading: bool,
    tick_interval: u64,
    /// Started once (a replacing run's spares are not, until their turn comes).
    born: bool,
    /// Crashed for good (in a replacing run: a node kept in memory has nothing to come back with).
    gone: bool,
    /// A replacing run's spare that held the configuration of the leader of the highest term once (see
    /// `World::note_adoption`).
    adopted: bool,
}

pub struct World {
    scenario: Scenario,
    tuning: Tuning,
    rng: StdRng,
    now: u64,
    sequence: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    nodes: Vec<SimNode>,
    /// The members' names, node `id` at position `id - 1`.
    names: Vec<String>,
    /// The position id (1-based) of each member's node id (its name's hash), for the network.
    position_of: HashMap<NodeId, NodeId>,
    network: Network,
    checker: Checker,
    clients: Clients,
    reads: Reads,
    /// Draws the readers' choices, apart from the main stream.
    read_rng: StdRng,
    /// The stranger's choices, a stream of their own so that the other faults stay as the seed drew them.
    stranger_rng: StdRng,
    /// A replacing run's nemesis' choices, a stream of its own too.
    seats_rng: StdRng,
    healed: bool,
    steps: u64,
    crashes: u64,
    /// What the stranger said so far (each forged entry's id is numbered by it).
    stranger_messages: u64,
    /// The counters of crashed incarnations.
    core_stats: Stats,
    /// A node snapshots and compacts once it applied this many entries past its snapshot (0: never).
    compact_every: u64,
}

impl World {
    pub fn new(scenario: Scenario) -> World {
        let mut rng = StdRng::seed_from_u64(scenario.seed);
        let tuning = Tuning::draw(&mut rng, scenario.aggressive);
        let size = scenario.pool() as usize;
        let network = Network::new(size, rng.random_range(5..=60), 12 * TICK);
        // Drawn from its own stream, so that the rest of a seed's run is what it was before snapshots existed.
        let forced = std::env::var("FLOTILLA_SIM_COMPACT").ok().and_then(|value| value.trim().parse().ok());
        let compact_every = scenario.compact_every.or(forced).unwrap_or_else(|| {
            let mut compaction_rng = StdRng::seed_from_u64(scenario.seed ^ 0x5EED_C0FF_EE00_0001);
            [0, 3, 10, 40][compaction_rng.random_range(0..4)]
        });
        let mut world = World {
            tuning,
            now: 0,
            sequence: 0,
            queue: BinaryHeap::new(),
            nodes: Vec::with_capacity(size),
            names: (1..=size).map(|k| format!("n{k}")).collect(),
            position_of: (1..=size as NodeId).map(|id| (member_id(&format!("n{id}")), id)).collect(),
            network,
            checker: Checker::new(size),
            clients: Clients::new(size),
            reads: Reads::default(),
            read_rng: StdRng::seed_from_u64(scenario.seed ^ 0x5EED_4EAD_0000_0001),
            stranger_rng: StdRng::seed_from_u64(scenario.seed ^ 0x5EED_5743_0000_0002),
            seats_rng: StdRng::seed_from_u64(scenario.seed ^ 0x5EED_5EA7_0000_0003),
            healed: false,
            steps: 0,
            crashes: 0,
            stranger_messages: 0,
            core_stats: Stats::default(),
            compact_every,
            rng,
            scenario,
        };
        for id in 1..=size as NodeId {
            let disk = SharedDisk::default();
            // A replacing run's spares start later (`World::seats`).
            let born = id <= world.scenario.size || !world.scenario.replacing;
            let driver = born.then(|| {
                let options = world.node_options(id, 0);
                NodeDriver::with_storage(options, Box::new(disk.clone()), RestoredState::default())
                    .expect("a valid configuration")
            });
            let tick_interval = world.draw_tick_interval();
            world.nodes.push(SimNode {
                driver,
                incarnation: 0,
                disk,
                disk_busy: false,
                ready_pending: false,
                restoring_at_start: false,
                leading: false,
                tick_interval,
                born,
                gone: false,
                adopted: false,
            });
            let first_tick = world.rng.random_range(1..=TICK);
            world.schedule(first_tick, Event::Tick { node: id, incarnation: 0 });
        }
        let first_client = world.rng.random_range(1..=world.tuning.client_interval_max);
        world.schedule(first_client, Event::Client);
        let first_read = world.read_rng.random_range(1..=2 * world.tuning.client_interval_max);
        world.schedule(first_read, Event::Read);
        if world.scenario.lagging_follower {
            // No nemesis but a lossy network and one follower cut off until the faults heal.
            world.tuning.operator = false;
            world.tuning.leader_striker = 0.0;
            world.network.faults = Faults { drop: 0.05, duplicate: 0.05, long_delay: 0.02 };
            world.network.split(&[size as NodeId]);
        } else {
            let first_fault = world.rng.random_range(1..=world.tuning.fault_interval_max);
            world.schedule(first_fault, Event::Fault);
            // A cluster that discovers its members seats any name that speaks while a seat is vacant (gaggle's
            // discovery): there, a stranger is a member by design, so only the other runs have one.
            if !world.scenario.replacing {
                let first_stranger = world.stranger_rng.random_range(1..=world.tuning.fault_interval_max);
                world.schedule(first_stranger, Event::Stranger);
            }
        }
        if world.scenario.churn {
            let first_change = world.rng.random_range(1..=20 * TICK);
            world.schedule(first_change, Event::Churn);
        }
        if world.scenario.replacing {
            let first_change = world.seats_rng.random_range(1..=20 * TICK);
            world.schedule(first_change, Event::Seats);
        }
        if world.tuning.operator {
            let first_operator = world.rng.random_range(1..=20 * TICK);
            world.schedule(first_operator, Event::Operator);
        }
        world.trace(|| format!("scenario {:?}, {:?}", world.scenario, world.tuning));
        world
    }

    /// Each node's clock runs a little fast or slow, and differently in each incarnation.
    fn draw_tick_interval(&mut self) -> u64 {
        self.rng.random_range(TICK * 9 / 10..=TICK * 11 / 10)
    }

    fn config(&self, id: NodeId, incarnation: u64) -> Config {
        let tuning = &self.tuning;
        let mut config = Config::new(id);
        config.election_ticks_min = tuning.election_ticks_min;
        config.election_ticks_max = tuning.election_ticks_max;
        config.heartbeat_ticks = tuning.heartbeat_ticks;
        config.pre_vote = self.scenario.pre_vote;
        config.check_quorum = self.scenario.check_quorum;
        config.lease_reads = self.scenario.check_quorum;
        config.max_inflight_messages = tuning.max_inflight_messages;
        config.max_inflight_bytes = tuning.max_inflight_bytes;
        config.max_message_bytes = tuning.max_message_bytes;
        config.max_pending_proposals = tuning.max_pending_proposals;
        config.proposal_retry_ticks = tuning.proposal_retry_ticks;
        config.seed = self.scenario.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (id << 32) ^ incarnation;
        config.injected_bug = self.scenario.injected_bug;
        config
    }

    fn schedule(&mut self, delay: u64, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse(Scheduled { time: self.now + delay, sequence: self.sequence, event }));
    }

    /// How many nodes run (the first members, and those that may join).
    fn size(&self) -> NodeId {
        self.scenario.pool()
    }

    fn node(&mut self, id: NodeId) -> &mut SimNode {
        &mut self.nodes[(id - 1) as usize]
    }

    fn alive(&self, id: NodeId) -> bool {
        self.nodes[(id - 1) as usize].driver.is_some()
    }

    fn random_alive_node(&mut self) -> Option<NodeId> {
        let alive: Vec<NodeId> = (1..=self.size()).filter(|&id| self.alive(id)).collect();
        if alive.is_empty() {
            None
        } else {
            Some(alive[self.rng.random_range(0..alive.len())])
        }
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if self.scenario.trace {
            println!("{:>9} #{:<6} {}", self.now, self.steps, what());
        }
    }

    /// Runs the faulty phase, heals, and waits for the cluster to recover. `Err` is the first violation.
    pub fn run(&mut self) -> Result<Outcome, Violation> {
        while self.steps < self.scenario.steps {
            self.step()?;
        }
        self.heal()?;
        let healed_at = self.now;
        let longest_log = (1..=self.size()).filter_map(|id| self.core(id)).map(|raft| raft.log().last_index());
        let budget = LIVENESS_TICKS
            + longest_log.max().unwrap_or(0)
            + self.clients.pending_total() as u64
            + self.seat_replacement_ticks();
        let deadline = healed_at + budget * TICK;
        loop {
            self.forget_non_members();
            if self.recovered() {
                self.check_lagging_follower_installed_a_snapshot()?;
                let mut core = std::mem::take(&mut self.core_stats);
                for raft in (1..=self.size()).filter_map(|id| self.core(id)) {
                    add_stats(&mut core, raft.stats());
                }
                return Ok(Outcome {
                    core,
                    steps: self.steps,
                    ticks_to_recover: (self.now - healed_at).div_ceil(TICK),
                    committed: self.checker.committed_len(),
                    leader_terms: self.checker.terms_with_leaders(),
                    proposed: self.clients.proposed,
                    acknowledged: self.clients.acknowledged,
                    crashes: self.crashes,
                    reads: self.reads.completed,
                    lease_reads: self.reads.completed_by_lease,
                    newcomers_seated: self.newcomers_seated(),
                });
            }
            if self.now > deadline {
                return Err(self.liveness_violation(budget));
            }
            self.step()?;
        }
    }

    fn step(&mut self) -> Result<(), Violation> {
        let Some(Reverse(scheduled)) = self.queue.pop() else {
            return Err(Violation::new(Invariant::Liveness, "nothing left to happen"));
        };
        self.now = scheduled.time;
        self.steps += 1;
        match scheduled.event {
            Event::Tick { node, incarnation } => self.tick(node, incarnation)?,
            Event::Deliver(envelope) => self.deliver(envelope)?,
            Event::DiskDone { node, incarnation } => self.disk_done(node, incarnation)?,
            Event::Restart { node, incarnation } => {
                if self.node(node).incarnation == incarnation {
                    self.restart(node)?;
                }
            }
            Event::StrikeLeader { node, incarnation } => self.strike_leader(node, incarnation),
            Event::Ready { node, incarnation } => {
                if self.node(node).incarnation == incarnation && self.alive(node) {
                    self.drive(node)?;
                }
            }
            Event::Client => self.client()?,
            Event::Churn => self.churn()?,
            Event::Read => self.read()?,
            Event::Operator => self.operator()?,
            Event::Fault => self.fault()?,
            Event::Stranger => self.stranger_speaks()?,
            Event::Seats => self.seats()?,
            Event::Release { node } => {
                self.network.release(node);
                self.trace(|| format!("fault: {node} is reachable again"));
            }
            Event::Introduction { from, to, from_incarnation, to_incarnation } => {
                self.deliver_introduction(from, to, (from_incarnation, to_incarnation))?
            }
        }
        if self.steps.is_multiple_of(FULL_CHECK_EVERY) {
            for position in 0..self.nodes.len() {
                if let Some(driver) = self.nodes[position].driver.as_ref() {
                    self.checker.resync(position as NodeId + 1, driver.raft())?;
                }
            }
        }
        Ok(())
    }

    // ---- events ----------------------------------------------------------------------------------------

    fn tick(&mut self, id: NodeId, incarnation: u64) -> Result<(), Violation> {
        let node = self.node(id);
        if node.incarnation != incarnation {
            return Ok(());
        }
        let Some(driver) = node.driver.as_mut() else { return Ok(()) };
        driver.tick();
        let interval = node.tick_interval;
        self.schedule(interval, Event::Tick { node: id, incarnation });
        self.trace(|| format!("tick {id}"));
        self.after_input(id)
    }

    fn deliver(&mut self, envelope: Envelope) -> Result<(), Violation> {
        let (from, to) = (envelope.message.from, envelope.message.to);
        let crashed_since = self.node(from).incarnation != envelope.from_incarnation
            || self.node(to).incarnation != envelope.to_incarnation;
        let lost = (crashed_since && !self.tuning.stale_deliveries) || !self.alive(to) || self.network.is_cut(from, to);
        if lost {
            self.trace(|| format!("lost {}", describe(&envelope.message)));
            return Ok(());
        }
        self.trace(|| format!("deliver {}", describe(&envelope.message)));
        let from_name = self.names[(from - 1) as usize].clone();
        let received = match envelope.members {
            Some(members) => Received::Snapshot { message: envelope.message, members },
            None => Received::Message(envelope.message),
        };
        if let Some(driver) = self.node(to).driver.as_mut() {
            driver.receive(&from_name, received);
        }
        self.after_input(to)
    }

    fn disk_done(&mut self, id: NodeId, incarnation: u64) -> Result<(), Violation> {
        if self.node(id).incarnation != incarnation || !self.alive(id) {
            return Ok(());
        }
        self.node(id).disk_busy = false;
        let pending = self.node(id).disk.lock().pending();
        // Sometimes several writes share one flush and one acknowledgement.
        let count = if pending > 1 && self.rng.random_bool(0.3) { self.rng.random_range(1..=pending) } else { 1 };
        let written = self.node(id).disk.lock().complete(count);
        for request in &written {
            self.checker.publish(&request.entries);
        }
        let token = written.last().map(|request| request.token);
        self.trace(|| format!("disk {id}: {count} write(s) durable, token {token:?}"));
        if let (Some(token), Some(driver)) = (token, self.node(id).driver.as_mut()) {
            driver.persisted(token);
        }
        self.schedule_disk(id);
        self.after_input(id)
    }

    fn schedule_disk(&mut self, id: NodeId) {
        let node = &self.nodes[(id - 1) as usize];
        if node.disk_busy || node.disk.lock().pending() == 0 {
            return;
        }
        let incarnation = node.incarnation;
        let latency = self.rng.random_range(1..=self.tuning.disk_latency_max);
        self.node(id).disk_busy = true;
        self.schedule(latency, Event::DiskDone { node: id, incarnation });
    }

    /// A client proposes through a random live node: usually something new, sometimes a retry of an earlier
    /// proposal (still pending elsewhere, or lost with a crash) under the same id.
    fn client(&mut self) -> Result<(), Violation> {
        if self.healed {
            return Ok(());
        }
        let interval = self.rng.random_range(1..=self.tuning.client_interval_max);
        self.schedule(interval, Event::Client);
        let Some(id) = self.random_alive_node() else { return Ok(()) };
        if self.clients.pending_on(id) >= CLIENT_OUTSTANDING_PER_NODE {
            return Ok(());
        }
        let retry = if self.rng.random_bool(0.2) { self.clients.id_to_retry(&mut self.rng) } else { None };
        // A retry goes to a node that has not yet applied it: a node that already did would wait for it forever.
        let retry = retry
            .filter(|proposal| !self.checker.has_applied(id, proposal) && !self.clients.is_pending_on(id, proposal));
        let is_retry = retry.is_some();
        let proposal = retry.unwrap_or_else(|| self.clients.new_id());
        let length = self.rng.random_range(0..=40);
        let data: Payload = (0..length).map(|_| self.rng.random::<u8>()).collect::<Vec<u8>>().into();
        let Some(driver) = self.node(id).driver.as_mut() else { return Ok(()) };
        // Clients propose as the JS faces' `append(data, requestId)` does: by request id.
        let request = request_id_of(&proposal).expect("the clients' ids are request ids");
        let result = driver.propose_request(request, data);
        self.trace(|| format!("propose {proposal} via {id}{}: {result:?}", if is_retry { " (retry)" } else { "" }));
        match result {
            Ok(RequestProposed { committed_at: None, .. }) => self.clients.accepted(id, proposal, is_retry),
            // Committed already, or refused: the client has its answer, or tries again later.
            Ok(RequestProposed { committed_at: Some(_), .. }) | Err(_) => self.clients.refused += 1,
        }
        self.after_input(id)
    }

    /// A reader asks a random live node for a linearizable read (a lease read, half the time, when CheckQuorum is
    /// on). Its choices come from their own random stream.
    fn read(&mut self) -> Result<(), Violation> {
        if self.healed {
            return Ok(());
        }
        let interval = self.read_rng.random_range(1..=2 * self.tuning.client_interval_max);
        self.schedule(interval, Event::Read);
        let alive: Vec<NodeId> = (1..=self.size()).filter(|&id| self.alive(id)).collect();
        if alive.is_empty() {
            return Ok(());
        }
        let id = alive[self.read_rng.random_range(0..alive.len())];
        let lease = self.scenario.check_quorum && self.read_rng.random_bool(0.5);
        let acknowledged = self.clients.max_acknowledged_index;
        let Some(driver) = self.node(id).driver.as_mut() else { return Ok(()) };
        let result = driver.read(lease);
        self.trace(|| format!("read via {id}{}: {result:?}", if lease { " (lease)" } else { "" }));
        match result {
            Ok(request) => self.reads.asked(id, request, lease, acknowledged),
            Err(_) => self.reads.refused += 1,
        }
        self.after_input(id)
    }

    /// The node starts again from what its disk holds.
    fn restart(&mut self, id: NodeId) -> Result<(), Violation> {
        let node = self.node(id);
        if node.driver.is_some() || !node.born || node.gone {
            return Ok(());
        }
        let incarnation = self.node(id).incarnation;
        let restored = self.nodes[(id - 1) as usize].disk.lock().restored_state(self.position_of.keys().copied());
        // The driver hands the snapshot to the application at its first flush, before it replays the log after it.
        let restoring_at_start = restored.snapshot.is_some();
        let options = self.node_options(id, incarnation);
        let driver =
            NodeDriver::with_storage(options, Box::new(self.node(id).disk.clone()), restored).map_err(|error| {
                Violation::new(Invariant::Recovery, format!("node {id} cannot restart from its disk: {error}"))
            })?;
        let tick_interval = self.draw_tick_interval();
        let node = self.node(id);
        node.driver = Some(driver);
        node.tick_interval = tick_interval;
        node.restoring_at_start = restoring_at_start;
        node.leading = false;
        self.checker.on_restart(id);
        let first_tick = self.rng.random_range(1..=tick_interval);
        self.schedule(first_tick, Event::Tick { node: id, incarnation });
        self.trace(|| format!("restart {id}"));
        self.after_input(id)
    }

    /// The faults stop: a reliable network, no partitions, every node up (but those gone for good, and the spares
    /// not started), no new proposals.
    fn heal(&mut self) -> Result<(), Violation> {
        self.healed = true;
        self.network.faults = Faults::default();
        self.network.heal_all();
        self.tuning.disk_latency_max = self.tuning.disk_latency_max.min(30);
        self.trace(|| "heal: reliable network, no partitions, every node up".to_string());
        for id in 1..=self.size() {
            self.restart(id)?;
        }
        Ok(())
    }

    /// In the lagging-follower scenario, the follower must have caught up through a snapshot (the others compacted
    /// what it missed).
    fn check_lagging_follower_installed_a_snapshot(&self) -> Result<(), Violation> {
        if !self.scenario.lagging_follower || self.compact_every == 0 {
            return Ok(());
        }
        let id = self.size();
        let installed = self.core(id).map_or(0, |raft| raft.stats().snapshots_installed);
        if installed == 0 {
            return Err(Violation::new(
                Invariant::Liveness,
                format!("the lagging follower {id} caught up without installing a snapshot"),
            ));
        }
        Ok(())
    }

    /// Liveness: a leader exists, every proposal accepted by a live node was applied there, and every member
    /// applied at least as far as the last acknowledged proposal.
    fn recovered(&self) -> bool {
        let Some(members) = self.leaders_members() else { return false };
        self.clients.pending_total() == 0
            && self.reads.pending() == 0
            && members.into_iter().all(|id| self.checker.applied(id) >= self.clients.max_acknowledged_index)
    }

    /// The nodes (by position) of the configuration in force at the leader of the highest term, if any leads.
    fn leaders_members(&self) -> Option<Vec<NodeId>> {
        let leader = (1..=self.size())
            .filter_map(|id| self.core(id))
            .filter(|raft| raft.role() == Role::Leader)
            .max_by_key(|raft| raft.term())?;
        Some(leader.membership().members().iter().filter_map(|id| self.position_of.get(id).copied()).collect())
    }

    /// Once healed: a node outside the configuration in force (removed, or never added) never hears from a
    /// leader again, so its clients' proposals and reads waiting on it will not be answered there.
    fn forget_non_members(&mut self) {
        let Some(members) = self.leaders_members() else { return };
        for id in 1..=self.size() {
            if !members.contains(&id) {
                self.clients.crashed(id);
                self.reads.give_up_on(id);
            }
        }
    }

    fn liveness_violation(&self, budget: u64) -> Violation {
        let positions = |ids: &std::collections::BTreeSet<NodeId>| -> Vec<NodeId> {
            ids.iter().map(|id| self.position_of.get(id).copied().unwrap_or(0)).collect()
        };
        let nodes: Vec<String> = (1..=self.size())
            .map(|id| match self.core(id) {
                Some(raft) => format!(
                    "{id}: {:?} term {} leader {:?} last {} committed {} applied {} pending {} voters {:?} \
                     learners {:?} outgoing {:?} ignored-in-lease {} dropped {}",
                    raft.role(),
                    raft.term(),
                    raft.leader().and_then(|id| self.position_of.get(&id)),
                    raft.log().last_index(),
                    raft.log().committed,
                    self.checker.applied(id),
                    raft.pending_proposals(),
                    positions(&raft.membership().voters),
                    positions(&raft.membership().learners),
                    positions(&raft.membership().outgoing),
                    raft.stats().votes_ignored_in_lease,
                    raft.stats().dropped_total(),
                ),
                None => format!("{id}: down"),
            })
            .collect();
        Violation::new(
            Invariant::Liveness,
            format!(
                "not recovered {budget} ticks after healing: {} proposals still pending (e.g. {:?}), {} reads \
                 (e.g. {:?}), every node must apply up to {}; nodes: [{}]",
                self.clients.pending_total(),
                self.clients.some_pending(),
                self.reads.pending(),
                self.reads.some_pending(),
                self.clients.max_acknowledged_index,
                nodes.join("; ")
            ),
        )
    }
}
