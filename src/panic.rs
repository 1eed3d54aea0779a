//! The message a panic carried, for reporting it as data (a checker's unknown verdict, a
//! client's `:info`, the CLI's one-line crash report) rather than as a backtrace.

use std::any::Any;

/// The panic's message: its `String` or `&str` payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic with a non-string payload".to_string())
}
