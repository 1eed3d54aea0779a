//! Workloads: what a test does to the system and how its history is judged. Each workload
//! is a generator of client operations, a client that turns them into requests over a
//! [`transport::Transport`], and the checkers that judge the result. They never know
//! whether the transport reaches a simulated cluster or a real one.

pub mod transport;
