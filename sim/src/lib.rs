//! The simulated world: a deterministic simulation of a modeled Restate cluster, with
//! modeled network and node faults, run by madsim. It plugs into the core's runtime seam.
//! Depends on the core only; never on `real`.

pub mod iteration;
pub mod network;
pub mod runtime;

pub use iteration::{check_determinism, run_iteration, DeterminismError};
pub use network::{NetworkConfig, SimNetwork, SimNode};
pub use runtime::{simulate, MadsimRuntime};
