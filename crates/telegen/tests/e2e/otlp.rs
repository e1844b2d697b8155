//! OTLP export end to end: the `telegen` binary exporting to an OTLP/gRPC receiver built on
//! the official opentelemetry-proto service definitions (tests/common/otlp.rs), configured
//! through the standard OTEL_* variables; and the agent surviving a collector that is down,
//! counting the failures, and resuming by itself when the collector comes up.
//!
//! Needs root (it loads BPF programs); fails loudly without it.

use crate::common::agent::{scrape_sum, Agent};
use crate::common::otlp::OtlpReceiver;
use crate::common::ports::free_port;
use crate::common::root::root_test;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Makes `n` loopback connections that each send `req` bytes and receive `resp` bytes.
fn traffic(n: usize, req: usize, resp: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let srv = std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            let mut b = vec![0u8; req];
            s.read_exact(&mut b).unwrap();
            s.write_all(&vec![1u8; resp]).unwrap();
        }
    });
    for _ in 0..n {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(&vec![2u8; req]).unwrap();
        let mut b = vec![0u8; resp];
        c.read_exact(&mut b).unwrap();
    }
    srv.join().unwrap();
    port
}

const OTLP_YAML: &str = "    otlp:\n      interval: 1s\n      timeout: 1s\n";

#[test]
fn otlp_metrics_and_logs_arrive_with_env_resource() {
    let _root = root_test(module_path!());
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let rx = OtlpReceiver::start(addr);
    let endpoint = format!("http://{addr}");
    let agent = Agent::start_env(
        OTLP_YAML,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_SERVICE_NAME", "e2e-node-agent"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,k8s.node.name=node-1"),
        ],
    );
    let port = traffic(5, 700, 300);

    rx.wait_for("TCP metrics", Duration::from_secs(30), |r| {
        r.metrics.contains_key("telegen.tcp.connections.opened")
            && r.metrics.contains_key("telegen.connection.bytes_sent")
            && r.metrics.contains_key("telegen.tcp.connections")
    });
    rx.snapshot(|r| {
        assert_eq!(
            r.metric_resource.get("service.name").map(String::as_str),
            Some("e2e-node-agent"),
            "{:?}",
            r.metric_resource
        );
        assert_eq!(
            r.metric_resource.get("deployment.environment").map(String::as_str),
            Some("test")
        );
        assert_eq!(r.metric_resource.get("k8s.node.name").map(String::as_str), Some("node-1"));
        let opened: f64 = r.metric_values["telegen.tcp.connections.opened"].values().sum();
        assert!(opened >= 10.0, "5 connections seen from both ends: {opened}");
    });

    // Connection events arrive as OTLP log records with exact byte counts.
    let p = port.to_string();
    rx.wait_for("close events for our port", Duration::from_secs(30), |r| {
        r.logs
            .iter()
            .filter(|l| {
                l.event_name == "tcp.connection.close" && l.attrs.get("net.peer.port") == Some(&p)
            })
            .count()
            >= 5
    });
    rx.snapshot(|r| {
        for l in r.logs.iter().filter(|l| {
            l.event_name == "tcp.connection.close" && l.attrs.get("net.peer.port") == Some(&p)
        }) {
            assert_eq!(l.attrs["connection.role"], "client");
            assert_eq!(l.attrs["tcp.bytes_sent"], "700", "{l:?}");
            assert_eq!(l.attrs["tcp.bytes_received"], "300", "{l:?}");
            assert_eq!(l.resource["service.name"], "e2e-node-agent");
            assert!(l.time_ns > 0);
        }
    });
    assert!(agent.stop().success());
}

#[test]
fn otlp_collector_down_then_up_resumes_by_itself() {
    let _root = root_test(module_path!());
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let endpoint = format!("http://{addr}");
    let mut agent = Agent::start_env(OTLP_YAML, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    traffic(3, 100, 100);

    // Nothing listens: failures are counted, the agent keeps serving.
    let t0 = Instant::now();
    while scrape_sum(agent.metrics, "telegen_export_failures_total{exporter=\"otlp_metrics\"}")
        < 2.0
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "no OTLP metric export failure counted");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent died while the collector was down"
    );

    // The collector comes up on the same address: export resumes, cumulative totals
    // include what happened while it was down.
    let rx = OtlpReceiver::start(addr);
    rx.wait_for("metrics after the collector came up", Duration::from_secs(30), |r| {
        r.metric_values
            .get("telegen.tcp.connections.opened")
            .map(|m| m.values().sum::<f64>() >= 6.0)
            .unwrap_or(false)
    });
    // The receiver holds the batch before the agent has read the reply and counted it:
    // wait for the counter rather than read it once.
    let t1 = Instant::now();
    loop {
        let ok = scrape_sum(agent.metrics, "telegen_exported_total{exporter=\"otlp_metrics\"}");
        if ok >= 1.0 {
            break;
        }
        assert!(t1.elapsed() < Duration::from_secs(20), "exported counter stays at {ok}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(agent.stop().success());
}
