//! telegen agent library. Data flows one way, wired once by [`pipeline`] for live
//! capture and replay:
//!
//! ```text
//! sources                        enrichment     signal stages          sinks
//! capture (kernel events) ─┐
//!                          ├──► enrich ──────► signals ────────────► export
//! replay  (pcap files) ────┘    (process,      (TCP, L7 per           (Prometheus, OTLP,
//!                                DNS names)     protocol)              JSON lines)
//! ```
//!
//! The types that cross between stages live in [`model`], which imports nothing else of
//! the crate; the agent's own counters in [`telemetry`]. `run` and `replay` configure the
//! pipeline for `telegen run` and `telegen replay`. See ARCHITECTURE.md at the repository
//! root.

pub mod capture;
pub mod config;
pub mod enrich;
pub mod export;
pub mod model;
pub mod packet;
pub mod pcap;
pub mod pipeline;
pub mod replay;
pub mod run;
pub mod signals;
pub mod telemetry;
pub mod util;
