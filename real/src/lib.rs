//! The real world: runs the core's interpreter on tokio against a real Restate cluster
//! (HTTP clients, SSH control, genuine faults). Depends on the core only; never on `sim`.

pub mod cluster;
pub mod container;
pub mod daemon;
pub mod db;
pub mod heal_on_exit;
pub mod http_transport;
pub mod metadata_transport;
pub mod nemesis;
pub mod remote;
pub mod test_run;
pub mod tokio_runtime;
