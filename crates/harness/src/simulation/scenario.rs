//! What one simulated run is, derived from its seed alone (so that the seed replays it): the cluster size, the
//! number of faulty steps, the core's switches and an optional deliberate bug.

use flotilla_raft::InjectedBug;

/// Cluster sizes, chosen round-robin by seed.
pub const SIZES: [u64; 5] = [1, 2, 3, 5, 7];

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub size: u64,
    /// Steps (events: a tick, a delivery, a disk write, a proposal, a fault) before the faults heal.
    pub steps: u64,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub injected_bug: Option<InjectedBug>,
    /// Always use the aggressive nemesis (otherwise the seed picks it about one time in three).
    pub aggressive: bool,
    /// Compact every this many applied entries (0: never); `None` lets the seed choose.
    pub compact_every: Option<u64>,
    /// No nemesis: the last node is cut off from the start until the faults heal, while the others commit and
    /// compact far past it; it must then catch up by InstallSnapshot.
    pub lagging_follower: bool,
    /// Membership changes all through the faulty phase: two more nodes start as joining nodes, and the leader
    /// adds learners, promotes them, removes members and changes several voters at once (joint consensus).
    pub churn: bool,
    /// gaggle's clusters kept in memory (`Scenario::replacing`): every node discovers its cluster, a crash is for
    /// good, and spare nodes start under new names to take the seats of silent members.
    pub replacing: bool,
    /// Print every event.
    pub trace: bool,
}

impl Scenario {
    /// The run of a seed: size `SIZES[seed % 5]`; pre-vote and check-quorum both on for five seeds in eight of
    /// each size, and one of them or both off for the others.
    pub fn for_seed(seed: u64, steps: u64) -> Scenario {
        let size = SIZES[(seed % SIZES.len() as u64) as usize];
        let (pre_vote, check_quorum) = match (seed / SIZES.len() as u64) % 8 {
            5 => (false, true),
            6 => (true, false),
            7 => (false, false),
            _ => (true, true),
        };
        Scenario {
            seed,
            size,
            steps,
            pre_vote,
            check_quorum,
            injected_bug: None,
            aggressive: false,
            compact_every: None,
            lagging_follower: false,
            churn: false,
            replacing: false,
            trace: false,
        }
    }

    /// A run with membership churn (see `churn`): the seed's size and switches.
    pub fn churning(seed: u64, steps: u64) -> Scenario {
        Scenario { churn: true, ..Scenario::for_seed(seed, steps) }
    }

    /// Seat replacement in gaggle's clusters kept in memory, a cluster of 3 or 5 (`replacing`): the nodes discover
    /// each other, and a crashed node never comes back (its memory is gone); a spare starts under a new name while
    /// a member gone for good holds a seat, and now and then by itself, while members are cut off for longer than a
    /// seat is kept (see `world/seats.rs`).
    pub fn replacing(seed: u64, steps: u64) -> Scenario {
        let mut scenario = Scenario::for_seed(seed, steps);
        scenario.size = [3, 5][(seed % 2) as usize];
        scenario.replacing = true;
        scenario
    }

    /// The spare nodes of a replacing run: two newcomers for each first member, at most.
    pub fn spares(&self) -> u64 {
        if self.replacing {
            2 * self.size
        } else {
            0
        }
    }

    /// How many nodes run: the first members, two that may join in a churning run, and the spares of a replacing one.
    pub fn pool(&self) -> u64 {
        if self.churn {
            self.size + 2
        } else {
            self.size + self.spares()
        }
    }

    /// A run with a deliberate bug in every node, in a cluster of 3 (two seeds in three) or 5, with the aggressive
    /// nemesis.
    pub fn with_bug(seed: u64, steps: u64, bug: InjectedBug) -> Scenario {
        let mut scenario = Scenario::for_seed(seed, steps);
        scenario.size = [3, 3, 5][(seed % 3) as usize];
        scenario.injected_bug = Some(bug);
        scenario.aggressive = true;
        // A membership bug needs membership changes to show.
        let membership_bug = matches!(
            bug,
            InjectedBug::JointStepSkipped | InjectedBug::TwoChangesInFlight | InjectedBug::LearnerCountedInQuorum
        );
        scenario.churn = membership_bug;
        // A bug of seat replacement needs seats to replace.
        scenario.replacing = bug == InjectedBug::SeatGivenAwayOutsideTheLog;
        scenario
    }

    /// A follower cut off while the others compact far past it (a cluster of 3 or 5), on a somewhat lossy network.
    pub fn lagging_follower(seed: u64, steps: u64) -> Scenario {
        let mut scenario = Scenario::for_seed(seed, steps);
        scenario.size = [3, 5][(seed % 2) as usize];
        scenario.compact_every = Some([3, 10][(seed / 2 % 2) as usize]);
        scenario.lagging_follower = true;
        scenario.churn = false;
        scenario
    }

    /// The bug named like an `InjectedBug` variant.
    pub fn bug_named(name: &str) -> Option<InjectedBug> {
        [
            InjectedBug::CommitPreviousTermByCount,
            InjectedBug::VoteTwiceInOneTerm,
            InjectedBug::IgnoreLogUpToDateCheck,
            InjectedBug::SnapshotKeepsSuffixWithoutTermCheck,
            InjectedBug::AcknowledgeBeforeDurable,
            InjectedBug::ReadWithoutQuorumRound,
            InjectedBug::LeaseLongerThanElectionTimeout,
            InjectedBug::JointStepSkipped,
            InjectedBug::TwoChangesInFlight,
            InjectedBug::LearnerCountedInQuorum,
            InjectedBug::StrangersTrusted,
            InjectedBug::SeatGivenAwayOutsideTheLog,
        ]
        .into_iter()
        .find(|bug| format!("{bug:?}") == name)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} node{}, pre-vote {}, check-quorum {}{}",
            self.size,
            if self.size == 1 { "" } else { "s" },
            if self.pre_vote { "on" } else { "off" },
            if self.check_quorum { "on" } else { "off" },
            self.injected_bug.map_or(String::new(), |bug| format!(", injected bug {bug:?}")),
        ) + if self.lagging_follower { ", lagging follower" } else { "" }
            + if self.churn { ", membership churn" } else { "" }
            + if self.replacing { ", seats replaced" } else { "" }
    }
}
