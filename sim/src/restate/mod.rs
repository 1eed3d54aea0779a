//! The modeled Restate cluster: nodes on madsim's simulated network, each with a
//! simulated disk, running the parts of Restate the workloads exercise: the metadata
//! store, replicated with Raft (tikv raft-rs), served on every node's admin port
//! (`GET/PUT :9070/metadata/{key}`); one partition whose leader is elected through the
//! metadata store with an epoch and writes a replicated, sealable log; the virtual
//! objects `Set` and `Register` behind every node's ingress (`POST :8080/...`); the
//! named faults and the injectable bugs.
//!
//! One concept per file: [`cluster`] builds the nodes; [`node`] is a node's process;
//! [`metadata_server`] the Raft member; [`metadata_store`] its versioned key-value state
//! machine; [`admin_api`] the metadata HTTP shapes; [`partition`] the partition leader;
//! [`log_server`] the log's replicas; [`follower`] a follower's lagging copy;
//! [`virtual_objects`] the objects' handlers; [`disk`]
//! what survives a crash; [`server`] and [`transport`] the two ends of a request;
//! [`faults`] the faults and the nemesis; [`bugs`] the defect catalogue; [`trace`] the
//! model trace of a replayed seed.

pub mod admin_api;
pub mod bugs;
pub mod cluster;
pub mod disk;
pub mod faults;
pub mod follower;
pub mod log_server;
pub mod metadata_server;
pub mod metadata_store;
pub mod node;
pub mod partition;
pub mod server;
pub mod trace;
pub mod transport;
pub mod virtual_objects;

pub use bugs::{Bug, BugSet};
pub use cluster::{wait_until_ready, ClusterOptions, SimCluster, CONTROL_NODE};
pub use faults::{sim_nemesis, SimEffector};
pub use jepsen_core::fault::FaultOptions;
pub use transport::SimTransport;
