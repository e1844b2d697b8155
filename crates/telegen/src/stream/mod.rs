//! stream: per-connection byte streams, the one seam that live capture and offline replay
//! share. Sources produce [`StreamEvent`]s in per-connection order; the signals stage
//! turns them into records.
//!
//! Offline half (pcap / pcapng replay): [`PcapReplaySource`] reads a capture through
//! [`pcap`] -> [`link`] -> [`ip`] / [`defrag`] (-> [`tunnel`] -> [`link`] ... for VXLAN
//! and Geneve) -> [`flows`] / [`reassembly`] and yields the same events live capture
//! produces. [`pcapwrite`] writes captures (tests, the benchmark generator); [`fuzzing`]
//! holds the fuzz-target bodies.

pub mod defrag;
pub mod flows;
pub mod fuzzing;
pub mod ip;
pub mod link;
pub mod pcap;
pub mod pcapwrite;
pub mod reassembly;
pub mod source;
pub mod tunnel;

pub use source::{PcapReplaySource, ReplayConfig, ReplayStats, StreamError};

use crate::capture::ProcessInfo;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
pub use telegen_proto::{Direction, Transport};

/// Identity of a connection or UDP flow, oriented client -> server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ConnKey {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub transport: Transport,
    /// Network-namespace inode (0 in replay).
    pub netns: u32,
}

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

/// From whose point of view the bytes were seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Observer {
    /// A capture on the wire (replay): neither side.
    Wire,
    /// The client process's socket.
    Client,
    /// The server process's socket.
    Server,
}
