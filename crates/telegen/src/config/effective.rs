//! The merged settings the agent reads ([`Effective`]), so no other module needs to know
//! that a key may live in two places or that switches nest.
//!
//! Merge rules (also in docs/configuration.md):
//! - `include_ports` / `exclude_ports`: `agent.ebpf.network.*` wins when it is set (even to
//!   `[]`), else `agent.network.*`.
//! - `exclude_paths` / `capture_headers`: `agent.ebpf.network.*` wins when non-empty, else
//!   `agent.network.http.*`.
//! - Switches nest: `agent.network.enabled: false` turns off TCP, payload capture, HTTP
//!   and DNS; `agent.ebpf.network.enabled: false` turns off payload capture (HTTP, gRPC).
//! - `capture_headers` are lower-cased and de-duplicated; `authorization`, `cookie`,
//!   `set-cookie` and `proxy-authorization` are dropped unless
//!   `agent.network.http.capture_sensitive_headers: true`.
//! - service name: `agent.service_name` (which `OTEL_SERVICE_NAME` overrides), else the
//!   resource attribute `service.name`, else `telegen`.
//! - OTLP protocol when unset: `http/protobuf` if the endpoint's port is 4318, else `grpc`.
//!
//! [`Config::effective`] assumes [`Config::validate`] passed; it never fails.

use super::model::{Config, HttpSemconv, OtlpProtocol};
use std::time::Duration;

/// Header names never captured unless `capture_sensitive_headers` is true.
pub const SENSITIVE_HEADERS: [&str; 4] =
    ["authorization", "cookie", "set-cookie", "proxy-authorization"];

/// The settings the agent reads, after merging `agent.network` and `agent.ebpf.network`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// Only these ports are observed (empty = all). Applies to TCP, HTTP and DNS capture.
    pub include_ports: Vec<u16>,
    /// These ports are never observed.
    pub exclude_ports: Vec<u16>,
    /// Kernel ring-buffer bytes, split evenly among the rings that run.
    pub ring_buffer_size: u64,
    pub tcp: EffectiveTcp,
    pub payload: EffectivePayload,
    pub http: EffectiveHttp,
    pub dns: EffectiveDns,
    /// service.name for the agent's own telemetry and for processes without one.
    pub service_name: String,
    /// `None` when the Prometheus endpoint is disabled.
    pub prometheus: Option<EffectivePrometheus>,
    /// `None` when no OTLP endpoint is configured (file or environment).
    pub otlp: Option<EffectiveOtlp>,
    /// Every record as a JSON line on stdout.
    pub stdout_json: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveTcp {
    /// Connection tracking programs run at all (`network.enabled && tcp.enabled`).
    pub enabled: bool,
    pub rtt: bool,
    pub retransmits: bool,
    pub connection_tracking: bool,
    /// `agent.ebpf.conn_stats.enabled`: lifetime byte counts at close.
    pub conn_stats: bool,
    /// Keep 1 in N connections (>= 1).
    pub sample_rate: u32,
    pub stats_interval: Duration,
    pub max_connections: u32,
}

/// Socket payload capture (the input of HTTP, gRPC and later L7 protocols).
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePayload {
    /// `network.enabled && ebpf.network.enabled`.
    pub enabled: bool,
    /// Payload bytes copied per syscall.
    pub max_payload_bytes: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveHttp {
    /// HTTP/1 tracing (`payload.enabled && ebpf.network.http`).
    pub enabled: bool,
    /// gRPC/HTTP2 tracing (`payload.enabled && ebpf.network.grpc`).
    pub grpc: bool,
    /// Glob patterns of paths that produce no span and no metric.
    pub exclude_paths: Vec<String>,
    /// Lower-case header names to copy into spans, sensitive ones removed unless allowed.
    pub capture_headers: Vec<String>,
    /// Listed headers that were removed because they are sensitive.
    pub redacted_headers: Vec<String>,
    pub max_body_capture: usize,
    pub max_headers: usize,
    pub routes: Vec<String>,
    pub semconv: HttpSemconv,
}

impl EffectiveHttp {
    /// Compile `exclude_paths` (`*` also matches `/`). Validated patterns always compile.
    pub fn exclude_matcher(&self) -> Result<globset::GlobSet, globset::Error> {
        let mut b = globset::GlobSetBuilder::new();
        for p in &self.exclude_paths {
            b.add(globset::Glob::new(p)?);
        }
        b.build()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveDns {
    /// `network.enabled && dns.enabled`.
    pub enabled: bool,
    pub capture_queries: bool,
    pub capture_responses: bool,
    pub capture_content: bool,
    pub ports: Vec<u16>,
    pub timeout: Duration,
    pub max_domains: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePrometheus {
    /// Socket address text (validated to parse as `SocketAddr`).
    pub listen: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveOtlp {
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    pub timeout: Duration,
    pub interval: Duration,
    pub queue_size: usize,
    pub max_batch: usize,
    pub traces: bool,
    pub metrics: bool,
    pub logs: bool,
    /// Sorted by key; `service.name` is not repeated here (see `Effective::service_name`).
    pub resource_attributes: Vec<(String, String)>,
}

impl Config {
    /// Merge the two places a key may live; `agent.ebpf.network` wins when both set it.
    pub fn effective(&self) -> Effective {
        let a = &self.agent;
        let n = &a.network;
        let e = &a.ebpf.network;
        let payload_on = n.enabled && e.enabled;
        let (capture_headers, redacted_headers) = self.merged_capture_headers();
        let service_name = a
            .service_name
            .clone()
            .or_else(|| a.exporters.otlp.resource_attributes.get("service.name").cloned())
            .unwrap_or_else(|| "telegen".to_string());
        Effective {
            include_ports: e.include_ports.clone().unwrap_or_else(|| n.include_ports.clone()),
            exclude_ports: e.exclude_ports.clone().unwrap_or_else(|| n.exclude_ports.clone()),
            ring_buffer_size: n.ring_buffer_size,
            tcp: EffectiveTcp {
                enabled: n.enabled && n.tcp.enabled,
                rtt: n.tcp.rtt,
                retransmits: n.tcp.retransmits,
                connection_tracking: n.tcp.connection_tracking,
                conn_stats: a.ebpf.conn_stats.enabled,
                sample_rate: n.tcp.sample_rate.max(1),
                stats_interval: n.tcp.stats_interval,
                max_connections: n.tcp.max_connections,
            },
            payload: EffectivePayload {
                enabled: payload_on,
                max_payload_bytes: e.max_payload_bytes,
            },
            http: EffectiveHttp {
                enabled: payload_on && e.http,
                grpc: payload_on && e.grpc,
                exclude_paths: self.merged_exclude_paths().to_vec(),
                capture_headers,
                redacted_headers,
                max_body_capture: n.http.max_body_capture,
                max_headers: n.http.max_headers,
                routes: n.http.routes.clone(),
                semconv: n.http.semconv_stability_opt_in,
            },
            dns: EffectiveDns {
                enabled: n.enabled && n.dns.enabled,
                capture_queries: n.dns.capture_queries,
                capture_responses: n.dns.capture_responses,
                capture_content: n.dns.capture_content,
                ports: n.dns.ports.clone(),
                timeout: n.dns.timeout,
                max_domains: n.dns.max_domains,
            },
            service_name,
            prometheus: a.exporters.prometheus.enabled.then(|| EffectivePrometheus {
                listen: a.exporters.prometheus.listen.clone(),
                path: a.exporters.prometheus.path.clone(),
            }),
            otlp: self.effective_otlp(),
            stdout_json: a.exporters.stdout.json,
        }
    }

    /// `exclude_paths` after the merge rule.
    pub(crate) fn merged_exclude_paths(&self) -> &[String] {
        let e = &self.agent.ebpf.network.exclude_paths;
        if e.is_empty() {
            &self.agent.network.http.exclude_paths
        } else {
            e
        }
    }

    /// (kept, redacted) header names after the merge rule, lower-cased, de-duplicated.
    pub(crate) fn merged_capture_headers(&self) -> (Vec<String>, Vec<String>) {
        let e = &self.agent.ebpf.network.capture_headers;
        let listed = if e.is_empty() { &self.agent.network.http.capture_headers } else { e };
        let allow_sensitive = self.agent.network.http.capture_sensitive_headers;
        let (mut kept, mut redacted) = (Vec::new(), Vec::new());
        for h in listed {
            let h = h.trim().to_ascii_lowercase();
            let bucket = if !allow_sensitive && SENSITIVE_HEADERS.contains(&h.as_str()) {
                &mut redacted
            } else {
                &mut kept
            };
            if !bucket.contains(&h) {
                bucket.push(h);
            }
        }
        (kept, redacted)
    }

    fn effective_otlp(&self) -> Option<EffectiveOtlp> {
        let o = &self.agent.exporters.otlp;
        let endpoint = o.endpoint.clone().filter(|e| !e.trim().is_empty())?;
        let protocol = o.protocol.unwrap_or_else(|| default_protocol(&endpoint));
        Some(EffectiveOtlp {
            endpoint,
            protocol,
            timeout: o.timeout,
            interval: o.interval,
            queue_size: o.queue_size,
            max_batch: o.max_batch,
            traces: o.traces,
            metrics: o.metrics,
            logs: o.logs,
            resource_attributes: o
                .resource_attributes
                .iter()
                .filter(|(k, _)| k.as_str() != "service.name")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

/// `http/protobuf` for the conventional OTLP/HTTP port 4318, else `grpc`.
pub fn default_protocol(endpoint: &str) -> OtlpProtocol {
    match url::Url::parse(endpoint).ok().and_then(|u| u.port()) {
        Some(4318) => OtlpProtocol::HttpProtobuf,
        _ => OtlpProtocol::Grpc,
    }
}
