//! Configuration parsing: every documented key lands in its field; every error names the
//! key path and the line (and column) it is on.

use std::time::Duration;
use telegen::config::docs::KEY_DOCS;
use telegen::config::keys::KeyIndex;
use telegen::config::{Config, ConfigError, HttpSemconv, OtlpProtocol};

/// Every key, none at its default value.
const FULL: &str = r#"
agent:
  service_name: checkout
  network:
    enabled: false
    ring_buffer_size: 65536
    include_ports: [80, 443]
    exclude_ports: [22]
    tcp:
      enabled: false
      rtt: false
      retransmits: false
      connection_tracking: false
      sample_rate: 7
      stats_interval: 1m 30s
      max_connections: 1000
    http:
      max_body_capture: 256
      max_headers: 16
      routes: ["/users/{id}", "/orders/{order}/items"]
      capture_sensitive_headers: true
      exclude_paths: ["/metrics"]
      capture_headers: [x-trace]
      semconv_stability_opt_in: http/dup
    dns:
      enabled: false
      capture_queries: false
      capture_responses: false
      capture_content: false
      ports: [8053]
      timeout: 750ms
      max_domains: 42
  ebpf:
    conn_stats:
      enabled: false
    network:
      enabled: false
      http: false
      grpc: false
      exclude_paths: ["/health*", "/ready"]
      capture_headers: [X-Request-Id, authorization]
      include_ports: [8080]
      exclude_ports: []
      max_payload_bytes: 1024
  exporters:
    prometheus:
      enabled: false
      listen: "[::1]:9000"
      path: /m
    otlp:
      endpoint: http://127.0.0.1:4318
      protocol: http/protobuf
      timeout: 3s
      interval: 1m
      queue_size: 100
      max_batch: 10
      traces: false
      metrics: false
      logs: false
      resource_attributes:
        deployment.environment: test
        host.name: h1
    stdout:
      json: true
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml_str(text, "config.yaml")
}

fn err(text: &str) -> ConfigError {
    match parse(text) {
        Ok(c) => panic!("expected an error, parsed {c:?}"),
        Err(e) => e,
    }
}

/// (path, line, column) of the first problem.
fn first(e: &ConfigError) -> (String, Option<u64>, Option<u64>) {
    let p = e.problems().first().unwrap_or_else(|| panic!("no problems in {e}"));
    (p.path.clone(), p.line, p.column)
}

#[test]
fn every_documented_key_is_in_the_full_fixture() {
    let index = KeyIndex::build(FULL).unwrap();
    for d in KEY_DOCS {
        assert!(index.position_of(d.path).is_some(), "FULL does not set {}", d.path);
    }
}

#[test]
fn every_key_lands_in_its_field() {
    let c = parse(FULL).unwrap();
    let a = &c.agent;
    assert_eq!(a.service_name.as_deref(), Some("checkout"));
    let n = &a.network;
    assert!(!n.enabled);
    assert_eq!(n.ring_buffer_size, 65536);
    assert_eq!(n.include_ports, vec![80, 443]);
    assert_eq!(n.exclude_ports, vec![22]);
    assert!(!n.tcp.enabled && !n.tcp.rtt && !n.tcp.retransmits && !n.tcp.connection_tracking);
    assert_eq!(n.tcp.sample_rate, 7);
    assert_eq!(n.tcp.stats_interval, Duration::from_secs(90));
    assert_eq!(n.tcp.max_connections, 1000);
    assert_eq!(n.http.max_body_capture, 256);
    assert_eq!(n.http.max_headers, 16);
    assert_eq!(n.http.routes, vec!["/users/{id}", "/orders/{order}/items"]);
    assert!(n.http.capture_sensitive_headers);
    assert_eq!(n.http.exclude_paths, vec!["/metrics"]);
    assert_eq!(n.http.capture_headers, vec!["x-trace"]);
    assert_eq!(n.http.semconv_stability_opt_in, HttpSemconv::Dup);
    let d = &n.dns;
    assert!(!d.enabled && !d.capture_queries && !d.capture_responses && !d.capture_content);
    assert_eq!(d.ports, vec![8053]);
    assert_eq!(d.timeout, Duration::from_millis(750));
    assert_eq!(d.max_domains, 42);
    assert!(!a.ebpf.conn_stats.enabled);
    let e = &a.ebpf.network;
    assert!(!e.enabled && !e.http && !e.grpc);
    assert_eq!(e.exclude_paths, vec!["/health*", "/ready"]);
    assert_eq!(e.capture_headers, vec!["X-Request-Id", "authorization"]);
    assert_eq!(e.include_ports, Some(vec![8080]));
    assert_eq!(e.exclude_ports, Some(vec![]));
    assert_eq!(e.max_payload_bytes, 1024);
    let p = &a.exporters.prometheus;
    assert!(!p.enabled);
    assert_eq!((p.listen.as_str(), p.path.as_str()), ("[::1]:9000", "/m"));
    let o = &a.exporters.otlp;
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:4318"));
    assert_eq!(o.protocol, Some(OtlpProtocol::HttpProtobuf));
    assert_eq!((o.timeout, o.interval), (Duration::from_secs(3), Duration::from_secs(60)));
    assert_eq!((o.queue_size, o.max_batch), (100, 10));
    assert!(!o.traces && !o.metrics && !o.logs);
    assert_eq!(
        o.resource_attributes.get("deployment.environment").map(String::as_str),
        Some("test")
    );
    assert_eq!(o.resource_attributes.get("host.name").map(String::as_str), Some("h1"));
    assert!(a.exporters.stdout.json);
}

#[test]
fn empty_documents_and_empty_sections_mean_defaults() {
    assert_eq!(parse("").unwrap(), Config::default());
    assert_eq!(parse("# nothing\n").unwrap(), Config::default());
    assert_eq!(parse("agent:\n").unwrap(), Config::default());
    assert_eq!(
        parse("agent:\n  network:\n    tcp:\n    # sample_rate: 5\n").unwrap(),
        Config::default()
    );
}

#[test]
fn flow_style_works_like_block_style() {
    let c = parse("agent: {network: {tcp: {sample_rate: 3}, include_ports: [8080]}}\n").unwrap();
    assert_eq!(c.agent.network.tcp.sample_rate, 3);
    assert_eq!(c.agent.network.include_ports, vec![8080]);
}

// ---- unknown keys ----------------------------------------------------------------------

#[test]
fn unknown_key_at_the_top() {
    let e = err("agnet:\n  network: {}\n");
    assert_eq!(first(&e), ("agnet".into(), Some(1), Some(1)));
    assert!(e.to_string().contains("unknown key `agnet`"), "{e}");
}

#[test]
fn unknown_key_at_depth_two_three_four() {
    let e = err("agent:\n  netwrok: {}\n");
    assert_eq!(first(&e), ("agent.netwrok".into(), Some(2), Some(3)));
    let e = err("agent:\n  network:\n    enabled: true\n    bogus: 1\n");
    assert_eq!(first(&e), ("agent.network.bogus".into(), Some(4), Some(5)));
    let e = err("agent:\n  network:\n    tcp:\n      rtt: true\n      smaple_rate: 2\n");
    assert_eq!(first(&e), ("agent.network.tcp.smaple_rate".into(), Some(5), Some(7)));
    assert!(e.to_string().contains("sample_rate"), "names the expected keys: {e}");
    let e = err("agent:\n  ebpf:\n    network:\n      include_port: [80]\n");
    assert_eq!(first(&e), ("agent.ebpf.network.include_port".into(), Some(4), Some(7)));
}

#[test]
fn duplicate_key_is_an_error_with_its_line() {
    let e = err("agent:\n  network:\n    enabled: true\n    enabled: false\n");
    assert!(matches!(e, ConfigError::Syntax { line: 4, column: 5, .. }), "{e:?}");
    assert!(e.to_string().contains("duplicate"), "{e}");
}

#[test]
fn yaml_syntax_error_has_its_line() {
    let e = err("agent:\n  network:\n    include_ports: [80,\n");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
    assert!(e.line().is_some_and(|l| l >= 3), "{e}");
    assert!(e.to_string().starts_with("config.yaml:"), "{e}");
}

// ---- wrong types -----------------------------------------------------------------------

#[test]
fn wrong_type_integer() {
    let e = err("agent:\n  network:\n    tcp:\n      sample_rate: often\n");
    assert_eq!(first(&e), ("agent.network.tcp.sample_rate".into(), Some(4), Some(20)));
    assert!(e.to_string().contains("expected an integer"), "{e}");
}

#[test]
fn wrong_type_negative_and_too_large() {
    let e = err("agent:\n  network:\n    tcp:\n      sample_rate: -1\n");
    assert_eq!(first(&e).0, "agent.network.tcp.sample_rate");
    let e = err("agent:\n  network:\n    include_ports: [80, 70000]\n");
    assert_eq!(first(&e), ("agent.network.include_ports[1]".into(), Some(3), Some(25)));
    assert!(e.to_string().contains("0..=65535"), "{e}");
}

#[test]
fn wrong_type_in_a_block_list() {
    let e = err("agent:\n  network:\n    dns:\n      ports:\n        - 53\n        - domain\n");
    assert_eq!(first(&e), ("agent.network.dns.ports[1]".into(), Some(6), Some(11)));
}

#[test]
fn wrong_type_bool_duration_section_enum() {
    let e = err("agent:\n  network:\n    enabled: maybe\n");
    assert_eq!(first(&e), ("agent.network.enabled".into(), Some(3), Some(14)));
    let e = err("agent:\n  network:\n    tcp:\n      stats_interval: 5 parsecs\n");
    assert_eq!(first(&e).0, "agent.network.tcp.stats_interval");
    assert_eq!(first(&e).1, Some(4));
    assert!(e.to_string().contains("duration"), "{e}");
    let e = err("agent:\n  network:\n    tcp: 5\n");
    assert_eq!(first(&e).0, "agent.network.tcp");
    assert!(e.to_string().contains("mapping"), "{e}");
    let e = err("agent:\n  exporters:\n    otlp:\n      protocol: http/json\n");
    assert_eq!(first(&e), ("agent.exporters.otlp.protocol".into(), Some(4), Some(17)));
    assert!(e.to_string().contains("grpc"), "lists the accepted values: {e}");
    let e = err("agent:\n  network:\n    http:\n      semconv_stability_opt_in: stable\n");
    assert_eq!(first(&e).0, "agent.network.http.semconv_stability_opt_in");
}

// ---- out of range and bad formats (validation) ------------------------------------------

#[test]
fn sample_rate_zero_message_is_exact() {
    let e = err("agent:\n  network:\n    tcp:\n      sample_rate: 0\n");
    assert_eq!(
        e.to_string(),
        "config.yaml:4:7: agent.network.tcp.sample_rate: must be >= 1 (got 0)"
    );
}

/// (text, key path, line) for one rule each.
const RANGE_CASES: &[(&str, &str, u64)] = &[
    ("agent:\n  network:\n    ring_buffer_size: 100000\n", "agent.network.ring_buffer_size", 3),
    ("agent:\n  network:\n    ring_buffer_size: 2048\n", "agent.network.ring_buffer_size", 3),
    ("agent:\n  network:\n    ring_buffer_size: 2147483648\n", "agent.network.ring_buffer_size", 3),
    ("agent:\n  network:\n    include_ports: [80, 0]\n", "agent.network.include_ports[1]", 3),
    ("agent:\n  network:\n    exclude_ports:\n      - 0\n", "agent.network.exclude_ports[0]", 4),
    (
        "agent:\n  ebpf:\n    network:\n      include_ports: [0]\n",
        "agent.ebpf.network.include_ports[0]",
        4,
    ),
    (
        "agent:\n  ebpf:\n    network:\n      exclude_ports: [0]\n",
        "agent.ebpf.network.exclude_ports[0]",
        4,
    ),
    (
        "agent:\n  network:\n    tcp:\n      stats_interval: 0s\n",
        "agent.network.tcp.stats_interval",
        4,
    ),
    (
        "agent:\n  network:\n    tcp:\n      stats_interval: 2days\n",
        "agent.network.tcp.stats_interval",
        4,
    ),
    (
        "agent:\n  network:\n    tcp:\n      max_connections: 0\n",
        "agent.network.tcp.max_connections",
        4,
    ),
    (
        "agent:\n  network:\n    tcp:\n      max_connections: 20000000\n",
        "agent.network.tcp.max_connections",
        4,
    ),
    (
        "agent:\n  network:\n    http:\n      max_body_capture: 2000000\n",
        "agent.network.http.max_body_capture",
        4,
    ),
    ("agent:\n  network:\n    http:\n      max_headers: 0\n", "agent.network.http.max_headers", 4),
    (
        "agent:\n  network:\n    http:\n      routes: [/ok, \"users/{id}\"]\n",
        "agent.network.http.routes[1]",
        4,
    ),
    ("agent:\n  network:\n    dns:\n      timeout: 0ms\n", "agent.network.dns.timeout", 4),
    ("agent:\n  network:\n    dns:\n      max_domains: 0\n", "agent.network.dns.max_domains", 4),
    ("agent:\n  network:\n    dns:\n      ports: [53, 0]\n", "agent.network.dns.ports[1]", 4),
    ("agent:\n  network:\n    dns:\n      ports: []\n", "agent.network.dns.ports", 4),
    (
        "agent:\n  ebpf:\n    network:\n      max_payload_bytes: 0\n",
        "agent.ebpf.network.max_payload_bytes",
        4,
    ),
    (
        "agent:\n  ebpf:\n    network:\n      max_payload_bytes: 100000\n",
        "agent.ebpf.network.max_payload_bytes",
        4,
    ),
    (
        "agent:\n  exporters:\n    prometheus:\n      path: metrics\n",
        "agent.exporters.prometheus.path",
        4,
    ),
    ("agent:\n  exporters:\n    otlp:\n      timeout: 0s\n", "agent.exporters.otlp.timeout", 4),
    ("agent:\n  exporters:\n    otlp:\n      interval: 0s\n", "agent.exporters.otlp.interval", 4),
    (
        "agent:\n  exporters:\n    otlp:\n      queue_size: 0\n",
        "agent.exporters.otlp.queue_size",
        4,
    ),
    (
        "agent:\n  exporters:\n    otlp:\n      queue_size: 2000000\n",
        "agent.exporters.otlp.queue_size",
        4,
    ),
    ("agent:\n  exporters:\n    otlp:\n      max_batch: 0\n", "agent.exporters.otlp.max_batch", 4),
    ("agent:\n  service_name: \"  \"\n", "agent.service_name", 2),
];

#[test]
fn every_range_rule_names_key_and_line() {
    for (text, path, line) in RANGE_CASES {
        let e = err(text);
        let (p, l, c) = first(&e);
        assert_eq!((p.as_str(), l), (*path, Some(*line)), "for {text:?}: {e}");
        assert!(c.is_some(), "column for {text:?}");
        assert!(e.to_string().starts_with(&format!("config.yaml:{line}:")), "{e}");
    }
}

#[test]
fn range_messages_say_what_is_allowed() {
    let msg = |t: &str| err(t).problems()[0].message.clone();
    assert_eq!(
        msg("agent:\n  network:\n    ring_buffer_size: 100000\n"),
        "must be a power of two (got 100000)"
    );
    assert_eq!(
        msg("agent:\n  network:\n    ring_buffer_size: 2048\n"),
        "must be >= 4096 (got 2048)"
    );
    assert_eq!(
        msg("agent:\n  network:\n    ring_buffer_size: 2147483648\n"),
        "must be <= 1073741824 (got 2147483648)"
    );
    assert_eq!(msg("agent:\n  network:\n    dns:\n      timeout: 0s\n"), "must be > 0 (got 0s)");
    assert!(msg("agent:\n  network:\n    dns:\n      ports: []\n").contains("at least one port"));
}

#[test]
fn dns_ports_may_be_empty_when_dns_is_off() {
    let c = parse("agent:\n  network:\n    dns:\n      enabled: false\n      ports: []\n").unwrap();
    assert!(c.agent.network.dns.ports.is_empty());
}

#[test]
fn port_both_included_and_excluded() {
    let e = err("agent:\n  network:\n    include_ports: [80, 443]\n    exclude_ports: [22, 443]\n");
    assert_eq!(first(&e), ("agent.network.exclude_ports[1]".into(), Some(4), Some(25)));
    assert!(e.to_string().contains("port 443 is also in agent.network.include_ports"), "{e}");
    // After the merge: agent.ebpf.network.include_ports replaces agent.network's list.
    let text = "agent:\n  network:\n    exclude_ports: [8080]\n  ebpf:\n    network:\n      include_ports: [8080]\n";
    assert_eq!(first(&err(text)).0, "agent.network.exclude_ports[0]");
}

#[test]
fn bad_glob() {
    let e = err("agent:\n  ebpf:\n    network:\n      exclude_paths:\n        - /health*\n        - /api/[v1\n");
    assert_eq!(first(&e), ("agent.ebpf.network.exclude_paths[1]".into(), Some(6), Some(11)));
    assert!(e.to_string().contains("invalid glob"), "{e}");
    let e = err("agent:\n  network:\n    http:\n      exclude_paths: [\"/a{b\"]\n");
    assert_eq!(first(&e).0, "agent.network.http.exclude_paths[0]");
}

#[test]
fn bad_header_name() {
    let e = err("agent:\n  ebpf:\n    network:\n      capture_headers: [x-ok, \"bad header\"]\n");
    assert_eq!(first(&e), ("agent.ebpf.network.capture_headers[1]".into(), Some(4), Some(31)));
    let e = err("agent:\n  network:\n    http:\n      capture_headers: [\"a:b\"]\n");
    assert_eq!(first(&e).0, "agent.network.http.capture_headers[0]");
}

#[test]
fn bad_listen_address() {
    for bad in ["localhost:9464", "127.0.0.1", "1.2.3.4:99999", "[::1]"] {
        let e = err(&format!("agent:\n  exporters:\n    prometheus:\n      listen: \"{bad}\"\n"));
        assert_eq!(
            first(&e),
            ("agent.exporters.prometheus.listen".into(), Some(4), Some(7)),
            "{bad}"
        );
        assert!(e.to_string().contains("socket address"), "{e}");
    }
}

#[test]
fn bad_otlp_endpoint() {
    for bad in ["localhost:4317", "ftp://collector:21", "http://", "::"] {
        let e = err(&format!("agent:\n  exporters:\n    otlp:\n      endpoint: \"{bad}\"\n"));
        assert_eq!(
            first(&e),
            ("agent.exporters.otlp.endpoint".into(), Some(4), Some(7)),
            "{bad}: {e}"
        );
    }
    // An empty endpoint means "off", like leaving it out.
    let c = parse("agent:\n  exporters:\n    otlp:\n      endpoint: \"\"\n").unwrap();
    assert!(c.effective().otlp.is_none());
}

#[test]
fn a_default_that_breaks_a_rule_points_at_the_nearest_written_key() {
    // max_batch keeps its default (512), which is now larger than queue_size.
    let e = err("agent:\n  exporters:\n    otlp:\n      queue_size: 100\n");
    assert_eq!(first(&e), ("agent.exporters.otlp.max_batch".into(), Some(3), Some(5)));
    assert!(e.to_string().contains("must be <= 100 (got 512)"), "{e}");
}

#[test]
fn all_problems_are_reported_each_with_its_line() {
    let text = "agent:\n  network:\n    ring_buffer_size: 3\n    tcp:\n      sample_rate: 0\n  exporters:\n    prometheus:\n      listen: nowhere\n";
    let e = err(text);
    let got: Vec<(&str, Option<u64>)> =
        e.problems().iter().map(|p| (p.path.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("agent.network.ring_buffer_size", Some(3)),
            ("agent.network.tcp.sample_rate", Some(5)),
            ("agent.exporters.prometheus.listen", Some(8)),
        ]
    );
    assert_eq!(e.to_string().lines().count(), 3);
}

#[test]
fn validate_without_a_file_names_the_key_only() {
    let mut c = Config::default();
    c.agent.network.tcp.sample_rate = 0;
    let e = c.validate().unwrap_err();
    assert_eq!(e.to_string(), "agent.network.tcp.sample_rate: must be >= 1 (got 0)");
    assert!(Config::default().validate().is_ok());
}

// ---- files -------------------------------------------------------------------------------

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("telegen-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn load_names_the_file_in_errors() {
    let path = temp_file("bad.yaml", "agent:\n  network:\n    tcp:\n      sample_rate: 0\n");
    let e = Config::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:4:7: agent.network.tcp.sample_rate: must be >= 1 (got 0)", path.display())
    );
    let e = Config::load(path.with_file_name("missing.yaml")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
}

#[test]
fn check_file_returns_warnings() {
    let path = temp_file(
        "warn.yaml",
        "agent:\n  network:\n    include_ports: [80]\n  ebpf:\n    network:\n      include_ports: [8080]\n",
    );
    let warnings = telegen::config::check_file(&path).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("agent.ebpf.network.include_ports wins"), "{warnings:?}");
    let ok = temp_file("ok.yaml", &telegen::config::default_yaml());
    assert_eq!(telegen::config::check_file(&ok).unwrap(), Vec::<String>::new());
}

#[test]
fn the_example_in_docs_configuration_md_is_valid() {
    let page = include_str!("../../../../docs/configuration.md");
    let start = page.find("```yaml\n").expect("a yaml example") + "```yaml\n".len();
    let end = start + page[start..].find("```").expect("closed");
    let c = parse(&page[start..end]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.agent.network.tcp.sample_rate, 10);
    assert!(c.warnings().is_empty());
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any text gives a configuration or an error, never a panic.
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            let _ = Config::from_yaml_str(&text, "fuzz.yaml");
        }

        /// The full fixture with a slice cut out or replaced: mostly broken YAML, wrong
        /// types at every depth. Problems always carry a key path.
        #[test]
        fn damaged_fixture(start in 0usize..FULL.len(), len in 0usize..40, insert in "[ :\\-\\[\\]{}a-z0-9\\n]{0,6}") {
            let end = (start + len).min(FULL.len());
            if FULL.is_char_boundary(start) && FULL.is_char_boundary(end) {
                let text = format!("{}{}{}", &FULL[..start], insert, &FULL[end..]);
                if let Err(e) = Config::from_yaml_str(&text, "fuzz.yaml") {
                    for p in e.problems() {
                        prop_assert!(!p.path.is_empty());
                        prop_assert!(p.line.is_some(), "{}", e);
                    }
                }
            }
        }
    }
}
