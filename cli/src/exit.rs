//! Jepsen's exit codes, and the one-line error that ends a command.

use jepsen_core::checker::Validity;

pub const BAD_ARGUMENTS: i32 = 254;
pub const CRASH: i32 = 255;

/// The exit code for an overall verdict: 0 valid, 1 invalid, 2 unknown.
pub fn for_validity(v: Validity) -> i32 {
    v.exit_code()
}

/// An error that ends the command: printed as one line on stderr, then `exit(code)`.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Bad input: a flag, a file, a value. The message names the input and the fix.
    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            code: BAD_ARGUMENTS,
            message: message.into(),
        }
    }
}
