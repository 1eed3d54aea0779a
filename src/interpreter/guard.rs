//! Running a client or nemesis call under guard: a panic becomes a value instead of
//! unwinding through the interpreter, and an optional timeout abandons the call. This is
//! how a worker turns a crashing or hanging client into an `:info` completion, as
//! Jepsen's worker loop catches every `Throwable`.

use crate::panic::panic_message;
use crate::runtime::Runtime;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// How a guarded call ended.
pub(crate) enum Guarded<T> {
    Done(T),
    Panicked(String),
    TimedOut,
}

/// Runs `call`, catching its panics; with `timeout`, gives up (dropping the call) once it
/// has run that long.
pub(crate) async fn guarded<T, R: Runtime>(
    rt: &R,
    timeout: Option<Duration>,
    call: impl Future<Output = T>,
) -> Guarded<T> {
    let mut call = pin!(call);
    let mut deadline = pin!(async {
        match timeout {
            Some(d) => rt.sleep(d).await,
            None => std::future::pending().await,
        }
    });
    poll_fn(|cx| {
        match catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => return Poll::Ready(Guarded::Done(value)),
            Ok(Poll::Pending) => {}
            Err(panic) => return Poll::Ready(Guarded::Panicked(panic_message(&*panic))),
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Guarded::TimedOut),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Runs a synchronous call (a generator step), catching its panic.
pub(crate) fn catch<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(call)).map_err(|panic| panic_message(&*panic))
}
