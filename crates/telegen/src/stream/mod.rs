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
