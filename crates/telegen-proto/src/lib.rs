//! telegen-proto: the pure protocol layer of telegen.
//!
//! No I/O, no async, no allocation sized by an untrusted length field. Both live capture
//! and offline replay feed the same [`session::ConnParser`] with byte chunks of one
//! connection, and receive owned [`record::Record`]s back.
//!
//! The agent uses: [`Direction`], [`Transport`], [`session::ConnParser`] and
//! [`session::Protocol`] (with its metric labels), [`Limits`] (one field per protocol:
//! `http1::Limits`, `http2::Limits`, `dns::Limits`, and `detect::Limits`),
//! [`stats::ParseStats`] (common counters, each protocol's own in `proto`, and
//! [`stats::ParseStats::reasons`] for export), [`record::Record`] and its variants, and
//! [`route`]. A change there is a change of the agent too.
//!
//! Layout: [`protocols`] is the list of protocols (one line each; its docs say how to add
//! one), [`conn`] the interface every protocol implements ([`conn::ProtocolConn`]) and
//! the macro behind the list. One folder per protocol ([`http1`], [`http2`], [`dns`]),
//! each with its probe, its `Limits`, its `Stats`, its connection parser, pure parsing
//! functions returning the `#[must_use]` [`status::Status`], per-direction stream state
//! machines and a matcher; a protocol's record type is in its folder, the records shared
//! by several protocols ([`record::HttpRecord`]: HTTP/1 and HTTP/2) in [`record`].
//! [`detect`] runs the probes (Certain / Unsure / NotForUs); [`session`] ties detection
//! and parsing together; [`stats`] holds the counters; [`route`] derives `http.route`.
//! With the `fuzzing` feature, `fuzzing` holds the fuzz target bodies shared by `fuzz/`
//! and this crate's tests (the crate's own dev-dependency on itself enables it for them;
//! release builds of the agent leave it out).

pub mod conn;
pub mod detect;
pub mod dns;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http1;
pub mod http2;
pub mod protocols;
pub mod record;
pub mod route;
pub mod session;
pub mod stats;
pub mod status;

#[cfg(test)]
mod testutil;

pub use protocols::Limits;

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
