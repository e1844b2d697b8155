//! `agent.network` vs `agent.ebpf.network`: which wins, the warnings, and the effective
//! settings the agent reads.

use std::time::Duration;
use telegen::config::{Config, HttpSemconv, OtlpProtocol};

fn parse(text: &str) -> Config {
    Config::from_yaml_str(text, "merge.yaml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn ebpf_network_ports_win_and_warn_when_different() {
    let c = parse(
        "agent:\n  network:\n    include_ports: [80]\n    exclude_ports: [22]\n  ebpf:\n    network:\n      include_ports: [8080]\n      exclude_ports: [9090]\n",
    );
    let e = c.effective();
    assert_eq!(e.include_ports, vec![8080]);
    assert_eq!(e.exclude_ports, vec![9090]);
    let w = c.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("agent.network.include_ports ([80])"), "{w:?}");
    assert!(w[0].contains("agent.ebpf.network.include_ports ([8080])"), "{w:?}");
    assert!(w[0].ends_with("agent.ebpf.network.include_ports wins"), "{w:?}");
    assert!(w[1].contains("exclude_ports"), "{w:?}");
}

#[test]
fn same_values_in_both_places_do_not_warn() {
    let c = parse("agent:\n  network:\n    include_ports: [80]\n  ebpf:\n    network:\n      include_ports: [80]\n");
    assert!(c.warnings().is_empty());
    assert_eq!(c.effective().include_ports, vec![80]);
}

#[test]
fn only_one_place_set() {
    let c = parse("agent:\n  network:\n    include_ports: [80, 443]\n");
    assert_eq!(c.effective().include_ports, vec![80, 443]);
    assert!(c.warnings().is_empty());
    let c = parse("agent:\n  ebpf:\n    network:\n      exclude_ports: [22]\n");
    assert_eq!(c.effective().exclude_ports, vec![22]);
}

#[test]
fn ebpf_empty_list_explicitly_clears_the_network_list() {
    let c = parse("agent:\n  network:\n    include_ports: [80]\n  ebpf:\n    network:\n      include_ports: []\n");
    assert_eq!(c.effective().include_ports, Vec::<u16>::new());
    assert_eq!(c.warnings().len(), 1);
}

#[test]
fn exclude_paths_and_capture_headers_merge() {
    let c = parse(
        "agent:\n  network:\n    http:\n      exclude_paths: [/a]\n      capture_headers: [x-a]\n  ebpf:\n    network:\n      exclude_paths: [/b*]\n      capture_headers: [X-B, x-b]\n",
    );
    let e = c.effective();
    assert_eq!(e.http.exclude_paths, vec!["/b*"]);
    assert_eq!(e.http.capture_headers, vec!["x-b"], "lower-cased, de-duplicated");
    let w = c.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("agent.network.http.exclude_paths")
            && w[0].ends_with("agent.ebpf.network.exclude_paths wins")
    );
    assert!(w[1].ends_with("agent.ebpf.network.capture_headers wins"));
    // Only under agent.network.http: used as is.
    let c = parse(
        "agent:\n  network:\n    http:\n      exclude_paths: [/a]\n      capture_headers: [x-a]\n",
    );
    assert_eq!(c.effective().http.exclude_paths, vec!["/a"]);
    assert_eq!(c.effective().http.capture_headers, vec!["x-a"]);
}

#[test]
fn exclude_matcher_uses_the_globs() {
    let c = parse("agent:\n  ebpf:\n    network:\n      exclude_paths: [\"/health*\", /ready]\n");
    let m = c.effective().http.exclude_matcher().unwrap();
    assert!(m.is_match("/healthz"));
    assert!(m.is_match("/health/live"));
    assert!(m.is_match("/ready"));
    assert!(!m.is_match("/users/1"));
}

#[test]
fn sensitive_headers_are_removed_unless_allowed() {
    let text = "agent:\n  ebpf:\n    network:\n      capture_headers: [Authorization, cookie, Set-Cookie, proxy-authorization, x-request-id]\n";
    let c = parse(text);
    let e = c.effective();
    assert_eq!(e.http.capture_headers, vec!["x-request-id"]);
    assert_eq!(
        e.http.redacted_headers,
        vec!["authorization", "cookie", "set-cookie", "proxy-authorization"]
    );
    let w = c.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("capture_sensitive_headers"), "{w:?}");

    let allowed = format!("{text}  network:\n    http:\n      capture_sensitive_headers: true\n");
    let c = parse(&allowed);
    assert_eq!(c.effective().http.capture_headers.len(), 5);
    assert!(c.effective().http.redacted_headers.is_empty());
    assert!(c.warnings().is_empty());
}

#[test]
fn defaults_as_effective_settings() {
    let e = Config::default().effective();
    assert!(e.include_ports.is_empty() && e.exclude_ports.is_empty());
    assert_eq!(e.ring_buffer_size, 16 << 20);
    assert!(
        e.tcp.enabled
            && e.tcp.rtt
            && e.tcp.retransmits
            && e.tcp.connection_tracking
            && e.tcp.conn_stats
    );
    assert_eq!(
        (e.tcp.sample_rate, e.tcp.stats_interval, e.tcp.max_connections),
        (1, Duration::from_secs(10), 65536)
    );
    assert!(e.payload.enabled && e.http.enabled && e.http.grpc && e.dns.enabled);
    assert_eq!(e.payload.max_payload_bytes, 4096);
    assert_eq!((e.http.max_body_capture, e.http.max_headers), (0, 64));
    assert_eq!(e.http.semconv, HttpSemconv::Old);
    assert_eq!(e.dns.ports, vec![53, 5353]);
    assert_eq!((e.dns.timeout, e.dns.max_domains), (Duration::from_secs(5), 500));
    assert_eq!(e.service_name, "telegen");
    let p = e.prometheus.expect("prometheus on by default");
    assert_eq!((p.listen.as_str(), p.path.as_str()), ("127.0.0.1:9464", "/metrics"));
    assert!(e.otlp.is_none(), "no endpoint, no OTLP");
    assert!(!e.stdout_json);
}

#[test]
fn switches_nest() {
    let e = parse("agent:\n  network:\n    enabled: false\n").effective();
    assert!(
        !e.tcp.enabled && !e.payload.enabled && !e.http.enabled && !e.http.grpc && !e.dns.enabled
    );
    let e = parse("agent:\n  ebpf:\n    network:\n      enabled: false\n").effective();
    assert!(e.tcp.enabled && e.dns.enabled);
    assert!(!e.payload.enabled && !e.http.enabled && !e.http.grpc);
    let e = parse("agent:\n  ebpf:\n    network:\n      grpc: false\n").effective();
    assert!(e.http.enabled && !e.http.grpc);
    let e = parse("agent:\n  exporters:\n    prometheus:\n      enabled: false\n").effective();
    assert!(e.prometheus.is_none());
}

#[test]
fn otlp_protocol_follows_the_port_unless_set() {
    let ep = |url: &str, proto: &str| {
        let text = format!("agent:\n  exporters:\n    otlp:\n      endpoint: {url}\n{proto}");
        parse(&text).effective().otlp.expect("endpoint set").protocol
    };
    assert_eq!(ep("http://127.0.0.1:4318", ""), OtlpProtocol::HttpProtobuf);
    assert_eq!(ep("http://127.0.0.1:4317", ""), OtlpProtocol::Grpc);
    assert_eq!(ep("https://collector.example", ""), OtlpProtocol::Grpc);
    assert_eq!(
        ep("http://127.0.0.1:4317", "      protocol: http/protobuf\n"),
        OtlpProtocol::HttpProtobuf
    );
}

#[test]
fn service_name_falls_back_to_the_resource_attribute() {
    let c = parse("agent:\n  exporters:\n    otlp:\n      endpoint: http://127.0.0.1:4317\n      resource_attributes:\n        service.name: from-attrs\n        team: net\n");
    let e = c.effective();
    assert_eq!(e.service_name, "from-attrs");
    assert_eq!(e.otlp.unwrap().resource_attributes, vec![("team".to_string(), "net".to_string())]);
    let c = parse("agent:\n  service_name: explicit\n  exporters:\n    otlp:\n      resource_attributes:\n        service.name: from-attrs\n");
    assert_eq!(c.effective().service_name, "explicit");
}
