//! The `telegen` binary under test: started with a configuration, its JSON lines read
//! on a thread, its metrics endpoint polled until it serves, stopped with SIGTERM; and
//! the settings and record filters the end-to-end tests share.

#![allow(dead_code)]

use super::ports::free_port;
use super::prom::http_get;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Agent {
    pub child: Child,
    pub lines: mpsc::Receiver<serde_json::Value>,
    pub metrics: SocketAddr,
    pub dir: std::path::PathBuf,
}
impl Agent {
    /// Starts `telegen run --json` with the YAML under `agent:` plus `extra_yaml` (lines
    /// indented by two spaces, e.g. "  network:\n    tcp:\n      sample_rate: 2\n"),
    /// and extra environment variables.
    pub fn start(extra_yaml: &str) -> Agent {
        Self::start_env(extra_yaml, &[])
    }

    pub fn start_env(extra_yaml: &str, env: &[(&str, &str)]) -> Agent {
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
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
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
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "telegen did not serve /metrics in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Agent { child, lines: rx, metrics, dir }
    }

    /// Collects JSON records until `done` says enough or `timeout` passes.
    pub fn collect(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
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

    pub fn stop(mut self) -> std::process::ExitStatus {
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
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Scrapes the agent's /metrics and sums the samples whose line starts with `prefix`.
pub fn scrape_sum(addr: SocketAddr, prefix: &str) -> f64 {
    let (_, body) = http_get(addr, "/metrics").expect("scraping telegen");
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Agent settings that keep only `ports`: other work on the machine stays out of the JSON
/// stream the test reads.
pub fn only_ports(ports: &[u16]) -> String {
    let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    format!("  network:\n    include_ports: [{}]\n", list.join(", "))
}

/// The spans of `kind` ("SERVER", "CLIENT") whose server port is `port`.
pub fn spans<'a>(
    recs: &'a [serde_json::Value],
    kind: &str,
    port: u16,
) -> Vec<&'a serde_json::Value> {
    recs.iter()
        .filter(|r| r["type"] == "span" && r["kind"] == kind)
        .filter(|r| r["attributes"]["server.port"] == port)
        .collect()
}
