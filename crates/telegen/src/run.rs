//! run: the live agent (`telegen run`). Configures the pipeline with the live sources
//! ([`crate::pipeline::live`]), its sinks and the Prometheus endpoint, prints the start-up
//! summary, and on SIGINT/SIGTERM detaches everything and exits cleanly.

use crate::capture::bpf::loader::{HookReport, HookStatus};
use crate::config::Config;
use crate::export::otlp::{self, OtlpSettings};
use crate::export::prometheus;
use crate::pipeline::live::LiveSources;
use crate::pipeline::sinks::{otlp_settings, SinkOptions, Sinks};
use crate::pipeline::{Pipeline, Stages, MAX_SERIES};
use crate::signals::metrics::MetricsBuilder;
use crate::telemetry::SelfTelemetry;
use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Print every record as a JSON line on stdout.
    pub json: bool,
}

/// Runs until SIGINT or SIGTERM.
pub fn run(cfg: Config, opts: RunOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("telegen")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            }
        };
        run_until(cfg, opts, shutdown).await
    })
}

/// The agent's body, usable from tests: runs until `shutdown` completes.
pub async fn run_until(
    cfg: Config,
    opts: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let telemetry_reg = &mut Registry::default();
    let telemetry = SelfTelemetry::register(telemetry_reg);
    let mut registry = std::mem::take(telemetry_reg);

    let eff = cfg.effective();
    for w in cfg.warnings() {
        tracing::warn!("config: {w}");
    }

    // OTLP metrics (optional): instruments record into both Prometheus and OTel.
    let otlp_settings = otlp_settings(&eff);
    let mut meter_provider = None;
    let mut tasks = Vec::new();
    if let (Some(s), Some(o)) = (&otlp_settings, &eff.otlp) {
        if o.metrics {
            let (p, t) = otlp::start_metrics(s, telemetry.clone())?;
            meter_provider = Some(p);
            tasks.push(t);
        }
    }
    let meter =
        meter_provider.as_ref().map(|p| opentelemetry::metrics::MeterProvider::meter(p, "telegen"));

    // Record sinks, then the stages (which build spans and events only when a sink
    // takes them).
    let json = opts.json || eff.stdout_json;
    let sink_opts = SinkOptions { json, json_blocking: false, otlp_records: None };
    let sinks = Sinks::start(&eff, sink_opts, &telemetry)?;
    let stages = Stages { tcp: eff.tcp.enabled, emit_signals: sinks.takes_signals() };
    let mut b = MetricsBuilder::new(&mut registry, meter.as_ref(), MAX_SERIES);
    let mut pipeline = Pipeline::new(&eff, stages, &mut b, telemetry.clone());

    // The Prometheus address is taken before the (seconds-long) kernel load.
    let prom_listener = match &eff.prometheus {
        Some(p) => Some(prometheus::bind(&p.listen).await?),
        None => None,
    };

    let mut sources = LiveSources::start(&eff)?;

    // Prometheus endpoint.
    let registry = Arc::new(registry);
    let prom = match (&eff.prometheus, prom_listener) {
        (Some(p), Some(listener)) => {
            let (addr, t) = prometheus::serve(registry.clone(), listener, &p.path)?;
            tasks.push(t);
            Some(format!("http://{addr}{}", p.path))
        }
        _ => None,
    };

    print_summary(
        &sources,
        (sources.rings(), sources.ring_bytes, eff.ring_buffer_size),
        prom.as_deref(),
        otlp_settings.as_ref(),
        json,
    );

    sources.drive(&mut pipeline, &sinks, &telemetry, shutdown).await;
    sinks.shutdown(Duration::from_secs(3)).await;
    if let Some(p) = meter_provider {
        let _ = p.shutdown();
    }
    for t in tasks {
        t.abort();
    }
    tracing::info!("stopped; every program and link telegen attached is detached");
    Ok(())
}

fn print_summary(
    sources: &LiveSources,
    (rings, ring_bytes, ring_total): (u64, u64, u64),
    prom: Option<&str>,
    otlp: Option<&OtlpSettings>,
    json: bool,
) {
    let mut s = format!("telegen {} on Linux {}\n", env!("CARGO_PKG_VERSION"), kernel_release());
    let hooks: Vec<&HookReport> = sources.attached();
    if !sources.payload_running() {
        s.push_str("  payload capture (HTTP, DNS): off\n");
    }
    if !sources.tcp_running() {
        s.push_str("  tcp: disabled by configuration\n");
    }
    let fw = hooks.iter().map(|h| h.feature.len()).max().unwrap_or(0);
    let hw = hooks.iter().map(|h| h.hook.len()).max().unwrap_or(0);
    for h in hooks {
        let st = match &h.status {
            // An iterator is BTF-typed like tp_btf, but it is not a tracepoint.
            HookStatus::TpBtf if h.hook.starts_with("iter/") => "attached (iterator)".to_string(),
            HookStatus::TpBtf => "attached (tp_btf)".to_string(),
            HookStatus::Classic { tp_btf_error } => {
                format!("DEGRADED: classic tracepoint (tp_btf refused: {tp_btf_error})")
            }
            HookStatus::ClassicOnly => "attached (tracepoint)".to_string(),
            HookStatus::Disabled => "off (configuration)".to_string(),
            HookStatus::Failed { error } => format!("REFUSED by the kernel: {error}"),
        };
        s.push_str(&format!("  {:<fw$} {:<hw$} {st}\n", h.feature, h.hook));
    }
    if rings > 0 {
        s.push_str(&format!(
            "  ring buffers: {rings} x {} (agent.network.ring_buffer_size {}, split)\n",
            size_text(ring_bytes),
            size_text(ring_total)
        ));
    }
    s.push_str(&format!("  prometheus: {}\n", prom.unwrap_or("off")));
    match otlp {
        Some(o) => s.push_str(&format!("  otlp: {} ({:?})\n", o.endpoint, o.protocol)),
        None => s.push_str(
            "  otlp: off (set agent.exporters.otlp.endpoint or OTEL_EXPORTER_OTLP_ENDPOINT)\n",
        ),
    }
    s.push_str(&format!("  json lines on stdout: {}\n", if json { "on" } else { "off" }));
    s.push_str("telegen: ready; SIGINT (Ctrl-C) or SIGTERM stops it and detaches everything\n");
    eprint!("{s}");
}

/// "16 MiB", "512 KiB", "4096 B".
fn size_text(b: u64) -> String {
    match b {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_units() {
        use super::size_text;
        assert_eq!(size_text(16 << 20), "16 MiB");
        assert_eq!(size_text(512 << 10), "512 KiB");
        assert_eq!(size_text(3000), "3000 B");
    }
}
