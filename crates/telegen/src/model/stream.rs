//! Stream events: the per-connection steps (data, gap, close) that live payload capture
//! and pcap replay both produce, in per-connection order.

use super::{ConnKey, Direction, Observer, ProcessInfo};
use std::sync::Arc;

/// What a stream event carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// In-order bytes of a TCP stream, or one whole UDP datagram.
    Data(Vec<u8>),
    /// This many bytes in this direction were not seen.
    Gap(u64),
    /// The connection ended (FIN/RST seen, socket closed, or the flow expired).
    Close,
}

/// One step of one connection.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    /// Unique per connection for the life of the source (socket cookie, or a counter).
    pub conn_id: u64,
    pub key: ConnKey,
    pub dir: Direction,
    /// Unix-epoch nanoseconds.
    pub ts_ns: u64,
    pub payload: Payload,
    /// The local process, in live mode. When the agent sees both ends of a loopback
    /// connection, each side produces its own stream with its own process.
    pub process: Option<Arc<ProcessInfo>>,
    /// In live mode: which side the observing process is (decides span kind).
    pub observer: Observer,
}
