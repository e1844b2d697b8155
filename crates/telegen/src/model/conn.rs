//! Connection identity shared by every stage: the key of a connection or UDP flow, and
//! from which side its bytes were seen.

use serde::Serialize;
use std::net::SocketAddr;
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
