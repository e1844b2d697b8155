//! HTTP/2 over cleartext (h2c; RFC 9113) with HPACK (RFC 7541) and gRPC: frames of both
//! directions, one HPACK decoder per direction, concurrent streams matched by id, and a
//! record per stream (request HEADERS to response END_STREAM, RST_STREAM or GOAWAY).
//! Records are the shared [`HttpRecord`](crate::record::HttpRecord) (HTTP/1 emits them
//! too).
//!
//! - `conn`: the connection parser, [`Http2Conn`];
//! - `frame`: frame header, preface, payload helpers;
//! - `framer`: one direction's frame stream (bounded buffer, skip, resync);
//! - `hpack`: header blocks, never wrong, skipping only fields it cannot resolve;
//! - `hpack_tables`: RFC 7541's static table and Huffman code;
//! - `grpc`: gRPC message counting.

pub mod conn;
pub mod frame;
pub mod framer;
pub mod grpc;
pub mod hpack;
mod hpack_tables;

pub use conn::Http2Conn;

use crate::detect::{Confidence, Hints};
use crate::{Direction, Transport};

/// Bounds of one HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes buffered per direction for an incomplete frame or header block (larger
    /// frames are skipped, counted). Default 64 KiB.
    pub max_buffer: usize,
    /// Streams waiting for their response; past it the oldest is reported. Default 64.
    pub max_pending: usize,
    /// Regular headers kept per header block (more are counted, not kept). Default 64.
    pub max_headers: usize,
    /// Header names (lower-case) whose values are copied into records. Default none.
    pub capture_headers: Vec<String>,
    /// A stream without a complete response expires after this many nanoseconds.
    /// Default 30 s.
    pub request_timeout_ns: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffer: 64 * 1024,
            max_pending: 64,
            max_headers: 64,
            capture_headers: Vec::new(),
            request_timeout_ns: 30_000_000_000,
        }
    }
}

crate::stats::counters! {
    /// HTTP/2 counters.
    pub struct Stats {
        /// Header blocks (requests, responses, trailers, push promises) parsed.
        messages,
        /// Regular headers seen beyond `Limits::max_headers` (counted, not kept).
        headers_dropped => "headers_dropped",
        /// Header blocks that could not be decoded (or were lost): the HPACK decoder of
        /// that direction restarted, fields after the error are unknown.
        hpack_resets => "hpack_reset",
        /// Header fields that could not be resolved (they index dynamic-table entries
        /// inserted before the agent joined the connection); skipped, never guessed.
        hpack_fields_unknown => "hpack_field_unknown",
    }
}

/// Detection probe: the client preface, or (joined mid-connection) two frame headers
/// that chain exactly (RFC 9113 section 4.1).
pub fn probe(_dir: Direction, buf: &[u8], h: Hints) -> Confidence {
    use frame::{chain, PREFACE};
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

#[cfg(test)]
mod tests;
