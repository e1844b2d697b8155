//! The one table of key documentation, and `telegen config default` generated from it.
//!
//! [`default_yaml`] serialises `Config::default()` and writes each key's doc above it, so
//! values cannot drift from the code; tests check that every serialised key has a doc,
//! every doc names a real key, the text parses back to the default, and every key appears
//! in docs/configuration.md.

use super::keys::KeyIndex;
use super::model::Config;

/// Documentation of one configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub path: &'static str,
    /// Type and unit, e.g. `bytes`, `duration`, `list of ports`; `section` for mappings.
    pub kind: &'static str,
    pub doc: &'static str,
}

const fn k(path: &'static str, kind: &'static str, doc: &'static str) -> KeyDoc {
    KeyDoc { path, kind, doc }
}

/// Every key, in file order.
pub const KEY_DOCS: &[KeyDoc] = &[
    k("agent", "section", "telegen agent settings."),
    k("agent.service_name", "string or null", "service.name for the agent's own telemetry and for processes that have none. OTEL_SERVICE_NAME overrides it. null: the resource attribute service.name, else \"telegen\"."),
    k("agent.network", "section", "Network observability: TCP, HTTP, DNS."),
    k("agent.network.enabled", "bool", "Master switch: false turns off every network signal (TCP, payload capture, HTTP, DNS)."),
    k("agent.network.ring_buffer_size", "bytes", "Kernel ring-buffer memory, shared evenly by the rings that run (connection events, socket payloads: 8 MiB each by default); a power of two from 4096 to 1073741824 (1 GiB)."),
    k("agent.network.include_ports", "list of ports", "Observe only connections with one of these ports (local or remote); [] = all. agent.ebpf.network.include_ports wins when set."),
    k("agent.network.exclude_ports", "list of ports", "Never observe connections with one of these ports. agent.ebpf.network.exclude_ports wins when set. A port may not be both included and excluded."),
    k("agent.network.tcp", "section", "TCP connection observability."),
    k("agent.network.tcp.enabled", "bool", "Run the TCP connection programs."),
    k("agent.network.tcp.rtt", "bool", "Smoothed RTT per connection, kept current while the connection lives (tcp_rtt_us)."),
    k("agent.network.tcp.retransmits", "bool", "Count retransmitted segments (tcp_retransmits_total)."),
    k("agent.network.tcp.connection_tracking", "bool", "Connection lifecycle records: opened, established, closed, errors by type."),
    k("agent.network.tcp.sample_rate", "integer", "Keep 1 in N connections, decided once per connection in the kernel; 1 = all. At least 1."),
    k("agent.network.tcp.stats_interval", "duration", "How often live connections report their counters. More than 0, at most 24h."),
    k("agent.network.tcp.max_connections", "count", "Most connections tracked at once (kernel map and user-space table); 1 to 16777216."),
    k("agent.network.http", "section", "HTTP limits and filters."),
    k("agent.network.http.max_body_capture", "bytes", "Body bytes copied into records; 0 = none; at most 1048576."),
    k("agent.network.http.max_headers", "count", "Headers kept per message; 1 to 1024."),
    k("agent.network.http.routes", "list of strings", "Route patterns like /users/{id}; they win over routes derived from the path."),
    k("agent.network.http.capture_sensitive_headers", "bool", "Allow capturing authorization, cookie, set-cookie and proxy-authorization when capture_headers lists them."),
    k("agent.network.http.exclude_paths", "list of globs", "Same as agent.ebpf.network.exclude_paths, which wins when both are set."),
    k("agent.network.http.capture_headers", "list of header names", "Same as agent.ebpf.network.capture_headers, which wins when both are set."),
    k("agent.network.http.semconv_stability_opt_in", "old | http | http/dup", "HTTP attribute names: old (http.method, http.status_code, ...), http (stable: http.request.method, http.response.status_code, ...) or http/dup (both). OTEL_SEMCONV_STABILITY_OPT_IN overrides it."),
    k("agent.network.dns", "section", "DNS tracing."),
    k("agent.network.dns.enabled", "bool", "Trace DNS queries."),
    k("agent.network.dns.capture_queries", "bool", "Report queries."),
    k("agent.network.dns.capture_responses", "bool", "Report responses (response code, latency)."),
    k("agent.network.dns.capture_content", "bool", "Report answer records; false: names and counts only."),
    k("agent.network.dns.ports", "list of ports", "Ports treated as DNS (UDP and TCP); at least one when DNS is enabled."),
    k("agent.network.dns.timeout", "duration", "A query unanswered this long is reported with dns.response_code TIMEOUT. More than 0, at most 24h."),
    k("agent.network.dns.max_domains", "count", "Distinct domain label values on DNS metrics before _other is used; 1 to 100000."),
    k("agent.ebpf", "section", "eBPF program settings."),
    k("agent.ebpf.conn_stats", "section", "Per-connection statistics."),
    k("agent.ebpf.conn_stats.enabled", "bool", "Lifetime bytes sent and received per connection, reported at close."),
    k("agent.ebpf.network", "section", "Socket payload capture and L7 tracing."),
    k("agent.ebpf.network.enabled", "bool", "Capture socket payloads (needed by HTTP and gRPC tracing)."),
    k("agent.ebpf.network.http", "bool", "HTTP/1.x tracing."),
    k("agent.ebpf.network.grpc", "bool", "HTTP/2 and gRPC tracing."),
    k("agent.ebpf.network.exclude_paths", "list of globs", "URL paths (e.g. /health*) that produce no span and no metric; * also matches /."),
    k("agent.ebpf.network.capture_headers", "list of header names", "Headers copied into spans as http.request.header.<name> / http.response.header.<name>."),
    k("agent.ebpf.network.include_ports", "list of ports or null", "Replaces agent.network.include_ports when set (null = not set)."),
    k("agent.ebpf.network.exclude_ports", "list of ports or null", "Replaces agent.network.exclude_ports when set (null = not set)."),
    k("agent.ebpf.network.max_payload_bytes", "bytes", "Payload bytes copied per syscall; the rest is reported as a gap. 1 to 65536."),
    k("agent.exporters", "section", "Where telemetry goes."),
    k("agent.exporters.prometheus", "section", "Prometheus / OpenMetrics endpoint."),
    k("agent.exporters.prometheus.enabled", "bool", "Serve metrics."),
    k("agent.exporters.prometheus.listen", "socket address", "Listen address, host:port ([::1]:9464 for IPv6)."),
    k("agent.exporters.prometheus.path", "URL path", "Path that serves the metrics."),
    k("agent.exporters.otlp", "section", "OTLP export of metrics, traces and logs."),
    k("agent.exporters.otlp.endpoint", "URL or null", "Collector URL (http or https); null = OTLP off. OTEL_EXPORTER_OTLP_ENDPOINT overrides it."),
    k("agent.exporters.otlp.protocol", "grpc | http/protobuf | null", "Wire protocol; null: http/protobuf when the endpoint's port is 4318, else grpc. OTEL_EXPORTER_OTLP_PROTOCOL overrides it."),
    k("agent.exporters.otlp.timeout", "duration", "Timeout of one export request. More than 0, at most 24h."),
    k("agent.exporters.otlp.interval", "duration", "Metric export interval. More than 0, at most 24h."),
    k("agent.exporters.otlp.queue_size", "count", "Records (spans, logs) queued per signal before new ones are dropped and counted; 1 to 1048576."),
    k("agent.exporters.otlp.max_batch", "count", "Most records in one export request; 1 to queue_size."),
    k("agent.exporters.otlp.traces", "bool", "Export spans."),
    k("agent.exporters.otlp.metrics", "bool", "Export metrics."),
    k("agent.exporters.otlp.logs", "bool", "Export events (DNS, alerts) as logs."),
    k("agent.exporters.otlp.resource_attributes", "map of string to string", "Resource attributes added to everything exported; OTEL_RESOURCE_ATTRIBUTES adds to them and wins per key."),
    k("agent.exporters.stdout", "section", "JSON lines on stdout."),
    k("agent.exporters.stdout.json", "bool", "Print every record as a JSON line (also telegen run --json)."),
];

/// The doc of `path`, if it is a documented key.
pub fn key_doc(path: &str) -> Option<&'static KeyDoc> {
    KEY_DOCS.iter().find(|d| d.path == path)
}

/// The full default configuration, every key preceded by its documentation.
pub fn default_yaml() -> String {
    let plain =
        serde_saphyr::to_string(&Config::default()).expect("the default configuration serialises");
    let index = KeyIndex::build(&plain).expect("serialised YAML parses");
    let mut doc_at_line: Vec<Option<(&str, u64)>> = vec![None; plain.lines().count() + 2];
    for e in index.entries().iter().filter(|e| !e.path.contains('[')) {
        if let Some(slot) = doc_at_line.get_mut(e.pos.line as usize) {
            *slot = Some((e.path.as_str(), e.pos.column));
        }
    }
    let mut out = String::from(
        "# telegen configuration: the built-in defaults (`telegen config default`).\n\
         # Every key is optional. Keys in agent.ebpf.network win over the same keys in\n\
         # agent.network; OTEL_* environment variables win over this file.\n",
    );
    let lines: Vec<&str> = plain.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some((path, column)) = doc_at_line[i + 1] {
            let indent = " ".repeat(column.saturating_sub(1) as usize);
            let text = match key_doc(path) {
                None => "(undocumented)".to_string(),
                Some(d) if d.kind == "section" => d.doc.to_string(),
                Some(d) => {
                    format!("{} Type: {}. Default: {}.", d.doc, d.kind, default_text(&lines, i))
                }
            };
            if !out.ends_with(":\n") {
                out.push('\n');
            }
            for l in wrap(&text, 88usize.saturating_sub(indent.len() + 2)) {
                out.push_str(&format!("{indent}# {l}\n"));
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The value written on line `i` (`key: value`), or the block list below it as `[a, b]`.
fn default_text(lines: &[&str], i: usize) -> String {
    let value = lines[i].split_once(':').map_or("", |(_, v)| v.trim());
    if !value.is_empty() {
        return value.to_string();
    }
    let items: Vec<&str> =
        lines[i + 1..].iter().map(|l| l.trim_start()).map_while(|l| l.strip_prefix("- ")).collect();
    format!("[{}]", items.join(", "))
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let cur = lines.last_mut().expect("never empty");
        if !cur.is_empty() && cur.len() + 1 + word.len() > width.max(20) {
            lines.push(word.to_string());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_yaml_parses_back_to_the_default() {
        let text = default_yaml();
        let parsed = Config::from_yaml_str(&text, "default").unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn every_serialised_key_is_documented_and_every_doc_is_a_key() {
        let plain = serde_saphyr::to_string(&Config::default()).unwrap();
        let index = KeyIndex::build(&plain).unwrap();
        let keys: Vec<&str> =
            index.entries().iter().map(|e| e.path.as_str()).filter(|p| !p.contains('[')).collect();
        for key in &keys {
            assert!(key_doc(key).is_some(), "{key} has no entry in KEY_DOCS");
        }
        for d in KEY_DOCS {
            assert!(
                keys.contains(&d.path),
                "KEY_DOCS documents {} which the configuration does not have",
                d.path
            );
        }
        assert_eq!(
            keys,
            KEY_DOCS.iter().map(|d| d.path).collect::<Vec<_>>(),
            "KEY_DOCS must be in file order"
        );
    }

    #[test]
    fn every_key_has_a_comment_above_it() {
        let text = default_yaml();
        let lines: Vec<&str> = text.lines().collect();
        let index = KeyIndex::build(&text).unwrap();
        for e in index.entries().iter().filter(|e| !e.path.contains('[')) {
            let above = lines[e.pos.line as usize - 2].trim_start();
            assert!(above.starts_with("# "), "no comment above {} (line {})", e.path, e.pos.line);
        }
        assert!(!text.contains("(undocumented)"));
    }

    #[test]
    fn docs_page_lists_every_key() {
        let page = include_str!("../../../../docs/configuration.md");
        for d in KEY_DOCS {
            assert!(
                page.contains(&format!("`{}`", d.path)),
                "docs/configuration.md does not list `{}`",
                d.path
            );
        }
    }
}
