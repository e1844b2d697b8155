//! Replay of our own captures (crates/telegen/tests/captures/*.pcap), recorded with
//! tcpdump on `lo` by scripts/make-test-captures.sh while real servers (nginx, a python3
//! chunked server, dnsmasq) answered real clients (curl, python3 sockets, dig). The facts
//! asserted here are the ones that script caused: each test names its step ("step H1",
//! ...) and the values come from the script (file sizes, nginx `return` bodies, dnsmasq
//! records) and from its log (curl's `%{http_code} %{size_download}`), kept next to the
//! captures in make-test-captures.log.
//!
//! The normalized record list of each capture is also kept as an insta snapshot
//! (tests/replay/snapshots/replay__own__*.snap) so that any change in output gets reviewed.
//!
//! Also checked: `exclude_paths`, `capture_headers`, `include_ports` / `exclude_ports`
//! and `dns.capture_content` change the replay output as configured.

use crate::common::replay::records;
use serde_json::Value;
use std::path::PathBuf;
use telegen::config::{Config, Effective};
use telegen::replay::ReplaySummary;

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/captures").join(name)
}

fn eff(yaml: &str) -> Effective {
    Config::from_yaml_str(yaml, "test").unwrap().effective()
}

/// Replays one of our captures; records as JSON, random trace/span ids removed.
fn replay(name: &str, eff: &Effective) -> (Vec<Value>, ReplaySummary) {
    records(&capture(name), eff).unwrap_or_else(|e| panic!("replaying {name}: {e:#}"))
}

fn replay_default(name: &str) -> (Vec<Value>, ReplaySummary) {
    replay(name, &Config::default().effective())
}

fn attr<'a>(r: &'a Value, key: &str) -> &'a Value {
    &r["attributes"][key]
}

fn s(r: &Value, key: &str) -> String {
    match attr(r, key) {
        Value::String(s) => s.clone(),
        other => panic!("attribute {key} is not a string: {other} in {r}"),
    }
}

fn n(r: &Value, key: &str) -> i64 {
    attr(r, key).as_i64().unwrap_or_else(|| panic!("attribute {key} is not an integer in {r}"))
}

fn strs(r: &Value, key: &str) -> Vec<String> {
    attr(r, key)
        .as_array()
        .unwrap_or_else(|| panic!("attribute {key} is not a list in {r}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// (method, target, status, request body, response body) of every span, in output order.
fn http_facts(recs: &[Value]) -> Vec<(String, String, i64, i64, i64)> {
    recs.iter()
        .filter(|r| r["type"] == "span")
        .map(|r| {
            (
                s(r, "http.method"),
                s(r, "http.target"),
                n(r, "http.status_code"),
                n(r, "http.request_content_length"),
                n(r, "http.response_content_length"),
            )
        })
        .collect()
}

fn f(m: &str, t: &str, st: i64, req: i64, resp: i64) -> (String, String, i64, i64, i64) {
    (m.to_string(), t.to_string(), st, req, resp)
}

/// No parse failure, no gap, no malformed packet.
fn assert_clean(sum: &ReplaySummary) {
    let p = &sum.parse;
    assert_eq!(
        (p.errors_malformed, p.errors_buffer_full, p.resync_bytes_skipped, p.unmatched_responses),
        (0, 0, 0, 0),
        "{p:?}"
    );
    assert_eq!((sum.gaps, sum.malformed_packets), (0, 0), "{sum:?}");
}

fn assert_spans_well_formed(recs: &[Value]) {
    for r in recs {
        let (a, b) = (r["start_time_unix_nano"].as_u64(), r["end_time_unix_nano"].as_u64());
        let (a, b) = (a.unwrap(), b.unwrap());
        // The captures were made in November 2026 (capture time, not replay time).
        assert!(a > 1_790_000_000_000_000_000 && a <= b, "{r}");
        assert_eq!(s(r, "net.peer.ip"), "127.0.0.1");
        assert_eq!(r["kind"], "SERVER");
    }
}

#[test]
fn step_h1_keepalive_three_gets_on_one_connection() {
    let (recs, sum) = replay_default("http-keepalive.pcap");
    assert_clean(&sum);
    assert_eq!(sum.tcp_flows, 1);
    // index.html = "hello from nginx\n", a.txt = "file a\n", b.json = "{\"b\":true}\n".
    assert_eq!(
        http_facts(&recs),
        vec![
            f("GET", "/index.html", 200, 0, 17),
            f("GET", "/a.txt", 200, 0, 7),
            f("GET", "/b.json", 200, 0, 11)
        ]
    );
    assert_spans_well_formed(&recs);
    let ports: Vec<i64> = recs.iter().map(|r| n(r, "net.peer.port")).collect();
    assert!(ports.iter().all(|p| *p == ports[0]), "one connection: {ports:?}");
    for r in &recs {
        assert_eq!(s(r, "net.host.name"), "127.0.0.1:18080");
        assert_eq!(s(r, "http.url"), format!("http://127.0.0.1:18080{}", s(r, "http.target")));
        assert_eq!(n(r, "server.port"), 18080);
        // No header is captured by default.
        let keys = r["attributes"].as_object().unwrap().keys();
        assert!(keys.clone().all(|k| !k.starts_with("http.request.header.")), "{r}");
    }
    insta::assert_json_snapshot!("http-keepalive", recs);
}

#[test]
fn step_h2_post_404_and_health() {
    let (recs, sum) = replay_default("http-post-404-health.pcap");
    assert_clean(&sum);
    assert_eq!(sum.tcp_flows, 3, "curl: /submit, /missing.html, /health + /healthz");
    // POST body 'name=telegen&value=42' (21 bytes) -> nginx `return 201 "created\n"`;
    // nginx's 404 page is 146 bytes (curl size_download); /health* -> `return 200 "ok\n"`.
    assert_eq!(
        http_facts(&recs),
        vec![
            f("POST", "/submit", 201, 21, 8),
            f("GET", "/missing.html", 404, 0, 146),
            f("GET", "/health", 200, 0, 3),
            f("GET", "/healthz?probe=1", 200, 0, 3)
        ]
    );
    assert_spans_well_formed(&recs);
    assert_eq!(s(&recs[3], "http.route"), "/healthz", "query string dropped from the route");
    assert_eq!(recs[0]["name"], "POST /submit");
    insta::assert_json_snapshot!("http-post-404-health", recs);
}

#[test]
fn step_h3_large_response_over_several_segments() {
    let (recs, sum) = replay_default("http-large.pcap");
    assert_clean(&sum);
    // large.txt: 750 lines of 33 bytes, sent rate-limited (limit_rate 8k) in 4+ segments.
    assert_eq!(http_facts(&recs), vec![f("GET", "/large.txt", 200, 0, 24_750)]);
    assert_spans_well_formed(&recs);
    let d = recs[0]["duration_ms"].as_f64().unwrap();
    assert!(d > 1000.0, "rate-limited response lasts seconds, got {d} ms");
    insta::assert_json_snapshot!("http-large", recs);
}

#[test]
fn step_h4_pipelined_requests_match_their_responses() {
    let (recs, sum) = replay_default("http-pipelined.pcap");
    assert_clean(&sum);
    // Three requests in one 226-byte write before any response; responses in order.
    assert_eq!(
        http_facts(&recs),
        vec![
            f("GET", "/index.html", 200, 0, 17),
            f("GET", "/a.txt", 200, 0, 7),
            f("GET", "/b.json", 200, 0, 11)
        ]
    );
    assert_spans_well_formed(&recs);
    for r in &recs {
        assert_eq!(s(r, "net.host.name"), "pipe.test");
    }
    insta::assert_json_snapshot!("http-pipelined", recs);
}

#[test]
fn step_h5_chunked_responses_keep_alive() {
    let (recs, sum) = replay_default("http-chunked.pcap");
    assert_clean(&sum);
    // "hello " + "chunked " + "world\n" = 20 decoded bytes, chunk-size lines in their own
    // segments; the second request on the same connection must still be parsed.
    assert_eq!(
        http_facts(&recs),
        vec![f("GET", "/chunked", 200, 0, 20), f("GET", "/chunked?again=1", 200, 0, 20)]
    );
    assert_spans_well_formed(&recs);
    assert_eq!(s(&recs[0], "net.host.name"), "127.0.0.1:18081");
    insta::assert_json_snapshot!("http-chunked", recs);
}

/// (name, type, rcode, answers, transport) of every DNS event, in output order.
fn dns_facts(recs: &[Value]) -> Vec<(String, String, String, Vec<String>, String)> {
    recs.iter()
        .map(|r| {
            assert_eq!(r["name"], "dns.query", "{r}");
            (
                s(r, "dns.question.name"),
                s(r, "dns.question.type"),
                s(r, "dns.response_code"),
                strs(r, "dns.answers"),
                s(r, "net.transport"),
            )
        })
        .collect()
}

fn d(
    name: &str,
    t: &str,
    rc: &str,
    ans: &[&str],
    tr: &str,
) -> (String, String, String, Vec<String>, String) {
    let ans = ans.iter().map(|a| a.to_string()).collect();
    (name.into(), t.into(), rc.into(), ans, tr.into())
}

fn assert_dns_well_formed(recs: &[Value]) {
    for r in recs {
        assert_eq!(s(r, "net.peer.ip"), "127.0.0.153");
        assert_eq!(n(r, "net.peer.port"), 53);
        let ms = attr(r, "dns.latency_ms").as_f64().unwrap();
        assert!((0.0..2000.0).contains(&ms), "{r}");
        assert_eq!(n(r, "dns.answer_count") as usize, strs(r, "dns.answers").len());
    }
}

#[test]
fn step_d1_dns_over_udp() {
    let (recs, sum) = replay_default("dns-udp.pcap");
    assert_clean(&sum);
    assert_eq!(sum.udp_flows, 5, "4 digs + one python socket");
    // dnsmasq: --address=/test.example/10.1.2.3, --host-record=host.test.lan,10.9.8.7,
    // fd00::7, --cname=alias.test.lan,host.test.lan, --cname=www.test.lan,alias.test.lan,
    // --local=/test.lan/ (unknown names NXDOMAIN).
    assert_eq!(
        dns_facts(&recs),
        vec![
            d("test.example", "A", "NOERROR", &["10.1.2.3"], "ip_udp"),
            d("host.test.lan", "AAAA", "NOERROR", &["fd00::7"], "ip_udp"),
            d(
                "www.test.lan",
                "A",
                "NOERROR",
                &["alias.test.lan", "host.test.lan", "10.9.8.7"],
                "ip_udp"
            ),
            d("nosuch.test.lan", "A", "NXDOMAIN", &[], "ip_udp"),
            d("host.test.lan", "A", "NOERROR", &["10.9.8.7"], "ip_udp"),
            d("alias.test.lan", "AAAA", "NOERROR", &["host.test.lan", "fd00::7"], "ip_udp"),
        ]
    );
    assert_eq!(strs(&recs[2], "dns.answer_types"), ["CNAME", "CNAME", "A"]);
    // The two queries in flight on one socket carry ids 0x1111 and 0x2222.
    assert_eq!((n(&recs[4], "dns.id"), n(&recs[5], "dns.id")), (0x1111, 0x2222));
    assert_eq!(recs[3]["severity"], "WARN");
    assert_dns_well_formed(&recs);
    insta::assert_json_snapshot!("dns-udp", recs);
}

#[test]
fn step_d2_dns_over_tcp() {
    let (recs, sum) = replay_default("dns-tcp.pcap");
    assert_clean(&sum);
    assert_eq!(sum.tcp_flows, 3, "2 dig +tcp + one python connection");
    assert_eq!(
        dns_facts(&recs),
        vec![
            d("test.example", "A", "NOERROR", &["10.1.2.3"], "ip_tcp"),
            d("nosuch.test.lan", "A", "NXDOMAIN", &[], "ip_tcp"),
            d("host.test.lan", "A", "NOERROR", &["10.9.8.7"], "ip_tcp"),
            d("host.test.lan", "AAAA", "NOERROR", &["fd00::7"], "ip_tcp"),
        ]
    );
    // Two length-prefixed queries in one segment: ids 0x3333 and 0x4444.
    assert_eq!((n(&recs[2], "dns.id"), n(&recs[3], "dns.id")), (0x3333, 0x4444));
    assert_dns_well_formed(&recs);
    insta::assert_json_snapshot!("dns-tcp", recs);
}

#[test]
fn exclude_paths_drops_health_checks() {
    let cfg = eff("agent:\n  ebpf:\n    network:\n      exclude_paths: [\"/health*\"]\n");
    let (recs, _) = replay("http-post-404-health.pcap", &cfg);
    let targets: Vec<String> = http_facts(&recs).into_iter().map(|f| f.1).collect();
    // `*` also matches the `z` of /healthz; the query string is not part of the path.
    assert_eq!(targets, ["/submit", "/missing.html"]);
    let cfg = eff("agent:\n  network:\n    http:\n      exclude_paths: [\"/missing.*\"]\n");
    let (recs, _) = replay("http-post-404-health.pcap", &cfg);
    let targets: Vec<String> = http_facts(&recs).into_iter().map(|f| f.1).collect();
    assert_eq!(targets, ["/submit", "/health", "/healthz?probe=1"]);
}

#[test]
fn capture_headers_copies_listed_headers_only() {
    let cfg =
        eff("agent:\n  ebpf:\n    network:\n      capture_headers: [X-Request-Id, content-type]\n");
    let (recs, _) = replay("http-keepalive.pcap", &cfg);
    assert_eq!(recs.len(), 3);
    for r in &recs {
        // curl -H 'X-Request-Id: req-42'; nginx's built-in types map .html to text/html,
        // everything else gets `default_type text/plain`.
        assert_eq!(s(r, "http.request.header.x-request-id"), "req-42");
        let ct = if s(r, "http.target") == "/index.html" { "text/html" } else { "text/plain" };
        assert_eq!(s(r, "http.response.header.content-type"), ct);
        let headers: Vec<&String> = r["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| {
                k.starts_with("http.request.header.") || k.starts_with("http.response.header.")
            })
            .collect();
        assert_eq!(headers.len(), 2, "only the listed headers: {headers:?}");
    }
    let cfg = eff("agent:\n  ebpf:\n    network:\n      capture_headers: [user-agent]\n");
    let (recs, _) = replay("http-pipelined.pcap", &cfg);
    for r in &recs {
        assert_eq!(s(r, "http.request.header.user-agent"), "pipeline-test");
    }
}

#[test]
fn include_and_exclude_ports_filter_replay() {
    let (all, _) = replay_default("http-keepalive.pcap");
    assert_eq!(all.len(), 3);
    let (recs, sum) =
        replay("http-keepalive.pcap", &eff("agent:\n  network:\n    exclude_ports: [18080]\n"));
    assert!(recs.is_empty(), "{recs:?}");
    assert!(sum.filtered_events > 0);
    let (recs, sum) =
        replay("http-keepalive.pcap", &eff("agent:\n  network:\n    exclude_ports: [9999]\n"));
    assert_eq!((recs.len(), sum.filtered_events), (3, 0));
    let (recs, sum) =
        replay("http-keepalive.pcap", &eff("agent:\n  network:\n    include_ports: [18081]\n"));
    assert!(recs.is_empty() && sum.filtered_events > 0, "{recs:?}");
    let (recs, _) =
        replay("http-keepalive.pcap", &eff("agent:\n  network:\n    include_ports: [18080]\n"));
    assert_eq!(recs.len(), 3);
    // The eBPF key wins over the general one.
    let yaml = "agent:\n  network:\n    include_ports: [18080]\n  ebpf:\n    network:\n      include_ports: [53]\n";
    let (recs, _) = replay("http-keepalive.pcap", &eff(yaml));
    assert!(recs.is_empty());
    let (recs, _) = replay("dns-udp.pcap", &eff(yaml));
    assert_eq!(recs.len(), 6);
}

#[test]
fn dns_capture_content_off_keeps_names_and_counts() {
    let cfg = eff("agent:\n  network:\n    dns:\n      capture_content: false\n");
    let (recs, _) = replay("dns-udp.pcap", &cfg);
    assert_eq!(recs.len(), 6);
    assert!(recs.iter().all(|r| attr(r, "dns.answers").is_null()), "{recs:?}");
    assert_eq!(s(&recs[2], "dns.question.name"), "www.test.lan");
    assert_eq!(n(&recs[2], "dns.answer_count"), 3);
}
