//! pipeline: the one data path, wired once for live capture and pcap replay.
//!
//! ```text
//! sources ──────────────► enrichment ──────────► signal stages ──────────► sinks
//! live.rs: TCP capture    crate::enrich:         TCP (ConnEvent)           sinks.rs: JSON lines,
//!   (ConnEvent), payload   process attributes,   L7 (StreamEvent -> parser  OTLP; metrics go to
//!   capture (StreamEvent)  service.name,          per connection -> records  Prometheus/OTLP
//! replay.rs: pcap file     DNS peer names         -> spans, events, metrics)  through the registry
//!   (StreamEvent)
//! ```
//!
//! [`Pipeline`] owns the enrichment and the signal stages; the sources (`live`, `replay`)
//! feed it events and hand what it emits to the sinks. `run` and `replay` at the crate
//! root only configure it. Stages never reach into each other: what they share (the
//! process and peer-name enrichment) lives in [`crate::enrich`] and is handed to each.
//!
//! A new stage (service topology, security alerts) is one module under `signals/`, one
//! field here, and one call in each of `on_conn_event` / `on_stream_event` / `tick` /
//! `finish` that it needs; both live and replay then run it.

pub mod live;
pub mod replay;
pub mod sinks;

use crate::config::Effective;
use crate::enrich::Enrichment;
use crate::model::{ConnEvent, Signal, StreamEvent};
use crate::signals::l7::{L7Metrics, L7Options, L7Signals};
use crate::signals::metrics::MetricsBuilder;
use crate::signals::tcp::{TcpMetrics, TcpSignalOptions, TcpSignals};
use crate::telemetry::SelfTelemetry;
use std::sync::Arc;
use telegen_proto::stats::ParseStats;

/// Distinct label sets per metric before folding into `_other`.
pub const MAX_SERIES: usize = 10_000;

/// Which stages run, beyond what the configuration says.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stages {
    /// The TCP stage (live capture only: a pcap replay has no socket events).
    pub tcp: bool,
    /// Some sink takes spans and events (false: metrics only, nothing is built for
    /// nobody).
    pub emit_signals: bool,
}

/// Enrichment and signal stages, driven by one owner (not thread-safe by design).
pub struct Pipeline {
    enrich: Arc<Enrichment>,
    tcp: Option<TcpSignals>,
    l7: L7Signals,
    telemetry: SelfTelemetry,
}

impl Pipeline {
    /// Builds the stages and registers their metrics with `b` (in a fixed order: TCP,
    /// then L7).
    pub fn new(
        eff: &Effective,
        stages: Stages,
        b: &mut MetricsBuilder<'_>,
        telemetry: SelfTelemetry,
    ) -> Self {
        let enrich = Arc::new(Enrichment::new(eff.service_name.clone()));
        let tcp = stages.tcp.then(|| {
            let opts = TcpSignalOptions {
                max_connections: eff.tcp.max_connections as usize,
                emit_events: eff.tcp.connection_tracking && stages.emit_signals,
            };
            TcpSignals::new(TcpMetrics::new(b), opts, enrich.clone())
        });
        let l7_opts =
            L7Options { emit_spans: stages.emit_signals, ..L7Options::from_effective(eff) };
        let l7 = L7Signals::new(l7_opts, L7Metrics::new(b), enrich.clone(), telemetry.clone());
        Pipeline { enrich, tcp, l7, telemetry }
    }

    /// One TCP connection event.
    pub fn on_conn_event(&mut self, ev: &ConnEvent, emit: &mut dyn FnMut(Signal)) {
        if let Some(t) = &mut self.tcp {
            if let Some(sig) = t.on_event(ev) {
                emit(sig);
            }
        }
    }

    /// One step of a connection's byte stream.
    pub fn on_stream_event(&mut self, ev: StreamEvent, emit: &mut dyn FnMut(Signal)) {
        self.l7.on_event(ev, emit);
    }

    /// Periodic work at `now_ns` (wall clock live, capture time in replay): expiry of
    /// pending requests, aged peer names, the queue gauges.
    pub fn tick(&mut self, now_ns: u64, emit: &mut dyn FnMut(Signal)) {
        self.l7.expire(now_ns, emit);
        self.telemetry.queue("dns_names", self.enrich.dns_names.sweep(now_ns));
        self.telemetry.queue("l7_connections", self.l7.connections());
    }

    /// The end (shutdown, end of a capture): every open exchange is closed at `now_ns`.
    pub fn finish(&mut self, now_ns: u64, emit: &mut dyn FnMut(Signal)) {
        self.l7.close_all(now_ns, emit);
    }

    /// Only the expiry part of [`Pipeline::tick`] (replay expires by capture time).
    pub fn expire(&mut self, now_ns: u64, emit: &mut dyn FnMut(Signal)) {
        self.l7.expire(now_ns, emit);
    }

    /// Records mapped so far, by protocol (`http`, `dns`).
    pub fn records_by_protocol(&self) -> Vec<(&'static str, u64)> {
        self.l7.records_by_protocol()
    }

    /// Totals of the parser counters published so far.
    pub fn parse_stats(&self) -> &ParseStats {
        self.l7.parse_stats()
    }

    /// The shared enrichment (peer names for later stages and tests).
    pub fn enrichment(&self) -> &Arc<Enrichment> {
        &self.enrich
    }
}
