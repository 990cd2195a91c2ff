//! The deterministic simulation: seeded clusters on a faulty network with faulty disks and crashing nodes, Raft's
//! safety properties checked after every step, liveness once the faults heal. `World::new(scenario).run()` runs
//! one seed; the tests in `tests/simulation` choose the seeds and report.

pub mod checker;
mod clients;
mod network;
pub mod outcome;
pub mod reads;
pub mod scenario;
pub(crate) mod storage;
mod tuning;
mod world;

pub use checker::{Invariant, Violation};
pub use outcome::Outcome;
pub use scenario::{Scenario, SIZES};
pub use world::World;
