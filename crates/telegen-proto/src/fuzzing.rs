//! Fuzz target bodies, shared by the cargo-fuzz crate (`fuzz/`) and the stable smoke
//! test (`tests/fuzz_smoke.rs`). Each turns arbitrary bytes into a sequence of
//! operations (chunks per direction, gaps, expiry, close) and checks invariants that
//! must hold for any input; a panic is a bug. Compiled with the `fuzzing` feature only.

use crate::record::Record;
use crate::session::{ConnParser, Protocol};
use crate::{dns, http1, http2, Direction, Limits, Transport};

/// One step decoded from fuzz input.
#[derive(Debug)]
pub enum Op<'a> {
    Data(Direction, &'a [u8]),
    Gap(Direction, u64),
    Expire,
    Close,
}

/// Decodes `data` as `[ctrl][len][bytes...]` steps. `ctrl` low bits choose the kind
/// and direction; `len` the chunk size (the rest when the input is shorter).
pub fn ops(mut data: &[u8]) -> impl Iterator<Item = Op<'_>> {
    std::iter::from_fn(move || {
        let (&ctrl, rest) = data.split_first()?;
        let (&len, rest) = rest.split_first().unwrap_or((&0, rest));
        let dir = if ctrl & 1 == 0 { Direction::ClientToServer } else { Direction::ServerToClient };
        let n = usize::from(len).min(rest.len());
        let (chunk, rest) = rest.split_at(n);
        data = rest;
        Some(match (ctrl >> 1) % 16 {
            0 => Op::Gap(dir, u64::from(len) * u64::from(ctrl >> 5).max(1)),
            1 => Op::Expire,
            2 if data.is_empty() => Op::Close,
            _ => Op::Data(dir, chunk),
        })
    })
}

/// Encodes a conversation as fuzz input for [`ops`] (seeds for corpora and tests).
pub fn encode(steps: &[(Direction, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    for (d, b) in steps {
        let ctrl = if *d == Direction::ClientToServer { 6 } else { 7 };
        for c in b.chunks(255) {
            v.push(ctrl);
            v.push(c.len() as u8);
            v.extend_from_slice(c);
        }
    }
    v
}

/// Seed inputs: valid HTTP/1 and DNS conversations in [`encode`] form.
pub fn seeds() -> Vec<Vec<u8>> {
    use Direction::{ClientToServer as C, ServerToClient as S};
    let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
    let mut r = q.to_vec();
    r[2] = 0x81;
    r[3] = 0x80;
    r[7] = 1;
    r.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x5d\xb8\xd8\x22");
    let tcp = |m: &[u8]| [&(m.len() as u16).to_be_bytes()[..], m].concat();
    vec![
        encode(&[
            (C, b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Id: 7\r\n\r\n"),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: t\r\n\r\nok"),
        ]),
        encode(&[
            (C, b"POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"),
            (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
            (C, b"4;e=1\r\nabcd\r\n0\r\nT: 1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n"),
            (S, b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"),
        ]),
        encode(&[
            (C, b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"),
            (S, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nPRI"),
        ]),
        encode(&[(C, b"GET / HTTP/1.0\r\n\r\n"), (S, b"HTTP/1.0 200 OK\r\n\r\nuntil close")]),
        encode(&[(C, q), (S, &r)]),
        encode(&[(C, &tcp(q)), (S, &tcp(&r))]),
        encode(&[(C, &h2_request()), (S, &h2_response())]),
    ]
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend([kind, flags]);
    v.extend(stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An HTTP/2 gRPC request (preface, SETTINGS, HEADERS with CONTINUATION, DATA).
fn h2_request() -> Vec<u8> {
    // RFC 7541 C.3.1 block (indexes :authority) split over HEADERS + CONTINUATION.
    let b = b"\x82\x86\x84\x41\x0fwww.example.com";
    [
        crate::http2::frame::PREFACE.to_vec(),
        h2_frame(4, 0, 0, &[0, 1, 0, 0, 0x10, 0]),
        h2_frame(1, 0x20, 1, &[&[0u8, 0, 0, 0, 16][..], &b[..5]].concat()),
        h2_frame(9, 4, 1, &b[5..]),
        h2_frame(0, 0x9, 1, &[2, 0, 0, 0, 0, 1, 7, 0, 0]),
    ]
    .concat()
}

/// The response: SETTINGS, HEADERS (:status 200), DATA, trailers, RST and GOAWAY.
fn h2_response() -> Vec<u8> {
    [
        h2_frame(4, 0, 0, &[]),
        h2_frame(1, 4, 1, b"\x88\x5f\x10application/grpc"),
        h2_frame(0, 0, 1, &[0, 0, 0, 0, 2, 1, 2]),
        h2_frame(1, 5, 1, b"\x40\x0bgrpc-status\x010"),
        h2_frame(3, 0, 3, &[0, 0, 0, 8]),
        h2_frame(7, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]),
    ]
    .concat()
}

/// Requests in flight per connection under [`small_limits`].
const SMALL_PENDING: usize = 4;

fn small_limits() -> Limits {
    let capture: Vec<String> = vec!["content-type".into(), "x-id".into()];
    Limits {
        http1: http1::Limits {
            max_buffer: 512,
            max_pending: SMALL_PENDING,
            max_headers: 4,
            max_body_capture: 16,
            capture_headers: capture.clone(),
            request_timeout_ns: 5_000,
        },
        http2: http2::Limits {
            max_buffer: 512,
            max_pending: SMALL_PENDING,
            max_headers: 4,
            capture_headers: capture,
            request_timeout_ns: 5_000,
        },
        dns: dns::Limits {
            max_buffer: 512,
            max_pending: SMALL_PENDING,
            timeout_ns: 5_000,
            ..dns::Limits::default()
        },
        ..Limits::default()
    }
}

fn drive(p: &mut ConnParser, data: &[u8], limits: &Limits) -> Vec<Record> {
    let mut out = Vec::new();
    let mut ts = 0u64;
    for op in ops(data) {
        ts += 1_000;
        match op {
            Op::Data(d, b) => p.on_data(d, ts, b, &mut out),
            Op::Gap(d, n) => p.on_gap(d, ts, n, &mut out),
            Op::Expire => p.expire(ts, &mut out),
            Op::Close => p.on_close(ts, &mut out),
        }
        assert!(p.pending() <= SMALL_PENDING, "pending queue above its bound");
    }
    p.on_close(ts + 1, &mut out);
    assert_eq!(p.pending(), 0, "close leaves nothing pending");
    for r in &out {
        check_record(r, limits);
    }
    out
}

fn check_record(r: &Record, l: &Limits) {
    match r {
        Record::Http(h) => {
            assert!(h.end_ns >= h.start_ns);
            let max_headers =
                if h.version == "2" { l.http2.max_headers } else { l.http1.max_headers };
            assert!(h.request_headers.len() <= max_headers);
            assert!(h.response_headers.len() <= max_headers);
            for b in [&h.request_body, &h.response_body].into_iter().flatten() {
                // Lossy UTF-8 may expand each byte to 3.
                assert!(b.len() <= 3 * l.http1.max_body_capture);
            }
        }
        Record::Dns(d) => {
            assert!(d.answers.len() <= l.dns.max_answers);
            assert!(d.response_ns.is_none_or(|t| t >= d.query_ns) || d.response_only);
        }
    }
}

/// HTTP/1 connection parser on arbitrary chunk sequences.
pub fn http1(data: &[u8]) {
    let l = small_limits();
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &l);
    drive(&mut p, data, &l);
}

/// DNS message parser (every section and RDATA rendering), then DNS over UDP and TCP.
pub fn dns(data: &[u8]) {
    if let Ok(m) = dns::message::parse(data) {
        assert!(m.len <= data.len());
        let _ = m.question_name();
        for rr in m.answers() {
            let _ = dns::rdata::rdata_text(data, &rr);
        }
    }
    let l = small_limits();
    let mut udp = ConnParser::with_protocol(Transport::Udp, Protocol::Dns, &l);
    drive(&mut udp, data, &l);
    let mut tcp = ConnParser::with_protocol(Transport::Tcp, Protocol::Dns, &l);
    drive(&mut tcp, data, &l);
}

/// HTTP/2 connection parser (frames, HPACK, gRPC) on arbitrary chunk sequences.
pub fn http2(data: &[u8]) {
    let l = small_limits();
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http2, &l);
    drive(&mut p, data, &l);
}

/// Detection plus whatever parser it picks; the first two bytes choose transport and
/// server port.
pub fn conn_parser(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let transport = if sel & 1 == 0 { Transport::Tcp } else { Transport::Udp };
    let port = if sel & 2 == 0 { 53 } else { 8080 };
    let l = small_limits();
    let mut p = ConnParser::new(transport, port, &l);
    drive(&mut p, rest, &l);
}
