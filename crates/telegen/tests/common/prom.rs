//! A real Prometheus server for end-to-end metric tests: Debian's `prometheus` binary,
//! started with a private configuration and storage directory, scraping the agent every
//! second; queries go through its HTTP API.

#![allow(dead_code)]

use super::ports::free_port;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (host:port) at `metrics_path`.
    pub fn start(target: SocketAddr, metrics_path: &str) -> Prometheus {
        let bin = which("prometheus").expect(
            "the `prometheus` binary is missing: apt-get install prometheus (.ci/run does)",
        );
        let dir = std::env::temp_dir().join(format!(
            "telegen-prom-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let cfg = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: telegen\n    metrics_path: {metrics_path}\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), cfg).unwrap();
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus");
        let p = Prometheus { child, dir, addr };
        let t0 = Instant::now();
        while http_get(addr, "/-/ready").map(|(c, _)| c != 200).unwrap_or(true) {
            assert!(t0.elapsed() < Duration::from_secs(30), "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// Runs an instant PromQL query; returns the raw JSON answer.
    pub fn query(&self, promql: &str) -> serde_json::Value {
        let path = format!("/api/v1/query?query={}", urlencode(promql));
        let (code, body) = http_get(self.addr, &path).expect("querying prometheus");
        assert_eq!(code, 200, "prometheus answered {code}: {body}");
        serde_json::from_str(&body).expect("prometheus JSON")
    }

    /// Polls `promql` until it returns at least one series whose value satisfies `pred`,
    /// or fails after `timeout` with the last answer.
    pub fn wait_for(&self, promql: &str, timeout: Duration, pred: impl Fn(f64) -> bool) -> f64 {
        let t0 = Instant::now();
        loop {
            let v = self.query(promql);
            if let Some(results) = v["data"]["result"].as_array() {
                for r in results {
                    if let Some(x) = r["value"][1].as_str().and_then(|s| s.parse::<f64>().ok()) {
                        if pred(x) {
                            return x;
                        }
                    }
                }
            }
            assert!(
                t0.elapsed() < timeout,
                "PromQL {promql:?} never satisfied the condition; last answer: {v}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

fn urlencode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Minimal HTTP/1.0 GET over loopback; returns (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((code, body))
}
