//! End to end, as a user runs it: the `telegen` binary with real kernel programs, real
//! TCP traffic on loopback, a real Prometheus scraping the agent and answering the
//! documented PromQL queries, JSON lines checked for exact connection facts, and a
//! SIGTERM that must leave no telegen program behind.
//!
//! Needs root (it loads BPF programs); fails loudly without it.

mod common;

use common::prom::{free_port, http_get, Prometheus};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn require_root() {
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test loads eBPF programs and must run as root (sudo ./scripts/test.sh)"
    );
}

struct Agent {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    metrics: SocketAddr,
    _dir: std::path::PathBuf,
}

impl Agent {
    fn start(extra_yaml: &str) -> Agent {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("telegen-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = format!(
            "agent:\n  exporters:\n    prometheus:\n      listen: 127.0.0.1:{port}\n{extra_yaml}"
        );
        let path = dir.join("telegen.yaml");
        std::fs::write(&path, cfg).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_telegen"))
            .args(["run", "--json", "--config"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting telegen");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                match serde_json::from_str(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(e) => panic!("telegen printed a line that is not JSON ({e}): {line}"),
                }
            }
        });
        let metrics: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let t0 = Instant::now();
        while http_get(metrics, "/metrics").map(|(c, _)| c != 200).unwrap_or(true) {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("telegen exited during start-up: {st}");
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "telegen did not serve /metrics in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Agent { child, lines: rx, metrics, _dir: dir }
    }

    /// Collects JSON records until `done` says enough or `timeout` passes.
    fn collect(&self, timeout: Duration, mut done: impl FnMut(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
        let mut got = Vec::new();
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Ok(v) = self.lines.recv_timeout(Duration::from_millis(100)) {
                got.push(v);
                if done(&got) {
                    break;
                }
            }
        }
        got
    }

    fn stop(mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("telegen did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn telegen_programs() -> Vec<String> {
    let out = Command::new("bpftool").args(["prog", "show"]).output().expect("bpftool (apt-get install bpftool)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" name tg_"))
        .map(str::to_string)
        .collect()
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
    require_root();
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
        events(r, "tcp.connection.close", sport).len() >= 2 * N && !events(r, "tcp.connection.error", closed).is_empty()
    });

    // Exactly N client-side and N server-side closes for our port, with exact bytes.
    let closes = events(&recs, "tcp.connection.close", sport);
    let client: Vec<_> = closes.iter().filter(|r| r["attributes"]["connection.role"] == "client").collect();
    let server: Vec<_> = closes.iter().filter(|r| r["attributes"]["connection.role"] == "server").collect();
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
    let est = prom.wait_for(r#"telegen_tcp_connections{state="established"}"#, Duration::from_secs(30), |v| v >= 2.0);
    assert!(est >= 2.0);
    prom.wait_for(r#"sum(rate(telegen_tcp_connection_errors_total[5m])) by (error_type)"#, Duration::from_secs(30), |v| v >= 0.0);
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
