//! The simulated world: a deterministic simulation of a modeled Restate cluster, with
//! modeled network and node faults, run by madsim. It plugs into the core's seams: a
//! runtime ([`runtime`]), a world for the core's test lifecycle ([`test_run::SimWorld`])
//! and an effector for the core's fault actions ([`restate::SimEffector`]); [`options`]
//! turns the `sim` flags into a [`SimTest`]. Depends on the core only; never on `real`.

// madsim's simulation API exists only under `--cfg madsim`, which `.cargo/config.toml`
// sets. A `RUSTFLAGS` environment variable replaces that setting instead of adding to
// it; say so rather than fail with hundreds of unresolved names.
#[cfg(not(madsim))]
compile_error!(
    "restate-jepsen-sim needs `--cfg madsim` (set in .cargo/config.toml); \
     a RUSTFLAGS environment variable overrides it: add `--cfg madsim` to RUSTFLAGS"
);

pub mod bug_hunt;
pub mod iteration;
pub mod network;
pub mod options;
pub mod restate;
pub mod runtime;
pub mod shrink;
pub mod swarm;
pub mod sweep;
pub mod test_run;

pub use bug_hunt::{hunt, hunt_with, Hunt};
pub use iteration::{
    check_determinism, run_iteration, run_iterations, run_seeds, DeterminismError,
};
pub use network::{NetworkConfig, SimNetwork, SimNode};
pub use runtime::{simulate, MadsimRuntime};
pub use test_run::{run_test, SimTest, SimWorld};
