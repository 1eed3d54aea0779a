//! The interpreter: runs a generator against a client and a nemesis and records the
//! history, with Jepsen's semantics (`jepsen.generator.interpreter`).
//!
//! One worker task per client thread plus one for the nemesis. The main loop first takes
//! every completion that has arrived (they are latency sensitive: waiting would introduce
//! false concurrency), then asks the generator for an op in the current context:
//! - `Pending`: wait for a completion, or at most `max_pending_interval`, and ask again.
//! - an op (or sleep) in the future: wait until its time unless a completion arrives
//!   first, then ask again.
//! - an op due now: journal it (index, time = now, sink), mark its thread busy, tell the
//!   generator (`update`), and hand it to the thread's worker. Client ops are recorded
//!   as `:invoke` with the thread's node in `extra["node"]`; nemesis ops as `:info`.
//! - `Sleep`: the thread is busy for `op.value` ns; no history entry, no update.
//! - `Log`: a `tracing::info!` line; no thread, no history entry.
//! - `Exhausted`: finish once nothing is outstanding.
//!
//! Completions are journaled as they are taken, then the generator is updated; a client
//! thread whose op ended `:info` continues as a new process (process + concurrency), and
//! its worker opens a fresh client for it.
//!
//! Around the run: nemesis `setup`, then one client opened on the first node runs
//! `setup`; after it, the client `teardown` (again through one client) and the nemesis
//! `teardown`, which run even when the run failed.

mod guard;
mod worker;

use crate::generator::{Context, Gen, GenOp, TestInfo, Thread};
use crate::history::{History, HistoryError, Op, OpType, Value};
use crate::runtime::{Client, ClientError, Nemesis, Runtime};
use guard::{catch, guarded, Guarded};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;
use worker::{ClientWorker, Event, Events, Inbox, NemesisWorker, Outcome, Task};

/// How the interpreter runs.
#[derive(Clone, Debug)]
pub struct InterpreterOptions {
    /// A client invocation not completed within this long is abandoned and recorded as
    /// `:info` with error `[:timeout …]`; its thread continues as a new process.
    pub op_timeout: Option<Duration>,
    /// When the generator is pending, it is asked again after the next completion or
    /// after this long, whichever comes first (Jepsen: 1 ms).
    pub max_pending_interval: Duration,
}

impl Default for InterpreterOptions {
    fn default() -> Self {
        InterpreterOptions {
            op_timeout: None,
            max_pending_interval: Duration::from_millis(1),
        }
    }
}

/// Why a run failed.
#[derive(Debug)]
pub enum InterpretError {
    /// The test has client threads but no nodes to bind them to.
    NoNodes,
    /// The nemesis could not be set up.
    NemesisSetup(ClientError),
    /// The first client could not be opened or set up.
    ClientSetup(ClientError),
    /// The nemesis could not heal in its teardown.
    NemesisTeardown(ClientError),
    /// The generator panicked or produced an op no free thread can run.
    Generator(String),
    /// The recorded ops do not form a history (an interpreter bug).
    History(HistoryError),
}

impl fmt::Display for InterpretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpretError::NoNodes => f.write_str("the test has client threads but no nodes"),
            InterpretError::NemesisSetup(e) => write!(f, "nemesis setup failed: {}", e.message),
            InterpretError::ClientSetup(e) => write!(f, "client setup failed: {}", e.message),
            InterpretError::NemesisTeardown(e) => {
                write!(f, "nemesis teardown failed: {}", e.message)
            }
            InterpretError::Generator(m) => write!(f, "generator error: {m}"),
            InterpretError::History(e) => write!(
                f,
                "recorded ops are not a history (at {}): {}",
                e.position, e.message
            ),
        }
    }
}

impl std::error::Error for InterpretError {}

/// Runs `gen` against `client` and `nemesis` on `rt`, handing every op to `sink` as it
/// is recorded, and returns the whole history. `client` is the test's client: the
/// interpreter calls its `open` to get one client per process.
pub async fn run<R: Runtime>(
    rt: R,
    test: &TestInfo,
    opts: &InterpreterOptions,
    client: Box<dyn Client>,
    nemesis: Box<dyn Nemesis>,
    gen: Gen,
    sink: &mut dyn FnMut(&Op),
) -> Result<History, InterpretError> {
    if test.concurrency > 0 && test.nodes.is_empty() {
        return Err(InterpretError::NoNodes);
    }
    let factory: Rc<dyn Client> = Rc::from(client);
    let nemesis = Rc::new(RefCell::new(Some(nemesis)));

    let mut result = set_up(&rt, test, &factory, &nemesis).await;
    let mut ops = Vec::new();
    if result.is_ok() {
        let mut journal = Journal {
            ops: &mut ops,
            sink,
        };
        result = run_workers(&rt, test, opts, &factory, &nemesis, gen, &mut journal).await;
        tear_down_clients(&rt, test, &factory).await;
    }
    let healed = tear_down_nemesis(&rt, &nemesis).await;
    result?;
    healed?;
    History::from_ops(ops).map_err(InterpretError::History)
}

/// Runs `gen` on `rt` with a client that completes every op `:ok` at once and no faults:
/// how a runtime's tests check that it runs the interpreter.
pub async fn run_noop<R: Runtime>(
    rt: R,
    test: &TestInfo,
    gen: Gen,
    sink: &mut dyn FnMut(&Op),
) -> Result<History, InterpretError> {
    let (client, nemesis) = (
        Box::new(crate::runtime::NoopClient),
        crate::runtime::NoopNemesis,
    );
    run(
        rt,
        test,
        &InterpreterOptions::default(),
        client,
        Box::new(nemesis),
        gen,
        sink,
    )
    .await
}

async fn set_up<R: Runtime>(
    rt: &R,
    test: &TestInfo,
    factory: &Rc<dyn Client>,
    nemesis: &Rc<RefCell<Option<Box<dyn Nemesis>>>>,
) -> Result<(), InterpretError> {
    let mut nem = nemesis.borrow_mut().take().expect("the nemesis is home");
    let nemesis_ready = flatten(guarded(rt, None, nem.setup()).await);
    *nemesis.borrow_mut() = Some(nem);
    nemesis_ready.map_err(InterpretError::NemesisSetup)?;
    // As Jepsen: a client is opened on every node to set that node up, then closed.
    for node in &test.nodes {
        let mut c = flatten(guarded(rt, None, factory.open(node)).await)
            .map_err(InterpretError::ClientSetup)?;
        let ready = flatten(guarded(rt, None, c.setup()).await);
        let _ = guarded(rt, None, c.close()).await;
        ready.map_err(InterpretError::ClientSetup)?;
    }
    Ok(())
}

/// Tears down on every node, as Jepsen does; failures are logged, not fatal.
async fn tear_down_clients<R: Runtime>(rt: &R, test: &TestInfo, factory: &Rc<dyn Client>) {
    for node in &test.nodes {
        match flatten(guarded(rt, None, factory.open(node)).await) {
            Ok(mut c) => {
                if let Err(e) = flatten(guarded(rt, None, c.teardown()).await) {
                    tracing::warn!("could not tear down client on {node}: {}", e.message);
                }
                let _ = guarded(rt, None, c.close()).await;
            }
            Err(e) => tracing::warn!(
                "could not open a client on {node} for teardown: {}",
                e.message
            ),
        }
    }
}

async fn tear_down_nemesis<R: Runtime>(
    rt: &R,
    nemesis: &Rc<RefCell<Option<Box<dyn Nemesis>>>>,
) -> Result<(), InterpretError> {
    let Some(mut nem) = nemesis.borrow_mut().take() else {
        return Ok(());
    };
    let healed = flatten(guarded(rt, None, nem.teardown()).await);
    healed.map_err(InterpretError::NemesisTeardown)
}

/// A guarded setup/teardown call's outcome as a `Result`; a panic is an error.
fn flatten<T>(g: Guarded<Result<T, ClientError>>) -> Result<T, ClientError> {
    match g {
        Guarded::Done(r) => r,
        Guarded::Panicked(m) => Err(ClientError::new("panic", m)),
        Guarded::TimedOut => Err(ClientError::new("timeout", "timed out")),
    }
}

/// The history being recorded: assigns each op its index and time, and hands it to the
/// sink before keeping it.
struct Journal<'a> {
    ops: &'a mut Vec<Op>,
    sink: &'a mut dyn FnMut(&Op),
}

impl Journal<'_> {
    fn record(&mut self, mut op: Op, time: i64) -> &Op {
        op.index = self.ops.len() as i64;
        op.time = time;
        (self.sink)(&op);
        self.ops.push(op);
        self.ops.last().expect("just pushed")
    }
}

/// The main loop's state.
struct Interpreter<'a, R: Runtime> {
    rt: &'a R,
    test: &'a TestInfo,
    ctx: Context,
    /// `None` once exhausted.
    gen: Option<Gen>,
    journal: &'a mut Journal<'a>,
    events: Rc<Events>,
    /// Inboxes by thread slot: clients `0..concurrency`, then the nemesis.
    inboxes: Vec<Rc<Inbox>>,
    /// By thread slot, the journal position of the invocation the thread is running.
    in_flight: Vec<Option<usize>>,
    outstanding: usize,
}

async fn run_workers<'a, R: Runtime>(
    rt: &'a R,
    test: &'a TestInfo,
    opts: &InterpreterOptions,
    factory: &Rc<dyn Client>,
    nemesis: &Rc<RefCell<Option<Box<dyn Nemesis>>>>,
    gen: Gen,
    journal: &'a mut Journal<'a>,
) -> Result<(), InterpretError> {
    let events = Rc::new(Events::default());
    let mut inboxes = Vec::new();
    for i in 0..test.concurrency {
        let inbox = Rc::new(Inbox::default());
        inboxes.push(inbox.clone());
        let worker = ClientWorker {
            rt: rt.clone(),
            thread: Thread::Client(i),
            node: test.nodes[i % test.nodes.len()].clone(),
            factory: factory.clone(),
            op_timeout: opts.op_timeout,
            inbox,
            events: events.clone(),
            process: None,
            client: None,
            logged_open_errors: BTreeSet::new(),
        };
        rt.spawn(worker.run());
    }
    let inbox = Rc::new(Inbox::default());
    inboxes.push(inbox.clone());
    rt.spawn(
        NemesisWorker {
            rt: rt.clone(),
            home: nemesis.clone(),
            inbox,
            events: events.clone(),
        }
        .run(),
    );

    let mut interpreter = Interpreter {
        rt,
        test,
        ctx: Context::new(test.concurrency, rt.rng("generator")),
        gen: Some(gen),
        journal,
        events,
        in_flight: vec![None; inboxes.len()],
        inboxes,
        outstanding: 0,
    };
    let result = interpreter.main_loop(opts).await;
    interpreter.stop_workers().await;
    result
}

impl<R: Runtime> Interpreter<'_, R> {
    fn now_ns(&self) -> i64 {
        self.rt.now().as_nanos() as i64
    }

    fn slot(&self, thread: Thread) -> usize {
        match thread {
            Thread::Client(i) => i,
            Thread::Nemesis => self.test.concurrency,
        }
    }

    async fn main_loop(&mut self, opts: &InterpreterOptions) -> Result<(), InterpretError> {
        loop {
            while let Some(event) = self.events.pop() {
                match event {
                    Event::Completed(thread, op) => self.complete(thread, op, true)?,
                    Event::Slept(thread) => self.wake_up(thread),
                    Event::Exited => {}
                }
            }
            let Some(gen) = self.gen.clone() else {
                if self.outstanding == 0 {
                    return Ok(());
                }
                self.wait_for_event(None).await;
                continue;
            };
            self.ctx.time = self.now_ns();
            let next = catch(|| gen.op(self.test, &self.ctx))
                .map_err(|m| InterpretError::Generator(format!("generator panicked: {m}")))?;
            match next {
                GenOp::Exhausted => {
                    if self.outstanding == 0 {
                        return Ok(());
                    }
                    self.wait_for_event(None).await;
                }
                GenOp::Pending => self.wait_for_event(Some(opts.max_pending_interval)).await,
                GenOp::Log(message, following) => {
                    tracing::info!("{message}");
                    self.gen = following;
                }
                GenOp::Op(op, _) | GenOp::Sleep(op, _) if op.time > self.ctx.time => {
                    // Not yet: wait until its time unless an event comes first, then ask
                    // again (the op is not kept, as in Jepsen).
                    let wait = Duration::from_nanos((op.time - self.ctx.time) as u64);
                    self.wait_for_event(Some(wait)).await;
                }
                GenOp::Op(op, following) => self.invoke(op, following)?,
                GenOp::Sleep(op, following) => self.sleep(op, following)?,
            }
        }
    }

    /// The free thread running `op.process`, or the generator's mistake.
    fn free_thread_of(&self, op: &Op) -> Result<Thread, InterpretError> {
        match self.ctx.thread_of(&op.process) {
            Some(t) if self.ctx.is_free(t) => Ok(t),
            _ => Err(InterpretError::Generator(format!(
                "the generator produced {op} for process {}, which is not a free process",
                op.process
            ))),
        }
    }

    /// Jepsen's `:sleep`: the op's thread is busy for `op.value` ns, with no history
    /// entry and no generator update.
    fn sleep(&mut self, op: Op, following: Option<Gen>) -> Result<(), InterpretError> {
        let thread = self.free_thread_of(&op)?;
        let nanos = op.value.as_int().unwrap_or(0).max(0) as u64;
        self.ctx.time = self.now_ns();
        self.ctx.set_busy(thread);
        self.gen = following;
        self.inboxes[self.slot(thread)].put(Task::Sleep(Duration::from_nanos(nanos)));
        self.outstanding += 1;
        Ok(())
    }

    /// A thread's sleep is over: it is free again.
    fn wake_up(&mut self, thread: Thread) {
        self.ctx.time = self.now_ns();
        self.ctx.set_free(thread);
        self.outstanding -= 1;
    }

    /// Journals `op`, marks its thread busy, updates the generator, and dispatches it.
    fn invoke(&mut self, mut op: Op, following: Option<Gen>) -> Result<(), InterpretError> {
        let now = self.now_ns();
        let thread = self.free_thread_of(&op)?;
        match thread {
            // Jepsen records both halves of a nemesis op as :info; a client op is an
            // invocation whatever type the generator gave it.
            Thread::Nemesis => op.kind = OpType::Info,
            Thread::Client(i) => {
                op.kind = OpType::Invoke;
                let node = &self.test.nodes[i % self.test.nodes.len()];
                op.extra
                    .insert("node".to_string(), Value::Str(node.clone()));
            }
        }
        self.ctx.time = now;
        self.ctx.set_busy(thread);
        let slot = self.slot(thread);
        self.in_flight[slot] = Some(self.journal.ops.len());
        let op = self.journal.record(op, now);
        self.gen = match following {
            Some(g) => {
                let (test, ctx) = (self.test, &self.ctx);
                let updated = catch(|| g.update(test, ctx, op)).map_err(|m| {
                    InterpretError::Generator(format!("generator panicked in update: {m}"))
                })?;
                Some(updated.unwrap_or(g))
            }
            None => None,
        };
        let op = op.clone();
        self.inboxes[slot].put(Task::Invoke(op));
        self.outstanding += 1;
        Ok(())
    }

    /// Journals a completion, frees its thread, updates the generator (if `update`), and
    /// gives a client thread whose op ended `:info` its next process.
    fn complete(
        &mut self,
        thread: Thread,
        outcome: Outcome,
        update: bool,
    ) -> Result<(), InterpretError> {
        let now = self.now_ns();
        self.ctx.time = now;
        self.ctx.set_free(thread);
        self.outstanding -= 1;
        let slot = self.slot(thread);
        let invocation = self.in_flight[slot]
            .take()
            .expect("a completing thread has an invocation in flight");
        let op = self.completion(thread, invocation, outcome);
        let op = self.journal.record(op, now);
        let crashed = op.is_info() && thread != Thread::Nemesis;
        if let (true, Some(g)) = (update, &self.gen) {
            let (test, ctx) = (self.test, &self.ctx);
            let updated = catch(|| g.update(test, ctx, op)).map_err(|m| {
                InterpretError::Generator(format!("generator panicked in update: {m}"))
            })?;
            if let Some(g) = updated {
                self.gen = Some(g);
            }
        }
        if crashed {
            self.ctx.next_process(thread);
        }
        Ok(())
    }

    /// The completion to journal for the invocation at `invocation`, from how it ended.
    fn completion(&self, thread: Thread, invocation: usize, outcome: Outcome) -> Op {
        let inv = &self.journal.ops[invocation];
        let mut op = match outcome {
            Outcome::Completed(c) if c.is_invoke() => inv.complete(OpType::Info).with_error(
                Value::from("the client returned an invocation, not a completion"),
            ),
            Outcome::Completed(c) => c,
            Outcome::Crashed(error) => inv.complete(OpType::Info).with_error(error),
            Outcome::NoClient(error) => inv.complete(OpType::Fail).with_error(error),
        };
        op.process = inv.process.clone();
        match thread {
            // Jepsen records both halves of a nemesis op as :info.
            Thread::Nemesis => op.kind = OpType::Info,
            Thread::Client(_) => {
                if !op.extra.contains_key("node") {
                    if let Some(node) = inv.extra.get("node") {
                        op.extra.insert("node".to_string(), node.clone());
                    }
                }
            }
        }
        op
    }

    /// Waits until an event arrives, or `timeout` passes. Yields once before arming the
    /// timer: a worker that can complete at once does so without a timer being set.
    async fn wait_for_event(&self, timeout: Option<Duration>) {
        if !self.events.is_empty() {
            return;
        }
        let rt = self.rt;
        let mut deadline = pin!(async {
            match timeout {
                Some(d) => rt.sleep(d).await,
                None => std::future::pending().await,
            }
        });
        let events = &self.events;
        let mut yielded = false;
        poll_fn(|cx| {
            if !events.is_empty() {
                return Poll::Ready(());
            }
            events.wake_on_next(cx.waker());
            if !yielded {
                yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            deadline.as_mut().poll(cx)
        })
        .await
    }

    /// Tells every worker to exit once idle, journaling the completions of ops still in
    /// flight, and waits until all have closed their clients.
    async fn stop_workers(&mut self) {
        for inbox in &self.inboxes {
            inbox.exit();
        }
        let mut running = self.inboxes.len();
        while running > 0 {
            self.wait_for_event(None).await;
            while let Some(event) = self.events.pop() {
                match event {
                    Event::Completed(thread, op) => {
                        let _ = self.complete(thread, op, false);
                    }
                    Event::Slept(thread) => self.wake_up(thread),
                    Event::Exited => running -= 1,
                }
            }
        }
    }
}
