//! The whole chain: the core's interpreter runs on a control node of the simulated
//! cluster, its clients send each op over the simulated network to an echo server on
//! the op's node, and a partition cut in the middle of the run turns the ops that cross
//! it into `:info` (timed out), while the rest complete `:ok`.

use jepsen_core::generator::{clients, limit, op, repeat, stagger, TestInfo};
use jepsen_core::history::{History, Op, OpType, Value};
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{Client, ClientError, LocalBoxFuture, NoopNemesis, Runtime};
use jepsen_sim::iteration::json_lines;
use jepsen_sim::{check_determinism, run_iteration, MadsimRuntime, NetworkConfig, SimNetwork};
use madsim::net::Endpoint;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

const PORT: u16 = 7;
const REQUEST: u64 = 1;
const TIMEOUT: Duration = Duration::from_millis(100);

/// Each node's task: answers every request with the tag the request names.
async fn echo_server() {
    let endpoint = Endpoint::bind(("0.0.0.0", PORT)).await.unwrap();
    loop {
        let mut reply_tag = [0u8; 8];
        let (_, from) = endpoint.recv_from(REQUEST, &mut reply_tag).await.unwrap();
        endpoint
            .send_to(from, u64::from_le_bytes(reply_tag), b"ok")
            .await
            .unwrap();
    }
}

/// A client bound to one node: an op is `:ok` once that node's echo server answered,
/// and `:info` (timeout) if it did not within `TIMEOUT`.
struct EchoClient {
    addrs: BTreeMap<String, SocketAddr>,
    node: Option<SocketAddr>,
}

impl Client for EchoClient {
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let client = EchoClient {
            addrs: self.addrs.clone(),
            node: Some(self.addrs[node]),
        };
        Box::pin(async move { Ok(Box::new(client) as Box<dyn Client>) })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        let dst = self.node.expect("an opened client");
        Box::pin(async move {
            let endpoint = Endpoint::bind("0.0.0.0:0").await.unwrap();
            let reply_tag: u64 = madsim::rand::random();
            endpoint
                .send_to(dst, REQUEST, &reply_tag.to_le_bytes())
                .await
                .unwrap();
            let mut buf = [0u8; 8];
            match madsim::time::timeout(TIMEOUT, endpoint.recv_from(reply_tag, &mut buf)).await {
                Ok(_) => Ok(op.complete(OpType::Ok)),
                Err(_) => Err(ClientError::new("timeout", "no answer")),
            }
        })
    }
}

/// 300 writes over about 6 s; n1 is cut off from the control node from 2 s to 4 s.
async fn partitioned_run(_rt: MadsimRuntime) -> (History, Vec<Duration>) {
    let mut net = SimNetwork::new(NetworkConfig::default());
    let nodes: Vec<String> = ["n1", "n2", "n3"].iter().map(|n| n.to_string()).collect();
    for n in &nodes {
        net.add_node(n, echo_server);
    }
    let addrs: BTreeMap<String, SocketAddr> = nodes
        .iter()
        .map(|n| (n.clone(), (net.node(n).ip, PORT).into()))
        .collect();
    let test = TestInfo {
        nodes: nodes.clone(),
        concurrency: 3,
    };
    let run_history = net.run_on_new_node("control", move || async move {
        let rt = MadsimRuntime::current();
        let gen = clients(stagger(
            Duration::from_millis(20),
            limit(300, repeat(op("write"))),
        ));
        run(
            rt,
            &test,
            &InterpreterOptions::default(),
            Box::new(EchoClient { addrs, node: None }),
            Box::new(NoopNemesis),
            gen,
            &mut |_| {},
        )
        .await
        .expect("the run succeeds")
    });
    let rt = MadsimRuntime::current();
    rt.sleep(Duration::from_secs(2)).await;
    let cut = rt.now();
    net.clog_link("control", "n1");
    rt.sleep(Duration::from_secs(2)).await;
    let healed = rt.now();
    net.heal_partition();
    let history = run_history.await.expect("the control node finished");
    (history, vec![cut, healed])
}

#[test]
fn a_partition_turns_the_ops_that_cross_it_into_info() {
    let (history, window) = run_iteration(8, partitioned_run).unwrap();
    let (cut, healed) = (window[0].as_nanos() as i64, window[1].as_nanos() as i64);
    let mut by_outcome: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (invoke, completion) in history.client_pairs() {
        let invoke = &history.ops[invoke];
        let completion = &history.ops[completion.expect("every op completes")];
        let node = invoke.extra["node"].as_name().unwrap().to_string();
        let node: &str = if node == "n1" { "n1" } else { "other" };
        let during = invoke.time >= cut && invoke.time < healed;
        let outcome = match completion.kind {
            OpType::Ok => "ok",
            OpType::Info => {
                assert_eq!(node, "n1", "only ops to n1 time out: {completion:?}");
                // Sent before the heal, or it would have been answered.
                assert!(invoke.time < healed, "{invoke:?}");
                assert_eq!(
                    completion.error,
                    Some(Value::Vec(vec![
                        Value::keyword("timeout"),
                        Value::Str("no answer".into())
                    ]))
                );
                "info"
            }
            other => panic!("unexpected completion {other:?}"),
        };
        if during {
            *by_outcome.entry((node, outcome)).or_default() += 1;
        }
    }
    eprintln!("ops invoked during the cut: {by_outcome:?}");
    // During the cut, n1's ops all time out and the others all succeed.
    assert!(by_outcome.get(&("n1", "info")).copied().unwrap_or(0) > 5);
    assert_eq!(by_outcome.get(&("n1", "ok")), None);
    assert!(by_outcome.get(&("other", "ok")).copied().unwrap_or(0) > 20);
    let invokes = history
        .ops
        .iter()
        .filter(|o| o.kind == OpType::Invoke)
        .count();
    assert_eq!(invokes, 300);
}

#[test]
fn runs_over_the_network_replay_exactly() {
    for seed in 0..20 {
        check_determinism(seed, |rt| async move { partitioned_run(rt).await.0 })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let once = |seed| json_lines(&run_iteration(seed, partitioned_run).unwrap().0);
    assert_ne!(once(8), once(9));
}
