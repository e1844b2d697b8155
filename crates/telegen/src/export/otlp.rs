//! OTLP export of metrics, traces (spans) and logs (events), over gRPC or HTTP/protobuf.
//!
//! The SDK's own batch processors are not used: each signal has a bounded queue that the
//! agent controls, a worker that batches, exports with a timeout, retries with
//! exponential backoff, and counts every drop (`telegen_events_dropped_total{source=
//! "otlp_traces"|"otlp_logs", reason}`) and failure (`telegen_export_failures_total`).
//! Metrics are cumulative and collected from a manual reader on a timer, so a collector
//! outage loses no data: the next successful export carries the totals.

use super::SignalSink;
use crate::model::{AttrValue, Attributes, Event, Signal, Span, SpanKind, SpanStatus};
use crate::telemetry::SelfTelemetry;
use anyhow::Context;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_otlp::{LogExporter, MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{ManualReader, Pipeline, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use opentelemetry_sdk::Resource;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
}

/// Resolved OTLP settings (config file merged with OTEL_* variables by the config layer).
#[derive(Debug, Clone)]
pub struct OtlpSettings {
    pub endpoint: String,
    pub protocol: Protocol,
    pub timeout: Duration,
    pub metrics_interval: Duration,
    pub queue_size: usize,
    pub max_batch: usize,
    pub service_name: String,
    pub resource_attributes: Vec<(String, String)>,
}

fn signal_endpoint(s: &OtlpSettings, signal: &str) -> String {
    match s.protocol {
        Protocol::Grpc => s.endpoint.clone(),
        Protocol::HttpProtobuf => {
            let base = s.endpoint.trim_end_matches('/');
            if base.ends_with(&format!("/v1/{signal}")) {
                base.to_string()
            } else {
                format!("{base}/v1/{signal}")
            }
        }
    }
}

pub fn resource(s: &OtlpSettings) -> Resource {
    Resource::builder()
        .with_service_name(s.service_name.clone())
        .with_attributes(
            s.resource_attributes.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_attributes([KeyValue::new("telemetry.sdk.name", "telegen")])
        .build()
}

// ---------------------------------------------------------------------------------------
// Metrics

/// A manual reader shared between the meter provider and our export loop.
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, t: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(t)
    }
    fn temporality(&self, kind: opentelemetry_sdk::metrics::InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Builds the meter provider whose instruments the signals stage records into, and the
/// task that pushes them. The provider must outlive the instruments.
pub fn start_metrics(
    s: &OtlpSettings,
    telemetry: SelfTelemetry,
) -> anyhow::Result<(SdkMeterProvider, JoinHandle<()>)> {
    let endpoint = signal_endpoint(s, "metrics");
    let exporter = match s.protocol {
        Protocol::Grpc => MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(s.timeout)
            .build(),
        Protocol::HttpProtobuf => MetricExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .with_timeout(s.timeout)
            .build(),
    }
    .context("building the OTLP metric exporter")?;
    let reader = SharedReader(Arc::new(
        ManualReader::builder().with_temporality(Temporality::Cumulative).build(),
    ));
    let provider =
        SdkMeterProvider::builder().with_reader(reader.clone()).with_resource(resource(s)).build();
    let interval = s.metrics_interval;
    let timeout = s.timeout;
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick.tick().await;
        loop {
            tick.tick().await;
            let mut rm = ResourceMetrics::default();
            if let Err(e) = reader.collect(&mut rm) {
                tracing::debug!(error = %e, "collecting metrics failed");
                continue;
            }
            match tokio::time::timeout(timeout, exporter.export(&rm)).await {
                Ok(Ok(())) => telemetry.exported_ok("otlp_metrics", 1),
                Ok(Err(e)) => {
                    telemetry.export_failed("otlp_metrics");
                    tracing::warn!(error = %e, "OTLP metric export failed; totals go out with the next export");
                }
                Err(_) => {
                    telemetry.export_failed("otlp_metrics");
                    tracing::warn!("OTLP metric export timed out");
                }
            }
        }
    });
    Ok((provider, task))
}

// ---------------------------------------------------------------------------------------
// Traces and logs: bounded queue + batching worker with retries

/// Exports one batch; the worker retries on error.
trait BatchExport<T>: Send + 'static {
    fn export(&self, batch: &[T]) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

struct Worker<T, E> {
    rx: mpsc::Receiver<T>,
    exporter: E,
    max_batch: usize,
    timeout: Duration,
    name: &'static str,
    telemetry: SelfTelemetry,
}

const MAX_ATTEMPTS: u32 = 5;

impl<T: Send + 'static, E: BatchExport<T>> Worker<T, E> {
    async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            // Wait for the first item, then gather more for up to one second.
            match self.rx.recv().await {
                Some(x) => batch.push(x),
                None => break,
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            while batch.len() < self.max_batch {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(x)) => batch.push(x),
                    Ok(None) | Err(_) => break,
                }
            }
            self.export_with_retry(&mut batch).await;
        }
        if !batch.is_empty() {
            self.export_with_retry(&mut batch).await;
        }
    }

    async fn export_with_retry(&mut self, batch: &mut Vec<T>) {
        let mut backoff = Duration::from_millis(200);
        for attempt in 1..=MAX_ATTEMPTS {
            let r = tokio::time::timeout(self.timeout, self.exporter.export(batch)).await;
            match r {
                Ok(Ok(())) => {
                    self.telemetry.exported_ok(self.name, batch.len() as u64);
                    batch.clear();
                    return;
                }
                Ok(Err(e)) => {
                    tracing::debug!(exporter = self.name, attempt, error = %e, "export failed")
                }
                Err(_) => tracing::debug!(exporter = self.name, attempt, "export timed out"),
            }
            self.telemetry.export_failed(self.name);
            if attempt < MAX_ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        tracing::warn!(
            exporter = self.name,
            dropped = batch.len(),
            "giving up on a batch after retries"
        );
        self.telemetry.drop(self.name, "export_failed", batch.len() as u64);
        batch.clear();
    }
}

struct Spans(SpanExporter);
impl BatchExport<SpanData> for Spans {
    async fn export(&self, batch: &[SpanData]) -> Result<(), String> {
        self.0.export(batch.to_vec()).await.map_err(|e| e.to_string())
    }
}

struct Logs(LogExporter, InstrumentationScope);
impl BatchExport<SdkLogRecord> for Logs {
    async fn export(&self, batch: &[SdkLogRecord]) -> Result<(), String> {
        let pairs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            batch.iter().map(|r| (r, &self.1)).collect();
        self.0.export(LogBatch::new(&pairs)).await.map_err(|e| e.to_string())
    }
}

/// The OTLP sink for spans and events. Sending never blocks: a full queue drops and counts.
pub struct OtlpSink {
    spans: Option<mpsc::Sender<SpanData>>,
    logs: Option<mpsc::Sender<SdkLogRecord>>,
    logger_provider: SdkLoggerProvider,
    scope: InstrumentationScope,
    telemetry: SelfTelemetry,
    tasks: Vec<JoinHandle<()>>,
}

impl OtlpSink {
    pub fn start(
        s: &OtlpSettings,
        traces: bool,
        logs: bool,
        telemetry: SelfTelemetry,
    ) -> anyhow::Result<Self> {
        let res = resource(s);
        let scope = InstrumentationScope::builder("telegen")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let mut tasks = Vec::new();
        let spans = if traces {
            let ep = signal_endpoint(s, "traces");
            let mut exp = match s.protocol {
                Protocol::Grpc => SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(ep)
                    .with_timeout(s.timeout)
                    .build(),
                Protocol::HttpProtobuf => SpanExporter::builder()
                    .with_http()
                    .with_endpoint(ep)
                    .with_timeout(s.timeout)
                    .build(),
            }
            .context("building the OTLP span exporter")?;
            exp.set_resource(&res);
            let (tx, rx) = mpsc::channel(s.queue_size.max(1));
            let w = Worker {
                rx,
                exporter: Spans(exp),
                max_batch: s.max_batch,
                timeout: s.timeout,
                name: "otlp_traces",
                telemetry: telemetry.clone(),
            };
            tasks.push(tokio::spawn(w.run()));
            Some(tx)
        } else {
            None
        };
        let logs_tx = if logs {
            let ep = signal_endpoint(s, "logs");
            let mut exp = match s.protocol {
                Protocol::Grpc => LogExporter::builder()
                    .with_tonic()
                    .with_endpoint(ep)
                    .with_timeout(s.timeout)
                    .build(),
                Protocol::HttpProtobuf => LogExporter::builder()
                    .with_http()
                    .with_endpoint(ep)
                    .with_timeout(s.timeout)
                    .build(),
            }
            .context("building the OTLP log exporter")?;
            exp.set_resource(&res);
            let (tx, rx) = mpsc::channel(s.queue_size.max(1));
            let w = Worker {
                rx,
                exporter: Logs(exp, scope.clone()),
                max_batch: s.max_batch,
                timeout: s.timeout,
                name: "otlp_logs",
                telemetry: telemetry.clone(),
            };
            tasks.push(tokio::spawn(w.run()));
            Some(tx)
        } else {
            None
        };
        // A provider with no processor: used only to mint SdkLogRecords.
        let logger_provider = SdkLoggerProvider::builder().with_resource(res).build();
        Ok(OtlpSink { spans, logs: logs_tx, logger_provider, scope, telemetry, tasks })
    }

    /// Closes the queues and waits (bounded) for the workers to flush.
    pub async fn shutdown(mut self, wait: Duration) {
        self.spans.take();
        self.logs.take();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(wait, t).await;
        }
    }

    fn span_data(&self, s: &Span) -> SpanData {
        let ctx = SpanContext::new(
            TraceId::from_bytes(s.trace_id.to_be_bytes()),
            SpanId::from_bytes(s.span_id.to_be_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let mut attributes = to_kvs(&s.attributes);
        attributes.push(KeyValue::new("service.name", s.service_name.clone()));
        SpanData {
            span_context: ctx,
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: match s.kind {
                SpanKind::Server => opentelemetry::trace::SpanKind::Server,
                SpanKind::Client => opentelemetry::trace::SpanKind::Client,
                SpanKind::Internal => opentelemetry::trace::SpanKind::Internal,
            },
            name: s.name.clone().into(),
            start_time: ts(s.start_time_unix_nano),
            end_time: ts(s.end_time_unix_nano),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: match s.status {
                SpanStatus::Unset => opentelemetry::trace::Status::Unset,
                SpanStatus::Ok => opentelemetry::trace::Status::Ok,
                SpanStatus::Error => opentelemetry::trace::Status::error(""),
            },
            instrumentation_scope: self.scope.clone(),
        }
    }

    fn log_record(&self, e: &Event) -> SdkLogRecord {
        let logger = self.logger_provider.logger("telegen");
        let mut r = logger.create_log_record();
        r.set_event_name(e.name);
        r.set_timestamp(ts(e.time_unix_nano));
        r.set_observed_timestamp(SystemTime::now());
        let (num, text) = match e.severity {
            crate::model::signal::Severity::Info => (Severity::Info, "INFO"),
            crate::model::signal::Severity::Warn => (Severity::Warn, "WARN"),
            crate::model::signal::Severity::Error => (Severity::Error, "ERROR"),
        };
        r.set_severity_number(num);
        r.set_severity_text(text);
        r.set_body(AnyValue::from(e.name.to_string()));
        for (k, v) in &e.attributes.0 {
            r.add_attribute(otel_key(k), any_value(v));
        }
        r
    }
}

impl SignalSink for OtlpSink {
    fn send(&self, s: &Signal) {
        match s {
            Signal::Span(sp) => {
                if let Some(tx) = &self.spans {
                    if tx.try_send(self.span_data(sp)).is_err() {
                        self.telemetry.drop("otlp_traces", "queue_full", 1);
                    }
                }
            }
            Signal::Event(ev) => {
                if let Some(tx) = &self.logs {
                    if tx.try_send(self.log_record(ev)).is_err() {
                        self.telemetry.drop("otlp_logs", "queue_full", 1);
                    }
                }
            }
        }
    }
}

fn ts(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

fn to_value(v: &AttrValue) -> Value {
    match v {
        AttrValue::Str(s) => Value::from(s.clone()),
        AttrValue::Int(i) => Value::I64(*i),
        AttrValue::F64(f) => Value::F64(*f),
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::StrArray(a) => {
            Value::Array(opentelemetry::Array::String(a.iter().map(|s| s.clone().into()).collect()))
        }
    }
}

fn any_value(v: &AttrValue) -> AnyValue {
    match v {
        AttrValue::Str(s) => AnyValue::from(s.clone()),
        AttrValue::Int(i) => AnyValue::Int(*i),
        AttrValue::F64(f) => AnyValue::Double(*f),
        AttrValue::Bool(b) => AnyValue::Boolean(*b),
        AttrValue::StrArray(a) => {
            AnyValue::ListAny(Box::new(a.iter().map(|s| AnyValue::from(s.clone())).collect()))
        }
    }
}

pub fn to_kvs(a: &Attributes) -> Vec<KeyValue> {
    a.0.iter().map(|(k, v)| KeyValue::new(otel_key(k), to_value(v))).collect()
}

fn otel_key(k: &crate::model::signal::AttrKey) -> opentelemetry::Key {
    match k {
        std::borrow::Cow::Borrowed(s) => opentelemetry::Key::from_static_str(s),
        std::borrow::Cow::Owned(s) => opentelemetry::Key::from(s.clone()),
    }
}
