//! Each fault knob of the simulated network, on small echo scenarios: every node runs an
//! echo server that answers each request with how many requests it has received since
//! it (re)started, so a reply tells whether earlier requests arrived and whether the
//! node's memory survived.

use jepsen_core::fault::{complete_grudge, Grudge};
use jepsen_core::runtime::Runtime;
use jepsen_sim::{run_iteration, MadsimRuntime, NetworkConfig, SimNetwork};
use madsim::net::{Endpoint, TcpListener, TcpStream};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ECHO_PORT: u16 = 7;
const TCP_PORT: u16 = 8;
const REQUEST: u64 = 1;

/// A node's initial task: the echo server (datagrams on port 7, counting requests in
/// memory) and a TCP echo server on port 8 (byte by byte).
async fn echo_server() {
    madsim::task::spawn_local(async {
        let listener = TcpListener::bind(("0.0.0.0", TCP_PORT)).await.unwrap();
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            madsim::task::spawn_local(async move {
                let mut byte = [0u8; 1];
                while stream.read_exact(&mut byte).await.is_ok() {
                    // madsim's TcpStream sends what was written only on flush.
                    stream.write_all(&byte).await.unwrap();
                    stream.flush().await.unwrap();
                }
            });
        }
    });
    let endpoint = Endpoint::bind(("0.0.0.0", ECHO_PORT)).await.unwrap();
    let mut received = 0u64;
    loop {
        let mut reply_tag = [0u8; 8];
        let (_, from) = endpoint.recv_from(REQUEST, &mut reply_tag).await.unwrap();
        received += 1;
        endpoint
            .send_to(from, u64::from_le_bytes(reply_tag), &received.to_le_bytes())
            .await
            .unwrap();
    }
}

fn cluster(names: &[&str], baseline: NetworkConfig) -> SimNetwork {
    let mut net = SimNetwork::new(baseline);
    for name in names {
        net.add_node(name, echo_server);
    }
    net
}

fn echo_addr(net: &SimNetwork, name: &str) -> SocketAddr {
    (net.node(name).ip, ECHO_PORT).into()
}

/// Sends one request from node `from` to `to`'s echo server and returns the reply (the
/// server's request count), or `None` if none came within `wait`. The reply comes on a
/// random tag of the request's own: a late reply to an earlier request, sent to the same
/// (reused) port, is not taken for this one's.
async fn request(net: &SimNetwork, from: &str, to: &str, wait: Duration) -> Option<u64> {
    let dst = echo_addr(net, to);
    net.spawn_on(from, async move {
        let endpoint = Endpoint::bind("0.0.0.0:0").await.unwrap();
        let reply_tag: u64 = madsim::rand::random();
        endpoint
            .send_to(dst, REQUEST, &reply_tag.to_le_bytes())
            .await
            .unwrap();
        let mut count = [0u8; 8];
        let reply = madsim::time::timeout(wait, endpoint.recv_from(reply_tag, &mut count)).await;
        reply.ok().map(|r| {
            r.unwrap();
            u64::from_le_bytes(count)
        })
    })
    .await
    .unwrap()
}

const WAIT: Duration = Duration::from_secs(1);

/// Runs one scenario in a simulation seeded 17.
fn sim<T, F, Fut>(scenario: F) -> T
where
    T: Send + 'static,
    F: FnOnce(MadsimRuntime) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    run_iteration(17, scenario).unwrap()
}

#[test]
fn a_clogged_link_drops_messages_until_unclogged() {
    sim(|_rt| async {
        let mut net = cluster(&["a", "b"], NetworkConfig::default());
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(1));
        net.clog_link("a", "b");
        assert_eq!(net.clogged_links(), vec![("a".into(), "b".into())]);
        assert_eq!(request(&net, "a", "b", WAIT).await, None);
        net.unclog_link("a", "b");
        // The request sent while clogged never arrived: this is the server's second.
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(2));
    });
}

#[test]
fn a_one_way_cut_lets_requests_in_but_not_replies_out() {
    sim(|_rt| async {
        let mut net = cluster(&["a", "b"], NetworkConfig::default());
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(1));
        net.clog_link("b", "a");
        assert_eq!(request(&net, "a", "b", WAIT).await, None);
        net.unclog_link("b", "a");
        // The unanswered request did arrive: this is the server's third.
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(3));
    });
}

#[test]
fn a_partition_cuts_by_grudge_and_heals() {
    sim(|_rt| async {
        let mut net = cluster(&["n1", "n2", "n3"], NetworkConfig::default());
        let grudge: Grudge = complete_grudge(&[vec!["n1".into()], vec!["n2".into(), "n3".into()]]);
        net.partition(&grudge);
        let cut: BTreeSet<_> = net.clogged_links().into_iter().collect();
        let expected: BTreeSet<(String, String)> =
            [("n1", "n2"), ("n1", "n3"), ("n2", "n1"), ("n3", "n1")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        assert_eq!(cut, expected);
        assert_eq!(request(&net, "n1", "n2", WAIT).await, None);
        assert_eq!(request(&net, "n3", "n1", WAIT).await, None);
        assert_eq!(request(&net, "n2", "n3", WAIT).await, Some(1));
        assert_eq!(request(&net, "n3", "n2", WAIT).await, Some(1));
        net.heal_partition();
        assert!(net.clogged_links().is_empty());
        assert_eq!(request(&net, "n1", "n2", WAIT).await, Some(2));
        assert_eq!(request(&net, "n3", "n1", WAIT).await, Some(1));
    });
}

#[test]
fn a_one_way_grudge_stays_one_way() {
    sim(|_rt| async {
        let mut net = cluster(&["n1", "n2"], NetworkConfig::default());
        // n1 drops what n2 sends; n2 still hears n1.
        let grudge: Grudge = [("n1".to_string(), ["n2".to_string()].into())].into();
        net.partition(&grudge);
        assert_eq!(net.clogged_links(), vec![("n2".into(), "n1".into())]);
        assert_eq!(request(&net, "n2", "n1", WAIT).await, None);
        // n1's request reaches n2, but n2's reply is dropped.
        assert_eq!(request(&net, "n1", "n2", WAIT).await, None);
        net.heal_partition();
        assert_eq!(request(&net, "n1", "n2", WAIT).await, Some(2));
    });
}

#[test]
fn packet_loss_drops_a_fraction_of_messages() {
    let answered = |rate: f64| {
        sim(move |_rt| async move {
            let mut net = cluster(&["a", "b"], NetworkConfig::default());
            net.set_packet_loss(rate);
            let mut answered = 0;
            for _ in 0..200 {
                answered += request(&net, "a", "b", WAIT).await.is_some() as u32;
            }
            net.heal();
            assert_eq!(net.current_config(), NetworkConfig::default());
            assert!(request(&net, "a", "b", WAIT).await.is_some());
            answered
        })
    };
    assert_eq!(answered(0.0), 200);
    assert_eq!(answered(1.0), 0);
    // A round trip survives with probability 0.25.
    let half = answered(0.5);
    assert!((20..=90).contains(&half), "{half} of 200 answered");
}

/// The time of one round trip from a to b.
async fn round_trip(rt: &MadsimRuntime, net: &SimNetwork) -> Duration {
    let start = rt.now();
    request(net, "a", "b", Duration::from_secs(10))
        .await
        .expect("an answer");
    rt.now() - start
}

/// Madsim adds about 1 ms of its own to each send (its 0-5 µs random send delay lasts
/// the 1 ms minimum of a sleep), so a round trip takes the two one-way latencies plus
/// a few ms.
#[test]
fn latency_follows_the_configured_range_and_spikes() {
    let trips = sim(|rt| async move {
        let baseline = NetworkConfig {
            packet_loss: 0.0,
            latency: Duration::from_millis(2)..Duration::from_millis(3),
        };
        let mut net = cluster(&["a", "b"], baseline);
        let normal = round_trip(&rt, &net).await;
        net.set_latency(Duration::from_millis(100)..Duration::from_millis(101));
        let slow = round_trip(&rt, &net).await;
        net.start_latency_spike(Duration::from_millis(500));
        let spiked = round_trip(&rt, &net).await;
        net.end_latency_spike();
        let after = round_trip(&rt, &net).await;
        [normal, slow, spiked, after]
    });
    eprintln!("round trips: {trips:?}");
    let ms = Duration::from_millis;
    let within = |d: Duration, least: Duration| d >= least && d < least + ms(10);
    let [normal, slow, spiked, after] = trips;
    assert!(within(normal, ms(4)), "{normal:?}");
    assert!(within(slow, ms(200)), "{slow:?}");
    assert!(within(spiked, ms(1004)), "{spiked:?}");
    assert!(within(after, ms(4)), "{after:?}");
}

#[test]
fn a_killed_node_is_gone_and_restarts_with_fresh_memory() {
    sim(|_rt| async {
        let mut net = cluster(&["a", "b"], NetworkConfig::default());
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(1));
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(2));
        net.kill("b");
        assert_eq!(net.killed(), vec!["b".to_string()]);
        assert_eq!(request(&net, "a", "b", WAIT).await, None);
        let tcp = (net.node("b").ip, TCP_PORT);
        let refused = net.spawn_on("a", async move { TcpStream::connect(tcp).await.is_err() });
        assert!(refused.await.unwrap(), "a killed node refuses connections");
        net.restart("b");
        assert!(net.killed().is_empty());
        // A new process: the count starts over.
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(1));
        // Restarting a live node kills it first.
        net.restart("b");
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(1));
    });
}

#[test]
fn a_paused_node_accepts_but_never_answers_until_resumed() {
    sim(|_rt| async {
        let mut net = cluster(&["a", "b"], NetworkConfig::default());
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(1));
        net.pause("b");
        assert_eq!(net.paused(), vec!["b".to_string()]);
        assert_eq!(request(&net, "a", "b", Duration::from_secs(30)).await, None);
        let tcp = (net.node("b").ip, TCP_PORT);
        let connected = net.spawn_on("a", async move { TcpStream::connect(tcp).await.is_ok() });
        assert!(
            connected.await.unwrap(),
            "a paused node accepts connections"
        );
        net.resume("b");
        // The request sent during the pause waited and was served after it; its
        // memory survived the pause.
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(3));
    });
}

#[test]
fn heal_undoes_every_fault() {
    sim(|_rt| async {
        let mut net = cluster(&["a", "b", "c"], NetworkConfig::default());
        net.clog_link("a", "b");
        net.set_packet_loss(0.3);
        net.start_latency_spike(Duration::from_secs(2));
        net.kill("c");
        net.pause("b");
        net.heal();
        assert!(net.clogged_links().is_empty() && net.killed().is_empty());
        assert!(net.paused().is_empty());
        assert_eq!(net.current_config(), NetworkConfig::default());
        assert_eq!(request(&net, "a", "b", WAIT).await, Some(1));
        assert_eq!(request(&net, "a", "c", WAIT).await, Some(1));
    });
}

#[test]
fn a_faulty_scenario_replays_exactly() {
    let scenario = |seed| {
        run_iteration(seed, |rt| async move {
            let mut net = cluster(&["a", "b"], NetworkConfig::default());
            net.set_packet_loss(0.3);
            let mut log = Vec::new();
            for _ in 0..50 {
                log.push((request(&net, "a", "b", WAIT).await, rt.now()));
            }
            log
        })
        .unwrap()
    };
    assert_eq!(scenario(5), scenario(5));
    assert_ne!(scenario(5), scenario(6));
}

#[test]
fn a_task_on_a_new_node_returns_its_output_unless_the_node_is_killed() {
    let (finished, killed) = sim(|rt| async move {
        let mut net = cluster(&["a"], NetworkConfig::default());
        // The task's future is !Send (an Rc), as the interpreter's are.
        let finished = net.run_on_new_node("control", || async {
            let shared = std::rc::Rc::new(41);
            madsim::time::sleep(Duration::from_secs(1)).await;
            *shared + 1
        });
        let killed = net.run_on_new_node("doomed", || async {
            madsim::time::sleep(Duration::from_secs(10)).await;
            0
        });
        rt.sleep(Duration::from_secs(2)).await;
        net.kill("doomed");
        (finished.await, killed.await)
    });
    assert_eq!((finished, killed), (Some(42), None));
}

/// On a TCP stream, madsim holds data sent over a clogged link and delivers it once the
/// link is unclogged (retrying with a backoff of up to 10 s); a new connection over a
/// clogged link is refused at once (a real dropped SYN would hang until a timeout).
#[test]
fn a_tcp_stream_holds_data_across_a_clog_and_new_connections_are_refused() {
    let (before, during, after, refused) = sim(|rt| async move {
        let mut net = cluster(&["a", "b"], NetworkConfig::default());
        let dst = (net.node("b").ip, TCP_PORT);
        let client = net.spawn_on("a", async move {
            let now = || madsim::time::TimeHandle::current().elapsed();
            let mut stream = TcpStream::connect(dst).await.unwrap();
            let mut echo = [0u8; 1];
            stream.write_all(&[1]).await.unwrap();
            stream.flush().await.unwrap();
            stream.read_exact(&mut echo).await.unwrap();
            let before = echo[0];
            madsim::time::sleep(Duration::from_secs(1)).await;
            // Sent at 1 s, while a -> b is clogged (0.5 s to 3 s).
            stream.write_all(&[2]).await.unwrap();
            stream.flush().await.unwrap();
            let during =
                madsim::time::timeout(Duration::from_secs(1), stream.read_exact(&mut echo))
                    .await
                    .is_ok();
            stream.read_exact(&mut echo).await.unwrap();
            (before, during, (echo[0], now()))
        });
        rt.sleep(Duration::from_millis(500)).await;
        net.clog_link("a", "b");
        let refused = net.spawn_on("a", async move { TcpStream::connect(dst).await.is_err() });
        let refused = refused.await.unwrap();
        rt.sleep(Duration::from_millis(2500)).await;
        net.unclog_link("a", "b");
        let (before, during, after) = client.await.unwrap();
        (before, during, after, refused)
    });
    assert_eq!(before, 1);
    assert!(!during, "nothing crosses a clogged link");
    let (byte, at) = after;
    assert_eq!(byte, 2);
    assert!(
        at >= Duration::from_secs(3) && at < Duration::from_secs(6),
        "{at:?}"
    );
    assert!(refused, "connecting over a clogged link is refused");
}
