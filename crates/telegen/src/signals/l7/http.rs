//! HTTP (HTTP/1.x and HTTP/2) records -> RED metrics and server/client spans. Calls whose
//! records carry gRPC facts are handed to [`super::grpc`] for their names, status and
//! metrics; the span attributes common to both are put here.

use super::conns::ConnCtx;
use super::grpc::{self, RpcMetrics};
use super::{put_conn, L7Options, HTTP_BUCKETS};
use crate::enrich::Enrichment;
use crate::model::{new_ids, Attributes, Observer, Signal, Span, SpanKind, SpanStatus};
use crate::signals::metrics::{CounterVec, HistogramVec, MetricName, MetricsBuilder, Num};
use std::borrow::Cow;
use telegen_proto::record::HttpRecord;

const HTTP_LABELS: &[&str] = &["service_name", "method", "route", "status_code"];

/// `http_{server,client}_requests` and `_duration`.
pub struct HttpMetrics {
    server_requests: CounterVec,
    server_duration: HistogramVec,
    client_requests: CounterVec,
    client_duration: HistogramVec,
}

impl HttpMetrics {
    pub fn new(b: &mut MetricsBuilder<'_>) -> Self {
        let m = |prom, otel, help| MetricName { prom, otel, help };
        HttpMetrics {
            server_requests: b.counter(m("http_server_requests", "http.server.requests", "HTTP requests served, seen from the server side"), HTTP_LABELS),
            server_duration: b.histogram(m("http_server_duration", "http.server.request.duration", "HTTP server request duration in seconds (first request byte to last response byte)"), &HTTP_LABELS[..3], "s", &HTTP_BUCKETS),
            client_requests: b.counter(m("http_client_requests", "http.client.requests", "HTTP requests made, seen from the client side"), HTTP_LABELS),
            client_duration: b.histogram(m("http_client_duration", "http.client.request.duration", "HTTP client request duration in seconds"), &HTTP_LABELS[..3], "s", &HTTP_BUCKETS),
        }
    }
}

/// Maps one HTTP record: metrics always, the span only when `opts.emit_spans`.
pub fn map(
    h: HttpRecord,
    cx: &ConnCtx,
    opts: &L7Options,
    m: &HttpMetrics,
    rpc: &RpcMetrics,
    enrich: &Enrichment,
) -> Option<Signal> {
    if !opts.http_enabled {
        return None;
    }
    let (key, observer, p) = (&cx.key, cx.observer, cx.process.as_deref());
    let path = h.target.split('?').next().unwrap_or("");
    if opts.exclude_paths.is_match(path) {
        return None;
    }
    let grpc = grpc::is_grpc(&h);
    if grpc && !opts.grpc_enabled {
        return None;
    }
    // An empty target is a path the HPACK decoder could not resolve (joined late):
    // no route is derived from it (it would be a guess).
    // gRPC paths (`/package.Service/Method`) name code, not data: they are the route.
    let route: Cow<'_, str> = if h.target.is_empty() {
        "".into()
    } else if grpc {
        path.into()
    } else {
        opts.routes.route(&h.target).into()
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
        grpc::span_status(&h)
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
    let service = enrich.service_name(p);
    let (rpc_service, rpc_method) = grpc::names(path);
    // RED metrics come from every exchange; the span itself is only built when some
    // sink wants it (building attributes is most of the per-request cost).
    let secs = h.end_ns.max(h.start_ns).saturating_sub(h.start_ns) as f64 / 1e9;
    if grpc {
        rpc.record(kind, service, rpc_service, rpc_method, h.grpc_status, secs);
    } else {
        let code = Num::new(status.unwrap_or(0).into());
        let v = [service, &*h.method, &*route, code.as_str()];
        let (count, hist) = match kind {
            SpanKind::Client => (&m.client_requests, &m.client_duration),
            _ => (&m.server_requests, &m.server_duration),
        };
        count.inc(&v);
        hist.observe(&v[..3], secs);
    }
    if !opts.emit_spans {
        return None;
    }
    let mut a = Attributes::default();
    let url = match &h.host {
        Some(host) => format!("http://{host}{}", h.target),
        None => h.target.clone(),
    };
    let old = opts.semconv.old_names();
    let new = opts.semconv.stable_names();
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
    put_conn(&mut a, key, p, enrich);
    if grpc {
        grpc::put_attributes(&mut a, &h, rpc_service, rpc_method);
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
