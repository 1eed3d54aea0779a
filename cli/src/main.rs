//! The one binary: parses the command line and hands each subcommand to its module.
fn main() {}
