//! signals: turns capture and stream events into records (spans, events) and metrics.
//!
//! - [`tcp`]: connection lifecycle, RTT, retransmits, bytes (from `model::ConnEvent`).
//! - [`l7`]: protocol records from `model::StreamEvent`s via `telegen_proto` (HTTP, DNS).
//! - [`metrics`]: bounded metric families recorded once, exported to Prometheus and OTLP.

pub mod l7;
pub mod metrics;
pub mod tcp;
