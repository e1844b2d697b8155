//! The agent process as the benchmark examples see it (`#[path]` module of
//! tcp_conn_rate.rs and grpc_load.rs): start it with a Prometheus endpoint, wait until
//! it serves, read its CPU and memory from /proc, scrape its counters, stop it by PID.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// User + system clock ticks of `pid` so far.
pub fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
}

/// A kB field of /proc/PID/status (`VmRSS:`, `VmHWM:`...).
pub fn status_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// GET /metrics over plain HTTP/1.0; None if the endpoint does not answer 200.
pub fn scrape(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let (head, rest) = body.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200")).then(|| rest.to_string())
}

/// Sum of the samples whose line starts with `prefix`.
pub fn metric(body: &str, prefix: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Starts `bin run [extra...]` with Prometheus on `addr` (default configuration
/// otherwise) and returns once every program is loaded and the endpoint serves.
pub fn start(bin: &str, extra: &[&str], addr: SocketAddr) -> Child {
    let cfg = std::env::temp_dir().join(format!("telegen-bench-{}.yaml", addr.port()));
    std::fs::write(&cfg, format!("agent:\n  exporters:\n    prometheus:\n      listen: {addr}\n"))
        .unwrap();
    let c = Command::new(bin)
        .arg("run")
        .args(extra)
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start telegen");
    let t0 = Instant::now();
    while scrape(addr).is_none() {
        assert!(t0.elapsed() < Duration::from_secs(120), "telegen did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    c
}

/// SIGTERM, then SIGKILL after 20 s; reaps the child.
pub fn stop(mut c: Child) {
    // SAFETY: kill(2) on the PID of our own child.
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    while c.try_wait().ok().flatten().is_none() {
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = c.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.wait();
}
