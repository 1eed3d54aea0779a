//! Both worlds in one process, as in the `restate-jepsen` binary: this test binary links
//! madsim built with `--cfg madsim` (which overrides libc's `clock_gettime`, `getrandom`
//! and thread creation while a simulation runs) and plain tokio + reqwest. After a
//! simulation ends, real tokio, real time and a real loopback HTTP round trip work.
//!
//! It lives in the `cli` crate because that is the only package allowed to depend on
//! both worlds (`tests/layout.rs`); tokio and reqwest are its dev-dependencies here.

use jepsen_core::runtime::Runtime;
use jepsen_real::tokio_runtime::TokioRuntime;
use jepsen_sim::{run_iteration, simulate};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One simulated hour, on a fresh thread and on this one: virtual time, no wall time.
fn simulate_an_hour() {
    let hour = Duration::from_secs(3600);
    let wall = Instant::now();
    let on_fresh_thread = run_iteration(9, move |rt| async move {
        rt.sleep(hour).await;
        rt.now()
    })
    .unwrap();
    let on_this_thread = simulate(9, move |rt| async move {
        rt.sleep(hour).await;
        rt.now()
    });
    assert!(on_fresh_thread >= hour && on_this_thread >= hour);
    assert!(wall.elapsed() < Duration::from_secs(60));
}

/// Answers one HTTP/1.1 request on `listener` with `body`, then closes.
async fn answer_once(listener: TcpListener, body: &'static str) -> String {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before sending a whole request");
        request.extend_from_slice(&buf[..n]);
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await.unwrap();
    socket.shutdown().await.unwrap();
    String::from_utf8(request).unwrap()
}

#[test]
fn a_real_loopback_http_round_trip_works_after_a_simulation_in_the_same_process() {
    simulate_an_hour();

    let rt = TokioRuntime::new(1);
    let (request, reply, slept) = rt.clone().run(async move {
        // Real time again: a tokio sleep takes at least its duration on the wall clock.
        let wall = Instant::now();
        rt.sleep(Duration::from_millis(20)).await;
        let slept = wall.elapsed();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::task::spawn_local(answer_once(listener, r#"{"value":42}"#));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let reply: serde_json::Value = client
            .post(format!("http://{addr}/Register/k1/get"))
            .header("idempotency-key", "abc")
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        (server.await.unwrap(), reply, slept)
    });
    assert!(slept >= Duration::from_millis(20), "slept {slept:?}");
    assert!(
        request.starts_with("POST /Register/k1/get HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.to_lowercase().contains("idempotency-key: abc"));
    assert_eq!(reply, serde_json::json!({"value": 42}));

    // And a simulation still works after the real runtime.
    simulate_an_hour();
}
