//! A deterministic single-threaded runtime with virtual time (to be written).
