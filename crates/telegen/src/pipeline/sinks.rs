//! The sinks of a pipeline: where its spans and events go (JSON lines, OTLP traces and
//! logs, fanned out) and the OTLP metrics reader. Built from the effective configuration
//! for live runs and replays alike; each sink queues (bounded) and counts what it drops.

use crate::config::{Effective, OtlpProtocol};
use crate::export::json::JsonSink;
use crate::export::otlp::{self, OtlpSettings, OtlpSink};
use crate::export::{Fanout, SignalSink};
use crate::model::Signal;
use crate::telemetry::SelfTelemetry;
use anyhow::Result;
use std::sync::Arc;
use std::time::Duration;

/// OTLP settings from the effective configuration, or None when no endpoint is set.
pub fn otlp_settings(eff: &Effective) -> Option<OtlpSettings> {
    let o = eff.otlp.as_ref()?;
    Some(OtlpSettings {
        endpoint: o.endpoint.clone(),
        protocol: match o.protocol {
            OtlpProtocol::HttpProtobuf => otlp::Protocol::HttpProtobuf,
            OtlpProtocol::Grpc => otlp::Protocol::Grpc,
        },
        timeout: o.timeout,
        metrics_interval: o.interval,
        queue_size: o.queue_size,
        max_batch: o.max_batch,
        service_name: eff.service_name.clone(),
        resource_attributes: o.resource_attributes.clone(),
    })
}

/// What a set of sinks should carry.
#[derive(Debug, Clone, Copy)]
pub struct SinkOptions {
    /// JSON lines on stdout.
    pub json: bool,
    /// The JSON writer blocks instead of dropping when its queue is full (replay: nothing
    /// may be lost; live: the traced apps must never wait).
    pub json_blocking: bool,
    /// OTLP traces and logs, when an endpoint is configured: `None` follows the
    /// configuration's per-signal switches, `Some(true)` sends both (replay).
    pub otlp_records: Option<bool>,
}

/// The record sinks (fanned out) and their shutdown handles.
pub struct Sinks {
    fanout: Fanout,
    json: Option<Arc<JsonSink>>,
    otlp: Option<Arc<OtlpSink>>,
}

impl Sinks {
    /// Starts the configured sinks; an OTLP sink needs a Tokio runtime.
    pub fn start(eff: &Effective, o: SinkOptions, telemetry: &SelfTelemetry) -> Result<Self> {
        let mut fanout = Fanout::default();
        let mut json = None;
        if o.json {
            let j = Arc::new(JsonSink::stdout(65536, o.json_blocking, telemetry.clone()));
            fanout.push(Box::new(Shared(j.clone())));
            json = Some(j);
        }
        let mut otlp_sink = None;
        if let (Some(s), Some(cfg)) = (otlp_settings(eff), &eff.otlp) {
            let (traces, logs) = match o.otlp_records {
                Some(all) => (all, all),
                None => (cfg.traces, cfg.logs),
            };
            if traces || logs {
                let sink = Arc::new(OtlpSink::start(&s, traces, logs, telemetry.clone())?);
                fanout.push(Box::new(Shared(sink.clone())));
                otlp_sink = Some(sink);
            }
        }
        Ok(Sinks { fanout, json, otlp: otlp_sink })
    }

    /// Some sink takes spans and events.
    pub fn takes_signals(&self) -> bool {
        !self.fanout.is_empty()
    }

    pub fn send(&self, s: &Signal) {
        self.fanout.send(s);
    }

    /// Flushes and stops every sink: the JSON writer drains its queue, OTLP sends what
    /// it holds within `wait`.
    pub async fn shutdown(self, wait: Duration) {
        let Sinks { fanout, json, otlp } = self;
        drop(fanout);
        if let Some(j) = json {
            j.close();
        }
        if let Some(o) = otlp {
            if let Ok(o) = Arc::try_unwrap(o) {
                o.shutdown(wait).await;
            }
        }
    }

    /// [`Sinks::shutdown`] for a caller without OTLP (no runtime needed).
    pub fn close_json(self) {
        if let Some(j) = &self.json {
            j.close();
        }
    }
}

/// A sink shared between the fanout and its shutdown handle.
struct Shared<S>(Arc<S>);

impl<S: SignalSink> SignalSink for Shared<S> {
    fn send(&self, s: &Signal) {
        self.0.send(s)
    }
}
