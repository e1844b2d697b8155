//! gRPC tracing end to end with a real Rust tonic server and client (issue: HTTP/2 and
//! gRPC tracing, cleartext; the Python grpcio pair is in e2e/http2.rs). The test process
//! itself serves and calls, over one h2c connection on 127.0.0.1, services whose code
//! ships generated (no protoc):
//! - grpc.health.v1.Health/Check (tonic-health): unary, SERVING for a registered service,
//!   NOT_FOUND (5) for an unknown one;
//! - grpc.health.v1.Health/Watch: server streaming, two messages read, then cancelled by
//!   the client (RST_STREAM CANCEL: the call has no grpc-status);
//! - grpc.reflection.v1.ServerReflection/ServerReflectionInfo (tonic-reflection):
//!   bidirectional streaming, three requests and three responses, then a clean end.
//!
//! The agent (a separate `telegen` process) must report every call from both sides with
//! the right names, status codes, message counts and error status, and count them in the
//! rpc RED metrics on its Prometheus endpoint.
//!
//! A second test sends messages larger than the payload the kernel copies per syscall
//! (10 KB against the default 4096 bytes): names, status codes and metrics must stay
//! right, body sizes exact, and message counts exact or left out, never wrong.
//!
//! Needs root (it loads BPF programs); fails loudly without it.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use crate::common::agent::{only_ports, scrape_sum, spans, Agent};
use crate::common::ports::low_listener;
use crate::common::prom::http_get;
use crate::common::root::root_test;
use serde_json::Value;
use tonic::transport::{Channel, Endpoint, Server};
use tonic_health::pb::health_check_response::ServingStatus as PbStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::ServingStatus;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

/// A registered service: Check answers SERVING.
const OK_SERVICE: &str = "telegen.test.Ready";
/// Not registered: Check answers NOT_FOUND.
const UNKNOWN_SERVICE: &str = "telegen.test.Unknown";
/// The service whose status the Watch stream follows (changed once during the stream).
const WATCHED_SERVICE: &str = "telegen.test.Watched";
/// Successful unary Check calls.
const CHECKS_OK: usize = 4;
/// Spans per side: the OK checks, the NOT_FOUND check, the Watch and the reflection call.
const CALLS_PER_SIDE: usize = CHECKS_OK + 3;

const CHECK: &str = "grpc.health.v1.Health/Check";
const WATCH: &str = "grpc.health.v1.Health/Watch";
const REFLECT: &str = "grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/// What the client saw, to compare with what the agent reports.
#[derive(Debug)]
struct Made {
    checks_ok: usize,
    not_found: usize,
    watch_messages: usize,
    reflection_requests: usize,
    reflection_responses: usize,
}

async fn client_calls(port: u16, reporter: &tonic_health::server::HealthReporter) -> Made {
    // One HTTP/2 connection (h2c, prior knowledge) carries every call.
    let channel: Channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .expect("connecting to the tonic server");
    let mut health = HealthClient::new(channel.clone());
    let mut made = Made {
        checks_ok: 0,
        not_found: 0,
        watch_messages: 0,
        reflection_requests: 0,
        reflection_responses: 0,
    };

    // Unary: SERVING, several times.
    for _ in 0..CHECKS_OK {
        let r = health
            .check(HealthCheckRequest { service: OK_SERVICE.into() })
            .await
            .expect("Check of a registered service");
        assert_eq!(r.into_inner().status, PbStatus::Serving as i32);
        made.checks_ok += 1;
    }

    // Unary: NOT_FOUND.
    let e = health
        .check(HealthCheckRequest { service: UNKNOWN_SERVICE.into() })
        .await
        .expect_err("Check of an unknown service fails");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    made.not_found += 1;

    // Server streaming: the current status, then the change we make; then the client
    // drops the stream, which h2 cancels with RST_STREAM (no trailers, no grpc-status).
    let mut watch = health
        .watch(HealthCheckRequest { service: WATCHED_SERVICE.into() })
        .await
        .expect("Watch")
        .into_inner();
    let m = watch.message().await.expect("first Watch message").expect("a message");
    assert_eq!(m.status, PbStatus::Serving as i32);
    made.watch_messages += 1;
    reporter.set_service_status(WATCHED_SERVICE, ServingStatus::NotServing).await;
    let m = watch.message().await.expect("second Watch message").expect("a message");
    assert_eq!(m.status, PbStatus::NotServing as i32);
    made.watch_messages += 1;
    drop(watch);

    // Bidirectional streaming: one request, one answer, three times; then the client
    // ends its side and the server ends the call with OK.
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let (tx, rx) = tokio::sync::mpsc::channel::<ServerReflectionRequest>(4);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("grpc.health.v1.Health".into()),
        MessageRequest::FileContainingSymbol("grpc.health.v1.HealthCheckRequest".into()),
    ];
    let req = |m: &MessageRequest| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(m.clone()),
    };
    tx.send(req(&requests[0])).await.unwrap();
    let mut answers = reflection
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("ServerReflectionInfo")
        .into_inner();
    for (i, m) in requests.iter().enumerate() {
        if i > 0 {
            tx.send(req(m)).await.unwrap();
        }
        made.reflection_requests += 1;
        let a = answers.message().await.expect("a reflection answer").expect("a message");
        match (m, a.message_response) {
            (MessageRequest::ListServices(_), Some(MessageResponse::ListServicesResponse(l))) => {
                let names: Vec<&str> = l.service.iter().map(|s| s.name.as_str()).collect();
                assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
            }
            (
                MessageRequest::FileContainingSymbol(_),
                Some(MessageResponse::FileDescriptorResponse(f)),
            ) => assert!(!f.file_descriptor_proto.is_empty()),
            (m, other) => panic!("reflection answered {other:?} to {m:?}"),
        }
        made.reflection_responses += 1;
    }
    drop(tx);
    assert!(answers.message().await.expect("a clean end of the reflection call").is_none());
    made
}

/// (span name, grpc status or None, request messages, response messages, span status,
/// telegen.incomplete) of each call, sorted.
type Summary = (String, Option<u64>, Option<u64>, Option<u64>, String, Option<String>);

fn summary(v: &[&Value]) -> Vec<Summary> {
    let mut s: Vec<Summary> = v
        .iter()
        .map(|r| {
            let a = &r["attributes"];
            (
                r["name"].as_str().unwrap_or("?").to_string(),
                a["rpc.grpc.status_code"].as_u64(),
                a["rpc.grpc.request.messages"].as_u64(),
                a["rpc.grpc.response.messages"].as_u64(),
                r["status"].as_str().unwrap_or("?").to_string(),
                a["telegen.incomplete"].as_str().map(String::from),
            )
        })
        .collect();
    s.sort();
    s
}

fn want_summary(made: &Made) -> Vec<Summary> {
    let row = |name: &str, code: Option<u64>, q: usize, r: usize, st: &str, inc: Option<&str>| {
        (
            name.to_string(),
            code,
            Some(q as u64),
            Some(r as u64),
            st.to_string(),
            inc.map(String::from),
        )
    };
    let mut w = Vec::new();
    for _ in 0..made.checks_ok {
        w.push(row(CHECK, Some(0), 1, 1, "UNSET", None));
    }
    // NOT_FOUND is a trailers-only answer: no response message.
    for _ in 0..made.not_found {
        w.push(row(CHECK, Some(5), 1, 0, "ERROR", None));
    }
    // Cancelled by the client: no grpc-status was ever sent; the call is marked reset and
    // is an error; the messages before the reset are counted.
    w.push(row(WATCH, None, 1, made.watch_messages, "ERROR", Some("reset")));
    w.push(row(
        REFLECT,
        Some(0),
        made.reflection_requests,
        made.reflection_responses,
        "UNSET",
        None,
    ));
    w.sort();
    w
}

/// Sum of the samples of metric `name` whose labels include every pair of `labels`.
fn metric_sum(addr: SocketAddr, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, body) = http_get(addr, "/metrics").expect("scraping telegen");
    body.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix('{')?;
            let (lbl, val) = rest.rsplit_once("} ")?;
            labels
                .iter()
                .all(|(k, v)| lbl.split(',').any(|p| p == format!("{k}=\"{v}\"")))
                .then(|| val.trim().parse::<f64>().ok())?
        })
        .sum()
}

/// Polls the agent's metrics until the sum is `want` (or fails after a deadline).
fn wait_metric(addr: SocketAddr, name: &str, labels: &[(&str, &str)], want: f64) {
    let t0 = Instant::now();
    loop {
        let got = metric_sum(addr, name, labels);
        if got == want {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{name}{labels:?}: {got}, want {want}; metrics:\n{}",
            http_get(addr, "/metrics")
                .map(|(_, b)| b
                    .lines()
                    .filter(|l| l.starts_with("rpc_"))
                    .collect::<Vec<_>>()
                    .join("\n"))
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tonic server (health + reflection v1) in this process, on its own runtime.
struct TonicServer {
    rt: tokio::runtime::Runtime,
    reporter: tonic_health::server::HealthReporter,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl TonicServer {
    fn start(std_listener: TcpListener) -> TonicServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (reporter, health_server) = tonic_health::server::health_reporter();
        rt.block_on(async {
            reporter.set_service_status(OK_SERVICE, ServingStatus::Serving).await;
            reporter.set_service_status(WATCHED_SERVICE, ServingStatus::Serving).await;
        });
        let reflection_server = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("the reflection service");
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std_listener.set_nonblocking(true).unwrap();
        let task = rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            Server::builder()
                .add_service(health_server)
                .add_service(reflection_server)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stop_rx.await;
                    },
                )
                .await
                .expect("the tonic server");
        });
        TonicServer { rt, reporter, stop, task }
    }

    /// Graceful stop: the server ends once the (already dropped) client connection closes.
    fn stop(self) {
        let _ = self.stop.send(());
        let stopped = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), self.task).await });
        assert!(matches!(stopped, Ok(Ok(()))), "the tonic server did not stop: {stopped:?}");
    }
}

/// The agent watching a free low port, then a tonic server on it: the connections (and
/// their HPACK state) start after the agent.
fn agent_then_server() -> (u16, Agent, TonicServer) {
    let std_listener = low_listener();
    let port = std_listener.local_addr().unwrap().port();
    let agent = Agent::start(&only_ports(&[port]));
    (port, agent, TonicServer::start(std_listener))
}

#[test]
fn grpc_tonic_unary_streaming_bidi_and_not_found() {
    let _root = root_test(module_path!());
    let (port, agent, server) = agent_then_server();

    let made = server.rt.block_on(client_calls(port, &server.reporter));
    assert_eq!(
        (made.checks_ok, made.not_found, made.watch_messages, made.reflection_responses),
        (CHECKS_OK, 1, 2, 3)
    );

    let recs = agent.collect(Duration::from_secs(30), |r| {
        spans(r, "SERVER", port).len() >= CALLS_PER_SIDE
            && spans(r, "CLIENT", port).len() >= CALLS_PER_SIDE
    });
    let ours: Vec<String> = recs
        .iter()
        .filter(|r| r["attributes"]["server.port"] == port)
        .map(|r| format!("{} {} {} {}", r["type"], r["kind"], r["name"], r["attributes"]))
        .collect();
    let want = want_summary(&made);
    eprintln!("client made {made:?}; agent records of port {port}:");
    for r in &ours {
        eprintln!("  {r}");
    }
    for kind in ["SERVER", "CLIENT"] {
        let got = spans(&recs, kind, port);
        assert_eq!(summary(&got), want, "{kind} spans; records of the port: {ours:#?}");
        for s in &got {
            let a = &s["attributes"];
            let name = s["name"].as_str().unwrap();
            let (service, method) = name.split_once('/').unwrap();
            assert_eq!(a["rpc.system"], "grpc", "{s}");
            assert_eq!(a["rpc.service"], service, "{s}");
            assert_eq!(a["rpc.method"], method, "{s}");
            assert_eq!(a["network.protocol.version"], "2", "{s}");
            assert_eq!(a["http.method"], "POST", "{s}");
            assert_eq!(a["http.target"], format!("/{name}"), "{s}");
            // gRPC paths are routes as they are (a versioned package name is not an id).
            assert_eq!(a["http.route"], format!("/{name}"), "{s}");
            assert_eq!(a["http.status_code"], 200, "{s}");
            assert!(a["http2.stream_id"].as_u64().is_some_and(|i| i % 2 == 1), "{s}");
            let exe = a["process.executable.name"].as_str().unwrap_or("");
            assert!(exe.starts_with("e2e-"), "the test process serves and calls: {s}");
            let (t0, t1) = (s["start_time_unix_nano"].as_u64(), s["end_time_unix_nano"].as_u64());
            assert!(t0.is_some_and(|t0| t1.is_some_and(|t1| t1 >= t0 && t0 > 0)), "{s}");
        }
        // One connection: every call of a side has the same client port.
        let mut ports: Vec<u64> =
            got.iter().filter_map(|s| s["attributes"]["client.port"].as_u64()).collect();
        ports.dedup();
        assert_eq!(ports.len(), 1, "{kind}: one connection, got client ports {ports:?}");
    }

    // RED metrics, both sides, exact (only this test's port is observed).
    let m = agent.metrics;
    for side in ["server", "client"] {
        let total = format!("rpc_{side}_requests_total");
        let dur = format!("rpc_{side}_duration_count");
        let check = [("rpc_service", "grpc.health.v1.Health"), ("rpc_method", "Check")];
        let code = |c: &'static str| [check[0], check[1], ("rpc_grpc_status_code", c)];
        wait_metric(m, &total, &code("0"), made.checks_ok as f64);
        wait_metric(m, &total, &code("5"), made.not_found as f64);
        // The cancelled Watch has no grpc-status: counted under "unknown".
        wait_metric(
            m,
            &total,
            &[("rpc_method", "Watch"), ("rpc_grpc_status_code", "unknown")],
            1.0,
        );
        wait_metric(
            m,
            &total,
            &[
                ("rpc_service", "grpc.reflection.v1.ServerReflection"),
                ("rpc_method", "ServerReflectionInfo"),
                ("rpc_grpc_status_code", "0"),
            ],
            1.0,
        );
        wait_metric(m, &dur, &check, (made.checks_ok + made.not_found) as f64);
        let all = scrape_sum(m, &format!("{total}{{"));
        assert_eq!(all, CALLS_PER_SIDE as f64, "{total}: every call once");
    }

    // Close the connection and stop the server: no call may be reported a second time
    // (e.g. as closed incomplete). This window only looks for records that must not come.
    server.stop();
    let late = agent.collect(Duration::from_secs(3), |_| false);
    let late_spans: Vec<&Value> = late
        .iter()
        .filter(|r| r["type"] == "span" && r["attributes"]["server.port"] == port)
        .collect();
    assert!(late_spans.is_empty(), "spans after the calls ended: {late_spans:#?}");
    assert_eq!(scrape_sum(m, "rpc_server_requests_total{"), CALLS_PER_SIDE as f64);
    assert!(agent.stop().success());
}

/// Bytes of the `host` field of each large reflection request (echoed twice in the answer).
const BIG: usize = 10_000;

/// A bidi call whose messages are larger than the bytes the kernel copies per syscall
/// (agent.ebpf.network.max_payload_bytes, 4096 by default), and a unary call with a
/// large request. Returns (request messages, response messages) of the bidi call.
async fn large_calls(port: u16) -> (usize, usize) {
    let channel: Channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .expect("connecting to the tonic server");
    let mut health = HealthClient::new(channel.clone());
    let e = health
        .check(HealthCheckRequest { service: "u".repeat(BIG) })
        .await
        .expect_err("Check of an unknown service fails");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");

    let mut reflection = ServerReflectionClient::new(channel);
    let (tx, rx) = tokio::sync::mpsc::channel::<ServerReflectionRequest>(4);
    let req = || ServerReflectionRequest {
        host: "h".repeat(BIG),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    tx.send(req()).await.unwrap();
    let mut answers = reflection
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("ServerReflectionInfo")
        .into_inner();
    let (mut sent, mut got) = (1, 0);
    loop {
        let a = answers.message().await.expect("a reflection answer").expect("a message");
        assert_eq!(a.valid_host.len(), BIG);
        got += 1;
        if sent == 3 {
            break;
        }
        tx.send(req()).await.unwrap();
        sent += 1;
    }
    drop(tx);
    assert!(answers.message().await.expect("a clean end of the reflection call").is_none());
    (sent, got)
}

#[test]
fn grpc_tonic_messages_larger_than_the_copied_payload() {
    let _root = root_test(module_path!());
    let (port, agent, server) = agent_then_server();
    let (sent, got_back) = server.rt.block_on(large_calls(port));
    assert_eq!((sent, got_back), (3, 3));
    let recs = agent.collect(Duration::from_secs(30), |r| {
        spans(r, "SERVER", port).len() >= 2 && spans(r, "CLIENT", port).len() >= 2
    });
    let ours: Vec<String> = recs
        .iter()
        .filter(|r| r["attributes"]["server.port"] == port)
        .map(|r| format!("{} {} {} {}", r["type"], r["kind"], r["name"], r["attributes"]))
        .collect();
    eprintln!("agent records of port {port}:");
    for r in &ours {
        eprintln!("  {r}");
    }
    // Bytes of gRPC payload (5-byte prefix + protobuf) of the large Check request: field 1,
    // a 2-byte length, BIG bytes.
    let check_body = (5 + 1 + 2 + BIG) as u64;
    for kind in ["SERVER", "CLIENT"] {
        let got = spans(&recs, kind, port);
        let names: Vec<(&str, Option<u64>, &str)> = got
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap_or("?"),
                    s["attributes"]["rpc.grpc.status_code"].as_u64(),
                    s["status"].as_str().unwrap_or("?"),
                )
            })
            .collect();
        // What works: one span per call, names, status codes, error status.
        assert_eq!(
            names,
            [(CHECK, Some(5), "ERROR"), (REFLECT, Some(0), "UNSET")],
            "{kind}: {ours:#?}"
        );
        for s in &got {
            let a = &s["attributes"];
            assert_eq!(a["rpc.system"], "grpc", "{s}");
            assert!(a["telegen.incomplete"].is_null(), "{s}");
            let (q, r) = if s["name"] == CHECK { (1, 0) } else { (sent, got_back) };
            // Only 4096 bytes per syscall are copied: the rest of each large DATA frame
            // is a gap. Body sizes count the lost bytes and message counts stay exact
            // while the gaps fall inside message bodies; a count whose framing was lost
            // is left out, never reported wrong.
            let q_seen = a["rpc.grpc.request.messages"].as_u64();
            let r_seen = a["rpc.grpc.response.messages"].as_u64();
            assert!(q_seen.is_none_or(|n| n == q as u64), "{s}");
            assert!(r_seen.is_none_or(|n| n == r as u64), "{s}");
            if s["name"] == CHECK {
                // One message whose prefix starts the first DATA frame: exact.
                assert_eq!(q_seen, Some(1), "{s}");
                assert_eq!(a["http.request_content_length"], check_body, "{s}");
            }
        }
    }
    // RED metrics: each call counted once, with its status code.
    let m = agent.metrics;
    for side in ["server", "client"] {
        let total = format!("rpc_{side}_requests_total");
        wait_metric(m, &total, &[("rpc_method", "Check"), ("rpc_grpc_status_code", "5")], 1.0);
        wait_metric(
            m,
            &total,
            &[("rpc_method", "ServerReflectionInfo"), ("rpc_grpc_status_code", "0")],
            1.0,
        );
        assert_eq!(scrape_sum(m, &format!("{total}{{")), 2.0);
    }
    server.stop();
    assert!(agent.stop().success());
}
