//! telegen agent library. Data flows one way:
//!
//! ```text
//! capture (kernel events) ─┐
//!                          ├─> stream (per-connection byte streams) ─> signals ─> export
//! replay  (pcap files) ────┘                                   (spans, events, metrics)
//! ```
//!
//! See ARCHITECTURE.md at the repository root.

pub mod capture;
pub mod config;
pub mod export;
pub mod model;
pub mod packet;
pub mod pcap;
pub mod replay;
pub mod run;
pub mod signals;
pub mod telemetry;
pub mod util;
