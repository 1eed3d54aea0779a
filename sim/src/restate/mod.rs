//! The modeled Restate cluster: nodes on madsim's simulated network, each with a
//! simulated disk, running the parts of Restate the workloads exercise. So far: the
//! metadata store, replicated with Raft (tikv raft-rs), served on every node's admin
//! port (`GET/PUT :9070/metadata/{key}`), with the named faults and injectable bugs.
//!
//! One concept per file: [`cluster`] builds the nodes; [`node`] is a node's process;
//! [`metadata_server`] the Raft member; [`metadata_store`] its versioned key-value state
//! machine; [`admin_api`] the HTTP shapes; [`disk`] what survives a crash; [`server`] and
//! [`transport`] the two ends of a client request; [`faults`] the faults and the nemesis;
//! [`bugs`] the defect catalogue.

pub mod admin_api;
pub mod bugs;
pub mod cluster;
pub mod disk;
pub mod faults;
pub mod metadata_server;
pub mod metadata_store;
pub mod node;
pub mod server;
pub mod transport;

pub use bugs::{Bug, BugSet};
pub use cluster::{wait_until_ready, ClusterOptions, SimCluster};
pub use faults::{FaultOptions, SimNemesis};
pub use transport::SimTransport;
