//! HTTP/2 and gRPC tracing end to end (issue: HTTP/2 and gRPC tracing, cleartext):
//! - a real gRPC server and client (Python grpcio) with unary, server-streaming,
//!   client-streaming, bidi and a NOT_FOUND call: span names, kinds, status codes,
//!   message counts, and the rpc RED metrics through a real Prometheus;
//! - h2c: nginx with `listen ... http2` hit by `curl --http2-prior-knowledge`, and a
//!   Python `h2` server hit by `curl --http2` (the HTTP/1.1 Upgrade path);
//! - a gRPC channel opened before the agent started: never a wrong method name.
//!
//! (The kernel capture on raw HTTP/2 frames is tested in kernel/payload_h2.rs.)
//!
//! Needs root (it loads BPF programs) and TELEGEN_PYTHON (a Python with the packages of
//! tests/requirements.txt; scripts/test.sh sets it); fails loudly without them.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::common::agent::{only_ports, spans, Agent};
use crate::common::nginx::Nginx;
use crate::common::ports::low_free_port;
use crate::common::prom::Prometheus;
use crate::common::py::{py_script, python};
use crate::common::root::root_test;
use serde_json::Value;

/// A Python child that prints "ready" once serving; killed by PID on drop.
struct PyServer(Child);

impl PyServer {
    fn start(script: &str, port: u16) -> PyServer {
        let mut child = Command::new(python())
            .arg(py_script(script))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the python server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "{script} did not start");
        PyServer(child)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The gRPC client of py/grpc_client.py, driven line by line.
struct GrpcClient {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl GrpcClient {
    fn start(port: u16) -> GrpcClient {
        let mut child = Command::new(python())
            .arg(py_script("grpc_client.py"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the python gRPC client");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        GrpcClient { child, stdin, stdout }
    }

    fn run(&mut self, cmd: &str) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), format!("done {cmd}"), "gRPC client command {cmd} failed");
    }

    fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        assert!(self.child.wait().unwrap().success(), "gRPC client failed");
    }
}

// ---- gRPC with Python grpcio ----

/// (span name, grpc status, request messages, response messages) of each call.
const CALLS: [(&str, u64, u64, u64); 5] = [
    ("telegen.test.Echo/Chat", 0, 2, 2),
    ("telegen.test.Echo/Count", 0, 1, 3),
    ("telegen.test.Echo/Missing", 5, 1, 0),
    ("telegen.test.Echo/Say", 0, 1, 1),
    ("telegen.test.Echo/Sum", 0, 3, 1),
];

fn call_summary(v: &[&Value]) -> Vec<(String, u64, u64, u64)> {
    let mut s: Vec<_> = v
        .iter()
        .map(|r| {
            let a = &r["attributes"];
            (
                r["name"].as_str().unwrap_or("?").to_string(),
                a["rpc.grpc.status_code"].as_u64().unwrap_or(99),
                a["rpc.grpc.request.messages"].as_u64().unwrap_or(99),
                a["rpc.grpc.response.messages"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    s.sort();
    s
}

#[test]
fn grpc_python_calls_spans_and_rpc_metrics() {
    let _root = root_test(module_path!());
    let port = low_free_port();
    let _server = PyServer::start("grpc_server.py", port);
    let agent = Agent::start(&only_ports(&[port]));
    let prom = Prometheus::start(agent.metrics, "/metrics");
    prom.wait_for("up", Duration::from_secs(30), |v| v == 1.0);
    let mut client = GrpcClient::start(port);
    client.run("basic");
    let recs = agent.collect(Duration::from_secs(20), |r| {
        spans(r, "SERVER", port).len() >= 5 && spans(r, "CLIENT", port).len() >= 5
    });
    let want: Vec<(String, u64, u64, u64)> =
        CALLS.iter().map(|(n, s, q, r)| (n.to_string(), *s, *q, *r)).collect();
    for kind in ["SERVER", "CLIENT"] {
        let got = spans(&recs, kind, port);
        let ours: Vec<String> = recs
            .iter()
            .filter(|r| r.to_string().contains(&port.to_string()))
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r["type"], r["kind"], r["name"], r["attributes"]["telegen.incomplete"]
                )
            })
            .collect();
        assert_eq!(call_summary(&got), want, "{kind} spans; records of the port: {ours:#?}");
        for s in got {
            let a = &s["attributes"];
            assert_eq!(a["rpc.system"], "grpc", "{a}");
            assert_eq!(a["rpc.service"], "telegen.test.Echo");
            assert_eq!(a["network.protocol.version"], "2");
            assert_eq!(
                a["process.executable.name"].as_str().map(|p| p.starts_with("python")),
                Some(true),
                "{a}"
            );
            let err = a["rpc.method"] == "Missing";
            assert_eq!(s["status"] == "ERROR", err, "error status only for NOT_FOUND: {s}");
        }
    }
    // RED metrics: counters need a second sample for rate().
    prom.wait_for(
        r#"sum(rpc_server_requests_total{rpc_service="telegen.test.Echo"})"#,
        Duration::from_secs(30),
        |v| v >= 5.0,
    );
    client.run("basic");
    prom.wait_for(
        r#"sum(rate(rpc_server_requests_total{rpc_service="telegen.test.Echo",rpc_method="Say",rpc_grpc_status_code="0"}[5m]))"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    prom.wait_for(
        r#"sum(rpc_server_requests_total{rpc_method="Missing",rpc_grpc_status_code="5"})"#,
        Duration::from_secs(30),
        |v| v >= 2.0,
    );
    prom.wait_for(
        r#"histogram_quantile(0.99, sum(rate(rpc_server_duration_bucket{rpc_service="telegen.test.Echo"}[5m])) by (le))"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    prom.wait_for(
        r#"sum(rate(rpc_client_requests_total{rpc_method="Chat"}[5m]))"#,
        Duration::from_secs(30),
        |v| v > 0.0,
    );
    client.quit();
    assert!(agent.stop().success());
}

#[test]
fn grpc_channel_opened_before_the_agent_never_reports_a_wrong_method() {
    let _root = root_test(module_path!());
    let port = low_free_port();
    let _server = PyServer::start("grpc_server.py", port);
    let mut client = GrpcClient::start(port);
    client.run("say");
    client.run("say");
    let agent = Agent::start(&only_ports(&[port]));
    std::thread::sleep(Duration::from_millis(500));
    client.run("say");
    client.run("new");
    client.run("say");
    client.run("new");
    let recs = agent.collect(Duration::from_secs(15), |r| {
        spans(r, "SERVER", port).len() >= 6 && spans(r, "CLIENT", port).len() >= 6
    });
    let known = ["Say", "Chat", "Sum"];
    let mut named = 0;
    for kind in ["SERVER", "CLIENT"] {
        let got = spans(&recs, kind, port);
        assert!(!got.is_empty(), "{kind}: no spans for the pre-existing connection: {recs:#?}");
        for s in &got {
            let a = &s["attributes"];
            let path = a["url.path"].as_str().or(a["http.target"].as_str()).unwrap_or("");
            if path.is_empty() {
                // Unknown is fine, but it must say so.
                assert!(a["telegen.incomplete"].is_string(), "unknown path not marked: {s}");
                continue;
            }
            let m = path.strip_prefix("/telegen.test.Echo/").unwrap_or("");
            assert!(known.contains(&m), "wrong path {path:?}: {s}");
            if a["rpc.system"] == "grpc" {
                assert_eq!(a["rpc.method"], m, "{s}");
                assert_eq!(s["name"], format!("telegen.test.Echo/{m}"), "{s}");
            }
            named += 1;
        }
    }
    // Chat and Sum were first called after the start: their paths are literals that decode
    // (fields indexed before the start, like :method or content-type, may stay unknown).
    let paths: Vec<&str> =
        recs.iter().filter_map(|r| r["attributes"]["http.target"].as_str()).collect();
    for m in ["Chat", "Sum"] {
        let p = format!("/telegen.test.Echo/{m}");
        assert!(paths.iter().filter(|x| **x == p).count() >= 2, "{m} on both sides: {paths:?}");
    }
    assert!(named >= 4, "{named} named spans");
    client.quit();
    assert!(agent.stop().success());
}

// ---- h2c: nginx with prior knowledge, the Upgrade path on a Python h2 server ----

fn curl(args: &[&str]) {
    let st = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--fail-with-body"])
        .args(args)
        .status()
        .expect("curl (apt-get install curl)");
    assert!(st.success() || st.code() == Some(22), "curl {args:?} failed: {st}");
}

fn http_summary(v: &[&Value]) -> Vec<String> {
    let mut s: Vec<String> = v
        .iter()
        .map(|r| {
            let a = &r["attributes"];
            format!(
                "{} {} {} v{}",
                a["http.method"].as_str().unwrap_or("?"),
                a["http.target"].as_str().unwrap_or("?"),
                a["http.status_code"],
                a["network.protocol.version"].as_str().unwrap_or("?")
            )
        })
        .collect();
    s.sort();
    s
}

#[test]
fn h2c_prior_knowledge_on_nginx_and_upgrade_on_python_h2() {
    let _root = root_test(module_path!());
    let nginx = Nginx::start_h2c(
        "    location /users/ { return 200 \"user\\n\"; }\n    location = /boom { return 500 \"boom\\n\"; }\n",
    );
    let up_port = low_free_port();
    let _h2 = PyServer::start("h2c_server.py", up_port);
    let n = nginx.port;
    let agent = Agent::start(&only_ports(&[n, up_port]));
    // curl 7.88 cannot reuse a prior-knowledge connection: one request per run.
    for path in ["/users/1", "/users/2", "/boom", "/missing"] {
        curl(&["--http2-prior-knowledge", &format!("http://127.0.0.1:{n}{path}")]);
    }
    // /up/big answers a 12 kB header block on the upgraded connection: the kernel must
    // have switched it to HTTP/2 frame tracking to copy that HEADERS frame whole.
    curl(&[
        "--http2",
        &format!("http://127.0.0.1:{up_port}/up/1"),
        &format!("http://127.0.0.1:{up_port}/up/2"),
        &format!("http://127.0.0.1:{up_port}/up/big"),
    ]);
    curl(&["--http2", &format!("http://127.0.0.1:{up_port}/missing")]);
    let recs = agent.collect(Duration::from_secs(20), |r| {
        spans(r, "SERVER", n).len() >= 4
            && spans(r, "CLIENT", n).len() >= 4
            && spans(r, "SERVER", up_port).len() >= 6
            && spans(r, "CLIENT", up_port).len() >= 6
    });
    let want_nginx =
        ["GET /boom 500 v2", "GET /missing 404 v2", "GET /users/1 200 v2", "GET /users/2 200 v2"];
    assert_eq!(http_summary(&spans(&recs, "SERVER", n)), want_nginx, "{recs:#?}");
    assert_eq!(http_summary(&spans(&recs, "CLIENT", n)), want_nginx);
    for s in spans(&recs, "SERVER", n) {
        assert_eq!(s["attributes"]["process.executable.name"], "nginx");
        if s["attributes"]["http.target"] == "/users/1" {
            assert_eq!(s["status"], "UNSET");
            assert!(s["attributes"]["http2.stream_id"].is_u64(), "{s}");
        }
        if s["attributes"]["http.target"] == "/boom" {
            assert_eq!(s["status"], "ERROR");
        }
    }
    // The upgrade request is an HTTP/1.1 exchange answered 101, and continues as HTTP/2
    // stream 1, whose response is the real one.
    let want_up = [
        "GET /missing 101 v1.1",
        "GET /missing 404 v2",
        "GET /up/1 101 v1.1",
        "GET /up/1 200 v2",
        "GET /up/2 200 v2",
        "GET /up/big 200 v2",
    ];
    assert_eq!(http_summary(&spans(&recs, "SERVER", up_port)), want_up, "{recs:#?}");
    assert_eq!(http_summary(&spans(&recs, "CLIENT", up_port)), want_up);
    assert!(agent.stop().success());
}
