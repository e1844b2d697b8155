//! pcap: capture files. [`reader`] reads pcap and pcapng, [`writer`] writes them (tests,
//! fuzz seeds, the benchmark capture generator), and [`PcapReplaySource`] replays a file
//! as [`StreamEvent`]s for `telegen replay`.
//!
//! Per packet: [`reader`] (container block -> timestamp, link type, frame bytes) ->
//! [`crate::packet::PacketStack`] (link layer -> IP + fragments -> tunnels -> TCP/UDP
//! flows and reassembly). Only the container can fail a replay ([`PcapError`]); bad
//! packets are counted in [`ReplayStats`].
//!
//! `fuzzing` (with the `fuzzing` cargo feature, which the fuzz crate and this crate's
//! own tests turn on) holds the bodies of the fuzz targets.
//!
//! [`StreamEvent`]: crate::model::StreamEvent

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod reader;
pub mod source;
pub mod writer;

pub use reader::{CaptureFormat, PacketReader, PcapError, RawPacket, ReaderCounters};
pub use source::{PcapReplaySource, ReplayConfig, ReplayStats};
