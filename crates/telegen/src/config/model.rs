//! The configuration structure, mirroring the product documentation's YAML.
//!
//! Every field's meaning, unit and default is documented once, in [`super::docs::KEY_DOCS`]
//! (which `telegen config default` and docs/configuration.md are checked against). The
//! merged view the agent reads is [`Effective`] (see [`super::effective`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A section written with no content (`tcp:` with every line below commented out) means
/// its defaults, as if it were left out.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, deserialize_with = "null_as_default")]
    pub agent: AgentConfig,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// service.name for the agent's own telemetry and for processes without one.
    pub service_name: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub network: NetworkConfig,
    pub ebpf: EbpfConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub exporters: ExportersConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    pub enabled: bool,
    /// Kernel ring-buffer bytes, split evenly among the rings that run (power of two).
    pub ring_buffer_size: u64,
    pub include_ports: Vec<u16>,
    pub exclude_ports: Vec<u16>,
    #[serde(deserialize_with = "null_as_default")]
    pub tcp: TcpConfig,
    pub http: HttpConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub dns: DnsConfig,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            enabled: true,
            ring_buffer_size: 16 * 1024 * 1024,
            include_ports: Vec::new(),
            exclude_ports: Vec::new(),
            tcp: TcpConfig::default(),
            http: HttpConfig::default(),
            dns: DnsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    pub enabled: bool,
    pub rtt: bool,
    pub retransmits: bool,
    pub connection_tracking: bool,
    /// Keep 1 in N connections (1 = all).
    pub sample_rate: u32,
    /// How often live connections report their counters.
    #[serde(with = "humantime_serde")]
    pub stats_interval: Duration,
    /// Most connections tracked at once (kernel map and user-space table).
    pub max_connections: u32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            enabled: true,
            rtt: true,
            retransmits: true,
            connection_tracking: true,
            sample_rate: 1,
            stats_interval: Duration::from_secs(10),
            max_connections: 65536,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Body bytes copied into records (0 = none).
    pub max_body_capture: usize,
    /// Headers kept per message.
    pub max_headers: usize,
    /// Route patterns like `/users/{id}`; they win over derived routes.
    pub routes: Vec<String>,
    /// Allow capturing authorization/cookie headers when listed in capture_headers.
    pub capture_sensitive_headers: bool,
    /// Same as `agent.ebpf.network.exclude_paths`; that one wins when both are set.
    pub exclude_paths: Vec<String>,
    /// Same as `agent.ebpf.network.capture_headers`; that one wins when both are set.
    pub capture_headers: Vec<String>,
    /// HTTP attribute names: `old`, `http` (stable names) or `http/dup` (both);
    /// `OTEL_SEMCONV_STABILITY_OPT_IN` overrides it.
    pub semconv_stability_opt_in: HttpSemconv,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_capture: 0,
            max_headers: 64,
            routes: Vec::new(),
            capture_sensitive_headers: false,
            exclude_paths: Vec::new(),
            capture_headers: Vec::new(),
            semconv_stability_opt_in: HttpSemconv::Old,
        }
    }
}

/// Which HTTP semantic-convention attribute names records carry, as
/// `OTEL_SEMCONV_STABILITY_OPT_IN` defines them.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum HttpSemconv {
    /// The pre-1.0 names (`http.method`, `http.status_code`, `net.peer.ip`, ...).
    #[default]
    #[serde(rename = "old")]
    Old,
    /// The stable names (`http.request.method`, `http.response.status_code`, ...).
    #[serde(rename = "http")]
    Stable,
    /// Both sets at once.
    #[serde(rename = "http/dup")]
    Dup,
}

impl HttpSemconv {
    /// Emit the pre-1.0 attribute names.
    pub fn old_names(self) -> bool {
        matches!(self, HttpSemconv::Old | HttpSemconv::Dup)
    }
    /// Emit the stable attribute names.
    pub fn stable_names(self) -> bool {
        matches!(self, HttpSemconv::Stable | HttpSemconv::Dup)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    pub enabled: bool,
    pub capture_queries: bool,
    pub capture_responses: bool,
    /// false: names and counts only, no answer records.
    pub capture_content: bool,
    pub ports: Vec<u16>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Distinct `domain` label values before `_other` is used.
    pub max_domains: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            enabled: true,
            capture_queries: true,
            capture_responses: true,
            capture_content: true,
            ports: vec![53, 5353],
            timeout: Duration::from_secs(5),
            max_domains: 500,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EbpfConfig {
    #[serde(deserialize_with = "null_as_default")]
    pub conn_stats: ConnStatsConfig,
    pub network: EbpfNetworkConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConnStatsConfig {
    pub enabled: bool,
}

impl Default for ConnStatsConfig {
    fn default() -> Self {
        ConnStatsConfig { enabled: true }
    }
}

/// `agent.ebpf.network`: keys here that also exist under `agent.network` win when both
/// are set (the more specific eBPF section is the one the documentation's examples use).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EbpfNetworkConfig {
    pub enabled: bool,
    pub http: bool,
    pub grpc: bool,
    /// Glob patterns (`/health*`) of paths that produce no span and no metric.
    pub exclude_paths: Vec<String>,
    /// Header names to copy into spans.
    pub capture_headers: Vec<String>,
    pub include_ports: Option<Vec<u16>>,
    pub exclude_ports: Option<Vec<u16>>,
    /// Payload bytes copied per syscall (the rest is reported as a gap).
    pub max_payload_bytes: u32,
}

impl Default for EbpfNetworkConfig {
    fn default() -> Self {
        EbpfNetworkConfig {
            enabled: true,
            http: true,
            grpc: true,
            exclude_paths: Vec::new(),
            capture_headers: Vec::new(),
            include_ports: None,
            exclude_ports: None,
            max_payload_bytes: 4096,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExportersConfig {
    #[serde(deserialize_with = "null_as_default")]
    pub prometheus: PrometheusConfig,
    pub otlp: OtlpConfig,
    #[serde(deserialize_with = "null_as_default")]
    pub stdout: StdoutConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    pub enabled: bool,
    /// Listen address.
    pub listen: String,
    pub path: String,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig { enabled: true, listen: "127.0.0.1:9464".into(), path: "/metrics".into() }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum OtlpProtocol {
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// Endpoint URL; empty = OTLP off (unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
    pub endpoint: Option<String>,
    pub protocol: Option<OtlpProtocol>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Metric export interval.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Records (spans, logs) queued for export before new ones are dropped (and counted).
    pub queue_size: usize,
    /// Most records in one export request.
    pub max_batch: usize,
    pub traces: bool,
    pub metrics: bool,
    pub logs: bool,
    /// Resource attributes added to everything exported (`OTEL_RESOURCE_ATTRIBUTES` adds
    /// to them and wins per key).
    pub resource_attributes: BTreeMap<String, String>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: None,
            protocol: None,
            timeout: Duration::from_secs(10),
            interval: Duration::from_secs(15),
            queue_size: 8192,
            max_batch: 512,
            traces: true,
            metrics: true,
            logs: true,
            resource_attributes: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutConfig {
    /// Print every record as a JSON line (also `telegen run --json`).
    pub json: bool,
}

pub use super::effective::Effective;
