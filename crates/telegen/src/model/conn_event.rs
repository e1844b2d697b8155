//! TCP connection facts: what TCP capture reports and the TCP signal stage consumes.
//! Timestamps are Unix-epoch nanoseconds.

use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;

use super::ProcessInfo;

/// Which side of the connection the local socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnRole {
    /// The local socket called connect().
    Client,
    /// The local socket was accepted from a listener.
    Server,
    /// Found at start-up and could not be told apart.
    Unknown,
}

/// Why a connection failed or ended abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnError {
    /// RST in answer to our SYN.
    Refused,
    /// RST on an established connection.
    Reset,
    /// SYN_SENT -> CLOSE without an answer.
    Timeout,
    Other,
}

impl ConnError {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnError::Refused => "refused",
            ConnError::Reset => "reset",
            ConnError::Timeout => "timeout",
            ConnError::Other => "other",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConnEventKind {
    /// connect() or accept() produced a new connection (SYN_SENT / SYN_RECV).
    Open,
    /// Reached ESTABLISHED.
    Established,
    /// Found at start-up, already established.
    Existing,
    /// Periodic statistics of a live connection.
    Stats,
    /// A retransmitted segment.
    Retransmit,
    /// The connection failed.
    Error { error: ConnError },
    /// The connection closed; counters are lifetime totals.
    Close,
}

/// One connection event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnEvent {
    pub ts_ns: u64,
    /// Stable identity for the connection's life (socket cookie).
    pub conn_id: u64,
    /// Network-namespace inode.
    pub netns: u32,
    pub role: ConnRole,
    /// Local and remote address.
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub process: Option<Arc<ProcessInfo>>,
    #[serde(flatten)]
    pub kind: ConnEventKind,
    /// Smoothed RTT in microseconds (0 = unknown).
    pub srtt_us: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub segs_in: u64,
    pub segs_out: u64,
    pub retransmits: u64,
    /// 1 in `sample_rate` connections is kept; counts from it may be scaled by this.
    pub sample_rate: u32,
}
