//! The modeled cluster's metadata store through its HTTP shapes, from a control node:
//! the versioned key-value API (200 / 404 / 412), any node answering, and what survives
//! a crash of every node.

use jepsen_core::workload::transport::{Request, Response, Transport, TransportError, ADMIN_PORT};
use jepsen_sim::restate::{wait_until_ready, ClusterOptions, SimCluster};
use jepsen_sim::run_iteration;
use std::time::Duration;

fn get(key: &str) -> Request {
    Request::new("GET", ADMIN_PORT, format!("/metadata/{key}"))
}

fn put(key: &str, if_match: &str, etag: u64, value: serde_json::Value) -> Request {
    Request::new("PUT", ADMIN_PORT, format!("/metadata/{key}"))
        .header("if-match", if_match)
        .header("etag", etag.to_string())
        .json(&value)
}

/// (status, etag, JSON body) of a response.
fn summary(
    r: Result<Response, TransportError>,
) -> (u16, Option<String>, Option<serde_json::Value>) {
    let r = r.expect("a response");
    let etag = r.header_value("etag").map(str::to_string);
    (r.status, etag, r.body_json())
}

#[test]
fn the_metadata_api_answers_on_every_node_with_versions_and_preconditions() {
    let answers = run_iteration(4, |_rt| async {
        let cluster = SimCluster::start(ClusterOptions::default());
        let nodes = cluster.nodes();
        let transport = cluster.transport();
        cluster
            .run_control(move |_cluster| async move {
                assert!(wait_until_ready(&transport, &nodes, Duration::from_secs(10)).await);
                let t = &transport;
                vec![
                    summary(t.send("n1", get("k")).await),
                    summary(t.send("n2", put("k", "does-not-exist", 1, 10.into())).await),
                    summary(t.send("n3", get("k")).await),
                    summary(t.send("n1", put("k", "does-not-exist", 5, 11.into())).await),
                    summary(t.send("n2", put("k", "2", 3, 12.into())).await),
                    summary(t.send("n3", put("k", "1", 2, 13.into())).await),
                    summary(t.send("n1", get("k")).await),
                    summary(t.send("n2", put("k", "*", 40, 14.into())).await),
                    summary(t.send("n3", get("k")).await),
                    summary(t.send("n3", put("k", "banana", 40, 14.into())).await),
                ]
            })
            .await
            .expect("the control node ran")
    })
    .unwrap();
    let codes: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(
        codes,
        vec![404, 200, 200, 412, 412, 200, 200, 200, 200, 400],
        "{answers:?}"
    );
    assert_eq!(answers[2].1.as_deref(), Some("1"));
    assert_eq!(answers[2].2, Some(10.into()));
    assert_eq!(answers[6].1.as_deref(), Some("2"));
    assert_eq!(answers[6].2, Some(13.into()));
    assert_eq!(answers[8].1.as_deref(), Some("40"));
    assert_eq!(answers[8].2, Some(14.into()));
}

#[test]
fn acknowledged_writes_survive_a_crash_of_every_node() {
    let (before, after, refused) = run_iteration(5, |_rt| async {
        let cluster = SimCluster::start(ClusterOptions::default());
        let nodes = cluster.nodes();
        let transport = cluster.transport();
        cluster
            .run_control(move |cluster| async move {
                let t = &transport;
                assert!(wait_until_ready(t, &nodes, Duration::from_secs(10)).await);
                let mut before = Vec::new();
                for i in 0..10u64 {
                    let node = &nodes[i as usize % 3];
                    before.push(
                        summary(t.send(node, put(&format!("k{i}"), "*", i, i.into())).await).0,
                    );
                }
                for node in &nodes {
                    cluster.borrow_mut().network_mut().kill(node);
                }
                let refused = matches!(
                    t.send("n1", get("k1")).await,
                    Err(TransportError::Refused(_))
                );
                madsim::time::sleep(Duration::from_secs(1)).await;
                for node in &nodes {
                    cluster.borrow_mut().network_mut().restart(node);
                }
                assert!(wait_until_ready(t, &nodes, Duration::from_secs(10)).await);
                let mut after = Vec::new();
                for i in 0..10u64 {
                    let node = &nodes[(i as usize + 1) % 3];
                    after.push(summary(t.send(node, get(&format!("k{i}"))).await));
                }
                (before, after, refused)
            })
            .await
            .expect("the control node ran")
    })
    .unwrap();
    assert_eq!(before, vec![200; 10]);
    assert!(refused, "a killed node refuses connections");
    for (i, (status, etag, body)) in after.into_iter().enumerate() {
        assert_eq!(status, 200);
        assert_eq!(etag, Some(i.to_string()));
        assert_eq!(body, Some((i as u64).into()));
    }
}
