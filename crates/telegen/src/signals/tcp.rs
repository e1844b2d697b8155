//! TCP signals: connection-state gauges, error/retransmit/segment/byte counters, RTT,
//! and one event per lifecycle step, from the capture stage's [`ConnEvent`]s.
//!
//! Counters in the kernel are lifetime totals per connection; this stage keeps the last
//! totals it saw per connection (a bounded table) and adds the difference, so periodic
//! `Stats` events and the final `Close` never double-count.
//!
//! Labels: `src_ip` is the client (connecting side), `dst_ip`/`dst_port` the server; the
//! client's ephemeral port is never a label. A connection between two local processes is
//! seen from both sockets and counted on both sides.

use super::metrics::{
    CounterSeries, CounterVec, GaugeSeries, GaugeVec, MetricName, MetricsBuilder, Num,
};
use crate::enrich::Enrichment;
use crate::model::{
    Attributes, ConnError, ConnEvent, ConnEventKind, ConnRole, Event, Severity, Signal,
};
use crate::util::FastMap;
use prometheus_client::metrics::counter::Counter;
use std::net::SocketAddr;
use std::sync::Arc;

/// Connection states reported by `telegen_tcp_connections{state}`.
const STATES: [&str; 2] = ["opening", "established"];
const OPENING: usize = 0;
const ESTABLISHED: usize = 1;
const ERROR_TYPES: [ConnError; 4] =
    [ConnError::Refused, ConnError::Reset, ConnError::Timeout, ConnError::Other];
const ROLES: [ConnRole; 3] = [ConnRole::Client, ConnRole::Server, ConnRole::Unknown];

const FLOW: &[&str] = &["src_ip", "dst_ip", "dst_port"];

pub struct TcpMetrics {
    rtt_us: GaugeVec,
    retransmits: CounterVec,
    bytes_sent: CounterVec,
    bytes_received: CounterVec,
    conn_bytes_sent: CounterVec,
    conn_bytes_received: CounterVec,
    table_evictions: Counter,
    // Series whose label values are fixed, resolved once.
    connections_by_state: [GaugeSeries; STATES.len()],
    opened_by_role: [CounterSeries; ROLES.len()],
    errors_by_type: [CounterSeries; ERROR_TYPES.len()],
    segments_in: CounterSeries,
    segments_out: CounterSeries,
    retransmits_total: CounterSeries,
    closed: CounterSeries,
}

impl TcpMetrics {
    pub fn new(b: &mut MetricsBuilder<'_>) -> Self {
        let m = |prom, otel, help| MetricName { prom, otel, help };
        let connections = b.gauge(
            m(
                "telegen_tcp_connections",
                "telegen.tcp.connections",
                "Live TCP connections (local sockets) by state",
            ),
            &["state"],
        );
        let opened = b.counter(
            m(
                "telegen_tcp_connections_opened",
                "telegen.tcp.connections.opened",
                "TCP connections opened, by role (client/server); scaled by sample_rate",
            ),
            &["role"],
        );
        let closed = b.counter(
            m(
                "telegen_tcp_connections_closed",
                "telegen.tcp.connections.closed",
                "TCP connections closed; scaled by sample_rate",
            ),
            &[],
        );
        let errors = b.counter(m("telegen_tcp_connection_errors", "telegen.tcp.connection.errors", "TCP connection errors by error_type (refused, reset, timeout, other); scaled by sample_rate"), &["error_type"]);
        let retransmits_total = b.counter(
            m(
                "telegen_tcp_retransmits",
                "telegen.tcp.retransmits",
                "Retransmitted TCP segments; scaled by sample_rate",
            ),
            &[],
        );
        let segments = b.counter(
            m(
                "telegen_tcp_segments",
                "telegen.tcp.segments",
                "TCP segments by direction (in/out); scaled by sample_rate",
            ),
            &["direction"],
        );
        TcpMetrics {
            rtt_us: b.gauge(
                m(
                    "tcp_rtt_us",
                    "tcp.rtt",
                    "Smoothed RTT in microseconds, latest sample per client/server/port",
                ),
                FLOW,
            ),
            retransmits: b.counter(
                m(
                    "tcp_retransmits",
                    "tcp.retransmits",
                    "Retransmitted segments per client/server/port",
                ),
                FLOW,
            ),
            bytes_sent: b.counter(
                m(
                    "tcp_bytes_sent",
                    "tcp.bytes_sent",
                    "Bytes sent by the local socket, per client/server/port",
                ),
                FLOW,
            ),
            bytes_received: b.counter(
                m(
                    "tcp_bytes_received",
                    "tcp.bytes_received",
                    "Bytes received by the local socket, per client/server/port",
                ),
                FLOW,
            ),
            conn_bytes_sent: b.counter(
                m(
                    "telegen_connection_bytes_sent",
                    "telegen.connection.bytes_sent",
                    "Lifetime bytes sent of closed connections (src, dst, port)",
                ),
                &["src", "dst", "port"],
            ),
            conn_bytes_received: b.counter(
                m(
                    "telegen_connection_bytes_received",
                    "telegen.connection.bytes_received",
                    "Lifetime bytes received of closed connections (src, dst, port)",
                ),
                &["src", "dst", "port"],
            ),
            table_evictions: b.internal_counter(
                "telegen_tcp_table_evictions",
                "Connections evicted from the user-space connection table because it was full",
            ),
            connections_by_state: STATES.map(|s| connections.series(&[s])),
            opened_by_role: ROLES.map(|r| opened.series(&[role_str(r)])),
            errors_by_type: ERROR_TYPES.map(|e| errors.series(&[e.as_str()])),
            segments_in: segments.series(&["in"]),
            segments_out: segments.series(&["out"]),
            retransmits_total: retransmits_total.series(&[]),
            closed: closed.series(&[]),
        }
    }

    fn opened(&self, r: ConnRole) -> &CounterSeries {
        &self.opened_by_role[ROLES.iter().position(|x| *x == r).unwrap_or(2)]
    }

    fn error(&self, e: ConnError) -> &CounterSeries {
        &self.errors_by_type[ERROR_TYPES.iter().position(|x| *x == e).unwrap_or(3)]
    }

    /// The per-flow series of a connection's (client, server, port).
    fn flow(&self, ev: &ConnEvent) -> FlowSeries {
        let (c, s) = orient(ev);
        let (src, dst, port) = (c.ip().to_string(), s.ip().to_string(), Num::new(s.port().into()));
        let v = [src.as_str(), dst.as_str(), port.as_str()];
        FlowSeries {
            rtt_us: self.rtt_us.series(&v),
            retransmits: self.retransmits.series(&v),
            bytes_sent: self.bytes_sent.series(&v),
            bytes_received: self.bytes_received.series(&v),
            conn_bytes_sent: self.conn_bytes_sent.series(&v),
            conn_bytes_received: self.conn_bytes_received.series(&v),
        }
    }
}

/// Handles of one flow's series (a flow: client address, server address, server port).
struct FlowSeries {
    rtt_us: GaugeSeries,
    retransmits: CounterSeries,
    bytes_sent: CounterSeries,
    bytes_received: CounterSeries,
    conn_bytes_sent: CounterSeries,
    conn_bytes_received: CounterSeries,
}

type FlowKey = (std::net::IpAddr, std::net::IpAddr, u16);

/// Flows whose series handles are kept, by binary address (no formatting on a hit).
/// Bounded: emptied when full (the metric families keep their series; handles are
/// resolved again).
const FLOW_CACHE_MAX: usize = 4096;

#[derive(Debug, Clone, Default)]
struct Totals {
    bytes_sent: u64,
    bytes_received: u64,
    segs_in: u64,
    segs_out: u64,
    retransmits: u64,
}

struct ConnState {
    /// Index into [`STATES`].
    state: usize,
    totals: Totals,
    last_ts: u64,
    flow: Option<Arc<FlowSeries>>,
}

/// Options for the TCP signal stage.
#[derive(Debug, Clone)]
pub struct TcpSignalOptions {
    pub max_connections: usize,
    pub emit_events: bool,
}

pub struct TcpSignals {
    m: TcpMetrics,
    conns: FastMap<u64, ConnState>,
    flows: FastMap<FlowKey, Arc<FlowSeries>>,
    by_state: [i64; STATES.len()],
    opts: TcpSignalOptions,
    enrich: Arc<Enrichment>,
}

/// (client, server) oriented view of an event.
fn orient(ev: &ConnEvent) -> (SocketAddr, SocketAddr) {
    match ev.role {
        ConnRole::Client => (ev.local, ev.remote),
        ConnRole::Server => (ev.remote, ev.local),
        ConnRole::Unknown => {
            if ev.remote.port() < ev.local.port() {
                (ev.local, ev.remote)
            } else {
                (ev.remote, ev.local)
            }
        }
    }
}

fn role_str(r: ConnRole) -> &'static str {
    match r {
        ConnRole::Client => "client",
        ConnRole::Server => "server",
        ConnRole::Unknown => "unknown",
    }
}

impl TcpSignals {
    pub fn new(m: TcpMetrics, opts: TcpSignalOptions, enrich: Arc<Enrichment>) -> Self {
        let s = TcpSignals {
            m,
            conns: FastMap::default(),
            flows: FastMap::default(),
            by_state: [0; STATES.len()],
            opts,
            enrich,
        };
        // Series that PromQL ratios and `by (...)` queries need (every role, error type,
        // direction and state) exist from the start: resolving them above created them.
        s.publish_states();
        s
    }

    fn publish_states(&self) {
        for (i, g) in self.m.connections_by_state.iter().enumerate() {
            g.set(self.by_state[i]);
        }
    }

    fn set_state(&mut self, id: u64, ts: u64, state: usize, baseline: Option<Totals>) {
        if !self.conns.contains_key(&id) && self.conns.len() >= self.opts.max_connections {
            // Evict the least recently updated sixteenth of the table at once (one scan per
            // batch, not per new connection); each eviction counted.
            let n = (self.conns.len() / 16).max(1);
            for old in crate::util::oldest_keys(self.conns.iter(), |c| c.last_ts, n) {
                if let Some(c) = self.conns.remove(&old) {
                    self.move_state(Some(c.state), None);
                }
                self.m.table_evictions.inc();
            }
        }
        let entry = self.conns.entry(id).or_insert_with(|| ConnState {
            state: usize::MAX,
            totals: Totals::default(),
            last_ts: ts,
            flow: None,
        });
        let old = (entry.state != usize::MAX).then_some(entry.state);
        entry.last_ts = ts;
        entry.state = state;
        if let Some(b) = baseline {
            entry.totals = b;
        }
        if old != Some(state) {
            self.move_state(old, Some(state));
        }
    }

    /// Keeps the per-state counts and their gauges current (only changed states are
    /// republished).
    fn move_state(&mut self, from: Option<usize>, to: Option<usize>) {
        for (st, d) in [(from, -1i64), (to, 1)] {
            if let Some(i) = st {
                self.by_state[i] += d;
                self.m.connections_by_state[i].set(self.by_state[i]);
            }
        }
    }

    /// The series handles of `ev`'s flow (cached per connection and per flow).
    fn flow(&mut self, ev: &ConnEvent) -> Arc<FlowSeries> {
        if let Some(f) = self.conns.get(&ev.conn_id).and_then(|c| c.flow.clone()) {
            return f;
        }
        let (c, s) = orient(ev);
        let key = (c.ip(), s.ip(), s.port());
        let f = match self.flows.get(&key) {
            Some(f) => f.clone(),
            None => {
                if self.flows.len() >= FLOW_CACHE_MAX {
                    self.flows.clear();
                }
                let f = Arc::new(self.m.flow(ev));
                self.flows.insert(key, f.clone());
                f
            }
        };
        if let Some(c) = self.conns.get_mut(&ev.conn_id) {
            c.flow = Some(f.clone());
        }
        f
    }

    /// Adds the counter deltas of `ev` against the last totals seen for its connection.
    /// Returns the flow's series handles (for callers with more to record on them).
    fn account(&mut self, ev: &ConnEvent) -> Arc<FlowSeries> {
        let scale = ev.sample_rate.max(1) as u64;
        let flow = self.flow(ev);
        let m = &self.m;
        let Some(c) = self.conns.get_mut(&ev.conn_id) else {
            // Not tracked (refused before any state): totals are lifetime values.
            Self::apply(m, &flow, ev, &Totals::default(), scale);
            return flow;
        };
        c.totals = Self::apply(m, &flow, ev, &c.totals, scale);
        c.last_ts = ev.ts_ns;
        flow
    }

    /// Records the differences between `ev`'s totals and `last`; returns the new totals.
    fn apply(
        m: &TcpMetrics,
        flow: &FlowSeries,
        ev: &ConnEvent,
        last: &Totals,
        scale: u64,
    ) -> Totals {
        let d = |now: u64, before: u64| now.saturating_sub(before);
        let mut d_retr = d(ev.retransmits, last.retransmits);
        if matches!(ev.kind, ConnEventKind::Retransmit) && d_retr == 0 {
            d_retr = 1;
        }
        let (d_sent, d_recv) =
            (d(ev.bytes_sent, last.bytes_sent), d(ev.bytes_received, last.bytes_received));
        let (d_in, d_out) = (d(ev.segs_in, last.segs_in), d(ev.segs_out, last.segs_out));
        if d_retr > 0 {
            m.retransmits_total.add(d_retr * scale);
            flow.retransmits.add(d_retr);
        }
        if d_in > 0 {
            m.segments_in.add(d_in * scale);
        }
        if d_out > 0 {
            m.segments_out.add(d_out * scale);
        }
        if d_sent > 0 {
            flow.bytes_sent.add(d_sent);
        }
        if d_recv > 0 {
            flow.bytes_received.add(d_recv);
        }
        if ev.srtt_us > 0 {
            flow.rtt_us.set(ev.srtt_us as i64);
        }
        Totals {
            bytes_sent: ev.bytes_sent.max(last.bytes_sent),
            bytes_received: ev.bytes_received.max(last.bytes_received),
            segs_in: ev.segs_in.max(last.segs_in),
            segs_out: ev.segs_out.max(last.segs_out),
            retransmits: last.retransmits + d_retr,
        }
    }

    /// Processes one event; returns the event record to emit, if events are enabled.
    pub fn on_event(&mut self, ev: &ConnEvent) -> Option<Signal> {
        let scale = ev.sample_rate.max(1) as u64;
        match &ev.kind {
            ConnEventKind::Open => {
                self.set_state(ev.conn_id, ev.ts_ns, OPENING, None);
                self.m.opened(ev.role).add(scale);
            }
            ConnEventKind::Established => {
                let known = self.conns.contains_key(&ev.conn_id);
                self.set_state(ev.conn_id, ev.ts_ns, ESTABLISHED, None);
                if !known {
                    // Accepted connections may report Established without a prior Open.
                    self.m.opened(ev.role).add(scale);
                }
                self.account(ev);
            }
            ConnEventKind::Existing => {
                let base = Totals {
                    bytes_sent: ev.bytes_sent,
                    bytes_received: ev.bytes_received,
                    segs_in: ev.segs_in,
                    segs_out: ev.segs_out,
                    retransmits: ev.retransmits,
                };
                self.set_state(ev.conn_id, ev.ts_ns, ESTABLISHED, Some(base));
            }
            ConnEventKind::Stats | ConnEventKind::Retransmit => {
                if !self.conns.contains_key(&ev.conn_id) {
                    // Seen first mid-life (agent restarted, table evicted): track from here.
                    self.set_state(ev.conn_id, ev.ts_ns, ESTABLISHED, None);
                }
                self.account(ev);
            }
            ConnEventKind::Error { error } => {
                self.m.error(*error).add(scale);
                self.account(ev);
                if matches!(error, ConnError::Refused | ConnError::Timeout) {
                    self.finish(ev);
                }
            }
            ConnEventKind::Close => {
                let flow = if self.conns.contains_key(&ev.conn_id) {
                    self.account(ev)
                } else {
                    self.flow(ev)
                };
                flow.conn_bytes_sent.add(ev.bytes_sent);
                flow.conn_bytes_received.add(ev.bytes_received);
                self.finish(ev);
            }
        }
        self.opts.emit_events.then(|| Signal::Event(event_record(ev, &self.enrich)))
    }

    fn finish(&mut self, ev: &ConnEvent) {
        if let Some(c) = self.conns.remove(&ev.conn_id) {
            self.m.closed.add(ev.sample_rate.max(1) as u64);
            self.move_state(Some(c.state), None);
        }
    }

    /// Connections currently tracked (for tests and the summary).
    pub fn tracked(&self) -> usize {
        self.conns.len()
    }
}

/// The JSON/OTLP-log form of a connection event.
pub fn event_record(ev: &ConnEvent, enrich: &Enrichment) -> Event {
    let name = match &ev.kind {
        ConnEventKind::Open => "tcp.connection.open",
        ConnEventKind::Established => "tcp.connection.established",
        ConnEventKind::Existing => "tcp.connection.existing",
        ConnEventKind::Stats => "tcp.connection.stats",
        ConnEventKind::Retransmit => "tcp.connection.retransmit",
        ConnEventKind::Error { .. } => "tcp.connection.error",
        ConnEventKind::Close => "tcp.connection.close",
    };
    let mut a = Attributes::default();
    a.put("net.transport", "ip_tcp");
    a.put("connection.id", ev.conn_id);
    a.put("connection.role", role_str(ev.role));
    a.put("net.host.ip", ev.local.ip().to_string());
    a.put("net.host.port", ev.local.port());
    a.put("net.peer.ip", ev.remote.ip().to_string());
    a.put("net.peer.port", ev.remote.port());
    a.put("network.namespace", ev.netns);
    enrich.put_local(&mut a, ev.process.as_deref());
    let severity = if let ConnEventKind::Error { error } = &ev.kind {
        a.put("error.type", error.as_str());
        Severity::Warn
    } else {
        Severity::Info
    };
    if ev.srtt_us > 0 {
        a.put("tcp.rtt_us", ev.srtt_us);
    }
    if !matches!(ev.kind, ConnEventKind::Open) {
        a.put("tcp.bytes_sent", ev.bytes_sent);
        a.put("tcp.bytes_received", ev.bytes_received);
        a.put("tcp.segments_in", ev.segs_in);
        a.put("tcp.segments_out", ev.segs_out);
        a.put("tcp.retransmits", ev.retransmits);
    }
    if ev.sample_rate > 1 {
        a.put("sample_rate", ev.sample_rate);
    }
    Event { name, time_unix_nano: ev.ts_ns, severity, attributes: a }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    fn ev(id: u64, kind: ConnEventKind, sent: u64, recv: u64, retx: u64) -> ConnEvent {
        ConnEvent {
            ts_ns: id * 10 + sent,
            conn_id: id,
            netns: 1,
            role: ConnRole::Client,
            local: "10.0.0.1:40000".parse().unwrap(),
            remote: "10.0.0.2:80".parse().unwrap(),
            process: None,
            kind,
            srtt_us: 250,
            bytes_sent: sent,
            bytes_received: recv,
            segs_in: recv / 100,
            segs_out: sent / 100,
            retransmits: retx,
            sample_rate: 1,
        }
    }

    fn setup(max: usize) -> (Registry, TcpSignals) {
        let mut reg = Registry::default();
        let meter = opentelemetry::global::meter("t");
        let mut b = MetricsBuilder::new(&mut reg, Some(&meter), 100);
        let m = TcpMetrics::new(&mut b);
        (
            reg,
            TcpSignals::new(
                m,
                TcpSignalOptions { max_connections: max, emit_events: true },
                Arc::default(),
            ),
        )
    }

    fn text(reg: &Registry) -> String {
        let mut s = String::new();
        encode(&mut s, reg).unwrap();
        s
    }

    #[test]
    fn stats_then_close_counts_each_byte_once() {
        let (reg, mut t) = setup(10);
        t.on_event(&ev(1, ConnEventKind::Open, 0, 0, 0));
        t.on_event(&ev(1, ConnEventKind::Established, 0, 0, 0));
        t.on_event(&ev(1, ConnEventKind::Stats, 1000, 500, 1));
        t.on_event(&ev(1, ConnEventKind::Retransmit, 1000, 500, 2));
        t.on_event(&ev(1, ConnEventKind::Close, 3000, 700, 2));
        let s = text(&reg);
        let l = r#"{src_ip="10.0.0.1",dst_ip="10.0.0.2",dst_port="80"}"#;
        assert!(s.contains(&format!("tcp_bytes_sent_total{l} 3000")), "{s}");
        assert!(s.contains(&format!("tcp_bytes_received_total{l} 700")), "{s}");
        assert!(s.contains(&format!("tcp_retransmits_total{l} 2")), "{s}");
        assert!(s.contains("telegen_tcp_retransmits_total 2"), "{s}");
        assert!(s.contains(r#"telegen_connection_bytes_sent_total{src="10.0.0.1",dst="10.0.0.2",port="80"} 3000"#), "{s}");
        assert!(s.contains(r#"telegen_tcp_connections{state="established"} 0"#), "{s}");
        assert!(s.contains(&format!("tcp_rtt_us{l} 250")), "{s}");
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn errors_by_type_and_state_gauge() {
        let (reg, mut t) = setup(10);
        t.on_event(&ev(1, ConnEventKind::Open, 0, 0, 0));
        t.on_event(&ev(2, ConnEventKind::Open, 0, 0, 0));
        t.on_event(&ev(2, ConnEventKind::Established, 0, 0, 0));
        let s = text(&reg);
        assert!(s.contains(r#"telegen_tcp_connections{state="established"} 1"#), "{s}");
        assert!(s.contains(r#"telegen_tcp_connections{state="opening"} 1"#), "{s}");
        t.on_event(&ev(1, ConnEventKind::Error { error: ConnError::Refused }, 0, 0, 0));
        t.on_event(&ev(1, ConnEventKind::Close, 0, 0, 0));
        let s = text(&reg);
        assert!(
            s.contains(r#"telegen_tcp_connection_errors_total{error_type="refused"} 1"#),
            "{s}"
        );
        assert!(
            s.contains(r#"telegen_tcp_connection_errors_total{error_type="timeout"} 0"#),
            "{s}"
        );
        assert!(s.contains(r#"telegen_tcp_connections{state="opening"} 0"#), "{s}");
        assert!(s.contains("telegen_tcp_connections_closed_total 1"), "{s}");
    }

    #[test]
    fn existing_connections_are_a_baseline_not_traffic() {
        let (reg, mut t) = setup(10);
        t.on_event(&ev(7, ConnEventKind::Existing, 1_000_000, 5, 0));
        t.on_event(&ev(7, ConnEventKind::Stats, 1_000_100, 5, 0));
        let s = text(&reg);
        assert!(
            s.contains(
                r#"tcp_bytes_sent_total{src_ip="10.0.0.1",dst_ip="10.0.0.2",dst_port="80"} 100"#
            ),
            "{s}"
        );
    }

    #[test]
    fn table_is_bounded() {
        let (reg, mut t) = setup(2);
        for id in 1..=5 {
            t.on_event(&ev(id, ConnEventKind::Open, 0, 0, 0));
        }
        assert_eq!(t.tracked(), 2);
        assert!(text(&reg).contains("telegen_tcp_table_evictions_total 3"));
    }

    #[test]
    fn sampled_counters_are_scaled() {
        let (reg, mut t) = setup(10);
        let mut e = ev(1, ConnEventKind::Error { error: ConnError::Timeout }, 0, 0, 0);
        e.sample_rate = 4;
        t.on_event(&e);
        assert!(
            text(&reg).contains(r#"telegen_tcp_connection_errors_total{error_type="timeout"} 4"#)
        );
    }
}
