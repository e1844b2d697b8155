//! Benchmark for issue "TCP connection observability": a loopback client opens and closes
//! connections at a target rate for a fixed time, once without the agent and once with it
//! (interleaved, repeated), and reports achieved rate, client CPU per connection, agent
//! CPU and peak RSS, and the agent's own drop counters.
//!
//! Run (root): cargo run --release --example tcp_conn_rate -- [rate] [seconds] [repeats] [client threads]
//! TCP_CONN_BPF_STATS=1 also reports each kernel program's runs and time per connection
//! (kernel.bpf_stats_enabled for the run, restored at the end).
//! Results go to docs/benchmarks.md by hand, with the command line.

#[path = "agent.rs"]
mod agent;
#[path = "bpf_stats.rs"]
mod bpf_stats;

use agent::{cpu_ticks, metric, scrape, status_kb};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn self_cpu_ticks() -> u64 {
    cpu_ticks(std::process::id())
}

/// Opens and closes connections at `rate`/s for `secs` from `threads` client threads
/// (each paced to its share) against `threads` blocking acceptors; returns connections
/// made. One thread cannot go past about 6k connections/s on loopback (each connection
/// is a full round trip), so the rate is spread.
fn load(rate: u64, secs: u64, threads: u64) -> u64 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let servers: Vec<_> = (0..threads)
        .map(|_| {
            let l = l.try_clone().unwrap();
            let st = stop.clone();
            std::thread::spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    if let Ok((mut s, _)) = l.accept() {
                        let mut b = [0u8; 16];
                        let _ = s.read(&mut b);
                        let _ = s.write_all(b"ok");
                    }
                }
            })
        })
        .collect();
    let share = rate as f64 / threads as f64;
    let clients: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let t0 = Instant::now();
                let mut made = 0u64;
                let end = Duration::from_secs(secs);
                while t0.elapsed() < end {
                    let due = (t0.elapsed().as_secs_f64() * share) as u64;
                    if made >= due {
                        std::thread::sleep(Duration::from_micros(100));
                        continue;
                    }
                    if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
                        let _ = c.write_all(b"hello");
                        let mut b = [0u8; 2];
                        let _ = c.read_exact(&mut b);
                        made += 1;
                    }
                }
                made
            })
        })
        .collect();
    let made = clients.into_iter().map(|c| c.join().unwrap_or(0)).sum();
    stop.store(true, Ordering::Relaxed);
    // Wake every acceptor blocked in accept().
    for _ in &servers {
        let _ = TcpStream::connect(("127.0.0.1", port));
    }
    for s in servers {
        let _ = s.join();
    }
    made
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let reps: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    let threads: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2).max(1);
    let bpf_stats = std::env::var("TCP_CONN_BPF_STATS").is_ok_and(|v| v == "1");
    let _stats = bpf_stats.then(bpf_stats::Enabled::new);
    let bin = std::env::var("TELEGEN_BIN").unwrap_or_else(|_| "target/release/telegen".into());
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    println!("| run | agent | conns/s achieved | client+server CPU µs/conn | agent CPU % of one core | agent RSS MB, max during the load (start-up peak) | kernel losses | user losses | connections counted |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for rep in 0..reps {
        for with_agent in [false, true] {
            let addr: std::net::SocketAddr = "127.0.0.1:19464".parse().unwrap();
            let agent = with_agent.then(|| agent::start(&bin, &[], addr));
            let a0 = agent.as_ref().map(|c| cpu_ticks(c.id())).unwrap_or(0);
            let s0 = self_cpu_ticks();
            let t0 = Instant::now();
            // The agent's resident set, sampled every 250 ms while the load runs.
            let sampling = Arc::new(AtomicBool::new(true));
            let sampler = agent.as_ref().map(|c| {
                let (pid, on) = (c.id(), sampling.clone());
                std::thread::spawn(move || {
                    let mut max = 0;
                    while on.load(Ordering::Relaxed) {
                        max = max.max(status_kb(pid, "VmRSS:"));
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    max
                })
            });
            let p0 = bpf_stats::progs();
            let n = load(rate, secs, threads);
            if bpf_stats && with_agent {
                let p1 = bpf_stats::progs();
                let (ns, runs) = bpf_stats::total(&p0, &p1);
                eprintln!(
                    "kernel programs per connection: {:.2} µs, {:.1} runs",
                    ns as f64 / 1e3 / n.max(1) as f64,
                    runs as f64 / n.max(1) as f64
                );
                bpf_stats::print_per(&p0, &p1, n, "conn");
            }
            sampling.store(false, Ordering::Relaxed);
            let rss_max = sampler.map(|t| t.join().unwrap_or(0)).unwrap_or(0);
            let wall = t0.elapsed().as_secs_f64();
            let s1 = self_cpu_ticks();
            let (acpu, rss, kd, ud, counted) = match &agent {
                Some(c) => {
                    std::thread::sleep(Duration::from_secs(2));
                    let a1 = cpu_ticks(c.id());
                    let body = scrape(addr).unwrap_or_default();
                    (
                        format!("{:.2}", (a1 - a0) as f64 / tick / wall * 100.0),
                        format!(
                            "{:.1} ({:.1})",
                            rss_max as f64 / 1024.0,
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
                        format!(
                            "{}",
                            metric(&body, "telegen_tcp_connections_opened_total{role=\"client\"")
                        ),
                    )
                }
                None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
            };
            println!(
                "| {} | {} | {:.0} | {:.1} | {acpu} | {rss} | {kd} | {ud} | {counted} (made {n}) |",
                rep + 1,
                if with_agent { "on" } else { "off" },
                n as f64 / wall,
                (s1 - s0) as f64 / tick * 1e6 / n.max(1) as f64,
            );
            if let Some(c) = agent {
                agent::stop(c);
            }
        }
    }
}
