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

use super::metrics::{CounterVec, GaugeVec, Labels, MetricName, MetricsBuilder};
use super::record::{Attributes, Event, Severity, Signal};
use crate::capture::{ConnError, ConnEvent, ConnEventKind, ConnRole};
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Connection states reported by `telegen_tcp_connections{state}`.
const STATES: [&str; 2] = ["opening", "established"];

pub struct TcpMetrics {
    connections: GaugeVec,
    opened: CounterVec,
    closed: CounterVec,
    errors: CounterVec,
    retransmits_total: CounterVec,
    segments_total: CounterVec,
    rtt_us: GaugeVec,
    retransmits: CounterVec,
    bytes_sent: CounterVec,
    bytes_received: CounterVec,
    conn_bytes_sent: CounterVec,
    conn_bytes_received: CounterVec,
    table_evictions: Counter,
}

impl TcpMetrics {
    pub fn new(b: &mut MetricsBuilder<'_>) -> Self {
        let m = |prom, otel, help| MetricName { prom, otel, help };
        TcpMetrics {
            connections: b.gauge(m("telegen_tcp_connections", "telegen.tcp.connections", "Live TCP connections (local sockets) by state")),
            opened: b.counter(m("telegen_tcp_connections_opened", "telegen.tcp.connections.opened", "TCP connections opened, by role (client/server); scaled by sample_rate")),
            closed: b.counter(m("telegen_tcp_connections_closed", "telegen.tcp.connections.closed", "TCP connections closed; scaled by sample_rate")),
            errors: b.counter(m("telegen_tcp_connection_errors", "telegen.tcp.connection.errors", "TCP connection errors by error_type (refused, reset, timeout, other); scaled by sample_rate")),
            retransmits_total: b.counter(m("telegen_tcp_retransmits", "telegen.tcp.retransmits", "Retransmitted TCP segments; scaled by sample_rate")),
            segments_total: b.counter(m("telegen_tcp_segments", "telegen.tcp.segments", "TCP segments by direction (in/out); scaled by sample_rate")),
            rtt_us: b.gauge(m("tcp_rtt_us", "tcp.rtt", "Smoothed RTT in microseconds, latest sample per client/server/port")),
            retransmits: b.counter(m("tcp_retransmits", "tcp.retransmits", "Retransmitted segments per client/server/port")),
            bytes_sent: b.counter(m("tcp_bytes_sent", "tcp.bytes_sent", "Bytes sent by the local socket, per client/server/port")),
            bytes_received: b.counter(m("tcp_bytes_received", "tcp.bytes_received", "Bytes received by the local socket, per client/server/port")),
            conn_bytes_sent: b.counter(m("telegen_connection_bytes_sent", "telegen.connection.bytes_sent", "Lifetime bytes sent of closed connections (src, dst, port)")),
            conn_bytes_received: b.counter(m("telegen_connection_bytes_received", "telegen.connection.bytes_received", "Lifetime bytes received of closed connections (src, dst, port)")),
            table_evictions: b.internal_counter("telegen_tcp_table_evictions", "Connections evicted from the user-space connection table because it was full"),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Totals {
    bytes_sent: u64,
    bytes_received: u64,
    segs_in: u64,
    segs_out: u64,
    retransmits: u64,
}

#[derive(Debug)]
struct ConnState {
    state: &'static str,
    totals: Totals,
    last_ts: u64,
}

/// Options for the TCP signal stage.
#[derive(Debug, Clone)]
pub struct TcpSignalOptions {
    pub max_connections: usize,
    pub emit_events: bool,
}

pub struct TcpSignals {
    m: TcpMetrics,
    conns: HashMap<u64, ConnState>,
    by_state: [i64; STATES.len()],
    opts: TcpSignalOptions,
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

fn flow_labels(ev: &ConnEvent) -> Labels {
    let (c, s) = orient(ev);
    vec![
        ("src_ip", c.ip().to_string()),
        ("dst_ip", s.ip().to_string()),
        ("dst_port", s.port().to_string()),
    ]
}

fn role_str(r: ConnRole) -> &'static str {
    match r {
        ConnRole::Client => "client",
        ConnRole::Server => "server",
        ConnRole::Unknown => "unknown",
    }
}

impl TcpSignals {
    pub fn new(m: TcpMetrics, opts: TcpSignalOptions) -> Self {
        let s = TcpSignals { m, conns: HashMap::new(), by_state: [0; STATES.len()], opts };
        s.publish_states();
        // Series that PromQL ratios and `by (...)` queries need exist from the start.
        for e in ["refused", "reset", "timeout", "other"] {
            s.m.errors.add(vec![("error_type", e.into())], 0);
        }
        for r in ["client", "server"] {
            s.m.opened.add(vec![("role", r.into())], 0);
        }
        for d in ["in", "out"] {
            s.m.segments_total.add(vec![("direction", d.into())], 0);
        }
        s.m.retransmits_total.add(vec![], 0);
        s.m.closed.add(vec![], 0);
        s
    }

    fn publish_states(&self) {
        for (i, st) in STATES.iter().enumerate() {
            self.m.connections.set(vec![("state", st.to_string())], self.by_state[i]);
        }
    }

    fn state_idx(s: &str) -> usize {
        STATES.iter().position(|x| *x == s).unwrap_or(0)
    }

    fn set_state(&mut self, id: u64, ts: u64, state: &'static str, baseline: Option<Totals>) {
        if !self.conns.contains_key(&id) && self.conns.len() >= self.opts.max_connections {
            // Evict the least recently updated connection; counted. (A linear scan, only
            // when the table is full.)
            if let Some((&old, _)) = self.conns.iter().min_by_key(|(_, c)| c.last_ts) {
                if let Some(c) = self.conns.remove(&old) {
                    self.move_state(Some(c.state), None);
                }
                self.m.table_evictions.inc();
            }
        }
        let entry = self.conns.entry(id).or_insert_with(|| ConnState {
            state: "",
            totals: Totals::default(),
            last_ts: ts,
        });
        let old = (!entry.state.is_empty()).then_some(entry.state);
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
    fn move_state(&mut self, from: Option<&'static str>, to: Option<&'static str>) {
        for (st, d) in [(from, -1i64), (to, 1)] {
            if let Some(st) = st {
                let i = Self::state_idx(st);
                self.by_state[i] += d;
                self.m.connections.set(vec![("state", STATES[i].to_string())], self.by_state[i]);
            }
        }
    }

    /// Adds the counter deltas of `ev` against the last totals seen for its connection.
    fn account(&mut self, ev: &ConnEvent) {
        let scale = ev.sample_rate.max(1) as u64;
        let last = self.conns.get(&ev.conn_id).map(|c| c.totals.clone()).unwrap_or_default();
        let d = |now: u64, before: u64| now.saturating_sub(before);
        let mut d_retr = d(ev.retransmits, last.retransmits);
        if matches!(ev.kind, ConnEventKind::Retransmit) && d_retr == 0 {
            d_retr = 1;
        }
        let (d_sent, d_recv) =
            (d(ev.bytes_sent, last.bytes_sent), d(ev.bytes_received, last.bytes_received));
        let (d_in, d_out) = (d(ev.segs_in, last.segs_in), d(ev.segs_out, last.segs_out));
        let need_labels = d_retr > 0 || d_sent > 0 || d_recv > 0 || ev.srtt_us > 0;
        let fl = if need_labels { flow_labels(ev) } else { Vec::new() };
        if d_retr > 0 {
            self.m.retransmits_total.add(vec![], d_retr * scale);
            self.m.retransmits.add(fl.clone(), d_retr);
        }
        if d_in > 0 {
            self.m.segments_total.add(vec![("direction", "in".into())], d_in * scale);
        }
        if d_out > 0 {
            self.m.segments_total.add(vec![("direction", "out".into())], d_out * scale);
        }
        if d_sent > 0 {
            self.m.bytes_sent.add(fl.clone(), d_sent);
        }
        if d_recv > 0 {
            self.m.bytes_received.add(fl.clone(), d_recv);
        }
        if ev.srtt_us > 0 {
            self.m.rtt_us.set(fl, ev.srtt_us as i64);
        }
        if let Some(c) = self.conns.get_mut(&ev.conn_id) {
            c.totals = Totals {
                bytes_sent: ev.bytes_sent.max(last.bytes_sent),
                bytes_received: ev.bytes_received.max(last.bytes_received),
                segs_in: ev.segs_in.max(last.segs_in),
                segs_out: ev.segs_out.max(last.segs_out),
                retransmits: last.retransmits + d_retr,
            };
            c.last_ts = ev.ts_ns;
        }
    }

    /// Processes one event; returns the event record to emit, if events are enabled.
    pub fn on_event(&mut self, ev: &ConnEvent) -> Option<Signal> {
        let scale = ev.sample_rate.max(1) as u64;
        match &ev.kind {
            ConnEventKind::Open => {
                self.set_state(ev.conn_id, ev.ts_ns, "opening", None);
                self.m.opened.add(vec![("role", role_str(ev.role).into())], scale);
            }
            ConnEventKind::Established => {
                let known = self.conns.contains_key(&ev.conn_id);
                self.set_state(ev.conn_id, ev.ts_ns, "established", None);
                if !known {
                    // Accepted connections may report Established without a prior Open.
                    self.m.opened.add(vec![("role", role_str(ev.role).into())], scale);
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
                self.set_state(ev.conn_id, ev.ts_ns, "established", Some(base));
            }
            ConnEventKind::Stats | ConnEventKind::Retransmit => {
                if !self.conns.contains_key(&ev.conn_id) {
                    // Seen first mid-life (agent restarted, table evicted): track from here.
                    self.set_state(ev.conn_id, ev.ts_ns, "established", None);
                }
                self.account(ev);
            }
            ConnEventKind::Error { error } => {
                self.m.errors.add(vec![("error_type", error.as_str().into())], scale);
                self.account(ev);
                if matches!(error, ConnError::Refused | ConnError::Timeout) {
                    self.finish(ev);
                }
            }
            ConnEventKind::Close => {
                if self.conns.contains_key(&ev.conn_id) {
                    self.account(ev);
                }
                self.finish(ev);
                let (c, s) = orient(ev);
                let l: Labels = vec![
                    ("src", c.ip().to_string()),
                    ("dst", s.ip().to_string()),
                    ("port", s.port().to_string()),
                ];
                self.m.conn_bytes_sent.add(l.clone(), ev.bytes_sent);
                self.m.conn_bytes_received.add(l, ev.bytes_received);
            }
        }
        self.opts.emit_events.then(|| Signal::Event(event_record(ev)))
    }

    fn finish(&mut self, ev: &ConnEvent) {
        if let Some(c) = self.conns.remove(&ev.conn_id) {
            self.m.closed.add(vec![], ev.sample_rate.max(1) as u64);
            self.move_state(Some(c.state), None);
        }
    }

    /// Connections currently tracked (for tests and the summary).
    pub fn tracked(&self) -> usize {
        self.conns.len()
    }
}

/// The JSON/OTLP-log form of a connection event.
pub fn event_record(ev: &ConnEvent) -> Event {
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
    if let Some(p) = &ev.process {
        a.put("process.pid", p.pid);
        a.put("process.executable.name", p.exe_name().to_string());
        a.put("process.command", p.comm.clone());
        a.put_opt("process.executable.path", p.exe.clone());
    }
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
        (reg, TcpSignals::new(m, TcpSignalOptions { max_connections: max, emit_events: true }))
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
