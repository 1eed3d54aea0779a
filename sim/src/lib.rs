//! The simulated world: a deterministic simulation of a modeled Restate cluster, with
//! modeled network and node faults, run by madsim. It plugs into the core's runtime seam.
//! Depends on the core only; never on `real`.
