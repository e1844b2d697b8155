//! Application-layer signals: feeds [`StreamEvent`]s into one `telegen_proto` parser per
//! connection, and maps the records that come out to spans (HTTP) and events (DNS), with
//! RED metrics. The same code serves live capture and replay.

use super::metrics::{
    CounterVec, HistogramSeries, HistogramVec, MetricName, MetricsBuilder, Num, OVERFLOW_VALUE,
};
use super::record::{new_ids, Attributes, Event, Severity, Signal, Span, SpanKind, SpanStatus};
use crate::export::telemetry::SelfTelemetry;
use crate::stream::{ConnKey, Observer, Payload, StreamEvent};
use crate::util::FastMap;
use globset::GlobSet;
use std::collections::HashSet;
use std::sync::Arc;
use telegen_proto::record::{DnsRecord, HttpRecord, Record};
use telegen_proto::route::RouteMatcher;
use telegen_proto::session::{ConnParser, Protocol};
use telegen_proto::stats::ParseStats;
use telegen_proto::{Limits, Transport};

/// Record kinds counted for the summary.
const RECORD_KINDS: [&str; 2] = ["http", "dns"];

/// Protocol label values of parser counters.
const PROTOCOLS: [&str; Protocol::COUNT + 1] = Protocol::LABELS;

/// Addresses remembered with the names DNS gave them.
pub const DNS_NAMES_MAX_IPS: usize = 16384;

/// HTTP duration buckets, in seconds.
pub const HTTP_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// DNS latency buckets, in seconds.
pub const DNS_BUCKETS: [f64; 12] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

/// Which attribute names HTTP spans carry (OTEL_SEMCONV_STABILITY_OPT_IN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpSemconv {
    /// `http.method`, `http.url`, `http.status_code`, `net.peer.ip` ...
    #[default]
    Old,
    /// `http.request.method`, `url.full`, `http.response.status_code`, `network.peer.address` ...
    Stable,
    /// Both.
    Dup,
}

/// What the L7 stage needs from the configuration.
#[derive(Clone)]
pub struct L7Options {
    pub limits: Limits,
    pub http_enabled: bool,
    pub dns_enabled: bool,
    pub exclude_paths: GlobSet,
    /// User route patterns like `/users/{id}`; they win over derived routes.
    pub routes: RouteMatcher,
    /// gRPC (HTTP/2 with content-type application/grpc*) tracing.
    pub grpc_enabled: bool,
    pub semconv: HttpSemconv,
    pub dns_capture_queries: bool,
    pub dns_capture_responses: bool,
    pub dns_capture_content: bool,
    /// Distinct `domain` label values before `_other`.
    pub max_domains: usize,
    /// Connections with parser state at once; the least recently used is dropped past it.
    pub max_connections: usize,
    /// `service.name` when the process gives none.
    pub default_service: String,
    /// Build spans and events (false when no sink takes them: metrics only).
    pub emit_spans: bool,
}

impl Default for L7Options {
    fn default() -> Self {
        L7Options {
            limits: Limits::default(),
            http_enabled: true,
            dns_enabled: true,
            exclude_paths: GlobSet::empty(),
            routes: RouteMatcher::default(),
            grpc_enabled: true,
            semconv: HttpSemconv::Old,
            dns_capture_queries: true,
            dns_capture_responses: true,
            dns_capture_content: true,
            max_domains: 500,
            max_connections: 16384,
            default_service: "unknown_service".into(),
            emit_spans: true,
        }
    }
}

pub struct L7Metrics {
    http_server_requests: CounterVec,
    http_server_duration: HistogramVec,
    http_client_requests: CounterVec,
    http_client_duration: HistogramVec,
    rpc_server_requests: CounterVec,
    rpc_server_duration: HistogramVec,
    rpc_client_requests: CounterVec,
    rpc_client_duration: HistogramVec,
    dns_queries: CounterVec,
    dns_latency: HistogramSeries,
}

const HTTP_LABELS: &[&str] = &["service_name", "method", "route", "status_code"];
const RPC_LABELS: &[&str] = &["service_name", "rpc_service", "rpc_method", "rpc_grpc_status_code"];

impl L7Metrics {
    pub fn new(b: &mut MetricsBuilder<'_>) -> Self {
        let m = |prom, otel, help| MetricName { prom, otel, help };
        L7Metrics {
            http_server_requests: b.counter(m("http_server_requests", "http.server.requests", "HTTP requests served, seen from the server side"), HTTP_LABELS),
            http_server_duration: b.histogram(m("http_server_duration", "http.server.request.duration", "HTTP server request duration in seconds (first request byte to last response byte)"), &HTTP_LABELS[..3], "s", &HTTP_BUCKETS),
            http_client_requests: b.counter(m("http_client_requests", "http.client.requests", "HTTP requests made, seen from the client side"), HTTP_LABELS),
            http_client_duration: b.histogram(m("http_client_duration", "http.client.request.duration", "HTTP client request duration in seconds"), &HTTP_LABELS[..3], "s", &HTTP_BUCKETS),
            rpc_server_requests: b.counter(m("rpc_server_requests", "rpc.server.requests", "gRPC calls served, by rpc_service, rpc_method, rpc_grpc_status_code"), RPC_LABELS),
            rpc_server_duration: b.histogram(m("rpc_server_duration", "rpc.server.duration", "gRPC server call duration in seconds"), &RPC_LABELS[..3], "s", &HTTP_BUCKETS),
            rpc_client_requests: b.counter(m("rpc_client_requests", "rpc.client.requests", "gRPC calls made, by rpc_service, rpc_method, rpc_grpc_status_code"), RPC_LABELS),
            rpc_client_duration: b.histogram(m("rpc_client_duration", "rpc.client.duration", "gRPC client call duration in seconds"), &RPC_LABELS[..3], "s", &HTTP_BUCKETS),
            dns_queries: b.counter(m("telegen_dns_queries", "telegen.dns.queries", "DNS queries by domain, query_type and response_code"), &["domain", "query_type", "response_code"]),
            dns_latency: b.histogram(m("telegen_dns_latency", "telegen.dns.latency", "DNS query latency in seconds"), &[], "s", &DNS_BUCKETS).series(&[]),
        }
    }
}

struct Conn {
    parser: ConnParser,
    key: ConnKey,
    observer: Observer,
    process: Option<Arc<crate::capture::ProcessInfo>>,
    last_ns: u64,
}

/// The L7 stage. Not thread-safe by design: one owner drives it.
pub struct L7Signals {
    opts: L7Options,
    m: L7Metrics,
    telemetry: SelfTelemetry,
    conns: FastMap<u64, Conn>,
    domains: HashSet<String>,
    records: Vec<Record>,
    /// Names learnt from DNS answers (shared with later stages).
    pub dns_names: super::dns_names::DnsNames,
    /// Totals of parser counters, for the summary (published ones; see `expire`).
    pub stats: ParseStats,
    /// Parser counters not yet published, by [`PROTOCOLS`] index.
    unpublished: [ParseStats; PROTOCOLS.len()],
    /// Records mapped, by [`RECORD_KINDS`] index.
    record_counts: [u64; 2],
}

impl L7Signals {
    pub fn new(opts: L7Options, m: L7Metrics, telemetry: SelfTelemetry) -> Self {
        L7Signals {
            opts,
            m,
            telemetry,
            conns: FastMap::default(),
            domains: HashSet::new(),
            records: Vec::new(),
            dns_names: super::dns_names::DnsNames::new(DNS_NAMES_MAX_IPS),
            stats: ParseStats::default(),
            unpublished: Default::default(),
            record_counts: [0; 2],
        }
    }

    /// Feeds one stream event; finished records are mapped and handed to `emit`.
    pub fn on_event(&mut self, ev: StreamEvent, emit: &mut dyn FnMut(Signal)) {
        if !self.conns.contains_key(&ev.conn_id) {
            if matches!(ev.payload, Payload::Close) {
                return;
            }
            self.make_room();
            let mut parser =
                ConnParser::new(ev.key.transport, ev.key.server.port(), &self.opts.limits);
            if ev.key.server.ip().is_multicast() {
                parser.expect_no_replies();
            }
            self.conns.insert(
                ev.conn_id,
                Conn {
                    parser,
                    key: ev.key,
                    observer: ev.observer,
                    process: ev.process.clone(),
                    last_ns: ev.ts_ns,
                },
            );
        }
        let Some(c) = self.conns.get_mut(&ev.conn_id) else { return };
        c.last_ns = ev.ts_ns;
        if c.process.is_none() {
            c.process = ev.process.clone();
        }
        let closed = match &ev.payload {
            Payload::Data(d) => {
                c.parser.on_data(ev.dir, ev.ts_ns, d, &mut self.records);
                false
            }
            Payload::Gap(n) => {
                c.parser.on_gap(ev.dir, ev.ts_ns, *n, &mut self.records);
                false
            }
            Payload::Close => {
                c.parser.on_close(ev.ts_ns, &mut self.records);
                true
            }
        };
        self.drain(ev.conn_id, emit);
        if closed {
            self.conns.remove(&ev.conn_id);
        }
    }

    /// Expires pending requests everywhere (call periodically with the current time, and
    /// at the end of a replay with the last packet's time plus the timeouts).
    pub fn expire(&mut self, now_ns: u64, emit: &mut dyn FnMut(Signal)) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                c.parser.expire(now_ns, &mut self.records);
            }
            self.drain(id, emit);
        }
        self.publish_stats();
    }

    /// Closes every connection (end of replay, shutdown).
    pub fn close_all(&mut self, now_ns: u64, emit: &mut dyn FnMut(Signal)) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                c.parser.on_close(now_ns, &mut self.records);
                c.parser.expire(u64::MAX, &mut self.records);
            }
            self.drain(id, emit);
            self.conns.remove(&id);
        }
        self.publish_stats();
    }

    /// Records mapped so far, by protocol (`http`, `dns`); protocols with none are absent.
    pub fn records_by_protocol(&self) -> Vec<(&'static str, u64)> {
        RECORD_KINDS
            .iter()
            .zip(self.record_counts)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
            .collect()
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    fn make_room(&mut self) {
        if self.conns.len() < self.opts.max_connections {
            return;
        }
        // The least recently used sixteenth at once: one scan per batch.
        let n = (self.conns.len() / 16).max(1);
        let old = crate::util::oldest_keys(self.conns.iter(), |c| c.last_ns, n);
        for k in &old {
            self.conns.remove(k);
        }
        self.telemetry.drop("l7", "connection_table_full", old.len() as u64);
    }

    fn drain(&mut self, id: u64, emit: &mut dyn FnMut(Signal)) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        let st = c.parser.take_stats();
        let proto = c.parser.protocol().label_index();
        let (key, observer, process) = (c.key, c.observer, c.process.clone());
        if st != ParseStats::default() {
            // Summed here, published to the telemetry counters once per `expire`.
            self.unpublished[proto].add(&st);
        }
        if self.records.is_empty() {
            return;
        }
        let recs = std::mem::take(&mut self.records);
        for r in recs {
            let sig = match r {
                Record::Http(h) => {
                    self.record_counts[0] += 1;
                    self.http(h, &key, observer, process.as_deref())
                }
                Record::Dns(d) => {
                    self.record_counts[1] += 1;
                    // A query is reported by the process that asked it (or the wire in
                    // replay); a local DNS server's view of the same exchange would count
                    // it twice.
                    if observer == Observer::Server {
                        None
                    } else {
                        self.dns(d, &key, process.as_deref())
                    }
                }
            };
            if let Some(s) = sig {
                emit(s);
            }
        }
    }

    /// Publishes the parser counters summed since the last call.
    fn publish_stats(&mut self) {
        for (i, proto) in PROTOCOLS.iter().enumerate() {
            let st = std::mem::take(&mut self.unpublished[i]);
            if st != ParseStats::default() {
                self.account(&st, proto);
            }
        }
    }

    fn account(&mut self, st: &ParseStats, proto: &'static str) {
        for (reason, n) in st.reasons() {
            self.telemetry.parse_error(proto, reason, n);
        }
        self.stats.add(st);
    }

    fn service_name<'a>(&'a self, p: Option<&'a crate::capture::ProcessInfo>) -> &'a str {
        match p {
            Some(p) if !p.exe_name().is_empty() => p.exe_name(),
            _ => &self.opts.default_service,
        }
    }

    fn route(&self, target: &str) -> String {
        self.opts.routes.route(target)
    }

    fn http(
        &mut self,
        h: HttpRecord,
        key: &ConnKey,
        observer: Observer,
        p: Option<&crate::capture::ProcessInfo>,
    ) -> Option<Signal> {
        if !self.opts.http_enabled {
            return None;
        }
        let path = h.target.split('?').next().unwrap_or("");
        if self.opts.exclude_paths.is_match(path) {
            return None;
        }
        let grpc = h.request_messages.is_some() || h.grpc_status.is_some();
        if grpc && !self.opts.grpc_enabled {
            return None;
        }
        // An empty target is a path the HPACK decoder could not resolve (joined late):
        // no route is derived from it (it would be a guess).
        // gRPC paths (`/package.Service/Method`) name code, not data: they are the route.
        let route: std::borrow::Cow<'_, str> = if h.target.is_empty() {
            "".into()
        } else if grpc {
            path.into()
        } else {
            self.route(&h.target).into()
        };
        let kind = match observer {
            Observer::Client => SpanKind::Client,
            Observer::Server | Observer::Wire => SpanKind::Server,
        };
        let (peer, peer_port) = match observer {
            Observer::Client => (key.server.ip(), key.server.port()),
            _ => (key.client.ip(), key.client.port()),
        };
        let status = h.status;
        let span_status = if grpc {
            // gRPC: a non-OK status or a reset stream is an error; a call whose end was
            // not seen stays unset (telegen.incomplete says why).
            match (h.grpc_status, h.incomplete) {
                (Some(c), _) if c != 0 => SpanStatus::Error,
                (_, Some("reset" | "goaway")) => SpanStatus::Error,
                _ => SpanStatus::Unset,
            }
        } else {
            match (status, kind) {
                (Some(s), SpanKind::Server) if s >= 500 => SpanStatus::Error,
                (Some(s), SpanKind::Client) if s >= 400 => SpanStatus::Error,
                // No status: an exchange that did not complete is an error; HTTP/0.9
                // has no status line at all.
                (None, _) if h.incomplete.is_some() => SpanStatus::Error,
                _ => SpanStatus::Unset,
            }
        };
        let service = self.service_name(p);
        let (rpc_service, rpc_method) = grpc_names(path);
        // RED metrics come from every exchange; the span itself is only built when some
        // sink wants it (building attributes is most of the per-request cost).
        let secs = h.end_ns.max(h.start_ns).saturating_sub(h.start_ns) as f64 / 1e9;
        if grpc {
            let code = h.grpc_status.map(|c| Num::new(c.into()));
            let code = code.as_ref().map(Num::as_str).unwrap_or("unknown");
            let v = [service, rpc_service, rpc_method, code];
            let (count, hist) = match kind {
                SpanKind::Client => (&self.m.rpc_client_requests, &self.m.rpc_client_duration),
                _ => (&self.m.rpc_server_requests, &self.m.rpc_server_duration),
            };
            count.inc(&v);
            hist.observe(&v[..3], secs);
        } else {
            let code = Num::new(status.unwrap_or(0).into());
            let v = [service, &*h.method, &*route, code.as_str()];
            let (count, hist) = match kind {
                SpanKind::Client => (&self.m.http_client_requests, &self.m.http_client_duration),
                _ => (&self.m.http_server_requests, &self.m.http_server_duration),
            };
            count.inc(&v);
            hist.observe(&v[..3], secs);
        }
        if !self.opts.emit_spans {
            return None;
        }
        let mut a = Attributes::default();
        let url = match &h.host {
            Some(host) => format!("http://{host}{}", h.target),
            None => h.target.clone(),
        };
        let old = self.opts.semconv != HttpSemconv::Stable;
        let new = self.opts.semconv != HttpSemconv::Old;
        if old {
            a.put("http.method", &*h.method);
            a.put("http.url", url.clone());
            a.put("http.target", h.target.clone());
        }
        if new {
            a.put("http.request.method", &*h.method);
            a.put("url.full", url.clone());
            a.put("url.path", path.to_string());
        }
        if !route.is_empty() {
            a.put("http.route", route.to_string());
        }
        a.put("network.protocol.version", h.version);
        if let Some(s) = status {
            if old {
                a.put("http.status_code", s);
            }
            if new {
                a.put("http.response.status_code", s);
            }
        }
        if old {
            a.put_opt("http.request_content_length", h.request_body_len);
            a.put_opt("http.response_content_length", h.response_body_len);
            a.put("net.peer.ip", peer.to_string());
            a.put("net.peer.port", peer_port);
            a.put_opt("net.host.name", h.host.clone());
            a.put("http.flavor", h.version);
        }
        if new {
            a.put_opt("http.request.body.size", h.request_body_len);
            a.put_opt("http.response.body.size", h.response_body_len);
            a.put("network.peer.address", peer.to_string());
            a.put("network.peer.port", peer_port);
            a.put_opt("server.address", h.host.clone());
        }
        for (k, v) in &h.request_headers {
            a.put(format!("http.request.header.{k}"), v.clone());
        }
        for (k, v) in &h.response_headers {
            a.put(format!("http.response.header.{k}"), v.clone());
        }
        a.put_opt("http.request.body", h.request_body.clone());
        a.put_opt("http.response.body", h.response_body.clone());
        a.put_opt("telegen.incomplete", h.incomplete);
        a.put_opt("http2.stream_id", h.stream_id);
        put_conn(&mut a, key, p);
        if grpc {
            a.put("rpc.system", "grpc");
            if !rpc_service.is_empty() {
                a.put("rpc.service", rpc_service.to_string());
            }
            if !rpc_method.is_empty() {
                a.put("rpc.method", rpc_method.to_string());
            }
            a.put_opt("rpc.grpc.status_code", h.grpc_status);
            a.put_opt("rpc.grpc.request.messages", h.request_messages);
            a.put_opt("rpc.grpc.response.messages", h.response_messages);
        }
        let (trace_id, span_id) = new_ids();
        let span = Span {
            name: span_name(grpc, &h.method, &route, rpc_service, rpc_method),
            kind,
            trace_id,
            span_id,
            start_time_unix_nano: h.start_ns,
            end_time_unix_nano: h.end_ns.max(h.start_ns),
            status: span_status,
            service_name: service.to_string(),
            attributes: a,
        };
        Some(Signal::Span(span))
    }

    fn domain_label(&mut self, name: &str) -> String {
        let d = name.trim_end_matches('.').to_ascii_lowercase();
        if self.domains.contains(&d) {
            return d;
        }
        if self.domains.len() < self.opts.max_domains {
            self.domains.insert(d.clone());
            return d;
        }
        self.telemetry.drop("dns", "domain_label_overflow", 1);
        OVERFLOW_VALUE.to_string()
    }

    fn dns(
        &mut self,
        d: DnsRecord,
        key: &ConnKey,
        p: Option<&crate::capture::ProcessInfo>,
    ) -> Option<Signal> {
        if !self.opts.dns_enabled {
            return None;
        }
        if d.response_code == "TIMEOUT" && key.server.ip().is_multicast() {
            // A multicast query (mDNS on 224.0.0.251 / ff02::fb) is answered, if at all,
            // by other hosts to the group, not as a reply to this socket: no answer seen is
            // not a timeout. Counted, not reported.
            self.telemetry.skip("dns", "multicast_unanswered", 1);
            return None;
        }
        self.dns_names.learn(&d);
        let domain = self.domain_label(&d.question_name);
        let latency_ms = d.response_ns.map(|r| r.saturating_sub(d.query_ns) as f64 / 1e6);
        self.m.dns_queries.inc(&[&domain, &d.question_type, &d.response_code]);
        if let Some(ms) = latency_ms {
            self.m.dns_latency.observe(ms / 1000.0);
        }
        if !self.opts.dns_capture_queries || !self.opts.emit_spans {
            return None;
        }
        let mut a = Attributes::default();
        a.put("dns.question.name", d.question_name.clone());
        a.put("dns.question.type", d.question_type.clone());
        a.put("dns.id", d.id);
        if self.opts.dns_capture_responses {
            a.put("dns.response_code", d.response_code.clone());
            a.put_opt("dns.latency_ms", latency_ms);
            a.put("dns.answer_count", d.answer_count);
            if self.opts.dns_capture_content {
                a.put("dns.answers", d.answers.iter().map(|x| x.data.clone()).collect::<Vec<_>>());
                a.put(
                    "dns.answer_types",
                    d.answers.iter().map(|x| x.rtype.clone()).collect::<Vec<_>>(),
                );
            }
        }
        if d.response_only {
            a.put("dns.response_only", true);
        }
        a.put("net.peer.ip", key.server.ip().to_string());
        a.put("net.peer.port", key.server.port());
        a.put(
            "net.transport",
            match key.transport {
                Transport::Tcp => "ip_tcp",
                Transport::Udp => "ip_udp",
            },
        );
        put_conn(&mut a, key, p);
        let severity = if d.response_code == "NOERROR" { Severity::Info } else { Severity::Warn };
        Some(Signal::Event(Event {
            name: "dns.query",
            time_unix_nano: d.query_ns,
            severity,
            attributes: a,
        }))
    }
}

/// `package.Service/Method` for gRPC, `GET /route` for HTTP; when the path is unknown,
/// the method alone (`POST`), or `HTTP` when that is unknown too.
fn span_name(grpc: bool, method: &str, route: &str, svc: &str, rpc_method: &str) -> String {
    let method = if method.is_empty() { "HTTP" } else { method };
    if grpc && !svc.is_empty() {
        format!("{svc}/{rpc_method}")
    } else if route.is_empty() {
        method.to_string()
    } else {
        format!("{method} {route}")
    }
}

/// `/package.Service/Method` -> (`package.Service`, `Method`).
fn grpc_names(path: &str) -> (&str, &str) {
    let p = path.trim_start_matches('/');
    p.split_once('/').unwrap_or((p, ""))
}

fn put_conn(a: &mut Attributes, key: &ConnKey, p: Option<&crate::capture::ProcessInfo>) {
    a.put("client.address", key.client.ip().to_string());
    a.put("client.port", key.client.port());
    a.put("server.ip", key.server.ip().to_string());
    a.put("server.port", key.server.port());
    if key.netns != 0 {
        a.put("network.namespace", key.netns);
    }
    if let Some(p) = p {
        a.put("process.pid", p.pid);
        a.put("process.executable.name", p.exe_name().to_string());
        a.put("process.command", p.comm.clone());
        a.put_opt("process.executable.path", p.exe.clone());
    }
}

impl L7Options {
    /// The L7 settings of an effective configuration.
    pub fn from_effective(eff: &crate::config::Effective) -> Self {
        let mut limits = Limits::default();
        limits.http1.max_headers = eff.http.max_headers;
        limits.http1.max_body_capture = eff.http.max_body_capture;
        limits.http1.capture_headers = eff.http.capture_headers.clone();
        limits.http2.max_headers = eff.http.max_headers;
        limits.http2.capture_headers = eff.http.capture_headers.clone();
        limits.dns.timeout_ns = eff.dns.timeout.as_nanos() as u64;
        limits.dns.ports = eff.dns.ports.clone();
        L7Options {
            limits,
            http_enabled: eff.http.enabled,
            dns_enabled: eff.dns.enabled,
            exclude_paths: eff.http.exclude_matcher().unwrap_or_else(|_| GlobSet::empty()),
            // Validated by the configuration layer, so this cannot fail there.
            routes: RouteMatcher::new(&eff.http.routes).unwrap_or_default(),
            grpc_enabled: eff.http.grpc,
            semconv: match eff.http.semconv {
                crate::config::HttpSemconv::Old => HttpSemconv::Old,
                crate::config::HttpSemconv::Stable => HttpSemconv::Stable,
                crate::config::HttpSemconv::Dup => HttpSemconv::Dup,
            },
            dns_capture_queries: eff.dns.capture_queries,
            dns_capture_responses: eff.dns.capture_responses,
            dns_capture_content: eff.dns.capture_content,
            max_domains: eff.dns.max_domains,
            default_service: eff.service_name.clone(),
            ..L7Options::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Direction;
    use prometheus_client::registry::Registry;

    fn query(id: u16, name: &str) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend(l.as_bytes());
        }
        q.extend([0, 0, 1, 0, 1]);
        q
    }

    #[test]
    fn unanswered_multicast_queries_are_skipped_unicast_ones_time_out() {
        let mut reg = Registry::default();
        let telemetry = SelfTelemetry::register(&mut reg);
        let mut b = MetricsBuilder::new(&mut reg, None, 100);
        let m = L7Metrics::new(&mut b);
        let mut l7 = L7Signals::new(L7Options::default(), m, telemetry.clone());
        let mut out = Vec::new();
        for (id, server) in [(1u64, "224.0.0.251:5353"), (2, "127.0.0.53:53")] {
            let ev = StreamEvent {
                conn_id: id,
                key: ConnKey {
                    client: "10.0.0.1:40000".parse().unwrap(),
                    server: server.parse().unwrap(),
                    transport: Transport::Udp,
                    netns: 0,
                },
                dir: Direction::ClientToServer,
                ts_ns: 1_000,
                payload: Payload::Data(query(id as u16, "printer.local")),
                process: None,
                observer: Observer::Client,
            };
            l7.on_event(ev, &mut |s| out.push(s));
        }
        l7.expire(60_000_000_000, &mut |s| out.push(s));
        let timeouts: Vec<_> = out
            .iter()
            .filter_map(|s| match s {
                Signal::Event(e) => e.attributes.get_str("net.peer.ip").map(str::to_string),
                _ => None,
            })
            .collect();
        assert_eq!(timeouts, ["127.0.0.53"], "only the unicast query is a TIMEOUT");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        assert!(
            text.contains(
                r#"telegen_capture_skipped_total{source="dns",reason="multicast_unanswered"} 1"#
            ),
            "{text}"
        );
        // Only the unicast query counts as an expired request in the parser's errors.
        assert!(
            text.contains(
                r#"telegen_parse_errors_total{protocol="dns",reason="request_expired"} 1"#
            ),
            "{text}"
        );
    }
}
