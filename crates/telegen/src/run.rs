//! run: the live agent (`telegen run`). Wires capture -> signals -> export, prints the
//! start-up summary, and on SIGINT/SIGTERM detaches everything and exits cleanly.

use crate::capture::bpf::loader::{kernel_btf, HookReport, HookStatus};
use crate::capture::payload::{PayloadCapture, PayloadCaptureOptions};
use crate::capture::tcp::{TcpCapture, TcpCaptureOptions};
use crate::config::{Config, Effective, OtlpProtocol};
use crate::export::json::JsonSink;
use crate::export::otlp::{self, OtlpSettings, OtlpSink};
use crate::telemetry::SelfTelemetry;
use crate::export::{prometheus, Fanout};
use crate::signals::l7::{L7Metrics, L7Options, L7Signals};
use crate::signals::metrics::MetricsBuilder;
use crate::signals::tcp::{TcpMetrics, TcpSignalOptions, TcpSignals};
use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Distinct label sets per metric before folding into `_other`.
pub const MAX_SERIES: usize = 10_000;

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
    let mut b = MetricsBuilder::new(&mut registry, meter.as_ref(), MAX_SERIES);
    let tcp_metrics = TcpMetrics::new(&mut b);
    let l7_metrics = L7Metrics::new(&mut b);

    // Record sinks.
    let mut fanout = Fanout::default();
    let json = opts.json || eff.stdout_json;
    if json {
        fanout.push(Box::new(JsonSink::stdout(65536, false, telemetry.clone())));
    }
    let mut otlp_sink = None;
    if let (Some(s), Some(o)) = (&otlp_settings, &eff.otlp) {
        if o.traces || o.logs {
            otlp_sink = Some(Arc::new(OtlpSink::start(s, o.traces, o.logs, telemetry.clone())?));
        }
    }
    if let Some(o) = &otlp_sink {
        fanout.push(Box::new(SharedSink(o.clone())));
    }

    // The Prometheus address is taken before the (seconds-long) kernel load.
    let prom_listener = match &eff.prometheus {
        Some(p) => Some(prometheus::bind(&p.listen).await?),
        None => None,
    };

    // Kernel capture. Both objects are relocated against one parse of the kernel's BTF,
    // freed (and the heap it grew handed back) once they are loaded.
    let tcp = &eff.tcp;
    let l7_on = eff.payload.enabled && (eff.http.enabled || eff.dns.enabled);
    let btf = if tcp.enabled || l7_on { kernel_btf().ok() } else { None };
    let ring_bytes = ring_share(eff.ring_buffer_size, tcp.enabled as u64 + l7_on as u64);
    let cap_opts = TcpCaptureOptions {
        ring_buffer_size: ring_bytes,
        sample_rate: tcp.sample_rate,
        include_ports: eff.include_ports.clone(),
        exclude_ports: eff.exclude_ports.clone(),
        rtt: tcp.rtt,
        retransmits: tcp.retransmits,
        stats: tcp.conn_stats,
        stats_interval: tcp.stats_interval,
        max_connections: tcp.max_connections,
        ..TcpCaptureOptions::default()
    };
    let (mut capture, mut conn_rx) = if tcp.enabled {
        let (c, rx) = TcpCapture::start(cap_opts).context("starting TCP capture")?;
        (Some(c), Some(rx))
    } else {
        (None, None)
    };
    // Socket payload capture: the input of HTTP and DNS tracing.
    let (mut payload, mut payload_rx) = if l7_on {
        let popts = PayloadCaptureOptions {
            max_payload_bytes: eff.payload.max_payload_bytes,
            http1: eff.http.enabled,
            http2: eff.http.grpc,
            dns_ports: if eff.dns.enabled { eff.dns.ports.clone() } else { Vec::new() },
            include_ports: eff.include_ports.clone(),
            exclude_ports: eff.exclude_ports.clone(),
            sample_rate: tcp.sample_rate,
            ring_buffer_size: ring_bytes,
            ..PayloadCaptureOptions::default()
        };
        match PayloadCapture::start(popts) {
            Ok((c, rx)) => (Some(c), Some(rx)),
            Err(e) => {
                // Degrade per feature: TCP metrics keep running without payloads.
                tracing::error!(error = %format!("{e:#}"), "payload capture unavailable: HTTP and DNS tracing are off");
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    drop(btf);
    crate::util::release_free_heap();
    let l7_opts = L7Options { emit_spans: !fanout.is_empty(), ..L7Options::from_effective(&eff) };
    let mut l7 = L7Signals::new(l7_opts, l7_metrics, telemetry.clone());

    let mut tcp_signals = TcpSignals::new(
        tcp_metrics,
        TcpSignalOptions {
            max_connections: tcp.max_connections as usize,
            // Events are only built when some sink wants them.
            emit_events: tcp.connection_tracking && !fanout.is_empty(),
        },
    );

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

    let rings = capture.is_some() as u64 + payload.is_some() as u64;
    print_summary(
        capture.as_ref(),
        payload.as_ref(),
        (rings, ring_bytes, eff.ring_buffer_size),
        prom.as_deref(),
        otlp_settings.as_ref(),
        json,
    );

    // Main loop.
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            evs = async { match conn_rx.as_mut() { Some(rx) => rx.recv_batch().await, None => std::future::pending().await } } => {
                match evs {
                    Some(evs) => {
                        for ev in &evs {
                            if let Some(sig) = tcp_signals.on_event(ev) {
                                fanout.send(&sig);
                            }
                        }
                    }
                    None => { tracing::error!("TCP capture stopped"); conn_rx = None; }
                }
            }
            evs = async { match payload_rx.as_mut() { Some(rx) => rx.recv_batch().await, None => std::future::pending().await } } => {
                match evs {
                    Some(evs) => {
                        for ev in evs {
                            l7.on_event(ev, &mut |sig| fanout.send(&sig));
                        }
                    }
                    None => { tracing::error!("payload capture stopped"); payload_rx = None; }
                }
            }
            _ = tick.tick() => {
                if let Some(c) = &capture {
                    publish_capture_stats(c, &telemetry);
                }
                if let Some(p) = &payload {
                    publish_payload_stats(p, &telemetry);
                }
                let now = crate::util::unix_now_ns();
                l7.expire(now, &mut |sig| fanout.send(&sig));
                telemetry.queue("dns_names", l7.dns_names.sweep(now));
                telemetry.queue("l7_connections", l7.connections());
            }
        }
    }

    // Shutdown: detach kernel programs first so nothing more arrives, then flush.
    if let Some(c) = capture.as_mut() {
        publish_capture_stats(c, &telemetry);
        c.shutdown();
    }
    if let Some(p) = payload.as_mut() {
        publish_payload_stats(p, &telemetry);
        p.shutdown();
    }
    l7.close_all(crate::util::unix_now_ns(), &mut |sig| fanout.send(&sig));
    drop(fanout);
    if let Some(o) = otlp_sink {
        if let Ok(o) = Arc::try_unwrap(o) {
            o.shutdown(Duration::from_secs(3)).await;
        }
    }
    if let Some(p) = meter_provider {
        let _ = p.shutdown();
    }
    for t in tasks {
        t.abort();
    }
    tracing::info!("stopped; every program and link telegen attached is detached");
    Ok(())
}

struct SharedSink(Arc<OtlpSink>);
impl crate::export::SignalSink for SharedSink {
    fn send(&self, s: &crate::model::Signal) {
        self.0.send(s)
    }
}

fn publish_capture_stats(c: &TcpCapture, t: &SelfTelemetry) {
    let s = c.stats();
    t.drop_cumulative("kernel", "tcp_ringbuf_full", s.ringbuf_reserve_failed);
    t.drop_cumulative("kernel", "tcp_conn_map_full", s.map_full);
    t.drop_cumulative("user", "tcp_channel_full", s.user_channel_dropped);
    t.drop_cumulative("user", "tcp_decode_error", s.user_decode_errors);
    t.skip_cumulative("kernel", "tcp_sampled_out", s.sampled_out);
    t.skip_cumulative("kernel", "tcp_filtered", s.filtered);
}

fn publish_payload_stats(c: &PayloadCapture, t: &SelfTelemetry) {
    let s = c.stats();
    t.drop_cumulative("kernel", "payload_ringbuf_full", s.ringbuf_full);
    t.drop_cumulative("kernel", "payload_scratch_busy", s.scratch_busy);
    t.drop_cumulative("kernel", "payload_conn_map_full", s.conn_map_full);
    t.skip_cumulative("kernel", "payload_unclassified", s.classify_miss);
    t.drop_cumulative("kernel", "payload_read_fault", s.read_faults);
    // Bytes past max_payload_bytes become gaps the parsers skip: a decision, not a loss.
    t.skip_cumulative("kernel", "payload_cut_to_gap", s.truncated);
    t.drop_cumulative("kernel", "payload_iov_truncated", s.iov_truncated);
    t.drop_cumulative("kernel", "payload_mmsg_truncated", s.mmsg_truncated);
    t.skip_cumulative("kernel", "payload_filtered", s.filtered);
    t.drop_cumulative("kernel", "payload_h2_headers_cut", s.h2_headers_cut);
    t.skip_cumulative("kernel", "payload_sampled_out", s.sampled_out);
    // A send whose thread slept in the syscall is timed at its exit: precision, not bytes.
    t.skip_cumulative("kernel", "payload_send_start_at_exit", s.send_start_at_exit);
    t.drop_cumulative("user", "payload_channel_full", s.user_channel_dropped);
    t.drop_cumulative("user", "payload_decode_error", s.user_decode_errors);
}

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

fn print_summary(
    cap: Option<&TcpCapture>,
    payload: Option<&PayloadCapture>,
    (rings, ring_bytes, ring_total): (u64, u64, u64),
    prom: Option<&str>,
    otlp: Option<&OtlpSettings>,
    json: bool,
) {
    let mut s = format!("telegen {} on Linux {}\n", env!("CARGO_PKG_VERSION"), kernel_release());
    let hooks: Vec<&HookReport> = cap
        .iter()
        .flat_map(|c| c.attached())
        .chain(payload.iter().flat_map(|p| p.attached()))
        .collect();
    if payload.is_none() {
        s.push_str("  payload capture (HTTP, DNS): off\n");
    }
    if cap.is_none() {
        s.push_str("  tcp: disabled by configuration\n");
    }
    for h in hooks {
        let st = match &h.status {
            HookStatus::TpBtf => "attached (tp_btf)".to_string(),
            HookStatus::Classic { tp_btf_error } => {
                format!("DEGRADED: classic tracepoint (tp_btf refused: {tp_btf_error})")
            }
            HookStatus::ClassicOnly => "attached (tracepoint)".to_string(),
            HookStatus::Disabled => "off (configuration)".to_string(),
            HookStatus::Failed { error } => format!("REFUSED by the kernel: {error}"),
        };
        s.push_str(&format!("  {:<34} {:<28} {st}\n", h.feature, h.hook));
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

/// Each ring's share of `agent.network.ring_buffer_size` (a power of two) when `rings`
/// rings run: an even split, at least one page.
fn ring_share(total: u64, rings: u64) -> u64 {
    (total / rings.max(1).next_power_of_two()).max(4096)
}

#[cfg(test)]
mod tests {
    use super::ring_share;

    #[test]
    fn rings_split_the_configured_memory() {
        assert_eq!(ring_share(16 << 20, 2), 8 << 20);
        assert_eq!(ring_share(16 << 20, 1), 16 << 20);
        assert_eq!(ring_share(16 << 20, 0), 16 << 20);
        // Never below one page, even when the total is one page.
        assert_eq!(ring_share(4096, 2), 4096);
    }

    #[test]
    fn sizes_read_as_units() {
        use super::size_text;
        assert_eq!(size_text(16 << 20), "16 MiB");
        assert_eq!(size_text(512 << 10), "512 KiB");
        assert_eq!(size_text(3000), "3000 B");
    }
}
