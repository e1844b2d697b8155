//! HTTP/1.0 and HTTP/1.1 (RFC 9112, semantics RFC 9110), and HTTP/0.9 simple requests
//! (RFC 1945 section 4.1): incremental, zero-copy parsing of both directions of a
//! connection and FIFO request/response matching. Records are the shared
//! [`HttpRecord`](crate::record::HttpRecord) (HTTP/2 emits them too).
//!
//! - `probe`: detection and the mid-stream start search;
//! - `parser`: pure functions (heads via httparse, framing, chunk lines, start probes);
//! - `lenient`: tolerated deviations (lower-case version, HTTP/0.9 request lines);
//! - `stream`: one direction's state machine with a bounded buffer and resync;
//! - `matcher`: pending-request FIFO and record building.

pub mod lenient;
pub mod matcher;
pub mod methods;
pub mod parser;
pub mod probe;
pub mod stream;

pub use methods::METHODS;
pub use parser::Upgrade;
pub use probe::probe;

use matcher::{Matcher, Role};
use stream::{Cx, DirParser, State};

use crate::conn::ProtocolConn;
use crate::detect::{Confidence, Hints};
use crate::protocols::{H2cHandover, Switch};
use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Transport};

/// Bounds of one HTTP/1 connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes buffered per direction while a message head is incomplete. Default 64 KiB.
    pub max_buffer: usize,
    /// Requests waiting for a response (pipelining depth). Default 64.
    pub max_pending: usize,
    /// Headers kept per message (more are counted, not kept). Default 64.
    pub max_headers: usize,
    /// Body bytes copied into a record (0 = none, the default).
    pub max_body_capture: usize,
    /// Header names (lower-case) whose values are copied into records. Default none.
    pub capture_headers: Vec<String>,
    /// An unanswered request expires after this many nanoseconds. Default 30 s.
    pub request_timeout_ns: u64,
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
        }
    }
}

crate::stats::counters! {
    /// HTTP/1 counters.
    pub struct Stats {
        /// Messages (requests and responses) parsed.
        messages,
        /// Headers seen beyond `Limits::max_headers` (counted, not kept).
        headers_dropped => "headers_dropped",
        /// Connections upgraded (101 Switching Protocols or CONNECT tunnel).
        upgrades,
    }
}

/// Both directions of one HTTP/1 connection.
pub struct Http1Conn {
    req: DirParser,
    resp: DirParser,
    m: Matcher,
    max_buffer: usize,
    /// The h2c handover was taken (HTTP/2 took over).
    switched: bool,
}

impl Http1Conn {
    fn split(&mut self, dir: Direction) -> (&mut DirParser, &mut Matcher) {
        match dir {
            Direction::ClientToServer => (&mut self.req, &mut self.m),
            Direction::ServerToClient => (&mut self.resp, &mut self.m),
        }
    }

    /// After a 101 (or CONNECT tunnel) the request direction stops as well.
    fn sync_upgrade(&mut self, stats: &mut ParseStats) {
        if let Some(u) = self.m.upgraded {
            self.req.upgrade(u == Upgrade::H2c, stats);
        }
    }

    /// Set once the connection left HTTP/1 (101 Switching Protocols or a CONNECT tunnel).
    /// `Some(Upgrade::H2c)` means HTTP/2 follows (see [`ProtocolConn::take_switch`]).
    pub fn upgraded(&self) -> Option<Upgrade> {
        self.m.upgraded
    }

    /// After an `h2c` upgrade: the bytes of `dir` seen after the switch (bounded by
    /// `Limits::max_buffer`), for the HTTP/2 parser that takes over.
    fn take_handover(&mut self, dir: Direction) -> Vec<u8> {
        let p = match dir {
            Direction::ClientToServer => &mut self.req,
            Direction::ServerToClient => &mut self.resp,
        };
        p.handover.take().unwrap_or_default()
    }

    /// Whether `dir` is inside a message (not at a message boundary).
    pub fn mid_message(&self, dir: Direction) -> bool {
        let p = match dir {
            Direction::ClientToServer => &self.req,
            Direction::ServerToClient => &self.resp,
        };
        p.buffered() > 0 || !matches!(p.state, State::Head | State::Resync | State::Upgraded)
    }
}

impl ProtocolConn for Http1Conn {
    type Limits = Limits;

    fn new(_transport: Transport, limits: &Limits) -> Self {
        Http1Conn {
            req: DirParser::new(Role::Request),
            resp: DirParser::new(Role::Response),
            m: Matcher::new(limits),
            max_buffer: limits.max_buffer.max(64),
            switched: false,
        }
    }

    fn probe(dir: Direction, buf: &[u8], hints: Hints) -> Confidence {
        probe::probe(dir, buf, hints)
    }

    fn find_start(transport: Transport, buf: &[u8]) -> Option<usize> {
        probe::find_start(transport, buf)
    }

    fn on_data(
        &mut self,
        dir: Direction,
        ts: u64,
        data: &[u8],
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        let max_buffer = self.max_buffer;
        if dir == Direction::ServerToClient
            && self.m.pending_len() == 0
            && self.req.partial_head_since().is_some_and(|t| t <= ts)
        {
            // A response starts while the request head is incomplete and no other
            // request waits: the rest of that head was not seen (lost, or answered
            // early); the request is reported with what was seen.
            let cx = &mut Cx { m: &mut self.m, stats, out, max_buffer };
            self.req.flush_partial(ts, "gap", cx);
        }
        let (p, m) = self.split(dir);
        p.feed(ts, data, &mut Cx { m, stats, out, max_buffer });
        self.sync_upgrade(stats);
    }

    fn on_gap(
        &mut self,
        dir: Direction,
        ts: u64,
        len: u64,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        let max_buffer = self.max_buffer;
        let (p, m) = self.split(dir);
        p.gap(ts, len, &mut Cx { m, stats, out, max_buffer });
    }

    fn on_close(&mut self, ts: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        let max_buffer = self.max_buffer;
        self.req.close(ts, &mut Cx { m: &mut self.m, stats, out, max_buffer });
        self.resp.close(ts, &mut Cx { m: &mut self.m, stats, out, max_buffer });
        self.m.close(ts, stats, out);
    }

    fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        // A head waiting for its end longer than the request timeout is reported with
        // what was seen (a response's status line answers its request).
        let (t, max_buffer) = (self.m.request_timeout(), self.max_buffer);
        for p in [&mut self.req, &mut self.resp] {
            if p.partial_head_since().is_some_and(|since| since.saturating_add(t) <= now) {
                p.flush_partial(now, "timeout", &mut Cx { m: &mut self.m, stats, out, max_buffer });
            }
        }
        self.m.expire(now, stats, out);
    }

    /// Requests waiting for a response.
    fn pending(&self) -> usize {
        self.m.pending_len()
    }

    /// `Upgrade: h2c` was accepted: HTTP/2 takes over with the request that asked for
    /// it and the bytes seen after the 101.
    fn take_switch(&mut self) -> Option<Switch> {
        if self.switched || self.m.upgraded != Some(Upgrade::H2c) {
            return None;
        }
        self.switched = true;
        Some(Switch::H2c(Box::new(H2cHandover {
            request: self.m.upgrade_request.take(),
            server: self.take_handover(Direction::ServerToClient),
            client: self.take_handover(Direction::ClientToServer),
        })))
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_edge;
