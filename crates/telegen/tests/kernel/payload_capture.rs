//! Root tests of the socket payload capture (bpf/payload.bpf.c + capture::payload):
//! real sockets driven with the raw syscalls (write, writev, sendmsg, sendto, sendmmsg,
//! read, readv, recvmsg, recvfrom, recvmmsg) on loopback and across a veth pair between
//! two network namespaces; the exact bytes, direction, process and ports must arrive.
//! Each test starts its own capture and keeps only the events of its own ports.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::common::netns::{NetnsPair, Side};
use crate::common::root::{require_root, root_test};
use telegen::capture::bpf::channel::EventRx as Receiver;
use telegen::capture::payload::{PayloadCapture, PayloadCaptureOptions};
use telegen::model::{Direction, Observer, Payload, StreamEvent, Transport};

const WAIT: Duration = Duration::from_secs(10);

fn opts() -> PayloadCaptureOptions {
    PayloadCaptureOptions { ignore_self: false, ..Default::default() }
}

fn start(o: PayloadCaptureOptions) -> (PayloadCapture, Receiver<StreamEvent>) {
    require_root();
    let (cap, rx) = PayloadCapture::start(o).expect("payload capture starts");
    for h in cap.attached() {
        assert!(h.status.is_attached(), "hook {} did not attach: {:?}", h.hook, h.status);
    }
    (cap, rx)
}

/// Receives events for which `keep` holds until `done` holds on them (or WAIT passes).
async fn collect(
    rx: &mut Receiver<StreamEvent>,
    keep: impl Fn(&StreamEvent) -> bool,
    done: impl Fn(&[StreamEvent]) -> bool,
) -> Vec<StreamEvent> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while !done(&out) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(ev)) if keep(&ev) => out.push(ev),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    out
}

/// [`collect`] of the events of connections to `server`.
async fn collect_server(
    rx: &mut Receiver<StreamEvent>,
    server: SocketAddr,
    done: impl Fn(&[StreamEvent]) -> bool,
) -> Vec<StreamEvent> {
    collect(rx, |e| e.key.server == server, done).await
}

/// Concatenated data, gap total and payload kinds of one observer's direction.
fn stream(evs: &[StreamEvent], obs: Observer, dir: Direction) -> (Vec<u8>, u64) {
    let mut data = Vec::new();
    let mut gaps = 0;
    for e in evs.iter().filter(|e| e.observer == obs && e.dir == dir) {
        match &e.payload {
            Payload::Data(d) => data.extend_from_slice(d),
            Payload::Gap(n) => gaps += n,
            Payload::Close => {}
        }
    }
    (data, gaps)
}

fn has_close(evs: &[StreamEvent], obs: Observer) -> bool {
    evs.iter().any(|e| e.observer == obs && e.payload == Payload::Close)
}

// ---- raw syscalls ----

fn check(rc: isize, what: &str) -> usize {
    assert!(rc >= 0, "{what}: {}", std::io::Error::last_os_error());
    rc as usize
}

fn sockaddr(a: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as u16;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as u16;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn iovecs(parts: &[&[u8]]) -> Vec<libc::iovec> {
    parts.iter().map(|p| libc::iovec { iov_base: p.as_ptr() as *mut _, iov_len: p.len() }).collect()
}

fn sys_write(fd: i32, b: &[u8]) {
    // SAFETY: valid buffer for its length.
    let n = check(unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) }, "write");
    assert_eq!(n, b.len(), "short write");
}

fn sys_writev(fd: i32, parts: &[&[u8]]) {
    let iov = iovecs(parts);
    // SAFETY: iovecs point at live buffers.
    let n = check(unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as i32) }, "writev");
    assert_eq!(n, parts.iter().map(|p| p.len()).sum::<usize>(), "short writev");
}

fn sys_sendmsg(fd: i32, parts: &[&[u8]]) {
    let mut iov = iovecs(parts);
    // SAFETY: zeroed msghdr is valid; the iovecs outlive the call.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = iov.len();
    let n = check(unsafe { libc::sendmsg(fd, &m, 0) }, "sendmsg");
    assert_eq!(n, parts.iter().map(|p| p.len()).sum::<usize>(), "short sendmsg");
}

fn sys_sendto(fd: i32, b: &[u8], to: Option<&SocketAddr>) {
    let n = match to {
        Some(a) => {
            let (ss, len) = sockaddr(a);
            // SAFETY: valid buffer and sockaddr.
            unsafe {
                libc::sendto(fd, b.as_ptr().cast(), b.len(), 0, &ss as *const _ as *const _, len)
            }
        }
        // SAFETY: valid buffer; NULL address is allowed on a connected socket.
        None => unsafe { libc::sendto(fd, b.as_ptr().cast(), b.len(), 0, std::ptr::null(), 0) },
    };
    assert_eq!(check(n, "sendto"), b.len(), "short sendto");
}

/// Reads exactly `n` bytes with the syscall `how` ("read", "readv", "recvmsg", "recvfrom").
fn sys_read_exact(fd: i32, n: usize, how: &str) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < n {
        let want = n - out.len();
        let mut buf = vec![0u8; want];
        let got = match how {
            // SAFETY (all arms): buffers are live and sized as passed.
            "read" => unsafe { libc::read(fd, buf.as_mut_ptr().cast(), want) },
            "readv" => {
                let half = want / 2;
                let (a, b) = buf.split_at_mut(half);
                let iov = [
                    libc::iovec { iov_base: a.as_mut_ptr().cast(), iov_len: a.len() },
                    libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() },
                ];
                unsafe { libc::readv(fd, iov.as_ptr(), 2) }
            }
            "recvmsg" => {
                let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: want };
                let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
                m.msg_iov = &mut iov;
                m.msg_iovlen = 1;
                unsafe { libc::recvmsg(fd, &mut m, 0) }
            }
            "recvfrom" => unsafe {
                libc::recvfrom(
                    fd,
                    buf.as_mut_ptr().cast(),
                    want,
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            },
            _ => unreachable!(),
        };
        let got = check(got, how);
        assert!(got > 0, "{how}: unexpected EOF");
        out.extend_from_slice(&buf[..got]);
    }
    out
}

/// Pins the calling thread to CPU 0.
fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity get valid pointers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        check(rc as isize, "sched_setaffinity");
    }
}

fn tcp_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (s, _) = listener.accept().unwrap();
    (c, s)
}

// ---- tests ----

const REQ1: &[u8] = b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n";
const RESP1: [&[u8]; 3] = [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\n", b"ok"];
const REQ2: [&[u8]; 2] = [b"POST /two HTTP/1.1\r\n", b"Content-Length: 3\r\n\r\nabc"];
const RESP2: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_send_and_receive_variants_arrive_exactly() {
    let _root = root_test(module_path!());
    let (cap, mut rx) = start(opts());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let client_addr = tokio::task::spawn_blocking(move || {
        let (c, s) = tcp_pair(&listener);
        let (cfd, sfd) = (c.as_raw_fd(), s.as_raw_fd());
        sys_write(cfd, REQ1);
        // A peek leaves the bytes in the socket: they must be reported once, by the read.
        let mut peek = vec![0u8; REQ1.len()];
        // SAFETY: the buffer is live and sized as passed.
        let n = unsafe {
            libc::recv(
                sfd,
                peek.as_mut_ptr().cast(),
                peek.len(),
                libc::MSG_PEEK | libc::MSG_WAITALL,
            )
        };
        assert_eq!(&peek[..check(n, "recv(MSG_PEEK)")], &REQ1[..n as usize]);
        assert_eq!(sys_read_exact(sfd, REQ1.len(), "read"), REQ1);
        sys_writev(sfd, &RESP1);
        assert_eq!(sys_read_exact(cfd, RESP1.concat().len(), "readv"), RESP1.concat());
        sys_sendmsg(cfd, &REQ2);
        assert_eq!(sys_read_exact(sfd, REQ2.concat().len(), "recvmsg"), REQ2.concat());
        sys_sendto(sfd, RESP2, None);
        assert_eq!(sys_read_exact(cfd, RESP2.len(), "recvfrom"), RESP2);
        let local = c.local_addr().unwrap();
        drop(c);
        drop(s);
        local
    })
    .await
    .unwrap();

    let c2s = [REQ1, &REQ2.concat()].concat();
    let s2c = [&RESP1.concat()[..], RESP2].concat();
    let evs = collect_server(&mut rx, server_addr, |evs| {
        stream(evs, Observer::Client, Direction::ClientToServer).0.len() >= c2s.len()
            && stream(evs, Observer::Server, Direction::ClientToServer).0.len() >= c2s.len()
            && stream(evs, Observer::Client, Direction::ServerToClient).0.len() >= s2c.len()
            && stream(evs, Observer::Server, Direction::ServerToClient).0.len() >= s2c.len()
            && has_close(evs, Observer::Client)
            && has_close(evs, Observer::Server)
    })
    .await;
    for obs in [Observer::Client, Observer::Server] {
        assert_eq!(stream(&evs, obs, Direction::ClientToServer), (c2s.clone(), 0), "{obs:?} c->s");
        assert_eq!(stream(&evs, obs, Direction::ServerToClient), (s2c.clone(), 0), "{obs:?} s->c");
        assert!(has_close(&evs, obs), "{obs:?} close missing: {evs:#?}");
        let ids: std::collections::HashSet<u64> =
            evs.iter().filter(|e| e.observer == obs).map(|e| e.conn_id).collect();
        assert_eq!(ids.len(), 1, "one conn_id per socket");
    }
    let me = std::process::id();
    // The process's name (its thread-group leader's), not the worker thread's that made
    // the syscalls.
    let name = std::fs::read_to_string("/proc/self/comm").unwrap().trim().to_string();
    for e in &evs {
        assert_eq!(e.key.client, client_addr);
        assert_eq!(e.key.server, server_addr);
        assert_eq!(e.key.transport, Transport::Tcp);
        if e.payload != Payload::Close {
            let p = e.process.as_ref().expect("process info");
            assert_eq!(p.pid, me);
            assert_eq!(p.comm, name, "process name");
            assert!(e.ts_ns > 1_600_000_000_000_000_000, "unix-epoch timestamp");
        }
    }
    let client_ids: Vec<u64> =
        evs.iter().filter(|e| e.observer == Observer::Client).map(|e| e.conn_id).collect();
    let server_ids: Vec<u64> =
        evs.iter().filter(|e| e.observer == Observer::Server).map(|e| e.conn_id).collect();
    assert_ne!(client_ids[0], server_ids[0], "each socket has its own id");
    let st = cap.stats();
    assert!(st.classified >= 2, "{st:?}");
    assert_eq!(st.user_channel_dropped, 0);
}

/// The ring's data pages are mapped once, so records that cross the end of the ring are
/// copied together by the reader: a 16 KiB ring carrying a few hundred KiB of records of
/// uneven sizes laps many times, and every byte still arrives, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_crossing_the_ring_end_arrive_whole() {
    let _root = root_test(module_path!());
    let (cap, mut rx) = start(PayloadCaptureOptions { ring_buffer_size: 16384, ..opts() });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let head = b"POST /laps HTTP/1.1\r\nContent-Length: 999999\r\n\r\n";
    // The head, then 300 body writes of 1 to 700 bytes.
    let lens: Vec<usize> =
        std::iter::once(head.len()).chain((0..300usize).map(|i| 1 + (i * 7919) % 700)).collect();
    let mut sent = head.to_vec();
    sent.extend((0..lens[1..].iter().sum::<usize>()).map(|j| b'a' + (j % 26) as u8));
    let bytes = sent.clone();
    tokio::task::spawn_blocking(move || {
        let (c, s) = tcp_pair(&listener);
        let (cfd, sfd) = (c.as_raw_fd(), s.as_raw_fd());
        let mut at = 0;
        for len in lens {
            sys_write(cfd, &bytes[at..at + len]);
            assert_eq!(sys_read_exact(sfd, len, "read"), &bytes[at..at + len]);
            at += len;
            // Paced so that the 10 ms reader keeps up with a 16 KiB ring.
            std::thread::sleep(Duration::from_millis(1));
        }
    })
    .await
    .unwrap();
    let evs = collect_server(&mut rx, server_addr, |evs| {
        stream(evs, Observer::Client, Direction::ClientToServer).0.len() >= sent.len()
            && stream(evs, Observer::Server, Direction::ClientToServer).0.len() >= sent.len()
    })
    .await;
    let st = cap.stats();
    assert_eq!(st.ringbuf_full, 0, "paced writes must not overflow the ring: {st:?}");
    for obs in [Observer::Client, Observer::Server] {
        let (data, gaps) = stream(&evs, obs, Direction::ClientToServer);
        assert_eq!(gaps, 0, "{obs:?}");
        assert!(
            data == sent,
            "{obs:?}: {} of {} bytes, first difference at {:?}",
            data.len(),
            sent.len(),
            data.iter().zip(&sent).position(|(a, b)| a != b)
        );
    }
    assert!(st.user_records_wrapped > 0, "no record crossed the ring's end: {st:?}");
}

/// A send is timed at its start, except when its thread sleeps inside the syscall (the
/// per-CPU start slot is then not provably its own): a 4 MiB write into a small socket
/// buffer blocks until the receiver, asleep for 300 ms, drains it; its event must carry the
/// exit time (after the drain began, not 300 ms before) and be counted as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_blocks_is_timed_at_its_exit() {
    let _root = root_test(module_path!());
    let (cap, mut rx) = start(opts());
    let before = cap.stats().send_start_at_exit;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let mut big = b"POST /slow HTTP/1.1\r\nContent-Length: 4194304\r\n\r\n".to_vec();
    let head = big.len();
    big.resize(head + (4 << 20), b'x');
    let total = big.len();
    let drain_start = tokio::task::spawn_blocking(move || {
        let (c, s) = tcp_pair(&listener);
        let small: libc::c_int = 16 * 1024;
        for fd in [c.as_raw_fd(), s.as_raw_fd()] {
            for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
                // SAFETY: a valid socket and a c_int option value.
                let rc = unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        opt,
                        (&small as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
                check(rc as isize, "setsockopt");
            }
        }
        // Writer and reader on one CPU: the writer wakes where it slept, so only the
        // context-switch check can tell that the CPU's start slot went stale meanwhile.
        pin_to_cpu0();
        let sfd = s.as_raw_fd();
        let reader = std::thread::spawn(move || {
            pin_to_cpu0();
            std::thread::sleep(Duration::from_millis(300));
            let t = std::time::SystemTime::now();
            sys_read_exact(sfd, total, "read");
            t
        });
        sys_write(c.as_raw_fd(), &big);
        reader.join().unwrap()
    })
    .await
    .unwrap();
    let drain_ns = drain_start.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let evs = collect(
        &mut rx,
        |e| e.key.server == server_addr && e.observer == Observer::Client,
        |evs| !evs.is_empty(),
    )
    .await;
    let send = evs.first().expect("the client's send was reported");
    assert!(matches!(&send.payload, Payload::Data(d) if d.starts_with(b"POST /slow")), "{send:?}");
    assert!(
        send.ts_ns + 50_000_000 >= drain_ns,
        "the blocking send carries a time {} ms before the receiver started draining: its \
         start, not its exit",
        (drain_ns - send.ts_ns) / 1_000_000
    );
    assert!(cap.stats().send_start_at_exit > before, "{:?}", cap.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_above_the_cap_is_prefix_and_gap() {
    let _root = root_test(module_path!());
    let (cap, mut rx) = start(PayloadCaptureOptions { max_payload_bytes: 1000, ..opts() });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let mut big = b"POST /big HTTP/1.1\r\nContent-Length: 9960\r\n\r\n".to_vec();
    while big.len() < 10_000 {
        big.push(b'a' + (big.len() % 26) as u8);
    }
    let body = big.clone();
    tokio::task::spawn_blocking(move || {
        let (c, s) = tcp_pair(&listener);
        sys_write(c.as_raw_fd(), &body);
        sys_read_exact(s.as_raw_fd(), body.len(), "read");
        // A later message on the same connection is still copied in full.
        sys_write(c.as_raw_fd(), REQ1);
        sys_read_exact(s.as_raw_fd(), REQ1.len(), "read");
    })
    .await
    .unwrap();
    let total = (big.len() + REQ1.len()) as u64;
    let evs = collect(
        &mut rx,
        |e| e.key.server == server_addr && e.dir == Direction::ClientToServer,
        |evs| {
            let sum = |o| {
                let (d, g) = stream(evs, o, Direction::ClientToServer);
                d.len() as u64 + g
            };
            sum(Observer::Client) >= total && sum(Observer::Server) >= total
        },
    )
    .await;
    let client: Vec<&Payload> =
        evs.iter().filter(|e| e.observer == Observer::Client).map(|e| &e.payload).collect();
    assert_eq!(client.len(), 3, "{client:?}");
    assert_eq!(*client[0], Payload::Data(big[..1000].to_vec()));
    assert_eq!(*client[1], Payload::Gap(9000));
    assert_eq!(*client[2], Payload::Data(REQ1.to_vec()));
    let (sdata, sgaps) = stream(&evs, Observer::Server, Direction::ClientToServer);
    assert_eq!(sdata.len() as u64 + sgaps, total);
    assert!(sdata.starts_with(&big[..1000]));
    assert!(sdata.ends_with(REQ1), "the later request is whole on the server side too");
    assert!(cap.stats().truncated >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_on_a_dns_port_arrives_both_ways_with_mmsg() {
    let _root = root_test(module_path!());
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    let (_cap, mut rx) =
        start(PayloadCaptureOptions { dns_ports: vec![server_addr.port()], ..opts() });
    let query =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03foo\x00\x00\x01\x00\x01".to_vec();
    let answer =
        b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x03foo\x00\x00\x01\x00\x01".to_vec();
    let (q, a) = (query.clone(), answer.clone());
    let (client_addr, conn_addr) = tokio::task::spawn_blocking(move || {
        // Unconnected client: sendto + recvfrom.
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        sys_sendto(client.as_raw_fd(), &q, Some(&server_addr));
        let mut buf = [0u8; 512];
        let (n, peer) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &q[..]);
        sys_sendto(server.as_raw_fd(), &a, Some(&peer));
        assert_eq!(sys_read_exact(client.as_raw_fd(), a.len(), "recvfrom"), a);
        // Connected client: two queries with sendmmsg, answered, read with recvmmsg.
        let conn = UdpSocket::bind("127.0.0.1:0").unwrap();
        conn.connect(server_addr).unwrap();
        let mut iov = [iovecs(&[&q]), iovecs(&[&q])];
        // SAFETY: zeroed mmsghdr is valid; iovecs outlive the calls.
        let mut msgs: [libc::mmsghdr; 2] = unsafe { std::mem::zeroed() };
        for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
            m.msg_hdr.msg_iov = v.as_mut_ptr();
            m.msg_hdr.msg_iovlen = 1;
        }
        let sent = unsafe { libc::sendmmsg(conn.as_raw_fd(), msgs.as_mut_ptr(), 2, 0) };
        assert_eq!(sent, 2, "sendmmsg: {}", std::io::Error::last_os_error());
        for _ in 0..2 {
            let (n, peer) = server.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &q[..]);
            server.send_to(&a, peer).unwrap();
        }
        let mut bufs = [[0u8; 512]; 2];
        let mut riov: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: 512 })
            .collect();
        let mut rmsgs: [libc::mmsghdr; 2] = unsafe { std::mem::zeroed() };
        for (i, m) in rmsgs.iter_mut().enumerate() {
            m.msg_hdr.msg_iov = &mut riov[i];
            m.msg_hdr.msg_iovlen = 1;
        }
        let mut got = 0;
        while got < 2 {
            // SAFETY: as above.
            let n = unsafe {
                libc::recvmmsg(
                    conn.as_raw_fd(),
                    rmsgs[got..].as_mut_ptr(),
                    (2 - got) as u32,
                    0,
                    std::ptr::null_mut(),
                )
            };
            assert!(n > 0, "recvmmsg: {}", std::io::Error::last_os_error());
            got += n as usize;
        }
        (client.local_addr().unwrap(), conn.local_addr().unwrap())
    })
    .await
    .unwrap();

    let data = |evs: &[StreamEvent], client: SocketAddr, obs, dir| -> Vec<Vec<u8>> {
        evs.iter()
            .filter(|e| e.key.client == client && e.observer == obs && e.dir == dir)
            .filter_map(|e| match &e.payload {
                Payload::Data(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    };
    // close() of a UDP socket closes its flows (client side; the server socket's too).
    let closed = |evs: &[StreamEvent], client: SocketAddr| {
        [Observer::Client, Observer::Server].iter().all(|&o| {
            evs.iter()
                .any(|e| e.key.client == client && e.observer == o && e.payload == Payload::Close)
        })
    };
    let evs = collect_server(&mut rx, server_addr, |evs| {
        data(evs, conn_addr, Observer::Client, Direction::ServerToClient).len() >= 2
            && data(evs, conn_addr, Observer::Server, Direction::ServerToClient).len() >= 2
            && !data(evs, client_addr, Observer::Client, Direction::ServerToClient).is_empty()
            && !data(evs, client_addr, Observer::Server, Direction::ServerToClient).is_empty()
            && closed(evs, conn_addr)
            && closed(evs, client_addr)
    })
    .await;
    for e in &evs {
        assert_eq!(e.key.transport, Transport::Udp);
    }
    assert!(closed(&evs, conn_addr) && closed(&evs, client_addr), "UDP closes: {evs:#?}");
    for obs in [Observer::Client, Observer::Server] {
        assert_eq!(
            data(&evs, client_addr, obs, Direction::ClientToServer),
            vec![query.clone()],
            "{obs:?}"
        );
        assert_eq!(
            data(&evs, client_addr, obs, Direction::ServerToClient),
            vec![answer.clone()],
            "{obs:?}"
        );
        assert_eq!(
            data(&evs, conn_addr, obs, Direction::ClientToServer),
            vec![query.clone(); 2],
            "{obs:?}"
        );
        assert_eq!(
            data(&evs, conn_addr, obs, Direction::ServerToClient),
            vec![answer.clone(); 2],
            "{obs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclassified_connection_is_given_up_and_counted() {
    let _root = root_test(module_path!());
    let (cap, mut rx) = start(PayloadCaptureOptions { classify_bytes: 2048, ..opts() });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let before = cap.stats();
    let noise: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8 | 0x80).collect();
    let noisy = tokio::task::spawn_blocking(move || {
        let (c, s) = tcp_pair(&listener);
        for _ in 0..4 {
            sys_write(c.as_raw_fd(), &noise);
            sys_read_exact(s.as_raw_fd(), noise.len(), "read");
        }
        // HTTP after the give-up is not copied either.
        sys_write(c.as_raw_fd(), REQ1);
        sys_read_exact(s.as_raw_fd(), REQ1.len(), "read");
        // A second, HTTP connection to the same server is copied: the control.
        let (c2, s2) = tcp_pair(&listener);
        sys_write(c2.as_raw_fd(), REQ1);
        sys_read_exact(s2.as_raw_fd(), REQ1.len(), "read");
        c.local_addr().unwrap()
    })
    .await
    .unwrap();
    let evs = collect_server(&mut rx, server_addr, |evs| {
        evs.iter()
            .filter(|e| e.key.client != noisy && matches!(e.payload, Payload::Data(_)))
            .count()
            >= 2
    })
    .await;
    let control: Vec<&StreamEvent> = evs.iter().filter(|e| e.key.client != noisy).collect();
    assert!(control.iter().any(|e| e.payload == Payload::Data(REQ1.to_vec())), "{evs:#?}");
    let noisy_evs: Vec<&StreamEvent> = evs.iter().filter(|e| e.key.client == noisy).collect();
    assert!(noisy_evs.is_empty(), "nothing of the unclassified connection: {noisy_evs:#?}");
    let after = cap.stats();
    assert!(after.classify_miss >= before.classify_miss + 2, "both sockets given up: {after:?}");
    assert!(
        after.skipped_bytes >= before.skipped_bytes + 2 * (4000 + REQ1.len() as u64),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_opened_before_start_is_picked_up() {
    let _root = root_test(module_path!());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let (c, s) = tcp_pair(&listener);
    let client_addr = c.local_addr().unwrap();
    let (_cap, mut rx) = start(opts());
    tokio::task::spawn_blocking(move || {
        sys_write(c.as_raw_fd(), REQ1);
        sys_read_exact(s.as_raw_fd(), REQ1.len(), "read");
        sys_write(s.as_raw_fd(), RESP2);
        sys_read_exact(c.as_raw_fd(), RESP2.len(), "read");
    })
    .await
    .unwrap();
    let evs = collect(&mut rx, |e| e.key.server == server_addr, |evs| evs.len() >= 4).await;
    for obs in [Observer::Client, Observer::Server] {
        assert_eq!(
            stream(&evs, obs, Direction::ClientToServer),
            (REQ1.to_vec(), 0),
            "{obs:?}: {evs:#?}"
        );
        assert_eq!(stream(&evs, obs, Direction::ServerToClient), (RESP2.to_vec(), 0), "{obs:?}");
    }
    assert!(evs.iter().all(|e| e.key.client == client_addr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_between_namespaces_carries_their_identity() {
    let _root = root_test(module_path!());
    let pair = NetnsPair::new("pl");
    let (_cap, mut rx) = start(opts());
    let server_ip = pair.ip4(Side::A);
    let (tx_port, rx_port) = std::sync::mpsc::channel();
    let server = pair.spawn_in(Side::A, move || {
        let l = TcpListener::bind((server_ip, 0)).unwrap();
        tx_port.send(l.local_addr().unwrap().port()).unwrap();
        let (s, _) = l.accept().unwrap();
        assert_eq!(sys_read_exact(s.as_raw_fd(), REQ1.len(), "recvfrom"), REQ1);
        sys_writev(s.as_raw_fd(), &RESP1);
    });
    let port = rx_port.recv().unwrap();
    let server_addr = SocketAddr::new(server_ip, port);
    let client_addr = pair.run_in(Side::B, move || {
        let c = TcpStream::connect(server_addr).unwrap();
        sys_sendmsg(c.as_raw_fd(), &[REQ1]);
        sys_read_exact(c.as_raw_fd(), RESP1.concat().len(), "read");
        c.local_addr().unwrap()
    });
    server.join().unwrap();
    let evs = collect(&mut rx, |e| e.key.server == server_addr, |evs| evs.len() >= 4).await;
    assert_eq!(stream(&evs, Observer::Server, Direction::ClientToServer).0, REQ1);
    assert_eq!(stream(&evs, Observer::Client, Direction::ServerToClient).0, RESP1.concat());
    for e in &evs {
        assert_eq!(e.key.client, client_addr);
        let want = if e.observer == Observer::Server { pair.ino_a } else { pair.ino_b };
        assert_eq!(e.key.netns, want, "netns of {:?}", e.observer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendfile_is_a_gap_and_ipv6_works() {
    let _root = root_test(module_path!());
    let (_cap, mut rx) = start(opts());
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let body = vec![b'z'; 3000];
    let header = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    let path = std::env::temp_dir().join(format!("telegen-sendfile-{}", std::process::id()));
    std::fs::write(&path, &body).unwrap();
    let (h, p) = (header.clone(), path.clone());
    tokio::task::spawn_blocking(move || {
        let (c, s) = tcp_pair(&listener);
        sys_write(c.as_raw_fd(), REQ1);
        sys_read_exact(s.as_raw_fd(), REQ1.len(), "read");
        sys_write(s.as_raw_fd(), &h);
        let f = std::fs::File::open(&p).unwrap();
        let mut left = 3000usize;
        while left > 0 {
            // SAFETY: valid fds; NULL offset uses the file position.
            let n =
                unsafe { libc::sendfile(s.as_raw_fd(), f.as_raw_fd(), std::ptr::null_mut(), left) };
            left -= check(n, "sendfile");
        }
        sys_read_exact(c.as_raw_fd(), h.len() + 3000, "read");
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&path);
    let want = (header.len() + body.len()) as u64;
    let evs = collect_server(&mut rx, server_addr, |evs| {
        let (d, g) = stream(evs, Observer::Server, Direction::ServerToClient);
        let (cd, cg) = stream(evs, Observer::Client, Direction::ServerToClient);
        d.len() as u64 + g >= want && cd.len() as u64 + cg >= want
    })
    .await;
    assert!(server_addr.is_ipv6());
    assert_eq!(stream(&evs, Observer::Server, Direction::ServerToClient), (header.clone(), 3000));
    assert_eq!(
        stream(&evs, Observer::Client, Direction::ServerToClient),
        ([header, body].concat(), 0)
    );
    assert_eq!(stream(&evs, Observer::Client, Direction::ClientToServer), (REQ1.to_vec(), 0));
    assert!(evs.iter().all(|e| e.key.client.is_ipv6()));
}

/// Per-firing cost of each program (bpf_stats), for the report: a keep-alive HTTP-like
/// exchange of 20k request/response pairs plus 20k pipe writes (non-socket fds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: cargo test --release --test kernel measure_program_cost -- --ignored --nocapture"]
async fn measure_program_cost() {
    let _root = root_test(module_path!());
    const N: usize = 20_000;
    let (cap, mut rx) = start(opts());
    std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "1").expect("enable bpf_stats");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let drain = tokio::spawn(async move {
        let mut n = 0usize;
        while let Some(e) = rx.recv().await {
            if e.key.server == server_addr && matches!(e.payload, Payload::Data(_)) {
                n += 1;
                if n == 4 * N {
                    break;
                }
            }
        }
        n
    });
    let t = Instant::now();
    tokio::task::spawn_blocking(move || {
        let (c, s) = tcp_pair(&listener);
        for _ in 0..N {
            sys_write(c.as_raw_fd(), REQ1);
            sys_read_exact(s.as_raw_fd(), REQ1.len(), "read");
            sys_write(s.as_raw_fd(), RESP2);
            sys_read_exact(c.as_raw_fd(), RESP2.len(), "read");
        }
        let mut fds = [0i32; 2];
        // SAFETY: pipe writes two fds into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        for _ in 0..N {
            sys_write(fds[1], b"x");
            sys_read_exact(fds[0], 1, "read");
        }
        // SAFETY: closing fds we own.
        unsafe { libc::close(fds[0]) };
        unsafe { libc::close(fds[1]) };
    })
    .await
    .unwrap();
    let elapsed = t.elapsed();
    let got = tokio::time::timeout(WAIT, drain).await.expect("all events").unwrap();
    assert_eq!(got, 4 * N, "every chunk arrived");
    println!("{N} exchanges + {N} pipe round trips in {elapsed:?}");
    for id in cap.program_ids() {
        let out = std::process::Command::new("bpftool")
            .args(["prog", "show", "id", &id.to_string(), "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (ns, cnt) =
            (v["run_time_ns"].as_u64().unwrap_or(0), v["run_cnt"].as_u64().unwrap_or(0));
        if cnt > 0 {
            println!(
                "{:28} run_cnt {:8} avg {:6} ns",
                v["name"].as_str().unwrap_or("?"),
                cnt,
                ns / cnt
            );
        }
    }
    println!("{:?}", cap.stats());
    std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "0").unwrap();
}

/// The kernel switches an HTTP/1.1 connection to HTTP/2 frame tracking only on a 101 that
/// upgrades to h2c. After a WebSocket 101 the connection stays HTTP/1: a WebSocket frame
/// longer than the copy cap is a plain prefix and gap, not an unsynced HTTP/2 chunk
/// (counted in `h2_headers_cut`). The same bytes after an h2c 101 are one (the control).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_stays_http1_and_h2c_upgrade_switches() {
    let _root = root_test(module_path!());
    let (cap, _rx) = start(PayloadCaptureOptions { max_payload_bytes: 1000, ..opts() });
    // A binary WebSocket frame (FIN, opcode 2, 16-bit length): not an HTTP/2 frame header.
    let mut ws_frame = vec![0x82, 0x7e, 0x0b, 0xb8];
    ws_frame.resize(4 + 3000, b'w');
    let upgrade = |req: &'static [u8], resp: &'static [u8], frame: Vec<u8>| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, s) = tcp_pair(&listener);
        let (cfd, sfd) = (c.as_raw_fd(), s.as_raw_fd());
        sys_write(cfd, req);
        sys_read_exact(sfd, req.len(), "read");
        sys_write(sfd, resp);
        sys_read_exact(cfd, resp.len(), "read");
        sys_write(sfd, &frame);
        sys_read_exact(cfd, frame.len(), "read");
    };
    let settle = || std::thread::sleep(Duration::from_millis(300));
    let frame = ws_frame.clone();
    let (before, after_ws, after_h2c) = tokio::task::spawn_blocking(move || {
        settle();
        let before = cap.stats().h2_headers_cut;
        upgrade(
            b"GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            frame.clone(),
        );
        settle();
        let after_ws = cap.stats().h2_headers_cut;
        upgrade(
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n\
              Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            frame,
        );
        settle();
        let after_h2c = cap.stats().h2_headers_cut;
        (before, after_ws, after_h2c)
    })
    .await
    .unwrap();
    assert_eq!(after_ws, before, "a WebSocket 101 switched the kernel to HTTP/2 tracking");
    assert!(
        after_h2c >= after_ws + 2,
        "the h2c 101 did not switch both sockets ({after_ws} -> {after_h2c})"
    );
}

/// A WebDAV request from a real client (curl) is classified live like any other HTTP/1
/// method: the kernel classifier accepts the parser's method list, so the captured bytes
/// parse into a PROPFIND record (as `telegen replay` would make of the same traffic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_propfind_from_curl_is_captured_and_parsed() {
    use std::io::{Read, Write};
    use telegen_proto::record::Record;
    use telegen_proto::session::ConnParser;

    let (_cap, mut rx) = start(opts());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "client closed before its request ended");
            head.extend_from_slice(&buf[..n]);
        }
        let body = "<?xml version=\"1.0\"?><d:multistatus xmlns:d=\"DAV:\"/>";
        let resp = format!(
            "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(resp.as_bytes()).unwrap();
    });
    let url = format!("http://{server_addr}/dav/");
    let st = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-X", "PROPFIND", "-H", "Depth: 1", &url])
            .status()
            .expect("curl (apt-get install curl)")
    })
    .await
    .unwrap();
    assert!(st.success(), "curl PROPFIND failed: {st}");
    server.join().unwrap();
    let evs = collect_server(&mut rx, server_addr, |evs| {
        has_close(evs, Observer::Client) && has_close(evs, Observer::Server)
    })
    .await;
    for obs in [Observer::Client, Observer::Server] {
        let limits = telegen_proto::Limits::default();
        let mut parser = ConnParser::new(Transport::Tcp, server_addr.port(), &limits);
        let mut records = Vec::new();
        for e in evs.iter().filter(|e| e.observer == obs) {
            match &e.payload {
                Payload::Data(d) => parser.on_data(e.dir, e.ts_ns, d, &mut records),
                Payload::Gap(n) => parser.on_gap(e.dir, e.ts_ns, *n, &mut records),
                Payload::Close => parser.on_close(e.ts_ns, &mut records),
            }
        }
        let found = records.iter().any(|r| {
            matches!(r, Record::Http(h) if h.method == "PROPFIND" && h.target == "/dav/"
                && h.status == Some(207))
        });
        let seen: Vec<String> = evs
            .iter()
            .filter(|e| e.observer == obs)
            .map(|e| match &e.payload {
                Payload::Data(d) => format!("{:?} {:?}", e.dir, String::from_utf8_lossy(d)),
                other => format!("{:?} {other:?}", e.dir),
            })
            .collect();
        assert!(found, "{obs:?}: no PROPFIND /dav/ -> 207 record in {records:#?}\n{seen:#?}");
    }
}
