//! The agent's own telemetry: every drop, overflow and export failure is counted here and
//! exported as `telegen_*` counters.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type L = Vec<(&'static str, String)>;

/// Shared handles to the self-telemetry counters. Cheap to clone.
#[derive(Clone, Default)]
pub struct SelfTelemetry {
    /// `telegen_events_dropped_total{source, reason}`.
    pub dropped: Family<L, Counter>,
    /// `telegen_capture_skipped_total{source, reason}`: what the kernel chose not to report
    /// (sampling, port filters, connections no parser recognises). Decisions, not losses.
    pub skipped: Family<L, Counter>,
    /// `telegen_export_failures_total{exporter}`.
    pub export_failures: Family<L, Counter>,
    /// `telegen_exported_total{exporter}`: items handed to a backend successfully.
    pub exported: Family<L, Counter>,
    /// `telegen_parse_errors_total{protocol, reason}`.
    pub parse_errors: Family<L, Counter>,
    /// `telegen_queue_length{queue}`.
    pub queue_len: Family<L, Gauge>,
}

impl SelfTelemetry {
    pub fn register(reg: &mut Registry) -> Self {
        let t = SelfTelemetry::default();
        reg.register(
            "telegen_events_dropped",
            "Events lost, by source (kernel, user, export queue) and reason",
            t.dropped.clone(),
        );
        reg.register(
            "telegen_capture_skipped",
            "Things deliberately not reported (sampling, filters, unrecognised protocols), by source and reason",
            t.skipped.clone(),
        );
        reg.register(
            "telegen_export_failures",
            "Failed export attempts, by exporter",
            t.export_failures.clone(),
        );
        reg.register(
            "telegen_exported",
            "Items exported successfully, by exporter",
            t.exported.clone(),
        );
        reg.register(
            "telegen_parse_errors",
            "Protocol parse give-ups, by protocol and reason",
            t.parse_errors.clone(),
        );
        reg.register(
            "telegen_queue_length",
            "Items waiting in an internal queue",
            t.queue_len.clone(),
        );
        t
    }

    pub fn drop(&self, source: &'static str, reason: &str, n: u64) {
        add(&self.dropped, source, reason, n);
    }

    /// A deliberate decision not to report something (counted in
    /// `telegen_capture_skipped_total`).
    pub fn skip(&self, source: &'static str, reason: &str, n: u64) {
        add(&self.skipped, source, reason, n);
    }

    /// Sets a drop counter to a cumulative value read elsewhere (e.g. a kernel map),
    /// adding only the increase.
    pub fn drop_cumulative(&self, source: &'static str, reason: &str, total: u64) {
        raise_to(&self.dropped, source, reason, total);
    }

    /// Like [`Self::drop_cumulative`], for deliberate skips.
    pub fn skip_cumulative(&self, source: &'static str, reason: &str, total: u64) {
        raise_to(&self.skipped, source, reason, total);
    }

    pub fn export_failed(&self, exporter: &'static str) {
        self.export_failures.get_or_create(&vec![("exporter", exporter.to_string())]).inc();
    }

    pub fn exported_ok(&self, exporter: &'static str, n: u64) {
        self.exported.get_or_create(&vec![("exporter", exporter.to_string())]).inc_by(n);
    }

    pub fn parse_error(&self, protocol: &'static str, reason: &'static str, n: u64) {
        if n > 0 {
            self.parse_errors
                .get_or_create(&vec![
                    ("protocol", protocol.to_string()),
                    ("reason", reason.to_string()),
                ])
                .inc_by(n);
        }
    }

    pub fn queue(&self, queue: &'static str, len: usize) {
        self.queue_len.get_or_create(&vec![("queue", queue.to_string())]).set(len as i64);
    }

    /// Current value of a drop counter (tests, summaries).
    pub fn dropped_value(&self, source: &'static str, reason: &str) -> u64 {
        self.dropped
            .get(&vec![("source", source.to_string()), ("reason", reason.to_string())])
            .map(|c| c.get())
            .unwrap_or(0)
    }
}

fn add(f: &Family<L, Counter>, source: &'static str, reason: &str, n: u64) {
    if n > 0 {
        f.get_or_create(&vec![("source", source.to_string()), ("reason", reason.to_string())])
            .inc_by(n);
    }
}

/// Raises a `{source, reason}` counter to a cumulative total read elsewhere (a kernel map,
/// a capture's own counters), adding only the increase.
fn raise_to(f: &Family<L, Counter>, source: &'static str, reason: &str, total: u64) {
    let c = f.get_or_create(&vec![("source", source.to_string()), ("reason", reason.to_string())]);
    let now = c.get();
    if total > now {
        c.inc_by(total - now);
    }
}
