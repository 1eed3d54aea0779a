//! Benchmark: the core's interpreter inside madsim, 10,000 ops over about 60 simulated
//! seconds per iteration, each iteration on a fresh thread with its own seed. Prints
//! iterations/s and the ratio of simulated to wall time for: a no-op client; the same
//! on the core's `DeterministicRuntime`, for comparison; and a client whose every op is
//! a request and reply over the simulated network to an echo server on one of 3 nodes
//! (the interpreter on a control node), so 20,000 messages per iteration.
//!
//!     cargo run --release -p restate-jepsen-sim --example interpreter_bench [ITERATIONS [JOBS]]

use jepsen_core::generator::{clients, limit, op, repeat, stagger, Gen, TestInfo};
use jepsen_core::history::History;
use jepsen_core::history::{Op, OpType};
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{
    Client, ClientError, DeterministicRuntime, LocalBoxFuture, NoopClient, NoopNemesis, Runtime,
};
use jepsen_sim::{run_iterations, MadsimRuntime, NetworkConfig, SimNetwork};
use madsim::net::Endpoint;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn workload() -> (TestInfo, Gen) {
    let test = TestInfo {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency: 5,
    };
    // 10,000 ops, 6 ms apart on average: about 60 simulated seconds.
    let gen = clients(stagger(
        Duration::from_millis(6),
        limit(10_000, repeat(op("write"))),
    ));
    (test, gen)
}

async fn interpret(rt: impl Runtime) -> (History, Duration) {
    interpret_with(rt, Box::new(NoopClient)).await
}

async fn interpret_with(rt: impl Runtime, client: Box<dyn Client>) -> (History, Duration) {
    let (test, gen) = workload();
    let history = run(
        rt.clone(),
        &test,
        &InterpreterOptions::default(),
        client,
        Box::new(NoopNemesis),
        gen,
        &mut |_| {},
    )
    .await
    .expect("the run succeeds");
    (history, rt.now())
}

const PORT: u16 = 7;

/// Each node's task: answers every request on the tag the request names.
async fn echo_server() {
    let endpoint = Endpoint::bind(("0.0.0.0", PORT)).await.unwrap();
    loop {
        let mut reply_tag = [0u8; 8];
        let (_, from) = endpoint.recv_from(1, &mut reply_tag).await.unwrap();
        let tag = u64::from_le_bytes(reply_tag);
        endpoint.send_to(from, tag, b"ok").await.unwrap();
    }
}

/// An op is `:ok` once its node's echo server answered.
struct EchoClient {
    addrs: BTreeMap<String, SocketAddr>,
    endpoint: Option<Endpoint>,
    node: Option<SocketAddr>,
}

impl Client for EchoClient {
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let (addrs, node) = (self.addrs.clone(), self.addrs[node]);
        Box::pin(async move {
            let endpoint = Endpoint::bind("0.0.0.0:0").await.unwrap();
            Ok(Box::new(EchoClient {
                addrs,
                endpoint: Some(endpoint),
                node: Some(node),
            }) as Box<dyn Client>)
        })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move {
            let endpoint = self.endpoint.as_ref().unwrap();
            let tag: u64 = madsim::rand::random();
            endpoint
                .send_to(self.node.unwrap(), 1, &tag.to_le_bytes())
                .await
                .unwrap();
            let mut buf = [0u8; 8];
            endpoint.recv_from(tag, &mut buf).await.unwrap();
            Ok(op.complete(OpType::Ok))
        })
    }
}

async fn interpret_over_network(_rt: MadsimRuntime) -> (History, Duration) {
    let mut net = SimNetwork::new(NetworkConfig::default());
    let mut addrs = BTreeMap::new();
    for n in ["n1", "n2", "n3"] {
        net.add_node(n, echo_server);
        addrs.insert(n.to_string(), (net.node(n).ip, PORT).into());
    }
    net.run_on_new_node("control", move || async move {
        let client = EchoClient {
            addrs,
            endpoint: None,
            node: None,
        };
        interpret_with(MadsimRuntime::current(), Box::new(client)).await
    })
    .await
    .expect("the control node finishes")
}

fn report(name: &str, iterations: u64, ops: usize, simulated: Duration, wall: Duration) {
    println!(
        "{name}: {iterations} iterations, {ops} history entries, {:.1} simulated s in {:.3} wall s: \
         {:.1} iterations/s, simulated/wall {:.0}x, {:.0} entries/s",
        simulated.as_secs_f64(),
        wall.as_secs_f64(),
        iterations as f64 / wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64(),
        ops as f64 / wall.as_secs_f64(),
    );
}

/// Runs `make` for seeds 0..iterations, `jobs` at a time, and reports.
fn bench<F, Fut>(name: &str, iterations: u64, jobs: usize, make: F)
where
    F: FnOnce(MadsimRuntime) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = (History, Duration)>,
{
    let (mut ops, mut simulated) = (0, Duration::ZERO);
    let wall = Instant::now();
    run_iterations(0..iterations, jobs, make, |_, result| {
        let (history, now) = result.unwrap();
        ops += history.len();
        simulated += now;
    });
    report(
        &format!("{name} ({jobs} jobs)"),
        iterations,
        ops,
        simulated,
        wall.elapsed(),
    );
}

fn main() {
    let arg = |i: usize, default: u64| -> u64 {
        std::env::args()
            .nth(i)
            .map(|s| s.parse().expect("ITERATIONS and JOBS are numbers"))
            .unwrap_or(default)
    };
    let (iterations, jobs) = (arg(1, 20), arg(2, 1) as usize);

    bench("madsim", iterations, jobs, interpret);

    let (mut ops, mut simulated) = (0, Duration::ZERO);
    let wall = Instant::now();
    for seed in 0..iterations {
        let rt = DeterministicRuntime::new(seed);
        let (history, now) = rt.run(interpret(rt.clone()));
        ops += history.len();
        simulated += now;
    }
    report(
        "deterministic (1 job)",
        iterations,
        ops,
        simulated,
        wall.elapsed(),
    );

    bench("madsim-network", iterations, jobs, interpret_over_network);
}
