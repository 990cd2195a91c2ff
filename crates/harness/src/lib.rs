//! flotilla's test harness, one for every test above the core's own unit tests: an in-memory cluster of cores
//! (`Cluster`, for the paper-rule tests and the engine benchmark), the seeded simulation of the shipped node driver
//! with its network, nemesis, clients and invariant checker (`simulation`), and a small runner of data-driven
//! scenario files (`datadriven`, with the scenario commands in `scenario_commands`). `node_under_test` runs the
//! shipped node driver in lockstep rounds on the harness's disks, under the simulation's checker.

mod cluster;
mod cluster_nodes;
pub mod datadriven;
mod memory_storage;
pub mod node_under_test;
pub mod scenario_commands;
pub mod simulation;
mod state_machine;

pub use cluster::{config, plain_config, progress, Cluster, TestNode};
pub use cluster_nodes::ClusterNodes;
pub use memory_storage::MemoryStorage;
pub use state_machine::{decode_items, encode_items};
