//! model: the seam types every stage shares, and nothing else. This module imports
//! nothing from the rest of the crate, so sources (live capture, pcap replay), enrichment,
//! signal stages and sinks depend on it and never on each other.
//!
//! - [`conn`]: [`ConnKey`] (a connection or UDP flow, client -> server) and [`Observer`].
//! - [`stream`]: [`StreamEvent`] / [`Payload`], the per-connection byte steps that the L7
//!   stage parses.
//! - [`conn_event`]: [`ConnEvent`], the TCP connection facts that the TCP stage turns into
//!   metrics and lifecycle events.
//! - [`process`]: [`ProcessInfo`], the local process that owns a socket.
//! - [`signal`]: [`Signal`] (spans and events) with their [`Attributes`], what signal
//!   stages hand to sinks.

pub mod conn;
pub mod conn_event;
pub mod process;
pub mod signal;
pub mod stream;

pub use conn::{ConnKey, Direction, Observer, Transport};
pub use conn_event::{ConnError, ConnEvent, ConnEventKind, ConnRole};
pub use process::ProcessInfo;
pub use signal::{
    new_ids, AttrKey, AttrValue, Attributes, Event, Severity, Signal, Span, SpanKind, SpanStatus,
};
pub use stream::{Payload, StreamEvent};
