//! The L7 stage's settings, from the effective configuration.

use crate::config::{Effective, HttpSemconv};
use globset::GlobSet;
use telegen_proto::route::RouteMatcher;
use telegen_proto::Limits;

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
            emit_spans: true,
        }
    }
}

impl L7Options {
    /// The L7 settings of an effective configuration.
    pub fn from_effective(eff: &Effective) -> Self {
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
            semconv: eff.http.semconv,
            dns_capture_queries: eff.dns.capture_queries,
            dns_capture_responses: eff.dns.capture_responses,
            dns_capture_content: eff.dns.capture_content,
            max_domains: eff.dns.max_domains,
            ..L7Options::default()
        }
    }
}
