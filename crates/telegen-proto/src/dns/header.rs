//! The 12-byte DNS header (RFC 1035 section 4.1.1) and the detection probe built on it.

use crate::detect::{Confidence, Hints};
use crate::protocols::Protocol;
use crate::{Direction, Transport};

pub const HEADER_LEN: usize = 12;

/// Counts above this are implausible for detection (parsing still bounds them by length).
const PLAUSIBLE_COUNT: u16 = 64;
/// Questions per message accepted by detection on a DNS port. Nearly every message has
/// one; a few resolvers and test tools send several (RFC 1035 allows it, RFC 9619 clarifies
/// that QDCOUNT > 1 is not used in practice, but it is seen).
const PLAUSIBLE_QUESTIONS: u16 = 4;

/// A parsed DNS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(b: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        let w = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// The 4-bit RCODE of the header (EDNS may extend it).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
    /// Whether this header looks like real DNS: known opcode, the Z bit clear, small
    /// counts (a few questions at most), and a query that carries no error code.
    pub fn plausible(&self) -> bool {
        let counts = [self.qdcount, self.ancount, self.nscount, self.arcount];
        matches!(self.opcode(), 0 | 1 | 2 | 4 | 5 | 6)
            && self.flags & 0x0040 == 0
            && self.qdcount <= PLAUSIBLE_QUESTIONS
            && counts.iter().all(|&c| c <= PLAUSIBLE_COUNT)
            && (self.is_response() || self.rcode() == 0)
    }
}

/// Detection probe. On a DNS port a plausible header is enough; elsewhere the whole
/// message must parse and the question count must be one.
pub fn probe(_dir: Direction, buf: &[u8], h: Hints) -> Confidence {
    let dns_port = h.port_expected(Protocol::Dns);
    let msg = match h.transport {
        Transport::Udp => buf,
        Transport::Tcp => {
            if buf.len() < 2 {
                return if dns_port { Confidence::Unsure } else { Confidence::NotForUs };
            }
            let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
            if len < HEADER_LEN {
                return Confidence::NotForUs;
            }
            &buf[2..]
        }
    };
    if msg.len() < HEADER_LEN {
        let tcp_wait = h.transport == Transport::Tcp && dns_port;
        return if tcp_wait { Confidence::Unsure } else { Confidence::NotForUs };
    }
    let Some(hd) = Header::parse(msg) else { return Confidence::NotForUs };
    if !hd.plausible() {
        return Confidence::NotForUs;
    }
    if dns_port {
        return Confidence::Certain;
    }
    if hd.qdcount == 1 && super::message::parse(msg_exact(msg, h.transport, buf)).is_ok() {
        Confidence::Certain
    } else {
        Confidence::NotForUs
    }
}

/// The message bytes a full-parse probe looks at (TCP: as long as the prefix says).
fn msg_exact<'a>(msg: &'a [u8], t: Transport, buf: &[u8]) -> &'a [u8] {
    match t {
        Transport::Udp => msg,
        Transport::Tcp => {
            let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
            &msg[..len.min(msg.len())]
        }
    }
}
