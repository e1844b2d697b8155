//! HTTP/1 edge cases seen in the capture corpus: version tokens in lower case, HTTP/0.9
//! simple requests, and heads cut short (by the response starting, a gap, the
//! connection's end, or a timeout). Each conversation is also fed split at every offset.

use super::lenient::request09;
use super::parser::{response_start, StartMatch};
use crate::record::Record;
use crate::session::{ConnParser, Protocol};
use crate::testutil::*;
use crate::{Limits, Transport};

fn split_all(steps: &[Step<'_>]) -> Vec<Record> {
    same_records_any_split(Transport::Tcp, 8080, &Limits::default(), steps)
}

#[test]
fn version_token_in_any_case() {
    let recs = split_all(&[
        (C2S, b"GET /index.html http/1.1\r\nHost: 146.190.62.39\r\n\r\n"),
        (S2C, b"http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        (C2S, b"GET /two HTTP/1.1\r\n\r\n"),
        (S2C, b"Http/1.0 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
    ]);
    let h = http(&recs);
    let got: Vec<_> =
        h.iter().map(|r| (r.target.as_str(), r.version, r.status, r.response_body_len)).collect();
    assert_eq!(
        got,
        [("/index.html", "1.1", Some(200), Some(2)), ("/two", "1.1", Some(404), Some(0))]
    );
    assert_eq!(h[0].host.as_deref(), Some("146.190.62.39"));
    assert!(h.iter().all(|r| r.incomplete.is_none()));
    assert_eq!(response_start(b"hTtP/1.1 2"), StartMatch::Yes);
    assert_eq!(response_start(b"HTTPS/1.1 2"), StartMatch::No);
}

#[test]
fn http09_simple_requests_and_bodies_until_close() {
    let body = b"<html>\n  The Zeek Network Security Monitor\n</html>\n";
    let recs = split_all(&[(C2S, b"GET /zeek.html\n"), (S2C, body)]);
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].method.as_ref(), h[0].target.as_str(), h[0].version),
        ("GET", "/zeek.html", "0.9")
    );
    assert_eq!(
        (h[0].status, h[0].request_body_len, h[0].response_body_len),
        (None, Some(0), Some(51))
    );
    assert_eq!((h[0].incomplete, h[0].end_ns), (None, 3000), "the close ends the body");

    // CRLF line end; a body that starts like a status line ("HT...") but is not one.
    let recs = split_all(&[(C2S, b"POST /zeek.html\r\n"), (S2C, b"HTML is not here\n")]);
    let h = http(&recs);
    assert_eq!(
        (h[0].method.as_ref(), h[0].status, h[0].response_body_len),
        ("POST", None, Some(17))
    );

    // A server that answers a simple request with a full response is parsed as such.
    let recs = split_all(&[
        (C2S, b"GET /cgi-bin/x?msg=w00t\r\n"),
        (S2C, b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nnop"),
    ]);
    let h = http(&recs);
    assert_eq!((h[0].version, h[0].status, h[0].response_body_len), ("0.9", Some(404), Some(3)));
}

#[test]
fn http09_lines_must_look_like_requests() {
    assert_eq!(request09(b"GET /zeek.html\n"), Some(("GET", "/zeek.html", 15)));
    assert_eq!(request09(b"GET http://h/x\r\nrest"), Some(("GET", "http://h/x", 16)));
    for bad in [
        &b"GET /x"[..],      // no line end yet
        b"GET x\n",          // target neither /... nor http...
        b"FETCH /x\n",       // unknown method
        b"get /x\n",         // methods are case-sensitive
        b"GET /a b\n",       // a space in the target
        b"GET /a\x01b\n",    // a control byte
        b"GET  /x\n",        // two spaces
        b"\x00\x01GET /x\n", // not at the start
    ] {
        assert_eq!(request09(bad), None, "{bad:?}");
    }
    // Random bytes with a method-like start never become a request: counted, no record.
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &Limits::default());
    let mut out = Vec::new();
    p.on_data(C2S, 1, b"GET x\x00\x13\n\n", &mut out);
    p.on_close(2, &mut out);
    assert!(out.is_empty());
    assert!(p.take_stats().resync_bytes_skipped > 0);
}

#[test]
fn request_head_cut_when_the_response_starts() {
    let recs = split_all(&[
        (
            C2S,
            b"POST /bff/check?channel=webportal&terminalType=bff HTTP/1.1\r\n\
Host: api.intranet.local\r\nContent-Length: 50\r\nX-Cut-Here: abcdef",
        ),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].method.as_ref(), h[0].target.as_str(), h[0].host.as_deref()),
        ("POST", "/bff/check?channel=webportal&terminalType=bff", Some("api.intranet.local"))
    );
    assert_eq!(
        (h[0].status, h[0].request_body_len, h[0].response_body_len),
        (Some(200), Some(50), Some(2))
    );
    assert_eq!((h[0].start_ns, h[0].incomplete), (1000, Some("gap")));
}

#[test]
fn pipelined_partial_request_waits_for_its_own_response() {
    // The response to /a must not cut the head of /b, which is still arriving.
    let recs = split_all(&[
        (C2S, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        (C2S, b"Accept: */*\r\n\r\n"),
        (S2C, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let got: Vec<_> =
        http(&recs).iter().map(|r| (r.target.as_str(), r.status, r.incomplete)).collect();
    assert_eq!(got, [("/a", Some(200), None), ("/b", Some(201), None)]);
}

#[test]
fn status_line_alone_before_close() {
    let recs = split_all(&[
        (C2S, b"GET /productpage HTTP/1.1\r\nhost: productpage:9080\r\n\r\n"),
        (S2C, b"HTTP/1.0 200 OK\r\n"),
    ]);
    let h = http(&recs);
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].target.as_str(), h[0].status), ("/productpage", Some(200)));
    assert_eq!((h[0].incomplete, h[0].response_body_len), (Some("connection_closed"), None));

    // Cut inside the status line: nothing to take, the request closes without status.
    let recs = split_all(&[(C2S, b"GET /p HTTP/1.1\r\n\r\n"), (S2C, b"HTTP/1.0 200 O")]);
    assert_eq!(http(&recs)[0].status, None);

    // A request head cut by the close is reported with what was seen.
    let recs = split_all(&[(C2S, b"GET /x HTTP/1.1\r\nHost: a\r\nUser-Ag")]);
    let h = http(&recs);
    assert_eq!((h[0].target.as_str(), h[0].host.as_deref()), ("/x", Some("a")));
    assert_eq!(
        (h[0].status, h[0].request_body_len, h[0].incomplete),
        (None, None, Some("connection_closed"))
    );
}

#[test]
fn head_cut_by_a_gap_or_a_timeout() {
    let mut l = Limits::default();
    l.http1.request_timeout_ns = 1000;
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &l);
    let mut out = Vec::new();
    p.on_data(C2S, 10, b"GET /slow HTTP/1.1\r\n\r\n", &mut out);
    p.on_data(S2C, 20, b"HTTP/1.1 503 Busy\r\nRetry-", &mut out);
    p.expire(1009, &mut out);
    assert!(out.is_empty(), "neither the request nor the head is old enough");
    p.expire(1020, &mut out);
    let h = http(&out);
    assert_eq!((h[0].status, h[0].incomplete), (Some(503), Some("timeout")));
    // Bytes after the expired head resync on the next status line.
    p.on_data(S2C, 1030, b"After: 1\r\n\r\n", &mut out);
    p.on_data(C2S, 1040, b"GET /next HTTP/1.1\r\nHost: n\r\nCont", &mut out);
    p.on_gap(C2S, 1050, 100, &mut out);
    p.on_data(S2C, 1060, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &mut out);
    let h = http(&out);
    assert_eq!(h.len(), 2);
    assert_eq!((h[1].target.as_str(), h[1].host.as_deref()), ("/next", Some("n")));
    assert_eq!((h[1].status, h[1].incomplete), (Some(200), Some("gap")));
    let st = p.take_stats();
    assert_eq!((st.requests_expired, st.gaps), (1, 1));
}
