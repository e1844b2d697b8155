//! Benchmark for issue 6 (HTTP/2 and gRPC tracing): the agent's overhead on a gRPC load
//! test. A tonic health server (grpc.health.v1.Health, a child process: this program
//! re-executed with `serve`) on 127.0.0.1, and a tonic client in this process that keeps
//! C unary Check calls in flight over N HTTP/2 connections for S seconds (and at most
//! MAX calls). Runs without and with the agent, interleaved (off, on, off, on...), R times,
//! and prints one markdown row per run: calls/s, p50/p99 latency, client+server CPU per
//! call, agent CPU, agent RSS, agent losses, and the calls the agent counted
//! (`rpc_server_requests_total` / `rpc_client_requests_total`, summed) against those made.
//!
//! Run (root): sudo bench/grpc_load.sh [seconds=15] [repeats=3] [concurrency=32]
//!   [connections=2] [agent mode: metrics|json]
//! or: cargo run --release -p telegen --example grpc_load -- S R C N [metrics|json]
//! `metrics` is the default configuration (Prometheus only: RED metrics, no span is
//! built); `json` adds `--json` with stdout to /dev/null (every span built and written).
//! GRPC_LOAD_BPF_STATS=1 also turns on kernel.bpf_stats_enabled for the run (restored at
//! the end; it adds a little cost to every program run) and reports the kernel-side time
//! of the agent's programs (`tg_*`, from `bpftool prog show --json`) per call.
//! Traffic stays on 127.0.0.1; only processes started here are stopped, by PID.

#[path = "agent.rs"]
mod agent;
#[path = "bpf_stats.rs"]
mod bpf_stats;

use agent::{cpu_ticks, metric, scrape, status_kb};

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::{Endpoint, Server};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// Upper bound of calls per run, whatever the duration.
const MAX_CALLS: u64 = 20_000_000;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The server child: serves grpc.health.v1.Health on the port, prints "ready".
fn serve(port: u16) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let (_reporter, health) = tonic_health::server::health_reporter();
        println!("ready");
        std::io::stdout().flush().unwrap();
        Server::builder()
            .add_service(health)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
}

struct Load {
    calls: u64,
    errors: u64,
    wall: f64,
    p50_us: u64,
    p99_us: u64,
}

/// `conc` tasks, each with one call in flight, spread over `conns` connections.
fn load(port: u16, secs: u64, conc: usize, conns: usize) -> Load {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let mut channels = Vec::new();
        for _ in 0..conns.max(1) {
            // Each Endpoint::connect is its own HTTP/2 connection.
            let ch = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
                .expect("connecting to the server");
            channels.push(ch);
        }
        let budget = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(MAX_CALLS));
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for i in 0..conc.max(1) {
            let mut client = HealthClient::new(channels[i % channels.len()].clone());
            let budget = budget.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                while Instant::now() < end
                    && budget
                        .fetch_update(
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                            |b| b.checked_sub(1),
                        )
                        .is_ok()
                {
                    let c0 = Instant::now();
                    let r = client.check(HealthCheckRequest { service: String::new() }).await;
                    lat.push(c0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    if r.is_err() {
                        errors += 1;
                    }
                }
                (lat, errors)
            }));
        }
        let mut all: Vec<u32> = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.unwrap();
            all.extend(l);
            errors += e;
        }
        let wall = t0.elapsed().as_secs_f64();
        all.sort_unstable();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0) as u64
        };
        Load { calls: all.len() as u64, errors, wall, p50_us: pct(0.50), p99_us: pct(0.99) }
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve(args[2].parse().expect("serve PORT"));
    }
    assert!(unsafe { libc::geteuid() } == 0, "the benchmark loads kernel programs: run as root");
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15);
    let reps: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let conc: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let conns: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2);
    let json = args.get(5).map(String::as_str) == Some("json");
    let bin = std::env::var("TELEGEN_BIN").unwrap_or_else(|_| "target/release/telegen".into());
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let bpf_stats = std::env::var("GRPC_LOAD_BPF_STATS").is_ok_and(|v| v == "1");
    let _stats = bpf_stats.then(bpf_stats::Enabled::new);

    let port = free_port();
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args(["serve", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the server child");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the server child did not start");
    let spid = server.id();

    println!(
        "grpc_load: {secs} s per run, {reps} repeats, {conc} calls in flight over {conns} \
         connections, agent mode {}, server pid {spid}, port {port}",
        if json { "json" } else { "metrics (default config)" }
    );
    let bpf_col = if bpf_stats { " BPF µs/call (runs/call) |" } else { "" };
    let bpf_sep = if bpf_stats { "---|" } else { "" };
    println!("| run | agent | calls/s | p50 µs | p99 µs | client+server CPU µs/call | agent CPU % of one core | agent µs/call | agent RSS MB at the load's end (start-up peak) | kernel losses | user losses | server calls counted / made | client calls counted |{bpf_col}");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|{bpf_sep}");
    let mut sums = [(0.0f64, 0u32); 2];
    for rep in 0..reps {
        for with_agent in [false, true] {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let agent =
                with_agent.then(|| agent::start(&bin, if json { &["--json"] } else { &[] }, addr));
            let a0 = agent.as_ref().map(|c| cpu_ticks(c.id())).unwrap_or(0);
            let p0 = bpf_stats::progs();
            let c0 = cpu_ticks(std::process::id()) + cpu_ticks(spid);
            let l = load(port, secs, conc, conns);
            let rss_end = agent.as_ref().map(|c| status_kb(c.id(), "VmRSS:")).unwrap_or(0);
            let c1 = cpu_ticks(std::process::id()) + cpu_ticks(spid);
            let p1 = bpf_stats::progs();
            let (bpf_ns, bpf_runs) = bpf_stats::total(&p0, &p1);
            if bpf_stats && with_agent {
                bpf_stats::print_per(&p0, &p1, l.calls, "call");
            }
            let bpf = match (bpf_stats, with_agent) {
                (false, _) => String::new(),
                (true, false) => " - |".to_string(),
                (true, true) => format!(
                    " {:.2} ({:.1}) |",
                    bpf_ns as f64 / 1e3 / l.calls.max(1) as f64,
                    bpf_runs as f64 / l.calls.max(1) as f64
                ),
            };
            let a1 = agent.as_ref().map(|c| cpu_ticks(c.id())).unwrap_or(0);
            let rate = l.calls as f64 / l.wall;
            sums[usize::from(with_agent)].0 += rate;
            sums[usize::from(with_agent)].1 += 1;
            let (acpu, aper, rss, kd, ud, srv, cli) = match &agent {
                Some(c) => {
                    // Counters settle: wait until the server count stops moving (bounded).
                    let t0 = Instant::now();
                    let mut last = -1.0;
                    let mut body = String::new();
                    while t0.elapsed() < Duration::from_secs(10) {
                        std::thread::sleep(Duration::from_millis(500));
                        body = scrape(addr).unwrap_or_default();
                        let n = metric(&body, "rpc_server_requests_total{");
                        if n == last {
                            break;
                        }
                        last = n;
                    }
                    let secs_cpu = (a1 - a0) as f64 / tick;
                    (
                        format!("{:.1}", secs_cpu / l.wall * 100.0),
                        format!("{:.2}", secs_cpu * 1e6 / l.calls.max(1) as f64),
                        format!(
                            "{:.1} ({:.1})",
                            rss_end as f64 / 1024.0,
                            status_kb(c.id(), "VmHWM:") as f64 / 1024.0
                        ),
                        format!(
                            "{}",
                            metric(&body, "telegen_events_dropped_total{source=\"kernel\"")
                        ),
                        format!(
                            "{}",
                            metric(&body, "telegen_events_dropped_total{source=\"user\"")
                        ),
                        format!("{} / {}", metric(&body, "rpc_server_requests_total{"), l.calls),
                        format!("{}", metric(&body, "rpc_client_requests_total{")),
                    )
                }
                None => {
                    let d = "-".to_string();
                    (
                        d.clone(),
                        d.clone(),
                        d.clone(),
                        d.clone(),
                        d.clone(),
                        format!("- / {}", l.calls),
                        d,
                    )
                }
            };
            println!(
                "| {} | {} | {:.0} | {} | {} | {:.1} | {acpu} | {aper} | {rss} | {kd} | {ud} | {srv} | {cli} |{bpf}{}",
                rep + 1,
                if with_agent { "on" } else { "off" },
                rate,
                l.p50_us,
                l.p99_us,
                (c1 - c0) as f64 / tick * 1e6 / l.calls.max(1) as f64,
                if l.errors > 0 { format!(" {} errors", l.errors) } else { String::new() },
            );
            if let Some(c) = agent {
                agent::stop(c);
            }
        }
    }
    let (off, on) = (sums[0].0 / sums[0].1.max(1) as f64, sums[1].0 / sums[1].1.max(1) as f64);
    println!(
        "\nmean calls/s: off {off:.0}, on {on:.0}: with/without = {:.3} ({:+.1} %)",
        on / off,
        (on / off - 1.0) * 100.0
    );
    let _ = server.kill();
    let _ = server.wait();
}
