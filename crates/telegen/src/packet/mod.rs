//! packet: the packet stack, from a captured frame to per-connection [`StreamEvent`]s,
//! for any source of frames (a pcap / pcapng file in [`crate::pcap`], or sampled frames
//! from a live hook). It reads no files and knows no container format.
//!
//! Per frame, in [`PacketStack::frame`]: [`link`] (Ethernet, VLAN, SLL, ...) -> [`ip`]
//! (IPv4 / IPv6 headers; fragments through [`defrag`]) -> TCP / UDP header -> [`flows`]
//! (who is the client, connection lifetime), whose TCP directions go through
//! [`reassembly`] (in-order bytes and gaps). A UDP datagram to a VXLAN or Geneve port is
//! unwrapped by [`tunnel`] and its inner frame starts again at [`link`] (bounded depth).
//! Frames that cannot be decoded are counted in [`PacketStats`], never errors.
//!
//! [`StreamEvent`]: crate::model::StreamEvent

pub mod defrag;
pub mod flows;
pub mod ip;
pub mod link;
pub mod reassembly;
pub mod stack;
pub mod tunnel;

pub use stack::{PacketConfig, PacketStack, PacketStats};
