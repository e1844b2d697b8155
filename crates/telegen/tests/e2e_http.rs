//! HTTP/1.x tracing end to end (issue: live socket payload capture and HTTP tracing):
//! real nginx and curl on loopback, the `telegen` binary with real kernel programs, and a
//! real Prometheus answering the documented RED queries.
//!
//! Needs root (it loads BPF programs); fails loudly without it.

mod common;

use common::agent::{require_root, Agent};
use common::nginx::Nginx;
use common::prom::Prometheus;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const LOCATIONS: &str = r#"
    location = /health { return 200 "ok\n"; }
    location /users/ { return 200 "user\n"; }
    location = /items { client_max_body_size 1m; return 201 "created\n"; }
    location = /boom { return 500 "boom\n"; }
    location = /big { return 200 "$request_uri$request_uri$request_uri$request_uri$request_uri$request_uri"; }
"#;

fn curl(args: &[&str]) {
    let st = Command::new("curl")
        .args(["-s", "-o", "/dev/null"])
        .args(args)
        .status()
        .expect("curl (apt-get install curl)");
    assert!(st.success(), "curl {args:?} failed");
}

fn spans<'a>(recs: &'a [Value], kind: &str, port: u16) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| r["type"] == "span" && r["kind"] == kind)
        .filter(|r| r["attributes"]["server.port"] == port)
        .collect()
}

#[test]
fn nginx_and_curl_spans_redaction_exclusion_and_red_metrics() {
    require_root();
    let nginx = Nginx::start(LOCATIONS);
    let port = nginx.port;
    let agent = Agent::start(
        "  network:\n    http:\n      capture_headers: [user-agent, content-type, authorization]\n  ebpf:\n    network:\n      exclude_paths: [\"/health*\"]\n",
    );
    let base = format!("http://127.0.0.1:{port}");
    let workload = || {
        // One keep-alive connection with three requests.
        curl(&[
            &format!("{base}/users/123"),
            &format!("{base}/users/456"),
            &format!("{base}/boom"),
        ]);
        curl(&[
            "-H",
            "Authorization: Bearer secret",
            "-A",
            "telegen-test/1.0",
            &format!("{base}/users/789"),
        ]);
        curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &"x".repeat(1000),
            &format!("{base}/items"),
        ]);
        curl(&[&format!("{base}/missing")]);
        curl(&[&format!("{base}/health")]);
    };
    // Prometheus scrapes from before the traffic, so rate() sees the increase.
    let prom = Prometheus::start(agent.metrics, "/metrics");
    prom.wait_for("up", Duration::from_secs(30), |v| v == 1.0);
    workload();

    let recs = agent.collect(Duration::from_secs(20), |r| {
        spans(r, "SERVER", port).len() >= 6 && spans(r, "CLIENT", port).len() >= 6
    });
    let server = spans(&recs, "SERVER", port);
    let client = spans(&recs, "CLIENT", port);
    let summary = |v: &[&Value]| -> Vec<String> {
        let mut s: Vec<String> = v
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r["attributes"]["http.method"].as_str().unwrap_or("?"),
                    r["attributes"]["http.target"].as_str().unwrap_or("?"),
                    r["attributes"]["http.status_code"]
                )
            })
            .collect();
        s.sort();
        s
    };
    let want = vec![
        "GET /boom 500",
        "GET /missing 404",
        "GET /users/123 200",
        "GET /users/456 200",
        "GET /users/789 200",
        "POST /items 201",
    ];
    assert_eq!(summary(&server), want, "server spans: {server:#?}");
    assert_eq!(summary(&client), want, "client spans: {client:#?}");

    for s in &server {
        let a = &s["attributes"];
        assert_eq!(a["process.executable.name"], "nginx", "{a}");
        assert_eq!(s["service.name"], "nginx");
        assert!(s["end_time_unix_nano"].as_u64() >= s["start_time_unix_nano"].as_u64());
        assert!(s["duration_ms"].as_f64().unwrap() < 1000.0);
        if a["http.target"] == "/users/123" {
            assert_eq!(a["http.route"], "/users/{id}");
            assert_eq!(s["name"], "GET /users/{id}");
            assert_eq!(s["status"], "UNSET");
        }
        if a["http.target"] == "/boom" {
            assert_eq!(s["status"], "ERROR");
        }
        if a["http.target"] == "/items" {
            assert_eq!(a["http.request_content_length"], 1000, "{a}");
            assert_eq!(a["http.request.header.content-type"], "application/json");
        }
        if a["http.target"] == "/users/789" {
            assert_eq!(a["http.request.header.user-agent"], "telegen-test/1.0");
            assert!(
                a.get("http.request.header.authorization").is_none(),
                "authorization must be redacted: {a}"
            );
        }
    }
    for c in &client {
        assert_eq!(c["attributes"]["process.executable.name"], "curl");
    }
    assert!(
        recs.iter().all(|r| r["attributes"]["http.target"] != "/health"),
        "/health is excluded"
    );

    // A counter's first sample carries no rate: run the workload again once Prometheus has
    // scraped the new series (span assertions above used the first round only).
    prom.wait_for(
        r#"sum(http_server_requests_total{service_name="nginx"})"#,
        Duration::from_secs(30),
        |v| v >= 6.0,
    );
    workload();
    prom.wait_for(
        r#"sum(rate(http_server_requests_total{service_name="nginx"}[5m])) by (service_name)"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    let ratio = prom.wait_for(
        r#"sum(rate(http_server_requests_total{status_code=~"5.."}[5m])) / sum(rate(http_server_requests_total[5m]))"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    assert!(ratio > 0.0 && ratio < 1.0, "{ratio}");
    prom.wait_for(
        r#"histogram_quantile(0.99, sum(rate(http_server_duration_bucket[5m])) by (le, service_name))"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    prom.wait_for(r#"sum(rate(http_client_requests_total[5m]))"#, Duration::from_secs(30), |v| {
        v > 0.0
    });
    assert!(agent.stop().success());
}
