//! gRPC: the part of an HTTP/2 exchange's mapping that is gRPC's own. Names from the path
//! (`/package.Service/Method`), the status from `grpc-status`, `rpc_{server,client}_*`
//! metrics and the `rpc.*` span attributes. The HTTP mapping ([`super::http`]) calls it
//! for records that carry gRPC facts.

use super::HTTP_BUCKETS;
use crate::model::{Attributes, SpanKind, SpanStatus};
use crate::signals::metrics::{CounterVec, HistogramVec, MetricName, MetricsBuilder, Num};
use telegen_proto::record::HttpRecord;

const RPC_LABELS: &[&str] = &["service_name", "rpc_service", "rpc_method", "rpc_grpc_status_code"];

/// `rpc_{server,client}_requests` and `_duration`.
pub struct RpcMetrics {
    server_requests: CounterVec,
    server_duration: HistogramVec,
    client_requests: CounterVec,
    client_duration: HistogramVec,
}

impl RpcMetrics {
    pub fn new(b: &mut MetricsBuilder<'_>) -> Self {
        let m = |prom, otel, help| MetricName { prom, otel, help };
        RpcMetrics {
            server_requests: b.counter(
                m(
                    "rpc_server_requests",
                    "rpc.server.requests",
                    "gRPC calls served, by rpc_service, rpc_method, rpc_grpc_status_code",
                ),
                RPC_LABELS,
            ),
            server_duration: b.histogram(
                m(
                    "rpc_server_duration",
                    "rpc.server.duration",
                    "gRPC server call duration in seconds",
                ),
                &RPC_LABELS[..3],
                "s",
                &HTTP_BUCKETS,
            ),
            client_requests: b.counter(
                m(
                    "rpc_client_requests",
                    "rpc.client.requests",
                    "gRPC calls made, by rpc_service, rpc_method, rpc_grpc_status_code",
                ),
                RPC_LABELS,
            ),
            client_duration: b.histogram(
                m(
                    "rpc_client_duration",
                    "rpc.client.duration",
                    "gRPC client call duration in seconds",
                ),
                &RPC_LABELS[..3],
                "s",
                &HTTP_BUCKETS,
            ),
        }
    }

    /// One call's count and duration.
    pub fn record(
        &self,
        kind: SpanKind,
        service: &str,
        rpc_service: &str,
        rpc_method: &str,
        grpc_status: Option<u32>,
        secs: f64,
    ) {
        let code = grpc_status.map(|c| Num::new(c.into()));
        let code = code.as_ref().map(Num::as_str).unwrap_or("unknown");
        let v = [service, rpc_service, rpc_method, code];
        let (count, hist) = match kind {
            SpanKind::Client => (&self.client_requests, &self.client_duration),
            _ => (&self.server_requests, &self.server_duration),
        };
        count.inc(&v);
        hist.observe(&v[..3], secs);
    }
}

/// The record carries gRPC facts: length-prefixed messages or a `grpc-status`.
pub fn is_grpc(h: &HttpRecord) -> bool {
    h.request_messages.is_some() || h.grpc_status.is_some()
}

/// A non-OK status or a reset stream is an error; a call whose end was not seen stays
/// unset (`telegen.incomplete` says why).
pub fn span_status(h: &HttpRecord) -> SpanStatus {
    match (h.grpc_status, h.incomplete) {
        (Some(c), _) if c != 0 => SpanStatus::Error,
        (_, Some("reset" | "goaway")) => SpanStatus::Error,
        _ => SpanStatus::Unset,
    }
}

/// `/package.Service/Method` -> (`package.Service`, `Method`).
pub fn names(path: &str) -> (&str, &str) {
    let p = path.trim_start_matches('/');
    p.split_once('/').unwrap_or((p, ""))
}

/// The `rpc.*` span attributes.
pub fn put_attributes(a: &mut Attributes, h: &HttpRecord, rpc_service: &str, rpc_method: &str) {
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
