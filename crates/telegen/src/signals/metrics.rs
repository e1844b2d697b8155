//! Metric instruments that record once and export twice: into a prometheus-client
//! registry (scraped at /metrics) and into OpenTelemetry instruments (pushed by OTLP when
//! configured; a no-op meter otherwise).
//!
//! Every labelled family is bounded: past `max_series` distinct label sets, new sets are
//! folded into one series whose label values are all `_other`, and the fold is counted
//! in `telegen_metric_series_overflow_total{metric}`.

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;
use prometheus_client::metrics::counter::Counter as PCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge as PGauge;
use prometheus_client::metrics::histogram::Histogram as PHistogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// A label set: ordered (name, value) pairs with a fixed set of names per metric.
pub type Labels = Vec<(&'static str, String)>;

/// The value every label takes in the overflow series.
pub const OVERFLOW_VALUE: &str = "_other";

/// Keeps the number of distinct label sets of one metric bounded.
#[derive(Debug)]
struct SeriesLimiter {
    seen: Mutex<HashSet<Labels>>,
    max: usize,
}

impl SeriesLimiter {
    fn new(max: usize) -> Self {
        SeriesLimiter { seen: Mutex::new(HashSet::new()), max }
    }

    /// Returns the label set to record under (the input, or the overflow set).
    fn admit(&self, labels: Labels, overflow: &PCounter) -> Labels {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(&labels) {
            return labels;
        }
        if seen.len() < self.max {
            seen.insert(labels.clone());
            return labels;
        }
        overflow.inc();
        labels.into_iter().map(|(k, _)| (k, OVERFLOW_VALUE.to_string())).collect()
    }
}

fn to_kv(labels: &Labels) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| KeyValue::new(*k, v.clone())).collect()
}

/// Names of one metric in both worlds.
#[derive(Debug, Clone, Copy)]
pub struct MetricName {
    /// Prometheus name without the `_total` suffix (the encoder adds it for counters).
    pub prom: &'static str,
    /// OpenTelemetry instrument name (dotted).
    pub otel: &'static str,
    pub help: &'static str,
}

/// Shared context for building instruments.
pub struct MetricsBuilder<'a> {
    pub registry: &'a mut Registry,
    /// None: Prometheus only (no OTel instruments, no per-update conversion cost).
    pub meter: Option<&'a Meter>,
    pub max_series: usize,
    overflow: Family<Vec<(&'static str, String)>, PCounter>,
}

impl<'a> MetricsBuilder<'a> {
    pub fn new(registry: &'a mut Registry, meter: Option<&'a Meter>, max_series: usize) -> Self {
        let overflow = Family::<Labels, PCounter>::default();
        registry.register(
            "telegen_metric_series_overflow",
            "Label sets folded into the _other series because a metric hit its series bound",
            overflow.clone(),
        );
        MetricsBuilder { registry, meter, max_series, overflow }
    }

    fn overflow_counter(&self, name: &str) -> PCounter {
        self.overflow.get_or_create(&vec![("metric", name.to_string())]).clone()
    }

    pub fn counter(&mut self, n: MetricName) -> CounterVec {
        let fam = Family::<Labels, PCounter>::default();
        self.registry.register(n.prom, n.help, fam.clone());
        let otel = self.meter.map(|m| m.u64_counter(n.otel).with_description(n.help).build());
        CounterVec {
            prom: fam,
            otel,
            limiter: Arc::new(SeriesLimiter::new(self.max_series)),
            overflow: self.overflow_counter(n.prom),
        }
    }

    pub fn gauge(&mut self, n: MetricName) -> GaugeVec {
        let fam = Family::<Labels, PGauge<i64, std::sync::atomic::AtomicI64>>::default();
        self.registry.register(n.prom, n.help, fam.clone());
        let otel = self.meter.map(|m| m.i64_gauge(n.otel).with_description(n.help).build());
        GaugeVec {
            prom: fam,
            otel,
            limiter: Arc::new(SeriesLimiter::new(self.max_series)),
            overflow: self.overflow_counter(n.prom),
        }
    }

    /// A histogram with explicit bucket bounds; `unit` is appended by neither side (the
    /// name states it), so the documented names stay exact.
    pub fn histogram(
        &mut self,
        n: MetricName,
        unit: &'static str,
        buckets: &[f64],
    ) -> HistogramVec {
        let fam =
            Family::<Labels, PHistogram, Buckets>::new_with_constructor(Buckets(buckets.into()));
        self.registry.register(n.prom, n.help, fam.clone());
        let otel = self.meter.map(|m| {
            m.f64_histogram(n.otel)
                .with_description(n.help)
                .with_unit(unit)
                .with_boundaries(buckets.to_vec())
                .build()
        });
        HistogramVec {
            prom: fam,
            otel,
            limiter: Arc::new(SeriesLimiter::new(self.max_series)),
            overflow: self.overflow_counter(n.prom),
        }
    }

    /// A plain counter without labels and without an OTel twin (internal telemetry).
    pub fn internal_counter(&mut self, name: &'static str, help: &'static str) -> PCounter {
        let c = PCounter::<u64, AtomicU64>::default();
        self.registry.register(name, help, c.clone());
        c
    }

    pub fn unit_registry(&mut self) -> &mut Registry {
        self.registry
    }
}

/// Seconds as a prometheus-client unit (used where a registry-level unit is wanted).
pub fn seconds() -> Unit {
    Unit::Seconds
}

#[derive(Clone)]
pub struct CounterVec {
    prom: Family<Labels, PCounter>,
    otel: Option<opentelemetry::metrics::Counter<u64>>,
    limiter: Arc<SeriesLimiter>,
    overflow: PCounter,
}

impl CounterVec {
    pub fn add(&self, labels: Labels, v: u64) {
        let labels = self.limiter.admit(labels, &self.overflow);
        self.prom.get_or_create(&labels).inc_by(v);
        if let Some(o) = &self.otel {
            o.add(v, &to_kv(&labels));
        }
    }
    pub fn inc(&self, labels: Labels) {
        self.add(labels, 1)
    }
    /// Current value (for tests and summaries).
    pub fn get(&self, labels: &Labels) -> u64 {
        self.prom.get(labels).map(|c| c.get()).unwrap_or(0)
    }
}

type IGauge = PGauge<i64, std::sync::atomic::AtomicI64>;

#[derive(Clone)]
pub struct GaugeVec {
    prom: Family<Labels, IGauge>,
    otel: Option<opentelemetry::metrics::Gauge<i64>>,
    limiter: Arc<SeriesLimiter>,
    overflow: PCounter,
}

impl GaugeVec {
    pub fn set(&self, labels: Labels, v: i64) {
        let labels = self.limiter.admit(labels, &self.overflow);
        self.prom.get_or_create(&labels).set(v);
        if let Some(o) = &self.otel {
            o.record(v, &to_kv(&labels));
        }
    }
    pub fn get(&self, labels: &Labels) -> i64 {
        self.prom.get(labels).map(|g| g.get()).unwrap_or(0)
    }
}

/// Bucket bounds shared by every series of one histogram family.
#[derive(Clone)]
pub struct Buckets(Arc<[f64]>);

impl prometheus_client::metrics::family::MetricConstructor<PHistogram> for Buckets {
    fn new_metric(&self) -> PHistogram {
        PHistogram::new(self.0.iter().copied())
    }
}

#[derive(Clone)]
pub struct HistogramVec {
    prom: Family<Labels, PHistogram, Buckets>,
    otel: Option<opentelemetry::metrics::Histogram<f64>>,
    limiter: Arc<SeriesLimiter>,
    overflow: PCounter,
}

impl HistogramVec {
    pub fn observe(&self, labels: Labels, v: f64) {
        let labels = self.limiter.admit(labels, &self.overflow);
        self.prom.get_or_create(&labels).observe(v);
        if let Some(o) = &self.otel {
            o.record(v, &to_kv(&labels));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn series_are_bounded_and_overflow_is_counted() {
        let mut reg = Registry::default();
        let meter = opentelemetry::global::meter("test");
        let mut b = MetricsBuilder::new(&mut reg, Some(&meter), 2);
        let c = b.counter(MetricName { prom: "x", otel: "x", help: "h" });
        for ip in ["a", "b", "c", "d"] {
            c.inc(vec![("ip", ip.to_string())]);
        }
        assert_eq!(c.get(&vec![("ip", "a".into())]), 1);
        assert_eq!(c.get(&vec![("ip", "c".into())]), 0);
        assert_eq!(c.get(&vec![("ip", OVERFLOW_VALUE.into())]), 2);
        let mut s = String::new();
        encode(&mut s, &reg).unwrap();
        assert!(s.contains("telegen_metric_series_overflow_total{metric=\"x\"} 2"), "{s}");
        assert!(s.contains("x_total{ip=\"_other\"} 2"), "{s}");
    }
}
