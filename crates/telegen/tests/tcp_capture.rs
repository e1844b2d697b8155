//! TcpCapture against the real kernel: two network namespaces joined by a veth pair, a
//! server in one and clients in the other (threads that setns), exact assertions on the
//! connection events. Needs root; fails with a clear message without it.
//!
//! Tests are serialised (one capture at a time) so that the program-cleanup check and the
//! kernel counters are not disturbed by a sibling test.

mod common;

use common::netns::{require_root, NetnsPair, Side};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use telegen::capture::{ConnError, ConnEvent, ConnEventKind, ConnRole, TcpCapture, TcpCaptureOptions};
use tokio::sync::mpsc::Receiver;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const REPLY: usize = 3000;

/// Server in `side`: accepts `n` connections on each port, reads to EOF, replies REPLY bytes.
fn start_servers(pair: &NetnsPair, side: Side, ip: IpAddr, ports: &[u16], n: usize) -> Vec<std::thread::JoinHandle<()>> {
    let mut handles = Vec::new();
    for &port in ports {
        let (tx, rx) = std::sync::mpsc::channel();
        handles.push(pair.spawn_in(side, move || {
            let l = TcpListener::bind(SocketAddr::new(ip, port)).expect("bind in netns");
            tx.send(()).unwrap();
            for _ in 0..n {
                let (mut s, _) = l.accept().expect("accept");
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).expect("server read");
                s.write_all(&vec![b'r'; REPLY]).expect("server write");
            }
        }));
        rx.recv_timeout(Duration::from_secs(5)).expect("server did not start");
    }
    handles
}

/// Client in `side`: connection i sends `size(i)` bytes, half-closes, reads the reply.
/// Returns local port -> bytes sent.
fn run_clients(pair: &NetnsPair, side: Side, dst: SocketAddr, n: usize, size: fn(usize) -> usize) -> HashMap<u16, usize> {
    pair.run_in(side, move || {
        let mut out = HashMap::new();
        for i in 0..n {
            let mut s = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).expect("connect");
            out.insert(s.local_addr().unwrap().port(), size(i));
            s.write_all(&vec![b'c'; size(i)]).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).unwrap();
            assert_eq!(buf.len(), REPLY);
        }
        out
    })
}

fn join_all(h: Vec<std::thread::JoinHandle<()>>) {
    for h in h {
        h.join().expect("server thread panicked");
    }
}

/// Collects events of the given namespaces until `done` holds (then 300 ms more, to
/// catch duplicates) or `timeout` passes.
async fn collect(rx: &mut Receiver<ConnEvent>, netns: &[u32], timeout: Duration, done: impl Fn(&[ConnEvent]) -> bool) -> Vec<ConnEvent> {
    let mut out = Vec::new();
    let t0 = Instant::now();
    let mut done_at: Option<Instant> = None;
    loop {
        let limit = match done_at {
            Some(d) => d + Duration::from_millis(300),
            None => t0 + timeout,
        };
        let now = Instant::now();
        if now >= limit {
            break;
        }
        match tokio::time::timeout(limit - now, rx.recv()).await {
            Ok(Some(ev)) => {
                if netns.contains(&ev.netns) {
                    out.push(ev);
                }
            }
            Ok(None) => panic!("event channel closed"),
            Err(_) => break,
        }
        if done_at.is_none() && done(&out) {
            done_at = Some(Instant::now());
        }
    }
    out
}

fn count(evs: &[ConnEvent], role: ConnRole, pred: impl Fn(&ConnEventKind) -> bool) -> usize {
    evs.iter().filter(|e| e.role == role && pred(&e.kind)).count()
}

fn is_open(k: &ConnEventKind) -> bool {
    matches!(k, ConnEventKind::Open)
}
fn is_close(k: &ConnEventKind) -> bool {
    matches!(k, ConnEventKind::Close)
}

fn bpftool_json(what: &str) -> serde_json::Value {
    let out = std::process::Command::new("bpftool").args(["-j", what, "show"]).output().expect("bpftool");
    assert!(out.status.success(), "bpftool {what} show failed");
    serde_json::from_slice(&out.stdout).expect("bpftool JSON")
}

/// After the capture is dropped none of its programs, nor links to them, may remain.
/// The kernel frees programs after an RCU grace period, so this polls for up to 5 s.
fn assert_detached(ids: &[u32]) {
    assert!(!ids.is_empty(), "the capture reported no program ids");
    let t0 = Instant::now();
    loop {
        let progs = bpftool_json("prog");
        let live: Vec<u64> = progs
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["id"].as_u64())
            .filter(|id| ids.iter().any(|&i| i as u64 == *id))
            .collect();
        let links = bpftool_json("link");
        let live_links: Vec<&serde_json::Value> = links
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| ids.iter().any(|&i| Some(i as u64) == l["prog_id"].as_u64()))
            .collect();
        if live.is_empty() && live_links.is_empty() {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "after drop, programs {live:?} and links {live_links:?} are still in the kernel"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start(opts: TcpCaptureOptions) -> (TcpCapture, Receiver<ConnEvent>) {
    require_root();
    let (cap, rx) = TcpCapture::start(opts).expect("TcpCapture::start");
    let lifecycle = &cap.attached()[0];
    assert!(lifecycle.status.is_attached(), "lifecycle hook not attached: {lifecycle:?}");
    (cap, rx)
}

/// N connections: exactly N opens/closes per side with pid, ports, netns and bytes.
async fn open_close_exact(ipv6: bool) {
    let _s = serial();
    let pair = NetnsPair::new(if ipv6 { "oc6" } else { "oc4" });
    let (cap, mut rx) = start(TcpCaptureOptions { existing: false, ..Default::default() });
    let ids = cap.program_ids();
    const N: usize = 20;
    let ip_a = if ipv6 { pair.ip6(Side::A) } else { pair.ip4(Side::A) };
    let ip_b = if ipv6 { pair.ip6(Side::B) } else { pair.ip4(Side::B) };
    let servers = start_servers(&pair, Side::A, ip_a, &[8080], N);
    let sent = run_clients(&pair, Side::B, SocketAddr::new(ip_a, 8080), N, |i| 1000 + 17 * i);
    join_all(servers);
    let evs = collect(&mut rx, &[pair.ino_a, pair.ino_b], Duration::from_secs(10), |e| {
        count(e, ConnRole::Client, is_close) >= N && count(e, ConnRole::Server, is_close) >= N
    })
    .await;
    let me = std::process::id();
    let exe = std::env::current_exe().unwrap().to_string_lossy().into_owned();
    for role in [ConnRole::Client, ConnRole::Server] {
        assert_eq!(count(&evs, role, is_open), N, "{role:?} opens; events: {evs:#?}");
        assert_eq!(count(&evs, role, is_close), N, "{role:?} closes");
        assert_eq!(count(&evs, role, |k| matches!(k, ConnEventKind::Established)), N, "{role:?} established");
        assert_eq!(count(&evs, role, |k| matches!(k, ConnEventKind::Error { .. })), 0, "{role:?} errors");
    }
    let mut open_ids = HashSet::new();
    for e in &evs {
        let p = e.process.as_ref().unwrap_or_else(|| panic!("no process on {e:?}"));
        assert_eq!(p.pid, me, "pid of {e:?}");
        assert_eq!(p.exe.as_deref(), Some(exe.as_str()));
        match e.role {
            ConnRole::Client => {
                assert_eq!(e.netns, pair.ino_b);
                assert_eq!(e.remote, SocketAddr::new(ip_a, 8080));
                assert_eq!(e.local.ip(), ip_b);
                let want = *sent.get(&e.local.port()).unwrap_or_else(|| panic!("unknown client port {e:?}"));
                if is_close(&e.kind) {
                    assert_eq!((e.bytes_sent, e.bytes_received), (want as u64, REPLY as u64), "{e:?}");
                }
            }
            ConnRole::Server => {
                assert_eq!(e.netns, pair.ino_a);
                assert_eq!(e.local, SocketAddr::new(ip_a, 8080));
                assert_eq!(e.remote.ip(), ip_b);
                let want = *sent.get(&e.remote.port()).unwrap_or_else(|| panic!("unknown peer port {e:?}"));
                if is_close(&e.kind) {
                    assert_eq!((e.bytes_sent, e.bytes_received), (REPLY as u64, want as u64), "{e:?}");
                    assert!(e.segs_in > 0 && e.segs_out > 0);
                }
            }
            ConnRole::Unknown => panic!("unexpected role in {e:?}"),
        }
        if is_open(&e.kind) {
            assert!(open_ids.insert(e.conn_id), "conn_id reused: {e:?}");
        }
        if is_close(&e.kind) {
            assert!(open_ids.contains(&e.conn_id), "close without open: {e:?}");
        }
        let age = telegen::util::unix_now_ns().abs_diff(e.ts_ns);
        assert!(age < 60_000_000_000, "timestamp not Unix-epoch-like: {e:?}");
    }
    let st = cap.stats();
    assert_eq!(st.user_channel_dropped + st.ringbuf_reserve_failed, 0, "{st:?}");
    drop(cap);
    assert_detached(&ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_connections_give_exact_opens_and_closes_ipv4() {
    open_close_exact(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_connections_give_exact_opens_and_closes_ipv6() {
    open_close_exact(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_refused() {
    let _s = serial();
    let pair = NetnsPair::new("ref");
    let (_cap, mut rx) = start(TcpCaptureOptions { existing: false, ..Default::default() });
    for ip in [pair.ip4(Side::A), pair.ip6(Side::A)] {
        let dst = SocketAddr::new(ip, 9);
        let err = pair.run_in(Side::B, move || TcpStream::connect_timeout(&dst, Duration::from_secs(5)).unwrap_err());
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
    let evs = collect(&mut rx, &[pair.ino_b], Duration::from_secs(5), |e| count(e, ConnRole::Client, is_close) >= 2).await;
    let refused: Vec<_> = evs.iter().filter(|e| e.kind == ConnEventKind::Error { error: ConnError::Refused }).collect();
    assert_eq!(refused.len(), 2, "{evs:#?}");
    for e in refused {
        assert_eq!(e.role, ConnRole::Client);
        assert_eq!(e.remote.port(), 9);
        assert_eq!(e.process.as_ref().map(|p| p.pid), Some(std::process::id()));
    }
    assert_eq!(count(&evs, ConnRole::Client, is_open), 2);
    assert_eq!(count(&evs, ConnRole::Client, is_close), 2);
}
