//! Protocol detection from the first bytes of each direction, in the manner of
//! Suricata's probing parsers: every candidate protocol answers `Certain`, `Unsure`
//! (need more bytes) or `NotForUs`. The server port is only a hint (DNS on
//! `Limits::dns_ports`). Candidates are an enum (HTTP/2, AMQP, CQL and NATS become more
//! variants), dispatched by `match`, not `Box<dyn>`.

use crate::http1::parser::{self as h1, StartMatch};
use crate::{dns, Direction, Transport};

/// A probe's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    Certain,
    /// Could be this protocol; more bytes are needed to tell.
    Unsure,
    NotForUs,
}

/// A protocol detection can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    Http1,
    Dns,
    Http2,
}

impl Candidate {
    /// Probing order: the most specific signatures first.
    pub const ALL: [Candidate; 3] = [Candidate::Http1, Candidate::Dns, Candidate::Http2];
}

/// Context detection gets besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Hints {
    pub transport: Transport,
    /// The server port is one of `Limits::dns_ports`.
    pub dns_port: bool,
}

/// Probes one candidate on the first bytes of `dir`.
pub fn probe(c: Candidate, dir: Direction, buf: &[u8], h: Hints) -> Confidence {
    match c {
        Candidate::Http1 => probe_http1(dir, buf, h),
        Candidate::Dns => dns::probe(dir, buf, h),
        Candidate::Http2 => probe_http2(buf, h),
    }
}

/// HTTP/2: the client preface, or (joined mid-connection) two frame headers that chain
/// exactly (RFC 9113 section 4.1).
fn probe_http2(buf: &[u8], h: Hints) -> Confidence {
    use crate::http2::frame::{chain, PREFACE};
    if h.transport != Transport::Tcp {
        return Confidence::NotForUs;
    }
    let n = buf.len().min(PREFACE.len());
    if buf[..n] == PREFACE[..n] {
        return if n == PREFACE.len() { Confidence::Certain } else { Confidence::Unsure };
    }
    match chain(buf, 2) {
        (2, _) => Confidence::Certain,
        (_, true) => Confidence::Unsure,
        _ => Confidence::NotForUs,
    }
}

fn probe_http1(dir: Direction, buf: &[u8], h: Hints) -> Confidence {
    if h.transport != Transport::Tcp {
        return Confidence::NotForUs;
    }
    // A capture that starts with the other side's message is still HTTP/1.
    let m = match h1::request_start(buf) {
        StartMatch::No => h1::response_start(buf),
        m => m,
    };
    let _ = dir;
    match m {
        StartMatch::Yes => Confidence::Certain,
        StartMatch::Maybe => Confidence::Unsure,
        StartMatch::No => Confidence::NotForUs,
    }
}

/// The combined verdict over all candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Found(Candidate),
    NeedMore,
    NotRecognised,
}

/// Runs every probe: the first `Certain` wins; any `Unsure` waits for more bytes.
pub fn detect(dir: Direction, buf: &[u8], h: Hints) -> Verdict {
    let mut unsure = false;
    for c in Candidate::ALL {
        match probe(c, dir, buf, h) {
            Confidence::Certain => return Verdict::Found(c),
            Confidence::Unsure => unsure = true,
            Confidence::NotForUs => {}
        }
    }
    if unsure {
        Verdict::NeedMore
    } else {
        Verdict::NotRecognised
    }
}

/// For a TCP stream joined mid-message: the offset of the first certain HTTP/1 start
/// line (request or status line) at a line start, if any.
pub fn find_http1_start(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let rest = &buf[i..];
        if h1::request_start(rest) == StartMatch::Yes || h1::response_start(rest) == StartMatch::Yes
        {
            return Some(i);
        }
        i += h1::memchr(b'\n', rest)? + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction::{ClientToServer as C2S, ServerToClient as S2C};

    const TCP: Hints = Hints { transport: Transport::Tcp, dns_port: false };
    const TCP53: Hints = Hints { transport: Transport::Tcp, dns_port: true };
    const UDP: Hints = Hints { transport: Transport::Udp, dns_port: false };

    #[test]
    fn http1_by_first_bytes_on_any_port() {
        assert_eq!(detect(C2S, b"GET / HTTP/1.1\r\n", TCP), Verdict::Found(Candidate::Http1));
        assert_eq!(detect(S2C, b"HTTP/1.1 200 OK\r\n", TCP), Verdict::Found(Candidate::Http1));
        assert_eq!(detect(C2S, b"PROPFIND /x", TCP), Verdict::Found(Candidate::Http1));
        assert_eq!(detect(C2S, b"GE", TCP), Verdict::NeedMore);
        assert_eq!(detect(S2C, b"HTTP/1", TCP), Verdict::NeedMore);
        assert_eq!(detect(C2S, b"GET_x", TCP), Verdict::NotRecognised);
        assert_eq!(detect(S2C, b"HTTP/2.0 200", TCP), Verdict::NotRecognised);
        assert_eq!(detect(C2S, b"\x16\x03\x01\x02\x00", TCP), Verdict::NotRecognised);
        assert_eq!(probe(Candidate::Http1, C2S, b"GET / HTTP/1.1", UDP), Confidence::NotForUs);
    }

    #[test]
    fn dns_needs_port_or_full_parse() {
        let q = crate::dns::message::tests::build(1, 0x0100, "a.test", 1, &[]);
        assert_eq!(detect(C2S, &q, UDP), Verdict::Found(Candidate::Dns));
        // Plausible header, garbage question: only on a DNS port.
        let mut bad = q.clone();
        bad.truncate(14);
        assert_eq!(detect(C2S, &bad, UDP), Verdict::NotRecognised);
        let mut framed = vec![0, bad.len() as u8];
        framed.extend_from_slice(&bad);
        assert_eq!(detect(C2S, &framed, TCP53), Verdict::Found(Candidate::Dns));
        assert_eq!(detect(C2S, &framed[..5], TCP53), Verdict::NeedMore);
        // A query carrying an error code or the Z bit is not plausible.
        let mut z = q.clone();
        z[3] |= 0x40;
        assert_eq!(detect(C2S, &z, UDP), Verdict::NotRecognised);
    }

    #[test]
    fn mid_stream_start_found_after_a_line_break() {
        assert_eq!(find_http1_start(b"body bytes\r\nGET /x HTTP/1.1\r\n"), Some(12));
        assert_eq!(find_http1_start(b"xx\nHTTP/1.1 204 No"), Some(3));
        assert_eq!(find_http1_start(b"no start here GET / HTTP/1.1"), None);
        assert_eq!(find_http1_start(b"binary\nGE"), None);
    }
}
