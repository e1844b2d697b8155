//! Semantic validation (ranges, formats, cross-key rules) and the warnings for keys set in
//! both `agent.network` and `agent.ebpf.network`. The bounds are the `pub const`s below;
//! docs/configuration.md lists them per key.

use super::effective::SENSITIVE_HEADERS;
use super::error::{ConfigError, Problem};
use super::model::Config;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::time::Duration;

pub const RING_BUFFER_MIN: u64 = 4096;
pub const RING_BUFFER_MAX: u64 = 1 << 30;
pub const MAX_CONNECTIONS_MAX: u32 = 16 * 1024 * 1024;
pub const MAX_BODY_CAPTURE_MAX: usize = 1 << 20;
pub const MAX_HEADERS_MAX: usize = 1024;
pub const MAX_PAYLOAD_BYTES_MAX: u32 = 65536;
pub const QUEUE_SIZE_MAX: usize = 1 << 20;
pub const MAX_DOMAINS_MAX: usize = 100_000;
/// Every duration must be > 0 and at most this.
pub const DURATION_MAX: Duration = Duration::from_secs(24 * 3600);

/// A rule broken at a key path (no location yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub path: String,
    pub message: String,
}

#[derive(Default)]
struct Checker {
    out: Vec<Violation>,
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Violation { path: path.into(), message: message.into() });
    }

    fn range<T: PartialOrd + Debug + Copy>(&mut self, path: &str, v: T, min: T, max: T) {
        if v < min {
            self.fail(path, format!("must be >= {min:?} (got {v:?})"));
        } else if v > max {
            self.fail(path, format!("must be <= {max:?} (got {v:?})"));
        }
    }

    fn duration(&mut self, path: &str, d: Duration) {
        if d.is_zero() {
            self.fail(path, "must be > 0 (got 0s)");
        } else if d > DURATION_MAX {
            self.fail(
                path,
                format!(
                    "must be <= {} (got {})",
                    humantime::format_duration(DURATION_MAX),
                    humantime::format_duration(d)
                ),
            );
        }
    }

    fn ports(&mut self, path: &str, ports: &[u16]) {
        for (i, p) in ports.iter().enumerate() {
            if *p == 0 {
                self.fail(format!("{path}[{i}]"), "port must be in 1..=65535 (got 0)");
            }
        }
    }

    fn globs(&mut self, path: &str, globs: &[String]) {
        for (i, g) in globs.iter().enumerate() {
            if g.is_empty() {
                self.fail(format!("{path}[{i}]"), "empty glob pattern");
            } else if let Err(e) = globset::Glob::new(g) {
                self.fail(format!("{path}[{i}]"), format!("invalid glob {g:?}: {}", e.kind()));
            }
        }
    }

    fn headers(&mut self, path: &str, headers: &[String]) {
        for (i, h) in headers.iter().enumerate() {
            if !is_header_name(h) {
                self.fail(format!("{path}[{i}]"), format!("invalid HTTP header name {h:?}"));
            }
        }
    }
}

/// RFC 9110 `token`: one or more of ALPHA DIGIT and ``!#$%&'*+-.^_`|~``.
pub fn is_header_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A route pattern: starts with `/`; `{name}` placeholders are whole, non-empty, unnested.
fn route_error(r: &str) -> Option<&'static str> {
    if !r.starts_with('/') {
        return Some("must start with '/'");
    }
    let mut open = false;
    let mut name_len = 0;
    for c in r.chars() {
        match (c, open) {
            ('{', true) => return Some("nested '{'"),
            ('{', false) => (open, name_len) = (true, 0),
            ('}', false) => return Some("'}' without '{'"),
            ('}', true) if name_len == 0 => return Some("empty placeholder '{}'"),
            ('}', true) => open = false,
            ('/', true) => return Some("'{' not closed before '/'"),
            (_, true) => name_len += 1,
            _ => {}
        }
    }
    open.then_some("'{' not closed")
}

impl Config {
    /// Check every rule; problems carry key paths but no file position (see
    /// [`Config::from_yaml_str`], which adds them).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems: Vec<Problem> = self
            .violations()
            .into_iter()
            .map(|v| Problem {
                origin: String::new(),
                line: None,
                column: None,
                path: v.path,
                message: v.message,
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    pub(crate) fn violations(&self) -> Vec<Violation> {
        let mut c = Checker::default();
        let a = &self.agent;
        let n = &a.network;
        if let Some(s) = &a.service_name {
            if s.trim().is_empty() {
                c.fail("agent.service_name", "must not be empty (leave it out instead)");
            }
        }
        let rb = n.ring_buffer_size;
        if !rb.is_power_of_two() {
            c.fail("agent.network.ring_buffer_size", format!("must be a power of two (got {rb})"));
        } else {
            c.range("agent.network.ring_buffer_size", rb, RING_BUFFER_MIN, RING_BUFFER_MAX);
        }
        c.ports("agent.network.include_ports", &n.include_ports);
        c.ports("agent.network.exclude_ports", &n.exclude_ports);
        c.range("agent.network.tcp.sample_rate", n.tcp.sample_rate, 1, u32::MAX);
        c.duration("agent.network.tcp.stats_interval", n.tcp.stats_interval);
        c.range("agent.network.tcp.max_connections", n.tcp.max_connections, 1, MAX_CONNECTIONS_MAX);
        c.range(
            "agent.network.http.max_body_capture",
            n.http.max_body_capture,
            0,
            MAX_BODY_CAPTURE_MAX,
        );
        c.range("agent.network.http.max_headers", n.http.max_headers, 1, MAX_HEADERS_MAX);
        for (i, r) in n.http.routes.iter().enumerate() {
            if let Some(why) = route_error(r) {
                c.fail(
                    format!("agent.network.http.routes[{i}]"),
                    format!("invalid route {r:?}: {why}"),
                );
            }
        }
        c.globs("agent.network.http.exclude_paths", &n.http.exclude_paths);
        c.headers("agent.network.http.capture_headers", &n.http.capture_headers);
        if n.dns.enabled && n.dns.ports.is_empty() {
            c.fail(
                "agent.network.dns.ports",
                "must list at least one port when dns.enabled is true",
            );
        }
        c.ports("agent.network.dns.ports", &n.dns.ports);
        c.duration("agent.network.dns.timeout", n.dns.timeout);
        c.range("agent.network.dns.max_domains", n.dns.max_domains, 1, MAX_DOMAINS_MAX);

        let e = &a.ebpf.network;
        c.globs("agent.ebpf.network.exclude_paths", &e.exclude_paths);
        c.headers("agent.ebpf.network.capture_headers", &e.capture_headers);
        if let Some(p) = &e.include_ports {
            c.ports("agent.ebpf.network.include_ports", p);
        }
        if let Some(p) = &e.exclude_ports {
            c.ports("agent.ebpf.network.exclude_ports", p);
        }
        c.range(
            "agent.ebpf.network.max_payload_bytes",
            e.max_payload_bytes,
            1,
            MAX_PAYLOAD_BYTES_MAX,
        );
        self.check_port_overlap(&mut c);

        let x = &a.exporters;
        if x.prometheus.listen.parse::<SocketAddr>().is_err() {
            c.fail(
                "agent.exporters.prometheus.listen",
                format!(
                    "not a socket address like 127.0.0.1:9464 or [::1]:9464 (got {:?})",
                    x.prometheus.listen
                ),
            );
        }
        let path = &x.prometheus.path;
        if !path.starts_with('/') || path.chars().any(char::is_whitespace) {
            c.fail(
                "agent.exporters.prometheus.path",
                format!("must start with '/' and have no spaces (got {path:?})"),
            );
        }
        let o = &x.otlp;
        if let Some(ep) = o.endpoint.as_deref().filter(|s| !s.is_empty()) {
            if let Err(why) = endpoint_error(ep) {
                c.fail("agent.exporters.otlp.endpoint", why);
            }
        }
        c.duration("agent.exporters.otlp.timeout", o.timeout);
        c.duration("agent.exporters.otlp.interval", o.interval);
        c.range("agent.exporters.otlp.queue_size", o.queue_size, 1, QUEUE_SIZE_MAX);
        c.range("agent.exporters.otlp.max_batch", o.max_batch, 1, o.queue_size.max(1));
        for k in o.resource_attributes.keys() {
            if k.trim().is_empty() {
                c.fail(
                    "agent.exporters.otlp.resource_attributes",
                    "attribute names must not be empty",
                );
            }
        }
        c.out
    }

    /// A port may not be both included and excluded (after the merge rule).
    fn check_port_overlap(&self, c: &mut Checker) {
        let n = &self.agent.network;
        let e = &self.agent.ebpf.network;
        let (inc, inc_path) = match &e.include_ports {
            Some(p) => (p, "agent.ebpf.network.include_ports"),
            None => (&n.include_ports, "agent.network.include_ports"),
        };
        let (exc, exc_path) = match &e.exclude_ports {
            Some(p) => (p, "agent.ebpf.network.exclude_ports"),
            None => (&n.exclude_ports, "agent.network.exclude_ports"),
        };
        for (i, p) in exc.iter().enumerate() {
            if *p != 0 && inc.contains(p) {
                c.fail(format!("{exc_path}[{i}]"), format!("port {p} is also in {inc_path}"));
            }
        }
    }

    /// Things that are allowed but probably not meant: a key set in both places with
    /// different values (says which wins), sensitive headers that will be dropped.
    pub fn warnings(&self) -> Vec<String> {
        let n = &self.agent.network;
        let e = &self.agent.ebpf.network;
        let mut w = Vec::new();
        let mut both = |key: &str, net: &dyn Debug, ebpf: &dyn Debug| {
            w.push(format!(
                "agent.network.{key} ({net:?}) and agent.ebpf.network.{key} ({ebpf:?}) are both set; \
                 agent.ebpf.network.{key} wins"
            ));
        };
        if let Some(p) = e
            .include_ports
            .as_ref()
            .filter(|p| !n.include_ports.is_empty() && **p != n.include_ports)
        {
            both("include_ports", &n.include_ports, p);
        }
        if let Some(p) = e
            .exclude_ports
            .as_ref()
            .filter(|p| !n.exclude_ports.is_empty() && **p != n.exclude_ports)
        {
            both("exclude_ports", &n.exclude_ports, p);
        }
        let mut both_http = |key: &str, net: &[String], ebpf: &[String]| {
            if !net.is_empty() && !ebpf.is_empty() && net != ebpf {
                w.push(format!(
                    "agent.network.http.{key} ({net:?}) and agent.ebpf.network.{key} ({ebpf:?}) are both set; \
                     agent.ebpf.network.{key} wins"
                ));
            }
        };
        both_http("exclude_paths", &n.http.exclude_paths, &e.exclude_paths);
        both_http("capture_headers", &n.http.capture_headers, &e.capture_headers);
        let (_, redacted) = self.merged_capture_headers();
        if !redacted.is_empty() {
            w.push(format!(
                "capture_headers lists sensitive headers {redacted:?} ({}); they are not captured unless \
                 agent.network.http.capture_sensitive_headers is true",
                SENSITIVE_HEADERS.join(", ")
            ));
        }
        w
    }
}

/// An OTLP endpoint must be an absolute http/https URL with a host.
pub(crate) fn endpoint_error(ep: &str) -> Result<(), String> {
    let url = url::Url::parse(ep).map_err(|e| format!("not a URL ({e}) (got {ep:?})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme must be http or https (got {:?} in {ep:?})", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL has no host (got {ep:?})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names() {
        for ok in ["x-request-id", "User-Agent", "a", "x_b.c~d"] {
            assert!(is_header_name(ok), "{ok}");
        }
        for bad in ["", "x y", "a:b", "ä", "(x)"] {
            assert!(!is_header_name(bad), "{bad}");
        }
    }

    #[test]
    fn routes() {
        assert_eq!(route_error("/users/{id}"), None);
        assert_eq!(route_error("/a/{x}/b/{y}"), None);
        assert_eq!(route_error("users"), Some("must start with '/'"));
        assert_eq!(route_error("/a/{}"), Some("empty placeholder '{}'"));
        assert_eq!(route_error("/a/{x"), Some("'{' not closed"));
        assert_eq!(route_error("/a/{x/y}"), Some("'{' not closed before '/'"));
        assert_eq!(route_error("/a/x}"), Some("'}' without '{'"));
        assert_eq!(route_error("/a/{{x}}"), Some("nested '{'"));
    }

    #[test]
    fn endpoints() {
        assert!(endpoint_error("http://127.0.0.1:4317").is_ok());
        assert!(endpoint_error("https://collector.example:4318/").is_ok());
        assert!(endpoint_error("localhost:4317").unwrap_err().contains("scheme"));
        assert!(endpoint_error("ftp://x").unwrap_err().contains("scheme"));
        assert!(endpoint_error("not a url").unwrap_err().contains("not a URL"));
    }

    #[test]
    fn default_is_valid_and_quiet() {
        let c = Config::default();
        assert_eq!(c.violations(), vec![]);
        assert!(c.warnings().is_empty());
    }
}
