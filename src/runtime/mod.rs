//! The runtime seam: everything the interpreter needs from the world it runs in.
//!
//! The core (generators, interpreter, checkers, workloads) is written against these traits
//! and never learns whether it runs in the deterministic simulation (virtual time, seeded
//! network and faults) or against a real cluster (tokio, HTTP, SSH). Each world provides a
//! [`Runtime`] plus the [`Client`] and [`Nemesis`] implementations for its workloads and
//! faults. All futures are `!Send`: both worlds run the interpreter on one thread (a
//! discrete-event executor, or tokio's `current_thread` with a `LocalSet`).

pub mod deterministic;

pub use deterministic::DeterministicRuntime;

use crate::history::{Op, Value};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// A boxed, single-threaded future.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Time, concurrency and randomness, as a world provides them.
pub trait Runtime: Clone + 'static {
    /// Time since the test started; virtual in the simulation.
    fn now(&self) -> Duration;
    /// Completes once `d` has passed.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static;
    /// Runs `f` concurrently on the same thread.
    fn spawn(&self, f: impl Future<Output = ()> + 'static);
    /// A named random stream, seeded from the test's seed in both worlds, so that
    /// adding a consumer of one stream never changes what another stream yields.
    fn rng(&self, stream: &'static str) -> Rc<RefCell<ChaCha8Rng>>;
}

/// The random stream `stream` of a test seeded with `seed`, the same in every world: the
/// ChaCha8 generator seeded with `seed`, on the ChaCha stream numbered by a stable hash
/// (64-bit FNV-1a) of the stream's name. Streams with different names never overlap.
pub fn seeded_rng(seed: u64, stream: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a(stream.as_bytes()));
    rng
}

/// A random stream shared by its users.
pub type SharedRng = Rc<RefCell<ChaCha8Rng>>;

/// The named random streams of one seed, each made by [`seeded_rng`] on first use and
/// shared afterwards: what both runtimes hand out from [`Runtime::rng`].
#[derive(Clone)]
pub struct RngStreams {
    seed: u64,
    streams: Rc<RefCell<BTreeMap<&'static str, SharedRng>>>,
}

impl RngStreams {
    pub fn new(seed: u64) -> RngStreams {
        RngStreams {
            seed,
            streams: Rc::default(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream named `stream`, continuing where its last user left it.
    pub fn get(&self, stream: &'static str) -> SharedRng {
        self.streams
            .borrow_mut()
            .entry(stream)
            .or_insert_with(|| Rc::new(RefCell::new(seeded_rng(self.seed, stream))))
            .clone()
    }
}

/// 64-bit FNV-1a: a fixed, well-known hash, so stream numbers never change between builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Why a client call did not produce a completion. The interpreter records it as `:info`
/// (the op may or may not have happened) and gives the thread a new process.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientError {
    /// A short keyword-like name: `timeout`, `connect`, `server-internal`, ...
    pub kind: String,
    pub message: String,
}

impl ClientError {
    pub fn new(kind: &str, message: impl Into<String>) -> ClientError {
        ClientError {
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    /// The `:error` value recorded in the history.
    pub fn to_value(&self) -> Value {
        Value::Vec(vec![
            Value::keyword(&self.kind),
            Value::Str(self.message.clone()),
        ])
    }
}

/// A database client, Jepsen's protocol: `open` a fresh client bound to a node, `setup`
/// once (by the first client), `invoke` operations (returning the completion: `:ok`,
/// `:fail` or `:info`), `teardown` once, and `close`.
pub trait Client {
    /// A new client for one process, bound to `node`.
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>>;
    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async { Ok(()) })
    }
    /// Performs `op` (an invocation) and returns its completion.
    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>>;
    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async { Ok(()) })
    }
    fn close(&mut self) -> LocalBoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The fault injector, Jepsen's nemesis protocol. `invoke` performs a fault action such
/// as `start-partition` or `kill` and returns its completion (`:info`, value = what was
/// done). `teardown` must heal every fault it may have left.
pub trait Nemesis {
    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async { Ok(()) })
    }
    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>>;
    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async { Ok(()) })
    }
    /// The `f`s this nemesis handles.
    fn fs(&self) -> Vec<String>;
}

/// A client that completes every op `:ok` at once: for benchmarks and tests of the
/// machinery around clients.
pub struct NoopClient;

impl Client for NoopClient {
    fn open(&self, _node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async { Ok(Box::new(NoopClient) as Box<dyn Client>) })
    }
    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move { Ok(op.complete(crate::history::OpType::Ok)) })
    }
}

/// A nemesis that does nothing, for tests without faults.
pub struct NoopNemesis;

impl Nemesis for NoopNemesis {
    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move { Ok(op.complete(crate::history::OpType::Info)) })
    }
    fn fs(&self) -> Vec<String> {
        Vec::new()
    }
}
