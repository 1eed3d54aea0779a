//! The model trace: what the modeled cluster did (metadata leadership, partition claims
//! and epochs, seals, appends, acknowledgements, step-downs, faults), one line per event
//! at debug level, for a replayed seed's store (`model-trace.log`).
//!
//! A simulation runs on one thread (madsim's executor), a fresh one per iteration, so the
//! trace is a thread-local buffer: off unless [`record`] switched it on for this thread,
//! and then filled by [`event`]. When off, an event costs one thread-local check and
//! never formats its message.

use std::cell::RefCell;

thread_local! {
    static TRACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Starts recording the trace on this thread (dropping any earlier one).
pub fn record() {
    TRACE.with(|t| *t.borrow_mut() = Some(String::new()));
}

/// Stops recording and returns what was recorded (empty if nothing was).
pub fn take() -> String {
    TRACE.with(|t| t.borrow_mut().take()).unwrap_or_default()
}

/// Whether this thread records the trace.
pub fn enabled() -> bool {
    TRACE.with(|t| t.borrow().is_some())
}

/// Records one event of `node` at the current simulated time, if recording; `message`
/// is only called then.
pub fn event(node: &str, message: impl FnOnce() -> String) {
    if !enabled() {
        return;
    }
    let at = madsim::time::TimeHandle::try_current()
        .map(|t| t.elapsed())
        .unwrap_or_default();
    let line = format!("{:>10.3} DEBUG {node:<7} {}\n", at.as_secs_f64(), message());
    TRACE.with(|t| {
        if let Some(buffer) = t.borrow_mut().as_mut() {
            buffer.push_str(&line);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_only_while_recording() {
        event("n1", || panic!("not formatted when off"));
        record();
        event("n1", || "claimed epoch 1".to_string());
        let trace = take();
        assert!(trace.contains("DEBUG n1") && trace.contains("claimed epoch 1"));
        assert!(!enabled());
        event("n1", || panic!("not formatted after take"));
        assert_eq!(take(), "");
    }
}
