//! replay: runs a pcap/pcapng file through the same stream -> signals -> export path as
//! live capture (`telegen replay FILE`). Records go to stdout as JSON lines (nothing is
//! dropped: the writer blocks) or to OTLP; a summary goes to stderr at the end.

use crate::config::{Config, Effective};
use crate::export::json::JsonSink;
use crate::export::otlp::OtlpSink;
use crate::telemetry::SelfTelemetry;
use crate::export::{Fanout, SignalSink};
use crate::signals::l7::{L7Metrics, L7Options, L7Signals};
use crate::signals::metrics::MetricsBuilder;
use crate::model::Signal;
use crate::model::StreamEvent;
use crate::pcap::{PcapReplaySource, ReplayConfig, ReplayStats};
use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Output format of `telegen replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Otlp,
}

/// What a replay saw, printed on stderr at the end (and returned to tests).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplaySummary {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_flows: u64,
    pub udp_flows: u64,
    pub records: BTreeMap<&'static str, u64>,
    pub parse: telegen_proto::stats::ParseStats,
    pub gaps: u64,
    pub malformed_packets: u64,
    pub filtered_events: u64,
    #[serde(skip)]
    pub stream: ReplayStats,
}

/// Replays `file` and hands every record to `emit`; the pure pipeline, used by the CLI
/// and by tests.
pub fn replay_with(
    file: &Path,
    eff: &Effective,
    progress: bool,
    emit: &mut dyn FnMut(Signal),
) -> Result<ReplaySummary> {
    let mut source = PcapReplaySource::open(file, ReplayConfig::default())
        .with_context(|| format!("replaying {}", file.display()))?;
    let mut reg = Registry::default();
    let telemetry = SelfTelemetry::register(&mut reg);
    let mut b = MetricsBuilder::new(&mut reg, None, crate::run::MAX_SERIES);
    let l7m = L7Metrics::new(&mut b);
    let opts = L7Options::from_effective(eff);
    let mut l7 = L7Signals::new(opts, l7m, telemetry);
    let mut summary = ReplaySummary::default();

    let bar = progress_bar(progress, source.progress().1);
    let mut events: Vec<StreamEvent> = Vec::with_capacity(4096);
    let mut last_ts = 0u64;
    let mut last_expire = 0u64;
    let mut gaps = 0u64;
    loop {
        events.clear();
        let more = source.next_events(&mut events).context("reading the capture")?;
        for ev in events.drain(..) {
            last_ts = last_ts.max(ev.ts_ns);
            if !port_allowed(eff, ev.key.client.port(), ev.key.server.port()) {
                summary.filtered_events += 1;
                continue;
            }
            if matches!(ev.payload, crate::model::Payload::Gap(_)) {
                gaps += 1;
            }
            l7.on_event(ev, emit);
        }
        // Expire by capture time, once per simulated second.
        if last_ts > last_expire + 1_000_000_000 {
            l7.expire(last_ts, emit);
            last_expire = last_ts;
        }
        if let Some(b) = &bar {
            b.set_position(source.progress().0);
        }
        if !more {
            break;
        }
    }
    let horizon = last_ts.saturating_add(eff.dns.timeout.as_nanos() as u64);
    l7.close_all(horizon, emit);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let st = source.stats();
    summary.packets = st.packets;
    summary.bytes = st.bytes;
    summary.tcp_flows = st.flows.tcp_flows;
    summary.udp_flows = st.flows.udp_flows;
    summary.malformed_packets = st.malformed_packets + st.truncated_packets;
    summary.records = l7.records_by_protocol().into_iter().collect();
    summary.parse = l7.stats.clone();
    summary.gaps = gaps;
    summary.stream = st;
    Ok(summary)
}

fn port_allowed(eff: &Effective, a: u16, b: u16) -> bool {
    if eff.exclude_ports.contains(&a) || eff.exclude_ports.contains(&b) {
        return false;
    }
    eff.include_ports.is_empty() || eff.include_ports.contains(&a) || eff.include_ports.contains(&b)
}

fn progress_bar(wanted: bool, total: Option<u64>) -> Option<indicatif::ProgressBar> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let b =
        indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr());
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Only draw for replays that last more than a second.
    b.enable_steady_tick(Duration::from_millis(250));
    b.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    let bb = b.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        if !bb.is_finished() {
            bb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    });
    Some(b)
}

/// `telegen replay FILE`.
pub fn replay(file: &Path, cfg: Config, format: Format, progress: bool) -> Result<()> {
    let eff = cfg.effective();
    let t0 = Instant::now();
    let mut reg = Registry::default();
    let telemetry = SelfTelemetry::register(&mut reg);
    let summary = match format {
        Format::Json => {
            let sink = JsonSink::stdout(65536, true, telemetry.clone());
            let s = replay_with(file, &eff, progress, &mut |sig| sink.send(&sig))?;
            sink.close();
            s
        }
        Format::Otlp => {
            let settings = crate::run::otlp_settings(&eff).context(
                "--format otlp needs an OTLP endpoint (agent.exporters.otlp.endpoint or OTEL_EXPORTER_OTLP_ENDPOINT)",
            )?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            rt.block_on(async {
                let sink = OtlpSink::start(&settings, true, true, telemetry.clone())?;
                let mut fan = Fanout::default();
                let sink = std::sync::Arc::new(sink);
                fan.push(Box::new(ArcSink(sink.clone())));
                let s = tokio::task::block_in_place(|| {
                    replay_with(file, &eff, progress, &mut |sig| fan.send(&sig))
                })?;
                drop(fan);
                if let Ok(sink) = std::sync::Arc::try_unwrap(sink) {
                    sink.shutdown(Duration::from_secs(10)).await;
                }
                anyhow::Ok(s)
            })?
        }
    };
    print_summary(&summary, t0.elapsed(), &telemetry);
    Ok(())
}

struct ArcSink(std::sync::Arc<OtlpSink>);
impl SignalSink for ArcSink {
    fn send(&self, s: &Signal) {
        self.0.send(s)
    }
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
