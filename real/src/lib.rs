//! The real world: runs the core's interpreter on tokio against a real Restate cluster
//! (HTTP clients, SSH control, genuine faults). Depends on the core only; never on `sim`.
//! It provides the core's lifecycle a [`test_run::RealWorld`] and the fault actions a
//! [`nemesis::RealEffector`]; [`options`] turns the `real` command's flags into both.

pub mod cluster;
pub mod container;
pub mod daemon;
pub mod db;
pub mod heal_on_exit;
pub mod http_transport;
pub mod metadata_transport;
pub mod nemesis;
pub mod options;
pub mod remote;
pub mod test_run;
pub mod tokio_runtime;
