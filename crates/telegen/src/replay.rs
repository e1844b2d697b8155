//! replay: `telegen replay FILE`. Configures the pipeline's replay source
//! ([`crate::pipeline::replay`]) and its sinks: records go to stdout as JSON lines
//! (nothing is dropped: the writer blocks) or to OTLP; a summary goes to stderr at the end.

use crate::config::Config;
use crate::pipeline::sinks::{otlp_settings, SinkOptions, Sinks};
use crate::telemetry::SelfTelemetry;
use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use std::path::Path;
use std::time::{Duration, Instant};

pub use crate::pipeline::replay::{replay_with, ReplaySummary};

/// Output format of `telegen replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Otlp,
}

/// `telegen replay FILE`.
pub fn replay(file: &Path, cfg: Config, format: Format, progress: bool) -> Result<()> {
    let eff = cfg.effective();
    let t0 = Instant::now();
    let mut reg = Registry::default();
    let telemetry = SelfTelemetry::register(&mut reg);
    let summary = match format {
        Format::Json => {
            // Nothing may be lost offline: the JSON writer blocks instead of dropping.
            let o = SinkOptions { json: true, json_blocking: true, otlp_records: Some(false) };
            let sinks = Sinks::start(&eff, o, &telemetry)?;
            let s = replay_with(file, &eff, progress, &mut |sig| sinks.send(&sig))?;
            sinks.close_json();
            s
        }
        Format::Otlp => {
            otlp_settings(&eff).context(
                "--format otlp needs an OTLP endpoint (agent.exporters.otlp.endpoint or OTEL_EXPORTER_OTLP_ENDPOINT)",
            )?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            rt.block_on(async {
                let o = SinkOptions { json: false, json_blocking: false, otlp_records: Some(true) };
                let sinks = Sinks::start(&eff, o, &telemetry)?;
                let s = tokio::task::block_in_place(|| {
                    replay_with(file, &eff, progress, &mut |sig| sinks.send(&sig))
                })?;
                sinks.shutdown(Duration::from_secs(10)).await;
                anyhow::Ok(s)
            })?
        }
    };
    print_summary(&summary, t0.elapsed(), &telemetry);
    Ok(())
}

fn print_summary(s: &ReplaySummary, took: Duration, t: &SelfTelemetry) {
    let secs = took.as_secs_f64().max(1e-9);
    let recs: Vec<String> = s.records.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let p = &s.parse;
    eprintln!(
        "replay: {} packets, {} bytes in {:.2} s ({:.1} MB/s); flows: {} tcp, {} udp; records: {}; \
         parse failures: malformed={} buffer_full={} resync_bytes={} expired={} unmatched={}; gaps: {}; \
         malformed packets: {}; filtered events: {}",
        s.packets,
        s.bytes,
        secs,
        s.bytes as f64 / secs / 1e6,
        s.tcp_flows,
        s.udp_flows,
        if recs.is_empty() { "none".to_string() } else { recs.join(" ") },
        p.errors_malformed,
        p.errors_buffer_full,
        p.resync_bytes_skipped,
        p.requests_expired,
        p.unmatched_responses,
        s.gaps,
        s.malformed_packets,
        s.filtered_events,
    );
    let dropped =
        t.dropped_value("otlp_traces", "queue_full") + t.dropped_value("otlp_logs", "queue_full");
    if dropped > 0 {
        eprintln!("replay: {dropped} records dropped by the OTLP queue");
    }
}
