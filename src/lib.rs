//! restate-jepsen's core: the history, the generator language, the interpreter that runs
//! generators against clients and a nemesis, the checkers, and the store.
//!
//! Nothing here knows which world it runs in: the simulation (`sim/`) and the real cluster
//! (`real/`) plug in through [`runtime`]'s traits. This crate depends on neither madsim
//! nor russh nor reqwest, and the two worlds never depend on each other.
//!
//! A test's lifecycle ([`test_run`]), its stored record ([`test_record`]) and its faults
//! ([`fault`]: the plan, the one nemesis, schedules) live here too; a world provides only
//! a [`test_run::World`] and a [`fault::FaultEffector`].

pub mod checker;
pub mod fault;
pub mod generator;
pub mod history;
pub mod interpreter;
pub mod model;
pub mod panic;
pub mod printable;
pub mod report;
pub mod runtime;
pub mod store;
pub mod test_args;
pub mod test_record;
pub mod test_run;
pub mod workload;
