//! Metric instruments that record once and export twice: into a prometheus-client
//! registry (scraped at /metrics) and into OpenTelemetry instruments (pushed by OTLP when
//! configured; absent otherwise, at no per-update cost).
//!
//! A metric's label names are fixed when it is built; an update passes label values as
//! borrowed strings. Each distinct value set is resolved once to a *series* handle (the
//! Prometheus cell plus the OTel attribute set), kept in a cache keyed by a fast hash of
//! the values, so the steady state of an update is one hash, one comparison and one
//! atomic add: no allocation, no SipHash. Callers that update the same series again and
//! again (a connection's byte counters) can hold the handle itself ([`CounterVec::series`]).
//!
//! Every labelled family is bounded: past `max_series` distinct value sets, new sets are
//! folded into one series whose label values are all `_other`, and each fold is counted
//! in `telegen_metric_series_overflow_total{metric}`.

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;
use prometheus_client::metrics::counter::Counter as PCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge as PGauge;
use prometheus_client::metrics::histogram::Histogram as PHistogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

/// A label set as the Prometheus family stores it: (name, value) pairs.
pub type Labels = Vec<(&'static str, String)>;

/// The value every label takes in the overflow series.
pub const OVERFLOW_VALUE: &str = "_other";

type IGauge = PGauge<i64, AtomicI64>;
type Hasher = foldhash::fast::RandomState;

/// Names of one metric in both worlds.
#[derive(Debug, Clone, Copy)]
pub struct MetricName {
    /// Prometheus name without the `_total` suffix (the encoder adds it for counters).
    pub prom: &'static str,
    /// OpenTelemetry instrument name (dotted).
    pub otel: &'static str,
    pub help: &'static str,
}

struct Entry<H> {
    values: Box<[Box<str>]>,
    handle: H,
}

struct CacheInner<H> {
    /// Hash of the values -> the (almost always single) entries with that hash.
    map: HashMap<u64, Vec<Entry<H>>, Hasher>,
    len: usize,
    overflow: Option<H>,
}

/// The bounded value-set -> handle cache of one metric.
struct SeriesCache<H> {
    names: &'static [&'static str],
    max: usize,
    hasher: Hasher,
    overflow_count: PCounter,
    inner: Mutex<CacheInner<H>>,
}

impl<H> SeriesCache<H> {
    fn new(names: &'static [&'static str], max: usize, overflow_count: PCounter) -> Self {
        SeriesCache {
            names,
            max,
            hasher: Hasher::default(),
            overflow_count,
            inner: Mutex::new(CacheInner { map: HashMap::default(), len: 0, overflow: None }),
        }
    }

    fn labels(&self, values: &[&str]) -> Labels {
        self.names.iter().zip(values).map(|(n, v)| (*n, (*v).to_string())).collect()
    }

    /// Runs `f` on the handle of `values`, resolving it with `make` the first time.
    fn with<R>(
        &self,
        values: &[&str],
        make: impl FnOnce(&Labels) -> H,
        f: impl FnOnce(&H) -> R,
    ) -> R {
        debug_assert_eq!(values.len(), self.names.len(), "label values of {:?}", self.names);
        let h = self.hasher.hash_one(values);
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = g.map.get(&h).and_then(|v| {
            v.iter().find(|e| e.values.iter().map(|s| &**s).eq(values.iter().copied()))
        }) {
            return f(&e.handle);
        }
        if g.len >= self.max {
            self.overflow_count.inc();
            if g.overflow.is_none() {
                let other: Vec<&str> = vec![OVERFLOW_VALUE; self.names.len()];
                g.overflow = Some(make(&self.labels(&other)));
            }
            return f(g.overflow.as_ref().expect("set above"));
        }
        let handle = make(&self.labels(values));
        let r = f(&handle);
        let values = values.iter().map(|s| Box::<str>::from(*s)).collect();
        g.map.entry(h).or_default().push(Entry { values, handle });
        g.len += 1;
        r
    }
}

/// Shared context for building instruments.
pub struct MetricsBuilder<'a> {
    pub registry: &'a mut Registry,
    /// None: Prometheus only (no OTel instruments, no per-update conversion cost).
    pub meter: Option<&'a Meter>,
    pub max_series: usize,
    overflow: Family<Labels, PCounter>,
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

    fn cache<H>(&self, n: MetricName, names: &'static [&'static str]) -> SeriesCache<H> {
        let overflow = self.overflow.get_or_create(&vec![("metric", n.prom.to_string())]).clone();
        SeriesCache::new(names, self.max_series, overflow)
    }

    pub fn counter(&mut self, n: MetricName, names: &'static [&'static str]) -> CounterVec {
        let fam = Family::<Labels, PCounter>::default();
        self.registry.register(n.prom, n.help, fam.clone());
        let otel = self.meter.map(|m| m.u64_counter(n.otel).with_description(n.help).build());
        CounterVec(Arc::new(Inner { prom: fam, otel, cache: self.cache(n, names) }))
    }

    pub fn gauge(&mut self, n: MetricName, names: &'static [&'static str]) -> GaugeVec {
        let fam = Family::<Labels, IGauge>::default();
        self.registry.register(n.prom, n.help, fam.clone());
        let otel = self.meter.map(|m| m.i64_gauge(n.otel).with_description(n.help).build());
        GaugeVec(Arc::new(Inner { prom: fam, otel, cache: self.cache(n, names) }))
    }

    /// A histogram with explicit bucket bounds; `unit` is appended by neither side (the
    /// name states it), so the documented names stay exact.
    pub fn histogram(
        &mut self,
        n: MetricName,
        names: &'static [&'static str],
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
        HistogramVec(Arc::new(Inner { prom: fam, otel, cache: self.cache(n, names) }))
    }

    /// A plain counter without labels and without an OTel twin (internal telemetry).
    pub fn internal_counter(&mut self, name: &'static str, help: &'static str) -> PCounter {
        let c = PCounter::<u64, AtomicU64>::default();
        self.registry.register(name, help, c.clone());
        c
    }
}

struct Inner<F, O, H> {
    prom: F,
    otel: Option<O>,
    cache: SeriesCache<H>,
}

impl<P: Clone, O: Clone, C> Inner<Family<Labels, P, C>, O, Series<P, O>>
where
    C: prometheus_client::metrics::family::MetricConstructor<P>,
{
    /// Runs `f` on the series of `values`, resolving it the first time.
    fn with<R>(&self, values: &[&str], f: impl FnOnce(&Series<P, O>) -> R) -> R {
        self.cache.with(values, |l| resolve(&self.prom, &self.otel, l), f)
    }
}

/// One resolved series of a metric: the Prometheus cell and, with OTLP on, the OTel
/// instrument with its attribute set. Cheap to clone; updates are lock-free.
#[derive(Clone)]
pub struct Series<P, O> {
    prom: P,
    otel: Option<(O, Arc<[KeyValue]>)>,
}

fn resolve<P: Clone, O: Clone, C>(
    prom: &Family<Labels, P, C>,
    otel: &Option<O>,
    labels: &Labels,
) -> Series<P, O>
where
    C: prometheus_client::metrics::family::MetricConstructor<P>,
{
    Series {
        prom: prom.get_or_create(labels).clone(),
        otel: otel.as_ref().map(|o| {
            let kv: Arc<[KeyValue]> =
                labels.iter().map(|(k, v)| KeyValue::new(*k, v.clone())).collect();
            (o.clone(), kv)
        }),
    }
}

pub type CounterSeries = Series<PCounter, opentelemetry::metrics::Counter<u64>>;
pub type GaugeSeries = Series<IGauge, opentelemetry::metrics::Gauge<i64>>;
pub type HistogramSeries = Series<PHistogram, opentelemetry::metrics::Histogram<f64>>;

impl CounterSeries {
    pub fn add(&self, v: u64) {
        self.prom.inc_by(v);
        if let Some((o, kv)) = &self.otel {
            o.add(v, kv);
        }
    }
    pub fn inc(&self) {
        self.add(1)
    }
}

impl GaugeSeries {
    pub fn set(&self, v: i64) {
        self.prom.set(v);
        if let Some((o, kv)) = &self.otel {
            o.record(v, kv);
        }
    }
}

impl HistogramSeries {
    pub fn observe(&self, v: f64) {
        self.prom.observe(v);
        if let Some((o, kv)) = &self.otel {
            o.record(v, kv);
        }
    }
}

/// A counter family. Clones share the family.
#[derive(Clone)]
pub struct CounterVec(
    Arc<Inner<Family<Labels, PCounter>, opentelemetry::metrics::Counter<u64>, CounterSeries>>,
);

impl CounterVec {
    /// The series of `values` (one per label name, in the order given at build time).
    pub fn series(&self, values: &[&str]) -> CounterSeries {
        self.0.with(values, Clone::clone)
    }
    pub fn add(&self, values: &[&str], v: u64) {
        self.0.with(values, |s| s.add(v))
    }
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1)
    }
    /// Current value (for tests and summaries).
    pub fn get(&self, values: &[&str]) -> u64 {
        let i = &*self.0;
        i.prom.get(&i.cache.labels(values)).map(|c| c.get()).unwrap_or(0)
    }
}

/// A gauge family. Clones share the family.
#[derive(Clone)]
pub struct GaugeVec(
    Arc<Inner<Family<Labels, IGauge>, opentelemetry::metrics::Gauge<i64>, GaugeSeries>>,
);

impl GaugeVec {
    pub fn series(&self, values: &[&str]) -> GaugeSeries {
        self.0.with(values, Clone::clone)
    }
    pub fn set(&self, values: &[&str], v: i64) {
        self.0.with(values, |s| s.set(v))
    }
    pub fn get(&self, values: &[&str]) -> i64 {
        let i = &*self.0;
        i.prom.get(&i.cache.labels(values)).map(|g| g.get()).unwrap_or(0)
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

/// A histogram family. Clones share the family.
#[derive(Clone)]
pub struct HistogramVec(Arc<HistogramInner>);

type HistogramInner = Inner<
    Family<Labels, PHistogram, Buckets>,
    opentelemetry::metrics::Histogram<f64>,
    HistogramSeries,
>;

impl HistogramVec {
    pub fn series(&self, values: &[&str]) -> HistogramSeries {
        self.0.with(values, Clone::clone)
    }
    pub fn observe(&self, values: &[&str], v: f64) {
        self.0.with(values, |s| s.observe(v))
    }
}

/// Formats small integers (status codes, ports) without allocating.
pub struct Num {
    buf: [u8; 20],
    start: usize,
}

impl Num {
    pub fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Num { buf, start: i }
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
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
        let c = b.counter(MetricName { prom: "x", otel: "x", help: "h" }, &["ip"]);
        for ip in ["a", "b", "c", "d", "a"] {
            c.inc(&[ip]);
        }
        assert_eq!(c.get(&["a"]), 2);
        assert_eq!(c.get(&["c"]), 0);
        assert_eq!(c.get(&[OVERFLOW_VALUE]), 2);
        let mut s = String::new();
        encode(&mut s, &reg).unwrap();
        assert!(s.contains("telegen_metric_series_overflow_total{metric=\"x\"} 2"), "{s}");
        assert!(s.contains("x_total{ip=\"_other\"} 2"), "{s}");
    }

    #[test]
    fn a_held_series_and_a_lookup_update_the_same_cell() {
        let mut reg = Registry::default();
        let mut b = MetricsBuilder::new(&mut reg, None, 10);
        let c = b.counter(MetricName { prom: "y", otel: "y", help: "h" }, &["a", "b"]);
        let held = c.series(&["1", "2"]);
        held.add(5);
        c.add(&["1", "2"], 2);
        // Same strings split differently are a different set.
        c.add(&["12", ""], 1);
        assert_eq!(c.get(&["1", "2"]), 7);
        assert_eq!(c.get(&["12", ""]), 1);
        let g = b.gauge(MetricName { prom: "g", otel: "g", help: "h" }, &[]);
        g.set(&[], -3);
        assert_eq!(g.get(&[]), -3);
    }

    #[test]
    fn numbers_format_like_to_string() {
        for n in [0u64, 7, 10, 200, 404, 65535, u64::MAX] {
            assert_eq!(Num::new(n).as_str(), n.to_string());
        }
    }
}
