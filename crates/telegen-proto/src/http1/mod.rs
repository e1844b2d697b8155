//! HTTP/1.0 and HTTP/1.1 (RFC 9112, semantics RFC 9110), and HTTP/0.9 simple requests
//! (RFC 1945 section 4.1): incremental, zero-copy parsing of both directions of a
//! connection and FIFO request/response matching.
//!
//! - `parser`: pure functions (heads via httparse, framing, chunk lines, start probes);
//! - `lenient`: tolerated deviations (lower-case version, HTTP/0.9 request lines);
//! - `stream`: one direction's state machine with a bounded buffer and resync;
//! - `matcher`: pending-request FIFO and record building.

pub mod lenient;
pub mod matcher;
pub mod methods;
pub mod parser;
pub mod stream;

pub use methods::METHODS;
pub use parser::Upgrade;

use matcher::{Matcher, Role};
use stream::{Cx, DirParser, State};

use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Limits};

/// Both directions of one HTTP/1 connection.
pub struct Http1Conn {
    req: DirParser,
    resp: DirParser,
    m: Matcher,
    max_buffer: usize,
}

impl Http1Conn {
    pub fn new(limits: &Limits) -> Self {
        Http1Conn {
            req: DirParser::new(Role::Request),
            resp: DirParser::new(Role::Response),
            m: Matcher::new(limits),
            max_buffer: limits.max_buffer.max(64),
        }
    }

    fn split(&mut self, dir: Direction) -> (&mut DirParser, &mut Matcher) {
        match dir {
            Direction::ClientToServer => (&mut self.req, &mut self.m),
            Direction::ServerToClient => (&mut self.resp, &mut self.m),
        }
    }

    pub fn on_data(
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

    /// After a 101 (or CONNECT tunnel) the request direction stops as well.
    fn sync_upgrade(&mut self, stats: &mut ParseStats) {
        if let Some(u) = self.m.upgraded {
            self.req.upgrade(u == Upgrade::H2c, stats);
        }
    }

    pub fn on_gap(
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

    pub fn on_close(&mut self, ts: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        let max_buffer = self.max_buffer;
        self.req.close(ts, &mut Cx { m: &mut self.m, stats, out, max_buffer });
        self.resp.close(ts, &mut Cx { m: &mut self.m, stats, out, max_buffer });
        self.m.close(ts, stats, out);
    }

    pub fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
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

    /// Set once the connection left HTTP/1 (101 Switching Protocols or a CONNECT tunnel).
    /// `Some(Upgrade::H2c)` means HTTP/2 follows: see [`Http1Conn::take_handover`].
    pub fn upgraded(&self) -> Option<Upgrade> {
        self.m.upgraded
    }

    /// After an `h2c` upgrade: the bytes of `dir` seen after the switch (bounded by
    /// `Limits::max_buffer`), for the HTTP/2 parser that takes over.
    pub fn take_handover(&mut self, dir: Direction) -> Vec<u8> {
        let p = match dir {
            Direction::ClientToServer => &mut self.req,
            Direction::ServerToClient => &mut self.resp,
        };
        p.handover.take().unwrap_or_default()
    }

    /// After an `h2c` upgrade: the request that asked for it (HTTP/2 stream 1).
    pub fn take_upgrade_request(&mut self) -> Option<crate::record::HttpRecord> {
        self.m.upgrade_request.take()
    }

    /// Requests waiting for a response.
    pub fn pending(&self) -> usize {
        self.m.pending_len()
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

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_edge;
