//! TcpCapture against the real kernel: two network namespaces joined by a veth pair, a
//! server in one and clients in the other (threads that setns), exact assertions on the
//! connection events. Needs root; fails with a clear message without it.
//!
//! Tests are serialised (one capture at a time) so that the program-cleanup check and the
//! kernel counters are not disturbed by a sibling test.

use crate::common::bpftool::bpftool_json;
use crate::common::netns::{NetnsPair, Side};
use crate::common::root::{require_root, root_test};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use telegen::capture::bpf::channel::EventRx as Receiver;
use telegen::capture::{TcpCapture, TcpCaptureOptions};
use telegen::model::{ConnError, ConnEvent, ConnEventKind, ConnRole};
use tokio::sync::Mutex;

/// One capture at a time (a tokio mutex: the guard lives across awaits; each test has
/// its own runtime, and a panicking test releases it without poisoning).
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

const REPLY: usize = 3000;

/// Server in `side`: accepts `n` connections on each port, reads to EOF, replies REPLY bytes.
fn start_servers(
    pair: &NetnsPair,
    side: Side,
    ip: IpAddr,
    ports: &[u16],
    n: usize,
) -> Vec<std::thread::JoinHandle<()>> {
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
fn run_clients(
    pair: &NetnsPair,
    side: Side,
    dst: SocketAddr,
    n: usize,
    size: fn(usize) -> usize,
) -> HashMap<u16, usize> {
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
async fn collect(
    rx: &mut Receiver<ConnEvent>,
    netns: &[u32],
    timeout: Duration,
    done: impl Fn(&[ConnEvent]) -> bool,
) -> Vec<ConnEvent> {
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
    eprintln!("hooks: {:#?}", cap.attached());
    let lifecycle = &cap.attached()[0];
    assert!(lifecycle.status.is_attached(), "lifecycle hook not attached: {lifecycle:?}");
    (cap, rx)
}

/// N connections: exactly N opens/closes per side with pid, ports, netns and bytes.
async fn open_close_exact(ipv6: bool) {
    let _s = serial().await;
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
        assert_eq!(
            count(&evs, role, |k| matches!(k, ConnEventKind::Established)),
            N,
            "{role:?} established"
        );
        assert_eq!(
            count(&evs, role, |k| matches!(k, ConnEventKind::Error { .. })),
            0,
            "{role:?} errors"
        );
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
                let want = *sent
                    .get(&e.local.port())
                    .unwrap_or_else(|| panic!("unknown client port {e:?}"));
                if is_close(&e.kind) {
                    assert_eq!(
                        (e.bytes_sent, e.bytes_received),
                        (want as u64, REPLY as u64),
                        "{e:?}"
                    );
                }
            }
            ConnRole::Server => {
                assert_eq!(e.netns, pair.ino_a);
                assert_eq!(e.local, SocketAddr::new(ip_a, 8080));
                assert_eq!(e.remote.ip(), ip_b);
                let want = *sent
                    .get(&e.remote.port())
                    .unwrap_or_else(|| panic!("unknown peer port {e:?}"));
                if is_close(&e.kind) {
                    assert_eq!(
                        (e.bytes_sent, e.bytes_received),
                        (REPLY as u64, want as u64),
                        "{e:?}"
                    );
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
    let _root = root_test(module_path!());
    open_close_exact(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_connections_give_exact_opens_and_closes_ipv6() {
    let _root = root_test(module_path!());
    open_close_exact(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_refused() {
    let _root = root_test(module_path!());
    let _s = serial().await;
    let pair = NetnsPair::new("ref");
    let (_cap, mut rx) = start(TcpCaptureOptions { existing: false, ..Default::default() });
    for ip in [pair.ip4(Side::A), pair.ip6(Side::A)] {
        let dst = SocketAddr::new(ip, 9);
        let err = pair.run_in(Side::B, move || {
            TcpStream::connect_timeout(&dst, Duration::from_secs(5)).unwrap_err()
        });
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
    let evs = collect(&mut rx, &[pair.ino_b], Duration::from_secs(5), |e| {
        count(e, ConnRole::Client, is_close) >= 2
    })
    .await;
    let refused: Vec<_> = evs
        .iter()
        .filter(|e| e.kind == ConnEventKind::Error { error: ConnError::Refused })
        .collect();
    assert_eq!(refused.len(), 2, "{evs:#?}");
    for e in refused {
        assert_eq!(e.role, ConnRole::Client);
        assert_eq!(e.remote.port(), 9);
        assert_eq!(e.process.as_ref().map(|p| p.pid), Some(std::process::id()));
    }
    assert_eq!(count(&evs, ConnRole::Client, is_open), 2);
    assert_eq!(count(&evs, ConnRole::Client, is_close), 2);
}

/// Per-connection pairing: every conn_id seen has exactly one Open and one Close.
fn assert_complete(evs: &[ConnEvent]) -> usize {
    let mut per: HashMap<u64, (usize, usize)> = HashMap::new();
    for e in evs {
        let c = per.entry(e.conn_id).or_default();
        if is_open(&e.kind) {
            c.0 += 1;
        }
        if is_close(&e.kind) {
            c.1 += 1;
        }
    }
    for (id, c) in &per {
        let mine: Vec<_> = evs.iter().filter(|e| e.conn_id == *id).collect();
        assert_eq!(*c, (1, 1), "connection {id:x} is incomplete (opens, closes): {mine:#?}");
    }
    per.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_rate_keeps_whole_connections_one_in_n() {
    let _root = root_test(module_path!());
    let _s = serial().await;
    let pair = NetnsPair::new("smp");
    const N: usize = 200;
    let (cap, mut rx) =
        start(TcpCaptureOptions { existing: false, sample_rate: 4, ..Default::default() });
    let before = cap.stats();
    let ip = pair.ip4(Side::A);
    let servers = start_servers(&pair, Side::A, ip, &[8080], N);
    run_clients(&pair, Side::B, SocketAddr::new(ip, 8080), N, |_| 100);
    join_all(servers);
    // Nothing to wait for but the ring: a short settle period.
    let evs = collect(&mut rx, &[pair.ino_a, pair.ino_b], Duration::from_secs(1), |_| false).await;
    let seen = assert_complete(&evs);
    // 400 sockets (both ends), each kept with p = 1/4: mean 100, sd 8.7.
    assert!((50..=150).contains(&seen), "{seen} of {} sockets kept with sample_rate 4", 2 * N);
    assert!(evs.iter().all(|e| e.sample_rate == 4));
    let after = cap.stats();
    assert!(
        after.sampled_out - before.sampled_out >= (2 * N - seen) as u64,
        "sampled_out counter {} does not cover the {} dropped sockets",
        after.sampled_out - before.sampled_out,
        2 * N - seen
    );
}

/// include/exclude ports: connections to 8081 only / all but 8081.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_filters_select_exactly() {
    let _root = root_test(module_path!());
    let _s = serial().await;
    const N: usize = 8;
    for (include, exclude) in [(vec![8081u16], vec![]), (vec![], vec![8081u16])] {
        let pair = NetnsPair::new("prt");
        let want_port = if include.is_empty() { 8080 } else { 8081 };
        let (cap, mut rx) = start(TcpCaptureOptions {
            existing: false,
            include_ports: include.clone(),
            exclude_ports: exclude.clone(),
            ..Default::default()
        });
        let ip = pair.ip4(Side::A);
        let servers = start_servers(&pair, Side::A, ip, &[8080, 8081], N);
        run_clients(&pair, Side::B, SocketAddr::new(ip, 8080), N, |_| 10);
        run_clients(&pair, Side::B, SocketAddr::new(ip, 8081), N, |_| 10);
        join_all(servers);
        let evs = collect(&mut rx, &[pair.ino_a, pair.ino_b], Duration::from_secs(5), |e| {
            count(e, ConnRole::Client, is_close) >= N && count(e, ConnRole::Server, is_close) >= N
        })
        .await;
        assert_eq!(assert_complete(&evs), 2 * N, "include {include:?} exclude {exclude:?}");
        for e in &evs {
            let port = if e.role == ConnRole::Client { e.remote.port() } else { e.local.port() };
            assert_eq!(port, want_port, "include {include:?} exclude {exclude:?}: {e:?}");
        }
        assert!(cap.stats().filtered >= 2 * N as u64, "{:?}", cap.stats());
    }
}

/// 30 % loss of the client's segments: retransmits are counted and RTT is plausible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn induced_loss_gives_retransmits_and_rtt() {
    let _root = root_test(module_path!());
    let _s = serial().await;
    let pair = NetnsPair::new("los");
    // Drop on the server's input: a drop in the sender's own output hook is seen by TCP
    // as local congestion and re-sent without counting as a retransmission.
    pair.exec(
        Side::A,
        &["nft", "add table inet tgloss; add chain inet tgloss in { type filter hook input priority 0; }; add rule inet tgloss in tcp dport 8080 numgen random mod 10 < 3 drop"],
    );
    let (_cap, mut rx) = start(TcpCaptureOptions {
        existing: false,
        rtt_interval: Duration::from_millis(20),
        ..Default::default()
    });
    let ip = pair.ip4(Side::A);
    let servers = start_servers(&pair, Side::A, ip, &[8080], 1);
    // Large enough that the transfer outlasts several RTT sampling intervals even when
    // recovery is quick (4 MB once finished inside one interval: no sample).
    let sent = run_clients(&pair, Side::B, SocketAddr::new(ip, 8080), 1, |_| 24_000_000);
    join_all(servers);
    let evs = collect(&mut rx, &[pair.ino_b], Duration::from_secs(30), |e| {
        count(e, ConnRole::Client, is_close) >= 1
    })
    .await;
    let close = evs.iter().find(|e| is_close(&e.kind)).expect("client close");
    assert_eq!(close.bytes_sent, *sent.values().next().unwrap() as u64);
    assert!(close.retransmits > 0, "no retransmits under 30 % loss: {close:?}");
    let retx = count(&evs, ConnRole::Client, |k| matches!(k, ConnEventKind::Retransmit));
    assert!(retx > 0, "no Retransmit events");
    let stats: Vec<_> = evs.iter().filter(|e| matches!(e.kind, ConnEventKind::Stats)).collect();
    assert!(!stats.is_empty(), "no RTT samples");
    for e in stats.iter().copied().chain([close]) {
        assert!(e.srtt_us > 0 && e.srtt_us < 2_000_000, "implausible srtt: {e:?}");
    }
}

/// Connections open before start are reported as Existing (with owner) and tracked to close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_connections_are_reported_and_tracked() {
    let _root = root_test(module_path!());
    let _s = serial().await;
    let pair = NetnsPair::new("old");
    let ip = pair.ip4(Side::A);
    let (l_tx, l_rx) = std::sync::mpsc::channel();
    let server = pair.spawn_in(Side::A, move || {
        let l = TcpListener::bind(SocketAddr::new(ip, 8080)).unwrap();
        l_tx.send(()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(b"world!").unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    });
    l_rx.recv().unwrap();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let client = pair.spawn_in(Side::B, move || {
        let mut s = TcpStream::connect(SocketAddr::new(ip, 8080)).unwrap();
        s.write_all(b"hello").unwrap();
        let mut buf = [0u8; 6];
        s.read_exact(&mut buf).unwrap();
        go_rx.recv().unwrap();
        s.write_all(b"bye").unwrap();
    });
    std::thread::sleep(Duration::from_millis(200));
    let (cap, mut rx) = start(TcpCaptureOptions::default());
    let iter = cap.attached().iter().find(|h| h.hook == "iter/tcp").unwrap();
    assert!(iter.status.is_attached(), "{iter:?}");
    let evs = collect(&mut rx, &[pair.ino_a, pair.ino_b], Duration::from_secs(5), |e| {
        e.iter().filter(|e| e.kind == ConnEventKind::Existing).count() >= 2
    })
    .await;
    let existing: Vec<_> = evs.iter().filter(|e| e.kind == ConnEventKind::Existing).collect();
    assert_eq!(existing.len(), 2, "{evs:#?}");
    for e in &existing {
        assert_eq!(e.process.as_ref().map(|p| p.pid), Some(std::process::id()), "{e:?}");
    }
    go_tx.send(()).unwrap();
    client.join().unwrap();
    server.join().unwrap();
    let evs = collect(&mut rx, &[pair.ino_a, pair.ino_b], Duration::from_secs(5), |e| {
        e.iter().filter(|e| is_close(&e.kind)).count() >= 2
    })
    .await;
    let closes: Vec<_> = evs.iter().filter(|e| is_close(&e.kind)).collect();
    assert_eq!(closes.len(), 2, "{evs:#?}");
    for c in closes {
        assert!(existing.iter().any(|e| e.conn_id == c.conn_id), "close of an unknown conn: {c:?}");
        assert_eq!(c.process.as_ref().map(|p| p.pid), Some(std::process::id()));
        // Server: received 5 + 3 bytes, sent 6; client: the mirror (role unknown: the
        // SYN of the client side may add one to bytes_sent).
        if c.netns == pair.ino_a {
            assert_eq!((c.bytes_sent, c.bytes_received), (6, 8), "{c:?}");
        } else {
            assert!((c.bytes_sent == 8 || c.bytes_sent == 9) && c.bytes_received == 6, "{c:?}");
        }
    }
}
