//! The interpreter's workers: one task per client thread and one for the nemesis, each
//! taking invocations from its inbox, performing them, and posting completions to the
//! shared event queue, as Jepsen's worker threads do with their blocking queues.
//!
//! A client worker is bound to one node. It opens a fresh client whenever the process of
//! an invocation differs from the one its client was opened for (a thread's process
//! changes after an `:info`), closing the old one first. A client that cannot be opened
//! yields [`Outcome::NoClient`] (journaled as `:fail` with error `[:no-client message]`);
//! a call that returns an error, panics or times out yields [`Outcome::Crashed`]
//! (journaled as `:info` carrying the error).

use super::guard::{guarded, Guarded};
use crate::generator::Thread;
use crate::history::{Op, Process, Value};
use crate::runtime::{Client, ClientError, Nemesis, Runtime};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, VecDeque};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// How an invocation ended, as a worker reports it. The interpreter turns it into the
/// completion it journals (from its own copy of the invocation, so the worker need not
/// keep one).
pub(crate) enum Outcome {
    /// The completion the client or nemesis returned.
    Completed(Op),
    /// The call returned an error, panicked or timed out: `:info` with this error.
    Crashed(Value),
    /// No client could be opened for the process: `:fail` with this error.
    NoClient(Value),
}

/// What a worker tells the interpreter.
pub(crate) enum Event {
    /// How the invocation the thread was given ended.
    Completed(Thread, Outcome),
    /// The thread's sleep is over.
    Slept(Thread),
    /// The worker closed its client and stopped.
    Exited,
}

/// Events from all workers, in the order they happened, for the interpreter to take.
#[derive(Default)]
pub(crate) struct Events {
    queue: RefCell<VecDeque<Event>>,
    waiter: RefCell<Option<Waker>>,
}

impl Events {
    fn push(&self, event: Event) {
        self.queue.borrow_mut().push_back(event);
        if let Some(w) = self.waiter.borrow_mut().take() {
            w.wake();
        }
    }

    pub(crate) fn pop(&self) -> Option<Event> {
        self.queue.borrow_mut().pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    /// Wakes `waker` at the next event.
    pub(crate) fn wake_on_next(&self, waker: &Waker) {
        let mut waiter = self.waiter.borrow_mut();
        match &*waiter {
            Some(w) if w.will_wake(waker) => {}
            _ => *waiter = Some(waker.clone()),
        }
    }
}

/// What the interpreter asks of a worker.
pub(crate) enum Task {
    /// Perform this invocation and post its completion.
    Invoke(Op),
    /// Do nothing for this long, then post `Slept` (Jepsen's `:sleep` op).
    Sleep(Duration),
}

/// A worker's inbox: one task at a time (the interpreter only gives a task to an idle
/// thread), and the order to exit, taken after any task already given.
#[derive(Default)]
pub(crate) struct Inbox {
    task: RefCell<Option<Task>>,
    exit: Cell<bool>,
    waiter: RefCell<Option<Waker>>,
}

impl Inbox {
    pub(crate) fn put(&self, task: Task) {
        let previous = self.task.borrow_mut().replace(task);
        debug_assert!(previous.is_none(), "a worker was given a task while busy");
        self.wake();
    }

    /// Asks the worker to close its client and stop once idle.
    pub(crate) fn exit(&self) {
        self.exit.set(true);
        self.wake();
    }

    fn wake(&self) {
        if let Some(w) = self.waiter.borrow_mut().take() {
            w.wake();
        }
    }

    /// The next task, or `None` when told to exit.
    async fn take(&self) -> Option<Task> {
        poll_fn(|cx| {
            if let Some(task) = self.task.borrow_mut().take() {
                return Poll::Ready(Some(task));
            }
            if self.exit.get() {
                return Poll::Ready(None);
            }
            *self.waiter.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// A client thread's worker.
pub(crate) struct ClientWorker<R: Runtime> {
    pub rt: R,
    pub thread: Thread,
    pub node: String,
    /// Opens the clients (the test's client, Jepsen's `(:client test)`).
    pub factory: Rc<dyn Client>,
    pub op_timeout: Option<Duration>,
    pub inbox: Rc<Inbox>,
    pub events: Rc<Events>,
    /// The process the current client was opened for.
    pub process: Option<Process>,
    pub client: Option<Box<dyn Client>>,
    /// Kinds of open errors already logged as warnings (later ones are debug).
    pub logged_open_errors: BTreeSet<String>,
}

impl<R: Runtime> ClientWorker<R> {
    pub(crate) async fn run(mut self) {
        loop {
            match self.inbox.take().await {
                Some(Task::Invoke(op)) => {
                    let outcome = self.invoke(op).await;
                    self.events.push(Event::Completed(self.thread, outcome));
                }
                Some(Task::Sleep(d)) => {
                    self.rt.sleep(d).await;
                    self.events.push(Event::Slept(self.thread));
                }
                None => {
                    self.close().await;
                    self.events.push(Event::Exited);
                    return;
                }
            }
        }
    }

    async fn close(&mut self) {
        if let Some(mut client) = self.client.take() {
            if let Guarded::Panicked(m) = guarded(&self.rt, None, client.close()).await {
                tracing::warn!(node = %self.node, "closing a client panicked: {m}");
            }
        }
        self.process = None;
    }

    async fn invoke(&mut self, op: Op) -> Outcome {
        if self.process.as_ref() != Some(&op.process) || self.client.is_none() {
            self.close().await;
            let error = match guarded(&self.rt, None, self.factory.open(&self.node)).await {
                Guarded::Done(Ok(client)) => {
                    self.client = Some(client);
                    self.process = Some(op.process.clone());
                    None
                }
                Guarded::Done(Err(e)) => Some(e),
                Guarded::Panicked(m) => Some(ClientError::new("panic", m)),
                Guarded::TimedOut => unreachable!("opening has no timeout"),
            };
            if let Some(e) = error {
                if self.logged_open_errors.insert(e.kind.clone()) {
                    tracing::warn!(node = %self.node, "error opening client: {}", e.message);
                } else {
                    tracing::debug!(node = %self.node, "error opening client: {}", e.message);
                }
                return Outcome::NoClient(Value::Vec(vec![
                    Value::keyword("no-client"),
                    Value::Str(e.message),
                ]));
            }
        }
        let process = op.process.clone();
        let client = self.client.as_mut().expect("a client was just opened");
        match guarded(&self.rt, self.op_timeout, client.invoke(op)).await {
            Guarded::Done(Ok(c)) => Outcome::Completed(c),
            Guarded::Done(Err(e)) => Outcome::Crashed(e.to_value()),
            Guarded::Panicked(m) => {
                tracing::warn!(%process, "process crashed: {m}");
                Outcome::Crashed(Value::Str(format!("indeterminate: {m}")))
            }
            Guarded::TimedOut => {
                let d = self.op_timeout.unwrap_or_default();
                Outcome::Crashed(
                    ClientError::new("timeout", format!("no completion within {d:?}")).to_value(),
                )
            }
        }
    }
}

/// The nemesis thread's worker. It holds the nemesis while running and puts it back in
/// `home` when it exits, for the interpreter's teardown.
pub(crate) struct NemesisWorker<R: Runtime> {
    pub rt: R,
    pub home: Rc<RefCell<Option<Box<dyn Nemesis>>>>,
    pub inbox: Rc<Inbox>,
    pub events: Rc<Events>,
}

impl<R: Runtime> NemesisWorker<R> {
    pub(crate) async fn run(self) {
        let mut nemesis = self.home.borrow_mut().take().expect("the nemesis is home");
        loop {
            match self.inbox.take().await {
                Some(Task::Sleep(d)) => {
                    self.rt.sleep(d).await;
                    self.events.push(Event::Slept(Thread::Nemesis));
                }
                Some(Task::Invoke(op)) => {
                    let outcome = match guarded(&self.rt, None, nemesis.invoke(op)).await {
                        Guarded::Done(Ok(c)) => Outcome::Completed(c),
                        Guarded::Done(Err(e)) => Outcome::Crashed(e.to_value()),
                        Guarded::Panicked(m) => {
                            tracing::warn!("nemesis crashed: {m}");
                            Outcome::Crashed(Value::Str(format!("indeterminate: {m}")))
                        }
                        Guarded::TimedOut => unreachable!("nemesis ops have no timeout"),
                    };
                    self.events.push(Event::Completed(Thread::Nemesis, outcome));
                }
                None => {
                    *self.home.borrow_mut() = Some(nemesis);
                    self.events.push(Event::Exited);
                    return;
                }
            }
        }
    }
}
