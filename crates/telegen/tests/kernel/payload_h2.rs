//! The payload capture on raw HTTP/2 frames (bpf/payload_h2.h, the in-kernel frame walk):
//! header frames arrive whole, only DATA payloads become gaps, at places the framer can
//! skip.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::common::root::root_test;
use telegen::capture::payload::{PayloadCapture, PayloadCaptureOptions};
use telegen::model::{Direction, Observer, Payload, StreamEvent};

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, len: usize, fill: u8) -> Vec<u8> {
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend((0..len).map(|i| fill.wrapping_add(i as u8)));
    f
}

/// Byte ranges (start, end) of the stream that must arrive: everything but DATA payloads.
fn must_copy(stream: &[u8], start: usize) -> Vec<(usize, usize)> {
    let mut out = vec![(0, start)];
    let mut p = start;
    while p + 9 <= stream.len() {
        let len =
            (stream[p] as usize) << 16 | (stream[p + 1] as usize) << 8 | stream[p + 2] as usize;
        let end = p + 9 + len;
        out.push(if stream[p + 3] == DATA { (p, p + 9) } else { (p, end) });
        p = end;
    }
    out
}

/// The stream of one observer and direction with gaps as None.
fn rebuild(evs: &[StreamEvent], obs: Observer, dir: Direction) -> Vec<Option<u8>> {
    let mut out = Vec::new();
    for e in evs.iter().filter(|e| e.observer == obs && e.dir == dir) {
        match &e.payload {
            Payload::Data(d) => out.extend(d.iter().map(|b| Some(*b))),
            Payload::Gap(n) => out.extend(std::iter::repeat_n(None, *n as usize)),
            Payload::Close => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_copies_h2_header_frames_whole_and_cuts_only_data() {
    let _root = root_test(module_path!());
    let (cap, mut rx) =
        PayloadCapture::start(PayloadCaptureOptions { ignore_self: false, ..Default::default() })
            .expect("payload capture starts");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    // Client: preface + SETTINGS, then one writev of many frames: big DATA, HEADERS,
    // DATA, a 6000-byte HEADERS (longer than one 4096-byte event) + CONTINUATION, DATA.
    let mut parts: Vec<Vec<u8>> = vec![PREFACE.to_vec(), frame(4, 0, 0, 0, 0)];
    parts.push(frame(DATA, 0, 1, 20_000, 1));
    parts.push(frame(HEADERS, 4, 3, 300, 2));
    parts.push(frame(DATA, 0, 3, 10_000, 3));
    parts.push(frame(HEADERS, 0, 5, 6000, 4));
    parts.push(frame(9, 4, 5, 700, 5));
    parts.push(frame(DATA, 1, 5, 5000, 6));
    for i in 0..40u32 {
        // Many small frames in one syscall.
        parts.push(frame(HEADERS, 5, 7 + 2 * i, 40, i as u8));
        parts.push(frame(DATA, 0, 7 + 2 * i, 3000, i as u8));
    }
    let c2s: Vec<u8> = parts.concat();
    let s2c: Vec<u8> =
        [frame(4, 0, 0, 6, 9), frame(HEADERS, 4, 1, 50, 7), frame(DATA, 1, 1, 70_000, 8)].concat();
    let (c2s_w, s2c_w) = (parts.clone(), s2c.clone());
    tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(server).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        c.write_all(&c2s_w[0]).unwrap();
        c.write_all(&c2s_w[1]).unwrap();
        let iov: Vec<libc::iovec> = c2s_w[2..]
            .iter()
            .map(|p| libc::iovec { iov_base: p.as_ptr() as *mut _, iov_len: p.len() })
            .collect();
        let want: usize = c2s_w[2..].iter().map(|p| p.len()).sum();
        let total = c2s_w.concat().len();
        let reply = s2c_w.clone();
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; total];
            std::io::Read::read_exact(&mut s, &mut got).unwrap();
            std::io::Write::write_all(&mut s, &reply).unwrap();
            s
        });
        let mut sent = 0;
        // Loopback takes it all in one writev unless the socket buffer is full.
        let n = unsafe { libc::writev(c.as_raw_fd(), iov.as_ptr(), iov.len().min(1024) as i32) };
        assert!(n > 0);
        sent += n as usize;
        if sent < want {
            c.write_all(&c2s_w[2..].concat()[sent..]).unwrap();
        }
        let mut back = vec![0u8; s2c_w.len()];
        std::io::Read::read_exact(&mut c, &mut back).unwrap();
        drop(reader.join().unwrap());
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut evs = Vec::new();
    let have = |evs: &[StreamEvent], o, d, n: usize| rebuild(evs, o, d).len() >= n;
    while !(have(&evs, Observer::Client, Direction::ClientToServer, c2s.len())
        && have(&evs, Observer::Server, Direction::ClientToServer, c2s.len())
        && have(&evs, Observer::Client, Direction::ServerToClient, s2c.len())
        && have(&evs, Observer::Server, Direction::ServerToClient, s2c.len()))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(e)) if e.key.server == server => evs.push(e),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    for (dir, bytes, start) in
        [(Direction::ClientToServer, &c2s, PREFACE.len()), (Direction::ServerToClient, &s2c, 0)]
    {
        for obs in [Observer::Client, Observer::Server] {
            let got = rebuild(&evs, obs, dir);
            assert_eq!(got.len(), bytes.len(), "{obs:?} {dir:?}: stream length");
            for (a, b) in must_copy(bytes, start) {
                for i in a..b {
                    assert_eq!(got[i], Some(bytes[i]), "{obs:?} {dir:?}: byte {i} in [{a},{b})");
                }
            }
            let gaps = got.iter().filter(|b| b.is_none()).count();
            assert!(gaps > 0, "{obs:?} {dir:?}: the DATA beyond the cap is cut");
        }
    }
    let st = cap.stats();
    assert_eq!(st.h2_headers_cut, 0, "{st:?}");
    assert!(st.truncated > 0, "{st:?}");
}
