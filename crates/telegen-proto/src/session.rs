//! Per-connection protocol state: detection, then one parser per direction, then
//! request/response matching. Owned by the agent's signals stage, one per connection.

use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Limits, Transport};

/// What a connection has been recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Unknown,
    Http1,
    Dns,
    /// Detection gave up: bytes are counted, not parsed.
    Unrecognised,
}

/// Protocol state for one connection (TCP) or one UDP flow.
pub struct ConnParser {
    // filled in by the proto implementation
    pub(crate) protocol: Protocol,
    pub(crate) stats: ParseStats,
    #[allow(dead_code)]
    pub(crate) transport: Transport,
    #[allow(dead_code)]
    pub(crate) server_port: u16,
}

impl ConnParser {
    /// `server_port` is a hint for detection (53 suggests DNS); detection decides.
    pub fn new(transport: Transport, server_port: u16, _limits: &Limits) -> Self {
        ConnParser { protocol: Protocol::Unknown, stats: ParseStats::default(), transport, server_port }
    }
    /// Bytes of a TCP stream (in order, no overlap), or one UDP datagram.
    pub fn on_data(&mut self, _dir: Direction, _ts_ns: u64, _data: &[u8], _out: &mut Vec<Record>) {}
    /// `len` bytes in `dir` were not seen (lost, not copied, or cut by the capture).
    pub fn on_gap(&mut self, _dir: Direction, _ts_ns: u64, _len: u64, _out: &mut Vec<Record>) {}
    /// The connection ended: flush what close delimits, expire what is pending.
    pub fn on_close(&mut self, _ts_ns: u64, _out: &mut Vec<Record>) {}
    /// Expire requests older than their timeout at `now_ns`.
    pub fn expire(&mut self, _now_ns: u64, _out: &mut Vec<Record>) {}
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
    /// Counters since the last call (the agent sums them).
    pub fn take_stats(&mut self) -> ParseStats {
        std::mem::take(&mut self.stats)
    }
}
