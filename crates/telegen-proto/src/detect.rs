//! Protocol detection from the first bytes of each direction, in the manner of
//! Suricata's probing parsers: every protocol's probe answers `Certain`, `Unsure` (need
//! more bytes) or `NotForUs`, in [`Protocol::PROBE_ORDER`]. The server port is only a
//! hint (a protocol's configured ports, such as `dns::Limits::ports`). The probes live
//! in their protocols' folders; the list is `protocols.rs`.

use crate::protocols::{self, Protocol};
use crate::{Direction, Transport};

/// Detection's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes per connection that detection looks at (for a plausible message start)
    /// before giving the connection up as unrecognised. Default 256 KiB.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 256 * 1024 }
    }
}

/// A probe's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    Certain,
    /// Could be this protocol; more bytes are needed to tell.
    Unsure,
    NotForUs,
}

/// Context detection gets besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Hints {
    pub transport: Transport,
    /// [`Protocol::bit`]s of the protocols whose configured ports include the server
    /// port (see [`ProtocolConn::expects_port`](crate::conn::ProtocolConn::expects_port)).
    pub expected_ports: u32,
}

impl Hints {
    /// Whether the server port is one of `p`'s configured ports.
    pub fn port_expected(&self, p: Protocol) -> bool {
        self.expected_ports & p.bit() != 0
    }
}

/// Probes one protocol on the first bytes of `dir`.
pub fn probe(p: Protocol, dir: Direction, buf: &[u8], h: Hints) -> Confidence {
    protocols::probe(p, dir, buf, h)
}

/// The combined verdict over all protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Found(Protocol),
    NeedMore,
    NotRecognised,
}

/// Runs every probe: the first `Certain` wins; any `Unsure` waits for more bytes.
pub fn detect(dir: Direction, buf: &[u8], h: Hints) -> Verdict {
    let mut unsure = false;
    for p in Protocol::PROBE_ORDER {
        match protocols::probe(p, dir, buf, h) {
            Confidence::Certain => return Verdict::Found(p),
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

/// For bytes no probe recognised (a stream joined mid-message): the first protocol, in
/// probe order, that finds a certain message start, and its offset.
pub fn find_start(transport: Transport, buf: &[u8]) -> Option<(Protocol, usize)> {
    protocols::find_start(transport, buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction::{ClientToServer as C2S, ServerToClient as S2C};

    const TCP: Hints = Hints { transport: Transport::Tcp, expected_ports: 0 };
    const TCP53: Hints = Hints { transport: Transport::Tcp, expected_ports: Protocol::Dns.bit() };
    const UDP: Hints = Hints { transport: Transport::Udp, expected_ports: 0 };

    #[test]
    fn http1_by_first_bytes_on_any_port() {
        assert_eq!(detect(C2S, b"GET / HTTP/1.1\r\n", TCP), Verdict::Found(Protocol::Http1));
        assert_eq!(detect(S2C, b"HTTP/1.1 200 OK\r\n", TCP), Verdict::Found(Protocol::Http1));
        assert_eq!(detect(C2S, b"PROPFIND /x", TCP), Verdict::Found(Protocol::Http1));
        assert_eq!(detect(C2S, b"GE", TCP), Verdict::NeedMore);
        assert_eq!(detect(S2C, b"HTTP/1", TCP), Verdict::NeedMore);
        assert_eq!(detect(C2S, b"GET_x", TCP), Verdict::NotRecognised);
        assert_eq!(detect(S2C, b"HTTP/2.0 200", TCP), Verdict::NotRecognised);
        assert_eq!(detect(C2S, b"\x16\x03\x01\x02\x00", TCP), Verdict::NotRecognised);
        assert_eq!(probe(Protocol::Http1, C2S, b"GET / HTTP/1.1", UDP), Confidence::NotForUs);
    }

    #[test]
    fn dns_needs_port_or_full_parse() {
        let q = crate::dns::message::tests::build(1, 0x0100, "a.test", 1, &[]);
        assert_eq!(detect(C2S, &q, UDP), Verdict::Found(Protocol::Dns));
        // Plausible header, garbage question: only on a DNS port.
        let mut bad = q.clone();
        bad.truncate(14);
        assert_eq!(detect(C2S, &bad, UDP), Verdict::NotRecognised);
        let mut framed = vec![0, bad.len() as u8];
        framed.extend_from_slice(&bad);
        assert_eq!(detect(C2S, &framed, TCP53), Verdict::Found(Protocol::Dns));
        assert_eq!(detect(C2S, &framed[..5], TCP53), Verdict::NeedMore);
        // A query carrying an error code or the Z bit is not plausible.
        let mut z = q.clone();
        z[3] |= 0x40;
        assert_eq!(detect(C2S, &z, UDP), Verdict::NotRecognised);
    }

    #[test]
    fn mid_stream_start_found_after_a_line_break() {
        let f = |b: &[u8]| find_start(Transport::Tcp, b);
        assert_eq!(f(b"body bytes\r\nGET /x HTTP/1.1\r\n"), Some((Protocol::Http1, 12)));
        assert_eq!(f(b"xx\nHTTP/1.1 204 No"), Some((Protocol::Http1, 3)));
        assert_eq!(f(b"no start here GET / HTTP/1.1"), None);
        assert_eq!(f(b"binary\nGE"), None);
        assert_eq!(find_start(Transport::Udp, b"GET /x HTTP/1.1\r\n"), None);
    }
}
