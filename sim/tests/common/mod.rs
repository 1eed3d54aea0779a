//! What several tests (and the benchmark example) share.

pub mod register;
