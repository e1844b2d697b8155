//! HTTP/1 edge cases through `ConnParser`, each also fed split at every offset.

use crate::http1::Upgrade;
use crate::protocols::Parser;
use crate::record::Record;
use crate::session::{ConnParser, Protocol};
use crate::testutil::*;
use crate::{Limits, Transport};

fn l() -> Limits {
    Limits::default()
}

/// Default limits with HTTP/1's changed by `f`.
fn l1(f: impl FnOnce(&mut crate::http1::Limits)) -> Limits {
    let mut l = l();
    f(&mut l.http1);
    l
}

fn split_all(steps: &[Step<'_>]) -> Vec<Record> {
    same_records_any_split(Transport::Tcp, 8080, &l(), steps)
}

#[test]
fn keep_alive_exchanges() {
    let recs = split_all(&[
        (C2S, b"GET /users/42?x=1 HTTP/1.1\r\nHost: api.local\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        (C2S, b"POST /items HTTP/1.1\r\nHost: api.local\r\nContent-Length: 3\r\n\r\nabc"),
        (S2C, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let h = http(&recs);
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].method.as_ref(), h[0].target.as_str()), ("GET", "/users/42?x=1"));
    assert_eq!((h[0].status, h[0].version), (Some(200), "1.1"));
    assert_eq!(h[0].host.as_deref(), Some("api.local"));
    assert_eq!((h[0].start_ns, h[0].end_ns), (1000, 2000));
    assert_eq!((h[0].request_body_len, h[0].response_body_len), (Some(0), Some(5)));
    assert_eq!((h[1].method.as_ref(), h[1].status), ("POST", Some(201)));
    assert_eq!((h[1].request_body_len, h[1].response_body_len), (Some(3), Some(0)));
    assert!(h.iter().all(|r| r.incomplete.is_none()));
}

#[test]
fn pipelining_many_messages_per_chunk() {
    let recs = split_all(&[
        (C2S, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nHEAD /c HTTP/1.1\r\n\r\n"),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA\
HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nBB\
HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
        ),
    ]);
    let h = http(&recs);
    let got: Vec<_> =
        h.iter().map(|r| (r.target.as_str(), r.status, r.response_body_len)).collect();
    assert_eq!(
        got,
        [("/a", Some(200), Some(1)), ("/b", Some(404), Some(2)), ("/c", Some(200), Some(0))]
    );
}

#[test]
fn chunked_with_split_lines_extensions_and_trailers() {
    let recs = split_all(&[
        (C2S, b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
1a;name=val\r\nabcdefghijklmnopqrstuvwxyz\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n",
        ),
        (C2S, b"GET /next HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 204 No Content\r\n\r\n"),
    ]);
    let h = http(&recs);
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].request_body_len, h[0].response_body_len), (Some(3), Some(42)));
    assert_eq!((h[1].target.as_str(), h[1].status), ("/next", Some(204)));
}

#[test]
fn body_delimited_by_close() {
    let recs = split_all(&[
        (C2S, b"GET /old HTTP/1.0\r\n\r\n"),
        (S2C, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this until close"),
    ]);
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].version, h[0].status), ("1.0", Some(200)));
    assert_eq!(h[0].response_body_len, Some(23));
    assert_eq!(h[0].incomplete, None);
    assert_eq!(h[0].end_ns, 3000, "close time ends the body");
}

#[test]
fn no_body_statuses_and_head() {
    let recs = split_all(&[
        (C2S, b"HEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n"),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        ),
    ]);
    let got: Vec<_> = http(&recs).iter().map(|r| (r.status, r.response_body_len)).collect();
    assert_eq!(got, [(Some(200), Some(0)), (Some(304), Some(0)), (Some(204), Some(0))]);
}

#[test]
fn continue_interim_responses_are_skipped() {
    let recs = split_all(&[
        (C2S, b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
        (S2C, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (C2S, b"data"),
        (S2C, b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].status, h[0].request_body_len, h[0].end_ns), (Some(201), Some(4), 4000));
}

#[test]
fn upgrade_stops_http1_and_h2c_hands_over_to_http2() {
    let l = l();
    let steps: &[Step<'_>] = &[
        (C2S, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n"),
        (S2C, b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
        (C2S, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\n\r\n"),
    ];
    let recs = same_records_any_split(Transport::Tcp, 80, &l, steps);
    let h = http(&recs);
    // The 101 exchange, then stream 1 of HTTP/2 (cut by close: the bytes after the
    // switch are not HTTP/1, so "HTTP/1.1 200" is not taken as its response).
    let got: Vec<_> = h.iter().map(|r| (r.version, r.status, r.incomplete)).collect();
    assert_eq!(got, [("1.1", Some(101), None), ("2", None, Some("connection_closed"))]);
    let mut p = ConnParser::new(Transport::Tcp, 80, &l);
    let mut out = Vec::new();
    for (d, b) in steps {
        p.on_data(*d, 1, b, &mut out);
    }
    assert_eq!(p.protocol(), Protocol::Http2);
    assert_eq!(p.take_stats().proto.http1.upgrades, 1);
    // A WebSocket upgrade stops parsing: later bytes are counted, not parsed.
    let mut p = ConnParser::new(Transport::Tcp, 80, &l);
    p.on_data(
        C2S,
        1,
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        &mut out,
    );
    p.on_data(
        S2C,
        2,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
        &mut out,
    );
    p.on_data(C2S, 3, b"GET /x HTTP/1.1\r\n\r\n", &mut out);
    let Some(Parser::Http1(h)) = p.parser() else { panic!("not HTTP/1") };
    assert_eq!(h.upgraded(), Some(Upgrade::WebSocket));
    assert_eq!(p.protocol(), Protocol::Http1);
    assert_eq!(p.take_stats().bytes_unparsed, 7 + 19);
}

#[test]
fn connect_tunnel_and_websocket() {
    let recs = split_all(&[
        (C2S, b"CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01binary"),
        (C2S, b"GET /not-http HTTP/1.1\r\n\r\n"),
    ]);
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].method.as_ref(), h[0].status), ("CONNECT", Some(200)));
}

#[test]
fn capture_starts_with_response_or_mid_body() {
    let steps: &[Step<'_>] = &[
        (S2C, b"tail of an earlier body\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        (C2S, b"rest of a request body"),
        (C2S, b"GET /b HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"),
    ];
    let recs = split_all(steps);
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].target.as_str(), h[0].status), ("/b", Some(500)));
    let (_, st) = run_with(Transport::Tcp, None, 8080, &l(), steps, &|_, _| vec![]);
    assert_eq!(st.unmatched_responses, 1);
    assert!(st.resync_bytes_skipped >= 25, "{st:?}");
}

fn feed(p: &mut ConnParser, steps: &[(crate::Direction, u64, &[u8])], out: &mut Vec<Record>) {
    for (d, ts, b) in steps {
        p.on_data(*d, *ts, b, out);
    }
}

#[test]
fn gap_inside_known_length_body_keeps_sync() {
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &l());
    let mut out = Vec::new();
    feed(
        &mut p,
        &[
            (C2S, 1, b"GET /big HTTP/1.1\r\n\r\n"),
            (S2C, 2, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123"),
        ],
        &mut out,
    );
    p.on_gap(S2C, 3, 990, &mut out);
    feed(
        &mut p,
        &[
            (S2C, 4, b"456789"),
            (C2S, 5, b"GET /after HTTP/1.1\r\n\r\n"),
            (S2C, 6, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        &mut out,
    );
    let h = http(&out);
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].response_body_len, h[0].end_ns, h[0].incomplete), (Some(1000), 4, None));
    assert_eq!(h[1].target, "/after");
    let st = p.take_stats();
    assert_eq!((st.gaps, st.gaps_desync), (1, 0));
}

#[test]
fn gap_in_head_resyncs_on_next_message() {
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &l());
    let mut out = Vec::new();
    feed(
        &mut p,
        &[(C2S, 1, b"GET /a HTTP/1.1\r\n\r\n"), (S2C, 2, b"HTTP/1.1 200 OK\r\nContent-")],
        &mut out,
    );
    p.on_gap(S2C, 3, 20, &mut out);
    feed(
        &mut p,
        &[
            (S2C, 4, b"\r\nbody-rest"),
            (C2S, 5, b"GET /b HTTP/1.1\r\n\r\n"),
            (S2C, 6, b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"),
        ],
        &mut out,
    );
    let h = http(&out);
    // The gap cut the response head of /a after its status line: /a keeps the status and
    // is incomplete, /b gets the next response.
    let got: Vec<_> = h.iter().map(|r| (r.target.as_str(), r.status, r.incomplete)).collect();
    assert_eq!(got, [("/a", Some(200), Some("gap")), ("/b", Some(202), None)]);
    let st = p.take_stats();
    assert_eq!(st.gaps_desync, 1);
    assert!(st.resync_bytes_skipped > 0);
}

#[test]
fn unanswered_request_expires() {
    let limits = l1(|l| l.request_timeout_ns = 100);
    let mut p = ConnParser::new(Transport::Tcp, 80, &limits);
    let mut out = Vec::new();
    feed(&mut p, &[(C2S, 10, b"GET /slow HTTP/1.1\r\n\r\n")], &mut out);
    p.expire(109, &mut out);
    assert!(out.is_empty());
    p.expire(110, &mut out);
    let h = http(&out);
    assert_eq!((h[0].status, h[0].incomplete, h[0].end_ns), (None, Some("timeout"), 110));
    assert_eq!(p.take_stats().requests_expired, 1);
}

#[test]
fn captures_headers_and_bodies_within_limits() {
    let limits = l1(|l| {
        l.capture_headers = vec!["content-type".into(), "x-req".into()];
        l.max_headers = 3;
        l.max_body_capture = 4;
    });
    let steps: &[Step<'_>] = &[
        (C2S, b"POST / HTTP/1.1\r\nX-Req: 1\r\nContent-Type: a/b\r\nContent-Length: 6\r\nX-Req: late\r\n\r\nabcdef"),
        (S2C, b"HTTP/1.1 200 OK\r\ncontent-type: text/x\r\nContent-Length: 2\r\n\r\nok"),
    ];
    let recs = same_records_any_split(Transport::Tcp, 80, &limits, steps);
    let h = http(&recs);
    let kv = |v: &[(&str, &str)]| {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>()
    };
    assert_eq!(h[0].request_headers, kv(&[("x-req", "1"), ("content-type", "a/b")]));
    assert_eq!(h[0].response_headers, kv(&[("content-type", "text/x")]));
    assert_eq!(h[0].request_body.as_deref(), Some("abcd"));
    assert_eq!(h[0].response_body.as_deref(), Some("ok"));
    let (_, st) = run_with(Transport::Tcp, None, 80, &limits, steps, &|_, _| vec![]);
    assert_eq!(st.proto.http1.headers_dropped, 1);
}

#[test]
fn oversized_head_hits_buffer_cap_then_resyncs() {
    let limits = l1(|l| l.max_buffer = 256);
    let mut big = b"GET /x HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1000));
    let steps: &[Step<'_>] = &[
        (C2S, &big[..100]),
        (C2S, &big[100..]),
        (C2S, b"\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ];
    let (recs, st) = run_with(Transport::Tcp, None, 80, &limits, steps, &|_, _| vec![]);
    let h = http(&recs);
    assert_eq!((h[0].target.as_str(), h[0].status), ("/ok", Some(200)));
    assert_eq!(st.errors_buffer_full, 1);
}

#[test]
fn pending_queue_is_bounded() {
    let limits = l1(|l| l.max_pending = 2);
    let mut p = ConnParser::new(Transport::Tcp, 80, &limits);
    let mut out = Vec::new();
    feed(
        &mut p,
        &[(C2S, 1, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n")],
        &mut out,
    );
    assert_eq!(p.pending(), 2);
    let h = http(&out);
    assert_eq!((h[0].target.as_str(), h[0].incomplete), ("/1", Some("pending_overflow")));
    assert_eq!(p.take_stats().pending_overflow, 1);
}

#[test]
fn malformed_messages_are_counted_and_skipped() {
    let steps: &[Step<'_>] = &[
        (C2S, b"GET /a HTTP/1.1\r\nContent-Length: 12x\r\n\r\nGET /b HTTP/1.1\r\nBad Header\r\n\r\nGET /c HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nHTTP/1.1 201 OK\r\n\r\n"),
    ];
    let (recs, st) = run_with(Transport::Tcp, None, 80, &l(), steps, &|_, _| vec![]);
    let h = http(&recs);
    assert_eq!(
        h.iter().map(|r| (r.target.as_str(), r.status)).collect::<Vec<_>>(),
        [("/c", Some(200))]
    );
    assert_eq!(st.errors_malformed, 3);
}

#[test]
fn close_mid_exchange_is_incomplete() {
    let recs = split_all(&[
        (C2S, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    ]);
    let h = http(&recs);
    assert_eq!(
        h.iter().map(|r| (r.target.as_str(), r.status, r.incomplete)).collect::<Vec<_>>(),
        [("/a", Some(200), Some("connection_closed")), ("/b", None, Some("connection_closed"))]
    );
}

#[test]
fn chunks_larger_than_buffer_cap_with_split_heads() {
    // Regression: a partial head plus a chunk larger than the cap is not an overflow.
    let limits = l1(|l| (l.max_buffer, l.max_pending) = (128, 100));
    let mut reqs = Vec::new();
    let mut resps = Vec::new();
    for i in 0..40 {
        reqs.extend(format!("GET /r/{i} HTTP/1.1\r\nHost: h\r\n\r\n").bytes());
        resps.extend(format!("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{i:03}").bytes());
    }
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &limits);
    let mut out = Vec::new();
    for c in reqs.chunks(300) {
        p.on_data(C2S, 1, c, &mut out);
    }
    for c in resps.chunks(300) {
        p.on_data(S2C, 2, c, &mut out);
    }
    assert_eq!(http(&out).len(), 40);
    assert!(http(&out).iter().all(|r| r.status == Some(200) && r.incomplete.is_none()));
    let st = p.take_stats();
    assert_eq!((st.errors_buffer_full, st.resync_bytes_skipped), (0, 0));
}

#[test]
fn resync_finds_messages_that_follow_a_body_directly() {
    let steps: &[Step<'_>] = &[
        (C2S, b"GET /a HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"),
        (C2S, b"GET /b HTTP/1.1\r\n\r\n"),
        (C2S, b"GET /c HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nxy"),
    ];
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &l());
    let mut out = Vec::new();
    p.on_data(C2S, 1, steps[0].1, &mut out);
    p.on_data(S2C, 2, &steps[1].1[..20], &mut out);
    p.on_gap(S2C, 3, 30, &mut out); // rest of the head and the body of /a
    p.on_data(C2S, 4, steps[2].1, &mut out);
    p.on_data(S2C, 5, b"zzHTTP/1.1 204 No Content\r\n\r\n", &mut out);
    p.on_data(
        C2S,
        6,
        b"PUT /d HTTP/1.1\r\nContent-Length: 2\r\n\r\nokPOST /e HTTP/1.1\r\n\r\n",
        &mut out,
    );
    let h = http(&out);
    assert_eq!(
        h.iter().map(|r| (r.target.as_str(), r.status)).collect::<Vec<_>>(),
        [("/a", Some(200)), ("/b", Some(204))]
    );
    assert_eq!(h[0].incomplete, Some("gap"));
    assert_eq!(p.pending(), 2);
}
