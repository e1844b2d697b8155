//! DNS (RFC 1035; EDNS RFC 6891; DNS over TCP RFC 7766): zero-copy, bounded message
//! parsing, TCP framing, and query/response matching.
//!
//! - `header`: the 12-byte header and the detection probe;
//! - `name`: names with compression (loops rejected);
//! - `message`: a validated message with its sections;
//! - `rdata`: type and RCODE names, RDATA as text;
//! - `tcp`: 2-byte length framing;
//! - `matcher`: query/response matching and records.

pub mod header;
pub mod matcher;
pub mod message;
pub mod name;
pub mod rdata;
pub mod tcp;

pub use header::probe;

use matcher::DnsMatcher;
use tcp::TcpFramer;

use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Limits, Transport};

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

impl DnsConn {
    /// The flow's server is a multicast group (mDNS): unanswered queries are expected,
    /// reported as `TIMEOUT` but not counted as expired requests.
    pub fn set_one_way(&mut self) {
        self.matcher.set_one_way();
    }

    pub fn new(transport: Transport, limits: &Limits) -> Self {
        DnsConn {
            transport,
            framers: Default::default(),
            matcher: DnsMatcher::new(limits),
            max_buffer: limits.max_buffer.max(64),
        }
    }

    /// TCP bytes, or one UDP datagram (= one message).
    pub fn on_data(
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

    pub fn on_gap(&mut self, dir: Direction, len: u64, stats: &mut ParseStats) {
        stats.gaps += 1;
        if self.transport == Transport::Tcp {
            self.framers[idx(dir)].gap(len, stats);
        }
    }

    pub fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        self.matcher.expire(now, stats, out);
    }

    pub fn on_close(&mut self, stats: &mut ParseStats, out: &mut Vec<Record>) {
        self.matcher.close(stats, out);
    }

    /// Queries waiting for an answer.
    pub fn pending(&self) -> usize {
        self.matcher.pending_len()
    }
}

#[cfg(test)]
mod tests;
