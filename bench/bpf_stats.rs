//! Kernel-side cost of the agent's programs for the benchmark examples (`#[path]`
//! module of tcp_conn_rate.rs and grpc_load.rs): `kernel.bpf_stats_enabled` for the run,
//! per-program run time and count from `bpftool prog show --json`.

use std::collections::BTreeMap;
use std::process::Command;

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Turns `kernel.bpf_stats_enabled` on while alive (it adds a little cost to every
/// program run) and restores the previous value on drop.
pub struct Enabled(String);

impl Enabled {
    pub fn new() -> Enabled {
        let before = std::fs::read_to_string(SYSCTL).unwrap_or_default();
        std::fs::write(SYSCTL, "1").expect("enabling kernel.bpf_stats_enabled");
        Enabled(before)
    }
}

impl Drop for Enabled {
    fn drop(&mut self) {
        let _ = std::fs::write(SYSCTL, self.0.trim());
    }
}

/// (run time ns, run count) of every loaded telegen program (`tg_*`), by name.
pub type Progs = BTreeMap<String, (u64, u64)>;

pub fn progs() -> Progs {
    let mut m = Progs::new();
    let Ok(out) = Command::new("bpftool").args(["prog", "show", "--json"]).output() else {
        return m;
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    for p in v.as_array().cloned().unwrap_or_default() {
        let Some(name) = p["name"].as_str().filter(|n| n.starts_with("tg_")) else { continue };
        let e = m.entry(name.to_string()).or_default();
        e.0 += p["run_time_ns"].as_u64().unwrap_or(0);
        e.1 += p["run_cnt"].as_u64().unwrap_or(0);
    }
    m
}

/// (ns, runs) of all programs between two snapshots.
pub fn total(before: &Progs, after: &Progs) -> (u64, u64) {
    rows(before, after).iter().fold((0, 0), |(t, n), r| (t + r.0, n + r.1))
}

/// (ns, runs, name) of each program that ran between two snapshots, costliest first.
pub fn rows<'a>(before: &Progs, after: &'a Progs) -> Vec<(u64, u64, &'a str)> {
    let mut rows: Vec<(u64, u64, &str)> = after
        .iter()
        .map(|(k, &(t, n))| {
            let (t0, n0) = before.get(k).copied().unwrap_or_default();
            (t.saturating_sub(t0), n.saturating_sub(n0), k.as_str())
        })
        .filter(|r| r.1 > 0)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows
}

/// Prints each program's runs and time per `unit` (per call, per connection) to stderr.
pub fn print_per(before: &Progs, after: &Progs, units: u64, unit: &str) {
    let u = units.max(1) as f64;
    for (t, n, k) in rows(before, after) {
        eprintln!(
            "  {k:<24} runs/{unit} {:5.2}  ns/run {:6.0}  ns/{unit} {:6.0}",
            n as f64 / u,
            t as f64 / n as f64,
            t as f64 / u
        );
    }
}
