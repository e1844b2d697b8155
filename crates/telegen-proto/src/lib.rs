//! telegen-proto: the pure protocol layer of telegen.
//!
//! No I/O, no async, no allocation sized by an untrusted length field. Both live capture
//! and offline replay feed the same [`session::ConnParser`] with byte chunks of one
//! connection, and receive owned [`record::Record`]s back.
//!
//! SEAM (owned by the lead; change only together with the agent crate):
//! - [`Direction`], [`record::Record`] and its variants, [`session::ConnParser`]'s methods,
//!   [`Limits`], [`stats::ParseStats`].
//!
//! Layout: [`detect`] (probes: Certain / Unsure / NotForUs), one module per protocol
//! ([`http1`], [`http2`], [`dns`]), each with pure parsing functions returning the
//! `#[must_use]` [`status::Status`], a per-direction stream state machine and a matcher;
//! [`session`] ties them together; [`route`] derives `http.route`; [`fuzzing`] holds the
//! fuzz target bodies shared by `fuzz/` and `tests/fuzz_smoke.rs`.

pub mod detect;
pub mod dns;
pub mod fuzzing;
pub mod http1;
pub mod http2;
pub mod record;
pub mod route;
pub mod session;
pub mod stats;
pub mod status;

#[cfg(test)]
mod testutil;

use serde::Serialize;

/// Which way bytes flow, relative to the connection's initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the side that opened the connection (the client) to the other side.
    ClientToServer,
    /// From the accepting side (the server) back to the client.
    ServerToClient,
}

impl Direction {
    pub fn reverse(self) -> Self {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
}

/// Transport a connection runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// Bounds on everything a parser keeps. Every field has a default; the agent fills them
/// from configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes buffered per connection direction while a message is incomplete.
    pub max_buffer: usize,
    /// Requests waiting for a response per connection (pipelining depth, DNS in flight).
    pub max_pending: usize,
    /// Headers kept per HTTP message (more are counted, not kept).
    pub max_headers: usize,
    /// Body bytes copied into a record (0 = none).
    pub max_body_capture: usize,
    /// Header names (lower-case) whose values are copied into records.
    pub capture_headers: Vec<String>,
    /// An unanswered request expires after this many nanoseconds.
    pub request_timeout_ns: u64,
    /// DNS: a query without answer is reported as TIMEOUT after this many nanoseconds.
    pub dns_timeout_ns: u64,
    /// Ports on which DNS is expected (detection hint only).
    pub dns_ports: Vec<u16>,
    /// DNS answers rendered per record (the header counts stay exact).
    pub dns_max_answers: usize,
    /// Bytes per connection that detection looks at (for a plausible message start)
    /// before giving the connection up as unrecognised.
    pub detect_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffer: 64 * 1024,
            max_pending: 64,
            max_headers: 64,
            max_body_capture: 0,
            capture_headers: Vec::new(),
            request_timeout_ns: 30_000_000_000,
            dns_timeout_ns: 5_000_000_000,
            dns_ports: vec![53, 5353],
            dns_max_answers: 32,
            detect_max_bytes: 256 * 1024,
        }
    }
}
