//! End to end, as a user runs it: the `telegen` binary with real kernel programs, real
//! TCP traffic on loopback, a real Prometheus scraping the agent and answering the
//! documented PromQL queries, JSON lines checked for exact connection facts, and a
//! SIGTERM that must leave no telegen program behind.
//!
//! Needs root (it loads BPF programs); fails loudly without it.

use crate::common::agent::Agent;
use crate::common::bpftool::program_names;
use crate::common::ports::free_port;
use crate::common::prom::Prometheus;
use crate::common::root::root_test;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// The loaded kernel programs that are telegen's (their names start with `tg_`).
fn telegen_programs() -> Vec<String> {
    program_names("tg_")
}

fn events<'a>(recs: &'a [serde_json::Value], name: &str, port: u16) -> Vec<&'a serde_json::Value> {
    recs.iter()
        .filter(|r| r["type"] == "event" && r["name"] == name)
        .filter(|r| {
            let a = &r["attributes"];
            a["net.peer.port"] == port || a["net.host.port"] == port
        })
        .collect()
}

#[test]
fn tcp_connections_metrics_json_and_clean_exit() {
    let _root = root_test(module_path!());
    let before = telegen_programs();
    let agent = Agent::start("");

    // A server that reads everything and answers with a known number of bytes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sport = listener.local_addr().unwrap().port();
    const N: usize = 20;
    const REQ: usize = 3000;
    const RESP: usize = 1234;
    let server = std::thread::spawn(move || {
        for _ in 0..N {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; REQ];
            s.read_exact(&mut buf).unwrap();
            s.write_all(&vec![b'r'; RESP]).unwrap();
        }
    });
    for _ in 0..N {
        let mut c = TcpStream::connect(("127.0.0.1", sport)).unwrap();
        c.write_all(&vec![b'q'; REQ]).unwrap();
        let mut buf = vec![0u8; RESP];
        c.read_exact(&mut buf).unwrap();
    }
    server.join().unwrap();

    // A refused connection: a port nobody listens on.
    let closed = free_port();
    assert!(TcpStream::connect(("127.0.0.1", closed)).is_err());

    // Keep two connections open so `established` is non-zero while Prometheus looks.
    let keep = TcpListener::bind("127.0.0.1:0").unwrap();
    let kport = keep.local_addr().unwrap().port();
    let _k1 = TcpStream::connect(("127.0.0.1", kport)).unwrap();
    let _k1s = keep.accept().unwrap();

    let me = std::process::id() as i64;
    let recs = agent.collect(Duration::from_secs(20), |r| {
        events(r, "tcp.connection.close", sport).len() >= 2 * N
            && !events(r, "tcp.connection.error", closed).is_empty()
    });

    // Exactly N client-side and N server-side closes for our port, with exact bytes.
    let closes = events(&recs, "tcp.connection.close", sport);
    let client: Vec<_> =
        closes.iter().filter(|r| r["attributes"]["connection.role"] == "client").collect();
    let server: Vec<_> =
        closes.iter().filter(|r| r["attributes"]["connection.role"] == "server").collect();
    assert_eq!(client.len(), N, "client-side closes: {closes:#?}");
    assert_eq!(server.len(), N, "server-side closes: {closes:#?}");
    for c in &client {
        let a = &c["attributes"];
        assert_eq!(a["tcp.bytes_sent"], REQ as i64, "{a}");
        assert_eq!(a["tcp.bytes_received"], RESP as i64, "{a}");
        assert_eq!(a["process.pid"], me, "{a}");
        assert_eq!(a["net.peer.port"], sport as i64);
        assert!(a["network.namespace"].as_i64().unwrap() > 0);
    }
    for s in &server {
        let a = &s["attributes"];
        assert_eq!(a["tcp.bytes_sent"], RESP as i64, "{a}");
        assert_eq!(a["tcp.bytes_received"], REQ as i64, "{a}");
        assert_eq!(a["process.pid"], me, "{a}");
    }
    let opens = events(&recs, "tcp.connection.open", sport);
    assert_eq!(opens.iter().filter(|r| r["attributes"]["connection.role"] == "client").count(), N);
    let err = events(&recs, "tcp.connection.error", closed);
    assert_eq!(err.len(), 1, "{err:#?}");
    assert_eq!(err[0]["attributes"]["error.type"], "refused");

    // The documented PromQL queries, against a real Prometheus.
    let prom = Prometheus::start(agent.metrics, "/metrics");
    let est = prom.wait_for(
        r#"telegen_tcp_connections{state="established"}"#,
        Duration::from_secs(30),
        |v| v >= 2.0,
    );
    assert!(est >= 2.0);
    prom.wait_for(
        r#"sum(rate(telegen_tcp_connection_errors_total[5m])) by (error_type)"#,
        Duration::from_secs(30),
        |v| v >= 0.0,
    );
    let q = prom.query(r#"sum(telegen_tcp_connection_errors_total{error_type="refused"})"#);
    let refused: f64 = q["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(refused >= 1.0, "{q}");
    prom.wait_for(
        "sum(rate(telegen_tcp_retransmits_total[5m])) / sum(rate(telegen_tcp_segments_total[5m]))",
        Duration::from_secs(30),
        |v| (0.0..=1.0).contains(&v),
    );

    // SIGTERM: exit 0 and nothing of ours left in the kernel.
    let st = agent.stop();
    assert!(st.success(), "telegen exited with {st}");
    let after = telegen_programs();
    assert!(after.len() <= before.len(), "telegen programs left behind: {after:#?}");
}
