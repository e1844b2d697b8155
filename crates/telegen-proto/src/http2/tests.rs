//! HTTP/2 and gRPC through `ConnParser`: prior knowledge, h2c upgrade, CONTINUATION,
//! padding, RST_STREAM, joining mid-connection, gaps.

use loona_hpack::Encoder;

use super::frame::*;
use crate::record::Record;
use crate::session::{ConnParser, Protocol};
use crate::testutil::*;
use crate::{Limits, Transport};

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend([kind, flags]);
    v.extend(stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn block(e: &mut Encoder<'_>, h: &[(&str, &str)]) -> Vec<u8> {
    e.encode(h.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
}

fn grpc_msg(n: usize) -> Vec<u8> {
    let mut v = vec![0];
    v.extend((n as u32).to_be_bytes());
    v.extend(std::iter::repeat_n(1u8, n));
    v
}

fn settings() -> Vec<u8> {
    frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])
}

#[test]
fn prior_knowledge_concurrent_streams_any_split() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let get = block(
        &mut ce,
        &[(":method", "GET"), (":scheme", "http"), (":path", "/a"), (":authority", "svc:80")],
    );
    let post = block(
        &mut ce,
        &[(":method", "POST"), (":scheme", "http"), (":path", "/b"), (":authority", "svc:80")],
    );
    let ok = block(&mut se, &[(":status", "200"), ("content-type", "text/plain")]);
    let created = block(&mut se, &[(":status", "201")]);
    let c1 =
        [PREFACE.to_vec(), settings(), frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &get)]
            .concat();
    let c2 =
        [frame(HEADERS, FLAG_END_HEADERS, 3, &post), frame(DATA, FLAG_END_STREAM, 3, b"hello")]
            .concat();
    let s1 =
        [settings(), frame(SETTINGS, 1, 0, &[]), frame(HEADERS, FLAG_END_HEADERS, 3, &created)]
            .concat();
    let s2 = [
        frame(HEADERS, FLAG_END_HEADERS, 1, &ok),
        frame(DATA, FLAG_END_STREAM, 1, b"abc"),
        frame(DATA, FLAG_END_STREAM, 3, b""),
    ]
    .concat();
    let recs = same_records_any_split(
        Transport::Tcp,
        8080,
        &Limits::default(),
        &[(C2S, &c1), (C2S, &c2), (S2C, &s1), (S2C, &s2)],
    );
    let h = http(&recs);
    let got: Vec<_> = h
        .iter()
        .map(|r| {
            (
                r.stream_id,
                r.method.as_ref(),
                r.target.as_str(),
                r.status,
                r.request_body_len,
                r.response_body_len,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some(1), "GET", "/a", Some(200), Some(0), Some(3)),
            (Some(3), "POST", "/b", Some(201), Some(5), Some(0))
        ]
    );
    assert!(h.iter().all(|r| r.version == "2"
        && r.host.as_deref() == Some("svc:80")
        && r.incomplete.is_none()));
}

#[test]
fn grpc_unary_streaming_and_trailers_only() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let req = |e: &mut Encoder<'_>, m: &str| {
        block(
            e,
            &[
                (":method", "POST"),
                (":path", m),
                (":authority", "g:50051"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
            ],
        )
    };
    let r1 = req(&mut ce, "/helloworld.Greeter/SayHello");
    let r3 = req(&mut ce, "/helloworld.Greeter/Missing");
    let resp = block(&mut se, &[(":status", "200"), ("content-type", "application/grpc")]);
    let trailers = block(&mut se, &[("grpc-status", "0")]);
    let only = block(
        &mut se,
        &[(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "12")],
    );
    let two = [grpc_msg(3), grpc_msg(70000)].concat();
    let c = [
        PREFACE.to_vec(),
        settings(),
        frame(HEADERS, FLAG_END_HEADERS, 1, &r1),
        frame(DATA, FLAG_END_STREAM, 1, &grpc_msg(10)),
        frame(HEADERS, FLAG_END_HEADERS, 3, &r3),
        frame(DATA, FLAG_END_STREAM, 3, &grpc_msg(0)),
    ]
    .concat();
    let s = [
        settings(),
        frame(HEADERS, FLAG_END_HEADERS, 1, &resp),
        frame(DATA, 0, 1, &two[..40000]),
        frame(DATA, 0, 1, &two[40000..]),
        frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &trailers),
        frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 3, &only),
    ]
    .concat();
    let (recs, _) = run_with(
        Transport::Tcp,
        None,
        50051,
        &Limits::default(),
        &[(C2S, &c), (S2C, &s)],
        &|_, b| (1..b.len()).step_by(997).collect(),
    );
    let h = http(&recs);
    assert_eq!(h[0].target, "/helloworld.Greeter/SayHello");
    assert_eq!(
        (h[0].grpc_status, h[0].request_messages, h[0].response_messages),
        (Some(0), Some(1), Some(2))
    );
    assert_eq!(
        (h[1].grpc_status, h[1].status, h[1].response_messages),
        (Some(12), Some(200), Some(0))
    );
}

#[test]
fn continuation_padding_priority_and_reset() {
    let mut ce = Encoder::new();
    let b = block(
        &mut ce,
        &[(":method", "GET"), (":path", "/long/path/for/continuation"), (":authority", "h")],
    );
    let mut padded = vec![3u8, 0, 0, 0, 0, 16];
    padded.extend_from_slice(&b[..4]);
    padded.extend([0, 0, 0]);
    let c = [
        PREFACE.to_vec(),
        frame(HEADERS, FLAG_PADDED | FLAG_PRIORITY | FLAG_END_STREAM, 1, &padded),
        frame(CONTINUATION, 0, 1, &b[4..6]),
        frame(CONTINUATION, FLAG_END_HEADERS, 1, &b[6..]),
    ]
    .concat();
    let s = frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]);
    let recs =
        same_records_any_split(Transport::Tcp, 80, &Limits::default(), &[(C2S, &c), (S2C, &s)]);
    let h = http(&recs);
    assert_eq!(
        (h[0].target.as_str(), h[0].status, h[0].incomplete),
        ("/long/path/for/continuation", None, Some("reset"))
    );
}

#[test]
fn h2c_upgrade_continues_on_stream_1() {
    let mut se = Encoder::new();
    let ok = block(&mut se, &[(":status", "200")]);
    let c1: &[u8] = b"GET /up HTTP/1.1\r\nHost: h2.local\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
    let s1 = [
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec(),
        settings(),
    ]
    .concat();
    let c2 = [PREFACE.to_vec(), settings(), frame(SETTINGS, 1, 0, &[])].concat();
    let s2 =
        [frame(HEADERS, FLAG_END_HEADERS, 1, &ok), frame(DATA, FLAG_END_STREAM, 1, b"upgraded!")]
            .concat();
    let recs = same_records_any_split(
        Transport::Tcp,
        80,
        &Limits::default(),
        &[(C2S, c1), (S2C, &s1), (C2S, &c2), (S2C, &s2)],
    );
    let h = http(&recs);
    let got: Vec<_> = h
        .iter()
        .map(|r| (r.version, r.method.as_ref(), r.target.as_str(), r.status, r.response_body_len))
        .collect();
    assert_eq!(
        got,
        [("1.1", "GET", "/up", Some(101), Some(0)), ("2", "GET", "/up", Some(200), Some(9))]
    );
    let mut p = ConnParser::new(Transport::Tcp, 80, &Limits::default());
    let mut out = Vec::new();
    p.on_data(C2S, 1, c1, &mut out);
    p.on_data(S2C, 2, &s1, &mut out);
    assert_eq!(p.protocol(), Protocol::Http2);
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// RFC 7541 C.3.1: GET / with `:authority www.example.com` added to the dynamic table.
const C31: &str = "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d";
/// RFC 7541 C.3.2: refers to that entry (index 62), adds `cache-control: no-cache`.
const C32: &str = "8286 84be 5808 6e6f 2d63 6163 6865";

#[test]
fn joined_mid_connection_reports_only_what_it_can_decode() {
    let mut se = Encoder::new();
    let _ = block(&mut se, &[(":status", "200"), ("x-srv", "a")]);
    let s = block(&mut se, &[(":status", "204"), ("x-srv", "a")]);
    // C.3.1 was never seen: the capture starts with C.3.2 on stream 5.
    let c = frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 5, &hex(C32));
    let sv =
        [frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 5, &s), frame(PING, 0, 0, &[0; 8])]
            .concat();
    let (recs, st) = run_with(
        Transport::Tcp,
        None,
        8080,
        &Limits::default(),
        &[(C2S, &c), (S2C, &sv)],
        &|_, _| vec![],
    );
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    // Static fields before the unknown index are right; the authority is unknown.
    assert_eq!(
        (h[0].method.as_ref(), h[0].target.as_str(), h[0].host.as_deref()),
        ("GET", "/", None)
    );
    assert_eq!((h[0].status, h[0].stream_id), (Some(204), Some(5)));
    assert_eq!(h[0].incomplete, Some("headers_unknown"), "unknown fields are marked");
    // One unresolvable field per direction (`:authority` at index 62, `x-srv` at 62),
    // skipped without resetting: the blocks themselves are well formed.
    assert_eq!((st.proto.http2.hpack_fields_unknown, st.proto.http2.hpack_resets), (2, 0));
}

#[test]
fn gap_in_header_block_resets_hpack() {
    let mut p = ConnParser::new(Transport::Tcp, 80, &Limits::default());
    let mut out: Vec<Record> = Vec::new();
    let f1 = frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &hex(C31));
    p.on_data(C2S, 1, &[PREFACE, &f1[..12]].concat(), &mut out);
    p.on_gap(C2S, 2, (f1.len() - 12) as u64, &mut out);
    p.on_data(C2S, 3, &frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 3, &hex(C32)), &mut out);
    p.on_data(C2S, 4, &frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 5, &hex(C31)), &mut out);
    p.on_data(C2S, 5, &frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 7, &hex(C32)), &mut out);
    p.on_close(6, &mut out);
    let h = http(&out);
    let got: Vec<_> = h.iter().map(|r| (r.stream_id, r.host.as_deref())).collect();
    // Stream 3 refers to the lost entry; stream 7 to the entry stream 5 re-added.
    assert_eq!(
        got,
        [(Some(3), None), (Some(5), Some("www.example.com")), (Some(7), Some("www.example.com"))]
    );
    // The lost block resets; stream 3's reference to the lost entry is skipped.
    let st = p.take_stats();
    assert_eq!((st.proto.http2.hpack_resets, st.proto.http2.hpack_fields_unknown), (1, 1));
}

#[test]
fn seed_conversation_is_a_grpc_call() {
    // The fuzz seed must itself be valid: one gRPC record with status 0.
    let s = crate::fuzzing::seeds().pop().unwrap();
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http2, &Limits::default());
    let mut out = Vec::new();
    for op in crate::fuzzing::ops(&s) {
        if let crate::fuzzing::Op::Data(d, b) = op {
            p.on_data(d, 1, b, &mut out);
        }
    }
    let h = http(&out);
    assert_eq!(h.len(), 1, "{out:?}");
    assert_eq!(
        (h[0].host.as_deref(), h[0].status, h[0].grpc_status),
        (Some("www.example.com"), Some(200), Some(0))
    );
    assert_eq!((h[0].request_messages, h[0].response_messages), (Some(1), Some(1)));
}

#[test]
fn detection_by_preface_or_chained_frames() {
    let mut p = ConnParser::new(Transport::Tcp, 8080, &Limits::default());
    p.on_data(C2S, 1, &PREFACE[..10], &mut Vec::new());
    assert_eq!(p.protocol(), Protocol::Unknown);
    p.on_data(C2S, 2, &PREFACE[10..], &mut Vec::new());
    assert_eq!(p.protocol(), Protocol::Http2);
    let mut p = ConnParser::new(Transport::Tcp, 8080, &Limits::default());
    let two = [frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]), frame(PING, 0, 0, &[0; 8])].concat();
    p.on_data(S2C, 1, &two, &mut Vec::new());
    assert_eq!(p.protocol(), Protocol::Http2);
}

#[test]
fn server_push_is_a_request_on_the_promised_stream() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let req = block(&mut ce, &[(":method", "GET"), (":path", "/"), (":authority", "a.example")]);
    // The promise's request block goes through the server's encoder (server->client
    // HPACK state), then the pushed response and the main response.
    let promised =
        block(&mut se, &[(":method", "GET"), (":path", "/style.css"), (":authority", "a.example")]);
    let mut pp = 2u32.to_be_bytes().to_vec();
    pp.extend(&promised);
    let r1 = block(&mut se, &[(":status", "200")]);
    let r2 = block(&mut se, &[(":status", "200"), ("content-type", "text/css")]);
    let c = [PREFACE, &frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &req)].concat();
    let s = [
        frame(PUSH_PROMISE, FLAG_END_HEADERS, 1, &pp),
        frame(HEADERS, FLAG_END_HEADERS, 1, &r1),
        frame(DATA, FLAG_END_STREAM, 1, b"<html>"),
        frame(HEADERS, FLAG_END_HEADERS, 2, &r2),
        frame(DATA, FLAG_END_STREAM, 2, b"body{}"),
    ]
    .concat();
    let mut p = ConnParser::new(Transport::Tcp, 80, &Limits::default());
    let mut out: Vec<Record> = Vec::new();
    p.on_data(C2S, 1, &c, &mut out);
    p.on_data(S2C, 2, &s, &mut out);
    let h = http(&out);
    let got: Vec<_> = h
        .iter()
        .map(|r| (r.stream_id, r.method.as_ref(), r.target.as_str(), r.status, r.incomplete))
        .collect();
    assert_eq!(
        got,
        [(Some(1), "GET", "/", Some(200), None), (Some(2), "GET", "/style.css", Some(200), None)]
    );
    assert_eq!(h[1].response_body_len, Some(6));
    assert_eq!(p.take_stats().unmatched_responses, 0);
}

/// Feeds `frames` as the kernel capture would: one write per frame, a DATA frame's write
/// split in syscalls of `chunk` bytes each copied up to `copy` bytes, the rest a gap
/// (other frames are copied whole).
fn feed_cut(
    p: &mut ConnParser,
    dir: crate::Direction,
    frames: &[Vec<u8>],
    chunk: usize,
    copy: usize,
    out: &mut Vec<Record>,
) {
    for (k, f) in frames.iter().enumerate() {
        let ts = 10 + k as u64;
        if f[3] != DATA {
            p.on_data(dir, ts, f, out);
            continue;
        }
        for c in f.chunks(chunk) {
            let n = c.len().min(copy);
            p.on_data(dir, ts, &c[..n], out);
            if c.len() > n {
                p.on_gap(dir, ts, (c.len() - n) as u64, out);
            }
        }
    }
}

#[test]
fn grpc_messages_larger_than_the_copied_bytes_keep_exact_counts_and_end_stream() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let req = block(
        &mut ce,
        &[(":method", "POST"), (":path", "/pkg.Svc/Big"), ("content-type", "application/grpc")],
    );
    let resp = block(&mut se, &[(":status", "200"), ("content-type", "application/grpc")]);
    let trailers = block(&mut se, &[("grpc-status", "0")]);
    // Three 10 kB request messages in one DATA frame, then END_STREAM on an empty frame;
    // two 20 kB response messages in two frames (one PADDED), trailers end the stream.
    let body: Vec<u8> = (0..3).flat_map(|_| grpc_msg(10_000)).collect();
    let c = [
        PREFACE.to_vec(),
        frame(HEADERS, FLAG_END_HEADERS, 1, &req),
        frame(DATA, 0, 1, &body),
        frame(DATA, FLAG_END_STREAM, 1, &[]),
    ];
    let mut padded = vec![7u8];
    padded.extend(grpc_msg(20_000));
    padded.extend([0u8; 7]);
    let s = [
        frame(HEADERS, FLAG_END_HEADERS, 1, &resp),
        frame(DATA, 0, 1, &grpc_msg(20_000)),
        frame(DATA, FLAG_PADDED, 1, &padded),
        frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &trailers),
    ];
    for (chunk, copy) in [(65536, 4096), (4096, 1000), (16384, 4096), (7, 7)] {
        let mut p = ConnParser::new(Transport::Tcp, 50051, &Limits::default());
        let mut out = Vec::new();
        feed_cut(&mut p, C2S, &c, chunk, copy, &mut out);
        feed_cut(&mut p, S2C, &s, chunk, copy, &mut out);
        let h = http(&out);
        assert_eq!(h.len(), 1, "chunk {chunk} copy {copy}: {out:?}");
        let r = &h[0];
        let what = format!("chunk {chunk} copy {copy}: {r:?}");
        assert_eq!((r.grpc_status, r.incomplete), (Some(0), None), "{what}");
        assert_eq!(r.request_body_len, Some(30_015), "{what}");
        assert_eq!(r.response_body_len, Some(40_010), "{what}");
        // The response's prefixes start their frames (copied): the count is exact. The
        // request's second and third prefixes lie inside the cut unless nothing is cut:
        // then no count is reported rather than a wrong one.
        assert_eq!(r.response_messages, Some(2), "{what}");
        let uncut = copy >= chunk;
        assert_eq!(r.request_messages, uncut.then_some(3), "{what}");
    }
}

#[test]
fn a_gap_inside_a_message_body_keeps_the_count_one_over_a_prefix_drops_it() {
    let mut c = super::grpc::MessageCounter::default();
    let m = grpc_msg(100);
    c.feed(&m[..10]);
    c.skip(95);
    c.feed(&m[..5]);
    c.skip(100);
    assert_eq!((c.count, c.lost), (2, false));
    c.skip(3);
    assert!(c.lost, "the gap covers where the next prefix is");
}

/// Completed streams are swap-removed, so the stream list is unordered: the request that
/// gives way on overflow is still the oldest, and streams ended together (connection
/// close) still come out in the order their requests began.
#[test]
fn overflow_and_close_follow_request_order_after_streams_complete() {
    let mut ce = Encoder::new();
    let mut se = Encoder::new();
    let mut limits = Limits::default();
    limits.http2.max_pending = 3;
    let mut p = ConnParser::new(Transport::Tcp, 8080, &limits);
    let mut out = Vec::new();
    p.on_data(C2S, 1, PREFACE, &mut out);
    for (k, id) in [1u32, 3, 5].into_iter().enumerate() {
        let path = format!("/r{id}");
        let req = block(&mut ce, &[(":method", "GET"), (":path", &path)]);
        let f = frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, id, &req);
        p.on_data(C2S, 10 * (k as u64 + 1), &f, &mut out);
    }
    // Stream 1 ends: the newest stream (5) takes its place at the front of the list.
    let ok = block(&mut se, &[(":status", "200")]);
    p.on_data(S2C, 35, &frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &ok), &mut out);
    let req = block(&mut ce, &[(":method", "GET"), (":path", "/r7")]);
    p.on_data(C2S, 40, &frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 7, &req), &mut out);
    // A fourth pending request overflows: the oldest pending one (3) gives way.
    let req = block(&mut ce, &[(":method", "GET"), (":path", "/r9")]);
    p.on_data(C2S, 50, &frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 9, &req), &mut out);
    p.on_close(60, &mut out);
    let got: Vec<_> =
        http(&out).iter().map(|r| (r.target.as_str(), r.status, r.incomplete)).collect();
    assert_eq!(
        got,
        [
            ("/r1", Some(200), None),
            ("/r3", None, Some("pending_overflow")),
            ("/r5", None, Some("connection_closed")),
            ("/r7", None, Some("connection_closed")),
            ("/r9", None, Some("connection_closed")),
        ]
    );
}
