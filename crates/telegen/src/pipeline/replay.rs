//! The replay source: a pcap/pcapng file read through the packet stack into
//! [`StreamEvent`]s, fed to a [`Pipeline`] in capture-time order. Pending requests expire
//! by capture time (once per simulated second), and at the end every exchange is closed
//! at the last packet's time plus the DNS timeout.

use super::{Pipeline, Stages, MAX_SERIES};
use crate::config::Effective;
use crate::model::{Payload, Signal, StreamEvent};
use crate::pcap::{PcapError, PcapReplaySource, ReplayConfig, ReplayStats};
use crate::signals::metrics::MetricsBuilder;
use crate::telemetry::SelfTelemetry;
use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

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

/// Replays `file` and hands every record to `emit`.
pub fn replay_with(
    file: &Path,
    eff: &Effective,
    progress: bool,
    emit: &mut dyn FnMut(Signal),
) -> Result<ReplaySummary> {
    let mut source = match PcapReplaySource::open(file, ReplayConfig::default()) {
        Ok(s) => s,
        // The error names the file already.
        Err(e @ PcapError::Open { .. }) => return Err(e.into()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("replaying {}", file.display())))
        }
    };
    let mut reg = Registry::default();
    let telemetry = SelfTelemetry::register(&mut reg);
    let mut b = MetricsBuilder::new(&mut reg, None, MAX_SERIES);
    let stages = Stages { tcp: false, emit_signals: true };
    let mut pipeline = Pipeline::new(eff, stages, &mut b, telemetry);
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
            if matches!(ev.payload, Payload::Gap(_)) {
                gaps += 1;
            }
            pipeline.on_stream_event(ev, emit);
        }
        // Expire by capture time, once per simulated second.
        if last_ts > last_expire + 1_000_000_000 {
            pipeline.expire(last_ts, emit);
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
    pipeline.finish(horizon, emit);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let st = source.stats();
    summary.packets = st.packet.packets;
    summary.bytes = st.packet.bytes;
    summary.tcp_flows = st.packet.flows.tcp_flows;
    summary.udp_flows = st.packet.flows.udp_flows;
    summary.malformed_packets = st.packet.malformed_packets + st.packet.truncated_packets;
    summary.records = pipeline.records_by_protocol().into_iter().collect();
    summary.parse = pipeline.parse_stats().clone();
    summary.gaps = gaps;
    summary.stream = st;
    Ok(summary)
}

/// The port filters of `agent.network.{include,exclude}_ports`, which the kernel applies
/// live.
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
