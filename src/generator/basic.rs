//! The plain generators Jepsen builds everything from: op maps (one-shot templates filled
//! in from the context), sequences, functions re-invoked when their result runs out, nil,
//! and the special `log` and `sleep` ops.

use super::{
    ask, cyclic, nanos, same, unchanged, Context, Gen, GenOp, Generator, IntoGen, TestInfo,
};
use crate::history::{Op, OpType, Process, Value};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// An op map such as `{:f :write, :value 3}`: a one-shot generator. When asked, it is
/// filled in as Jepsen's `fill-in-op` does: `kind` invoke unless set, `process` a free
/// process (`some-free-process`) unless set, `time` the context's time unless set; if no
/// process is free it is pending.
#[derive(Clone, Debug, PartialEq)]
pub struct OpTemplate {
    pub f: String,
    pub value: Value,
    pub kind: OpType,
    pub process: Option<Process>,
    pub time: Option<i64>,
    pub extra: BTreeMap<String, Value>,
}

impl OpTemplate {
    pub fn new(f: &str) -> OpTemplate {
        OpTemplate {
            f: f.to_string(),
            value: Value::Nil,
            kind: OpType::Invoke,
            process: None,
            time: None,
            extra: BTreeMap::new(),
        }
    }

    pub fn value(mut self, value: impl Into<Value>) -> OpTemplate {
        self.value = value.into();
        self
    }

    /// `OpType::Info` for Jepsen's nemesis convention `{:type :info, :f :start}`.
    pub fn kind(mut self, kind: OpType) -> OpTemplate {
        self.kind = kind;
        self
    }

    pub fn process(mut self, process: Process) -> OpTemplate {
        self.process = Some(process);
        self
    }

    pub fn time(mut self, time: i64) -> OpTemplate {
        self.time = Some(time);
        self
    }

    pub fn extra(mut self, key: &str, value: impl Into<Value>) -> OpTemplate {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// Jepsen's `fill-in-op`: the op this template means in `ctx`, or `None` if no
    /// process is free.
    pub fn fill_in(&self, ctx: &Context) -> Option<Op> {
        ctx.some_free_process()?;
        self.clone().into_op(ctx)
    }

    /// Like [`OpTemplate::fill_in`], consuming the template (no copies).
    pub fn into_op(self, ctx: &Context) -> Option<Op> {
        let free = ctx.some_free_process()?;
        Some(Op {
            index: -1,
            time: self.time.unwrap_or(ctx.time),
            process: self.process.unwrap_or(free),
            kind: self.kind,
            f: self.f,
            value: self.value,
            error: None,
            extra: self.extra,
        })
    }
}

impl Generator for OpTemplate {
    fn op(&self, _test: &TestInfo, ctx: &Context) -> GenOp {
        match self.fill_in(ctx) {
            Some(op) => GenOp::Op(op, None),
            None => GenOp::Pending,
        }
    }
}

/// A one-shot op template, to refine with [`OpTemplate`]'s builder methods.
pub fn template(f: &str) -> OpTemplate {
    OpTemplate::new(f)
}

/// `{:f f}`: one invocation of `f` with a nil value.
pub fn op(f: &str) -> Gen {
    Rc::new(OpTemplate::new(f))
}

/// `{:f f, :value value}`: one invocation.
pub fn op_value(f: &str, value: impl Into<Value>) -> Gen {
    Rc::new(OpTemplate::new(f).value(value))
}

/// A sequence of one-shot ops.
pub fn ops(templates: impl IntoIterator<Item = OpTemplate>) -> Gen {
    seq(templates.into_iter().map(|t| Rc::new(t) as Gen).collect())
}

/// Jepsen's nil: exhausted from the start.
struct Nothing;

impl Generator for Nothing {
    fn op(&self, _test: &TestInfo, _ctx: &Context) -> GenOp {
        GenOp::Exhausted
    }
}

thread_local! {
    static NOTHING: Gen = Rc::new(Nothing);
}

/// The empty generator (Jepsen's `nil`).
pub fn nothing() -> Gen {
    NOTHING.with(|n| n.clone())
}

/// Where a sequence's elements come from: a vector, or an index function (a lazy,
/// possibly infinite Clojure seq such as `(map f (range))`).
#[derive(Clone)]
enum Source {
    Vec(Rc<[Gen]>),
    Fn(Rc<dyn Fn(u64) -> Option<Gen>>),
}

impl Source {
    fn get(&self, i: u64) -> Option<Gen> {
        match self {
            Source::Vec(v) => v.get(i as usize).cloned(),
            Source::Fn(f) => f(i),
        }
    }

    fn is_last(&self, i: u64) -> bool {
        matches!(self, Source::Vec(v) if i as usize + 1 >= v.len())
    }
}

/// A sequence of generators: all ops of the first, then of the second, and so on.
/// Updates go to the current (first) element only, as in Jepsen, even once it has run
/// out and not yet been skipped.
struct Seq {
    me: Weak<Seq>,
    source: Source,
    /// Index of the current element.
    at: u64,
    /// The current element's state; `None` once it has run out (Jepsen's `(cons nil ..)`).
    head: Option<Gen>,
}

impl Generator for Seq {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let mut at = self.at;
        let mut head = self.head.clone();
        loop {
            let answer = ask(&head, test, ctx);
            match answer {
                GenOp::Exhausted => {
                    at += 1;
                    match self.source.get(at) {
                        Some(g) => head = Some(g),
                        None => return GenOp::Exhausted,
                    }
                }
                GenOp::Pending => return GenOp::Pending,
                emitted => {
                    return emitted.rewrap(|next| {
                        if self.source.is_last(at) {
                            next
                        } else if at == self.at
                            && self.head.as_ref().is_some_and(|h| unchanged(&next, h))
                        {
                            Some(same(&self.me))
                        } else {
                            Some(new_seq(self.source.clone(), at, next))
                        }
                    });
                }
            }
        }
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let head = self.head.as_ref()?.update(test, ctx, event)?;
        Some(new_seq(self.source.clone(), self.at, Some(head)))
    }
}

fn new_seq(source: Source, at: u64, head: Option<Gen>) -> Gen {
    cyclic(|me| Seq {
        me,
        source,
        at,
        head,
    })
}

/// A sequence: every op of each generator in turn (Jepsen's vectors and seqs).
pub fn seq<T: IntoGen>(gens: Vec<T>) -> Gen {
    let gens: Vec<Gen> = gens.into_iter().map(IntoGen::into_gen).collect();
    match gens.len() {
        0 => nothing(),
        1 => gens.into_iter().next().expect("one element"),
        _ => {
            let head = Some(gens[0].clone());
            new_seq(Source::Vec(gens.into()), 0, head)
        }
    }
}

/// A lazy, possibly infinite sequence: element `i` is `element(i)`, ending at the first
/// `None`. Jepsen's `(map (fn [i] {:f :write, :value i}) (range))` is
/// `lazy_seq(|i| Some(op_value("write", i as i64)))`.
pub fn lazy_seq(element: impl Fn(u64) -> Option<Gen> + 'static) -> Gen {
    let source = Source::Fn(Rc::new(element));
    match source.get(0) {
        None => nothing(),
        head => new_seq(source, 0, head),
    }
}

type GenFn = Rc<dyn Fn(&TestInfo, &Context) -> Option<Gen>>;

/// A function as a generator: called for a generator whenever the previous one has run
/// out; `None` ends it. Jepsen's functions-as-generators (`(fn [test ctx] ...)`).
struct FnGen {
    me: Weak<FnGen>,
    f: GenFn,
    /// The generator the function last returned, while it still has ops.
    current: Option<Gen>,
}

/// How many immediately-exhausted generators a function may return in a row before it
/// counts as exhausted (Jepsen would loop forever).
const EMPTY_RESULTS_LIMIT: usize = 1024;

impl Generator for FnGen {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let wrap = |next: Option<Gen>| -> Option<Gen> { Some(new_fn_gen(self.f.clone(), next)) };
        if let Some(current) = &self.current {
            match current.op(test, ctx) {
                GenOp::Exhausted => {}
                GenOp::Pending => return GenOp::Pending,
                emitted => {
                    return emitted.rewrap(|next| {
                        if unchanged(&next, current) {
                            Some(same(&self.me))
                        } else {
                            wrap(next)
                        }
                    })
                }
            }
        }
        for _ in 0..EMPTY_RESULTS_LIMIT {
            let Some(gen) = (self.f)(test, ctx) else {
                return GenOp::Exhausted;
            };
            match gen.op(test, ctx) {
                GenOp::Exhausted => continue,
                GenOp::Pending => return GenOp::Pending,
                emitted => return emitted.rewrap(wrap),
            }
        }
        GenOp::Exhausted
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let current = self.current.as_ref()?.update(test, ctx, event)?;
        Some(new_fn_gen(self.f.clone(), Some(current)))
    }
}

fn new_fn_gen(f: GenFn, current: Option<Gen>) -> Gen {
    cyclic(|me| FnGen { me, f, current })
}

/// A function as a generator (Jepsen's `(fn [test ctx] gen)`): `f` is called for a
/// generator, which is used until it runs out, then `f` is called again; `None` ends it.
/// Draw randomness from `ctx.rand_int` / `ctx.rng()` to stay deterministic.
pub fn fn_gen(f: impl Fn(&TestInfo, &Context) -> Option<Gen> + 'static) -> Gen {
    new_fn_gen(Rc::new(f), None)
}

type TemplateFn = Rc<dyn Fn(&TestInfo, &Context) -> Option<OpTemplate>>;

/// A function returning an op map, as a generator: Jepsen's
/// `(fn [] {:f :write, :value (rand-int 5)})`, an endless series of freshly made ops.
/// Same schedule as `fn_gen` returning a one-shot op, without the intermediate generator.
struct FnOp {
    me: Weak<FnOp>,
    f: TemplateFn,
}

impl Generator for FnOp {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        match (self.f)(test, ctx) {
            None => GenOp::Exhausted,
            Some(t) => match t.into_op(ctx) {
                Some(op) => GenOp::Op(op, Some(same(&self.me))),
                None => GenOp::Pending,
            },
        }
    }
}

/// A function returning an op template each time it is asked (`None` ends it).
pub fn fn_op(f: impl Fn(&TestInfo, &Context) -> Option<OpTemplate> + 'static) -> Gen {
    let f: TemplateFn = Rc::new(f);
    cyclic(|me| FnOp { me, f })
}

/// Jepsen's `log`: logs a message once, when a thread is free to take it (Jepsen hands the
/// log op to a free worker; here the interpreter logs it without occupying one).
struct Log {
    message: String,
}

impl Generator for Log {
    fn op(&self, _test: &TestInfo, ctx: &Context) -> GenOp {
        match ctx.some_free_process() {
            Some(_) => GenOp::Log(self.message.clone(), None),
            None => GenOp::Pending,
        }
    }
}

/// Logs `message` once (Jepsen's `gen/log`). Use `repeat` to repeat.
pub fn log(message: &str) -> Gen {
    Rc::new(Log {
        message: message.to_string(),
    })
}

/// Jepsen's `sleep`: one special op that makes a free thread do nothing for `dt`.
struct Sleep {
    dt: i64,
}

impl Generator for Sleep {
    fn op(&self, _test: &TestInfo, ctx: &Context) -> GenOp {
        match ctx.some_free_process() {
            Some(p) => {
                let op =
                    Op::new(OpType::Invoke, p, "sleep", Value::Int(self.dt)).with_time(ctx.time);
                GenOp::Sleep(op, None)
            }
            None => GenOp::Pending,
        }
    }
}

/// One sleep of `dt` by whichever thread takes it (Jepsen's `gen/sleep`): that thread is
/// busy for `dt`, so in `phases` or on the nemesis alone everything waits. Use `repeat` to
/// sleep repeatedly.
pub fn sleep(dt: Duration) -> Gen {
    Rc::new(Sleep { dt: nanos(dt) })
}

/// How long a `GenOp::Sleep` op sleeps, in nanoseconds.
pub fn sleep_duration(op: &Op) -> i64 {
    op.value.as_int().unwrap_or(0)
}
