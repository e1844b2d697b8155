//! HTTP/1 detection: a request or status line at the start of either direction, and,
//! for a stream joined mid-message, the first certain start line after a line break.

use super::parser::{self, StartMatch};
use crate::detect::{Confidence, Hints};
use crate::{Direction, Transport};

/// Detection probe: a (possibly partial) request or status line.
pub fn probe(dir: Direction, buf: &[u8], h: Hints) -> Confidence {
    if h.transport != Transport::Tcp {
        return Confidence::NotForUs;
    }
    // A capture that starts with the other side's message is still HTTP/1.
    let m = match parser::request_start(buf) {
        StartMatch::No => parser::response_start(buf),
        m => m,
    };
    let _ = dir;
    match m {
        StartMatch::Yes => Confidence::Certain,
        StartMatch::Maybe => Confidence::Unsure,
        StartMatch::No => Confidence::NotForUs,
    }
}

/// For a TCP stream joined mid-message: the offset of the first certain HTTP/1 start
/// line (request or status line) at a line start, if any.
pub fn find_start(transport: Transport, buf: &[u8]) -> Option<usize> {
    if transport != Transport::Tcp {
        return None;
    }
    let mut i = 0;
    loop {
        let rest = &buf[i..];
        if parser::request_start(rest) == StartMatch::Yes
            || parser::response_start(rest) == StartMatch::Yes
        {
            return Some(i);
        }
        i += parser::memchr(b'\n', rest)? + 1;
    }
}
