//! HTTP/1.x tracing end to end (issue: live socket payload capture and HTTP tracing):
//! real nginx and curl on loopback, the `telegen` binary with real kernel programs, and a
//! real Prometheus answering the documented RED queries.
//!
//! Needs root (it loads BPF programs); fails loudly without it.

use crate::common::agent::{spans, Agent};
use crate::common::nginx::Nginx;
use crate::common::prom::Prometheus;
use crate::common::root::root_test;
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

#[test]
fn nginx_and_curl_spans_redaction_exclusion_and_red_metrics() {
    let _root = root_test(module_path!());
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

/// A second server of another kind (Python's http.server) on IPv6, a raw client with
/// pipelining, a request larger than the payload capture size, a chunked response; spans
/// exported over OTLP with the stable and old attribute names (`http/dup`).
#[test]
fn python_server_ipv6_pipelining_large_body_chunked_and_otlp_traces() {
    use crate::common::otlp::OtlpReceiver;
    use crate::common::ports::free_port;
    use crate::common::py::py_script;
    let _root = root_test(module_path!());
    let port = free_port();
    let mut server = Command::new("python3")
        .arg(py_script("http_server.py"))
        .arg(port.to_string())
        .spawn()
        .expect("python3");
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("::1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10), "python server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let rx_addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let rx = OtlpReceiver::start(rx_addr);
    let endpoint = format!("http://{rx_addr}");
    let agent = Agent::start_env(
        "    otlp:\n      interval: 1s\n",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SEMCONV_STABILITY_OPT_IN", "http/dup"),
        ],
    );
    let st = Command::new("python3")
        .arg(py_script("http_client.py"))
        .args([&port.to_string(), "10000"])
        .status()
        .unwrap();
    assert!(st.success(), "python client failed");

    let recs = agent.collect(Duration::from_secs(20), |r| {
        spans(r, "SERVER", port).len() >= 6 && spans(r, "CLIENT", port).len() >= 6
    });
    let want = |kind: &str| {
        let mut v: Vec<String> = spans(&recs, kind, port)
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r["attributes"]["http.request.method"].as_str().unwrap_or("?"),
                    r["attributes"]["url.path"].as_str().unwrap_or("?"),
                    r["attributes"]["http.response.status_code"]
                )
            })
            .collect();
        v.sort();
        v
    };
    let expected = vec![
        "GET /after-upload 200",
        "GET /chunked 200",
        "GET /pipe/1 200",
        "GET /pipe/2 200",
        "GET /pipe/3 200",
        "POST /upload 201",
    ];
    assert_eq!(want("SERVER"), expected, "{recs:#?}");
    assert_eq!(want("CLIENT"), expected);
    for s in spans(&recs, "SERVER", port) {
        let a = &s["attributes"];
        assert_eq!(a["network.peer.address"], "::1", "{a}");
        assert!(
            a["http.method"].is_string() && a["http.request.method"].is_string(),
            "http/dup emits both: {a}"
        );
        if a["url.path"] == "/upload" {
            assert_eq!(a["http.request.body.size"], 10000, "{a}");
        }
        if a["url.path"] == "/chunked" {
            assert_eq!(a["http.response.body.size"], 16, "alpha-beta-gamma: {a}");
        }
    }

    // The same spans over OTLP, with timestamps and ids.
    rx.wait_for("spans over OTLP", Duration::from_secs(30), |r| {
        r.spans.iter().filter(|s| s.attrs.get("server.port") == Some(&port.to_string())).count()
            >= 12
    });
    rx.snapshot(|r| {
        let ours: Vec<_> = r
            .spans
            .iter()
            .filter(|s| s.attrs.get("server.port") == Some(&port.to_string()))
            .collect();
        for s in &ours {
            assert_eq!(s.trace_id.len(), 16);
            assert!(s.start_ns > 0 && s.end_ns >= s.start_ns, "{s:?}");
            assert!(
                s.attrs.contains_key("http.request.method") && s.attrs.contains_key("url.full"),
                "{s:?}"
            );
        }
        let post = ours
            .iter()
            .find(|s| s.name == "POST /upload" && s.kind == 2)
            .expect("SERVER span POST /upload");
        assert_eq!(post.attrs["http.response.status_code"], "201");
    });
    assert!(agent.stop().success());
    let _ = server.kill();
    let _ = server.wait();
}
