//! DNS (RFC 1035; EDNS RFC 6891; DNS over TCP RFC 7766): zero-copy, bounded message
//! parsing, TCP framing, and query/response matching.
//!
//! - `header`: the 12-byte header and the detection probe;
//! - `name`: names with compression (loops rejected);
//! - `message`: a validated message with its sections;
//! - `rdata`: type and RCODE names, RDATA as text;
//! - `tcp`: 2-byte length framing;
//! - `matcher`: query/response matching and records;
//! - `record`: the record type, [`DnsRecord`].

pub mod header;
pub mod matcher;
pub mod message;
pub mod name;
pub mod rdata;
pub mod record;
pub mod tcp;

pub use header::probe;
pub use record::{DnsAnswer, DnsRecord};

use matcher::DnsMatcher;
use tcp::TcpFramer;

use crate::conn::ProtocolConn;
use crate::detect::{Confidence, Hints};
use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Transport};

/// Bounds of one DNS connection or UDP flow.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes buffered per TCP direction while a message is incomplete (longer messages
    /// are skipped, counted). Default 64 KiB.
    pub max_buffer: usize,
    /// Queries waiting for an answer. Default 64.
    pub max_pending: usize,
    /// A query without answer is reported as TIMEOUT after this many nanoseconds.
    /// Default 5 s.
    pub timeout_ns: u64,
    /// Answers rendered per record (the header counts stay exact). Default 32.
    pub max_answers: usize,
    /// Server ports on which DNS is expected (a detection hint only). Default 53, 5353.
    pub ports: Vec<u16>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffer: 64 * 1024,
            max_pending: 64,
            timeout_ns: 5_000_000_000,
            max_answers: 32,
            ports: vec![53, 5353],
        }
    }
}

crate::stats::counters! {
    /// DNS counters.
    pub struct Stats {
        /// Messages parsed.
        messages,
        /// Questions after the first of a message (validated and counted; the record
        /// carries the first question only).
        extra_questions => "extra_questions",
    }
}

/// DNS state of one TCP connection or UDP flow.
pub struct DnsConn {
    transport: Transport,
    framers: [TcpFramer; 2],
    matcher: DnsMatcher,
    max_buffer: usize,
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

impl ProtocolConn for DnsConn {
    type Limits = Limits;

    fn new(transport: Transport, limits: &Limits) -> Self {
        DnsConn {
            transport,
            framers: Default::default(),
            matcher: DnsMatcher::new(limits),
            max_buffer: limits.max_buffer.max(64),
        }
    }

    fn probe(dir: Direction, buf: &[u8], hints: Hints) -> Confidence {
        header::probe(dir, buf, hints)
    }

    fn expects_port(limits: &Limits, port: u16) -> bool {
        limits.ports.contains(&port)
    }

    /// TCP bytes, or one UDP datagram (= one message).
    fn on_data(
        &mut self,
        dir: Direction,
        ts: u64,
        data: &[u8],
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        match self.transport {
            Transport::Udp => self.matcher.on_message(ts, data, stats, out),
            Transport::Tcp => {
                let m = &mut self.matcher;
                self.framers[idx(dir)].feed(ts, data, self.max_buffer, stats, &mut |t, msg, s| {
                    m.on_message(t, msg, s, out)
                });
            }
        }
    }

    fn on_gap(
        &mut self,
        dir: Direction,
        _ts: u64,
        len: u64,
        stats: &mut ParseStats,
        _out: &mut Vec<Record>,
    ) {
        stats.gaps += 1;
        if self.transport == Transport::Tcp {
            self.framers[idx(dir)].gap(len, stats);
        }
    }

    fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        self.matcher.expire(now, stats, out);
    }

    fn on_close(&mut self, _ts: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        self.matcher.close(stats, out);
    }

    /// Queries waiting for an answer.
    fn pending(&self) -> usize {
        self.matcher.pending_len()
    }

    /// The flow's server is a multicast group (mDNS): unanswered queries are expected,
    /// reported as `TIMEOUT` but not counted as expired requests.
    fn expect_no_replies(&mut self) {
        self.matcher.set_one_way();
    }
}

#[cfg(test)]
mod tests;
