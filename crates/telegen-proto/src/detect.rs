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
}

impl Candidate {
    /// Probing order: the most specific signatures first.
    pub const ALL: [Candidate; 2] = [Candidate::Http1, Candidate::Dns];
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

/// For a TCP stream joined mid-message: the offset of the first plausible HTTP/1 start
/// line after a line break, if any.
pub fn find_http1_start(buf: &[u8]) -> Option<usize> {
    let a = h1::find_start(buf, true);
    let b = h1::find_start(buf, false);
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}
