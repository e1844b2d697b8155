//! Expected facts of corpus captures, and the check of a replay against them.
//!
//! The expected-result files next to the captures (deepflow *.result, zeek *.log,
//! suricata-verify *.test.yaml, arkime *.test, ndpi *.out) were read by hand into one
//! small JSON file per capture under tests/corpus_facts/, named after the capture (`/` as
//! `__`, plus `.json`); they are NOT parsed from the result files at run time. Fields:
//! - `capture`: the capture's path in the corpus; `source`: the result file the facts
//!   come from; `notes`: how the source's conventions map onto our records;
//! - `dns` / `http`: expected records, each matched to a distinct `dns.query` event / span
//!   of ours on which every stated field agrees (a field not stated is not checked; `null`
//!   means the attribute is absent);
//! - `dns_exact_count` / `http_exact_count`: how many DNS records / spans there are;
//! - `dns_queries` / `dns_responses`: how many DNS records saw their query (not
//!   `dns.response_only`) / their response (not TIMEOUT);
//! - `min_dns`, `min_gaps`: at least that many DNS records / stream gaps;
//! - `parse_failures`: ParseStats counters that must be > 0; `parse_clean`: no malformed
//!   message.
//!
//! DNS record fields: `name` (in any ASCII case), `type`, `rcode`, `id`, `answer_count`,
//! `peer_ip`, `client_port`, `latency_ms` (to 2 µs), `query_seen: true` (the query was
//! matched), `response_only: true`, `first_answer` (the first address among the answers),
//! `answers` (all of them, in order: a string is compared exactly, `{"ci": s}` ignoring
//! ASCII case (names), `{"type": t}` checks `dns.answer_types`, with `contains`
//! (substrings of the data) or `txt` (the TXT character-strings, which we render quoted
//! and space-separated)).
//!
//! Span fields: `method`, `target`, `path` (the target without its query), `target_prefix`,
//! `host`, `status`, `request_body` / `response_body` (content lengths), `version`,
//! `stream_id`, `grpc_status`, `name` (the span's name), `rpc_system`, `rpc_service`,
//! `rpc_method`, `incomplete`, `server_port`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use telegen::replay::ReplaySummary;

/// The top-level keys a facts file may have.
const KEYS: &[&str] = &[
    "capture",
    "source",
    "notes",
    "dns",
    "http",
    "dns_exact_count",
    "http_exact_count",
    "dns_queries",
    "dns_responses",
    "min_dns",
    "min_gaps",
    "parse_failures",
    "parse_clean",
];

/// The folder of the facts files.
pub fn facts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_facts")
}

/// The facts file name of a capture: `dns/zeek/dns53.pcap` -> `dns__zeek__dns53.pcap.json`.
pub fn facts_file_name(capture: &str) -> String {
    format!("{}.json", capture.replace('/', "__"))
}

/// Reads one facts file (a name in [`facts_dir`]); panics on an unknown key.
pub fn load(name: &str) -> Value {
    let path = facts_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no facts file {}: {e}", path.display()));
    let f: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    for k in f.as_object().unwrap_or_else(|| panic!("{name}: not an object")).keys() {
        assert!(KEYS.contains(&k.as_str()), "{name}: unknown key {k}");
    }
    f
}

/// Every facts file name in [`facts_dir`].
pub fn all_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(facts_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The records of `recs` the facts are about: the DNS records and the spans.
fn split(recs: &[Value]) -> (Vec<&Value>, Vec<&Value>) {
    let dns = recs.iter().filter(|r| r["name"] == "dns.query").collect();
    let spans = recs.iter().filter(|r| r["type"] == "span").collect();
    (dns, spans)
}

/// Checks the records and summary of a replay of `f`'s capture against `f`; the facts
/// that do not hold, each as a line of text (empty: all hold).
pub fn check(f: &Value, recs: &[Value], sum: &ReplaySummary) -> Vec<String> {
    let (dns, http) = split(recs);
    let mut fails = Vec::new();
    match_all(&f["dns"], &dns, dns_matches, &mut fails);
    match_all(&f["http"], &http, http_matches, &mut fails);
    for (key, got) in [("dns_exact_count", dns.len()), ("http_exact_count", http.len())] {
        expect_count(f, key, got, |want, got| want == got, &mut fails);
    }
    let queries = dns.iter().filter(|r| r["attributes"]["dns.response_only"] != true).count();
    let responses =
        dns.iter().filter(|r| r["attributes"]["dns.response_code"] != "TIMEOUT").count();
    expect_count(f, "dns_queries", queries, |want, got| want == got, &mut fails);
    expect_count(f, "dns_responses", responses, |want, got| want == got, &mut fails);
    expect_count(f, "min_dns", dns.len(), |want, got| got >= want, &mut fails);
    expect_count(f, "min_gaps", sum.gaps as usize, |want, got| got >= want, &mut fails);
    for c in f["parse_failures"].as_array().into_iter().flatten() {
        let c = c.as_str().expect("parse_failures: counter names");
        if counter_value(sum, c) == 0 {
            fails.push(format!("parse.{c}: expected > 0, got 0"));
        }
    }
    if !f["parse_clean"].is_null() {
        let clean = f["parse_clean"].as_bool().expect("parse_clean: a bool");
        if clean && sum.parse.errors_malformed != 0 {
            fails.push(format!(
                "parse.errors_malformed: expected 0, got {}",
                sum.parse.errors_malformed
            ));
        }
    }
    fails
}

/// A count fact: `f[key]`, if stated, must relate to `got` as `holds` says.
fn expect_count(
    f: &Value,
    key: &str,
    got: usize,
    holds: fn(usize, usize) -> bool,
    fails: &mut Vec<String>,
) {
    if f[key].is_null() {
        return;
    }
    let want = f[key].as_u64().unwrap_or_else(|| panic!("{key}: a count")) as usize;
    if !holds(want, got) {
        fails.push(format!("{key}: expected {want}, got {got}"));
    }
}

/// A ParseStats counter by its name.
pub fn counter_value(sum: &ReplaySummary, counter: &str) -> u64 {
    let v = serde_json::to_value(&sum.parse).unwrap();
    v[counter].as_u64().unwrap_or_else(|| panic!("no ParseStats counter {counter}"))
}

/// Matches expected records in order, each to the first unused record that agrees.
fn match_all(
    want: &Value,
    got: &[&Value],
    agrees: fn(&Value, &Value) -> Vec<String>,
    fails: &mut Vec<String>,
) {
    let mut used = vec![false; got.len()];
    for e in want.as_array().into_iter().flatten() {
        let hit = (0..got.len()).find(|&i| !used[i] && agrees(e, got[i]).is_empty());
        match hit {
            Some(i) => used[i] = true,
            None => {
                // Report the mismatches against the closest unused record.
                let best = (0..got.len())
                    .filter(|&i| !used[i])
                    .map(|i| agrees(e, got[i]))
                    .min_by_key(|m| m.len())
                    .unwrap_or_else(|| vec!["no record left".into()]);
                fails.push(format!("expected {e} - closest record differs: {}", best.join("; ")));
            }
        }
    }
}

fn a<'a>(r: &'a Value, k: &str) -> &'a Value {
    &r["attributes"][k]
}

/// Compares stated fields that are plain attributes.
fn plain_fields(e: &Value, r: &Value, fields: &[(&str, &str)], m: &mut Vec<String>) {
    for (k, attr) in fields {
        if let Some(want) = e.get(*k) {
            if want != a(r, attr) {
                m.push(format!("{k}: want {want}, got {}", a(r, attr)));
            }
        }
    }
}

const DNS_FIELDS: &[(&str, &str)] = &[
    ("type", "dns.question.type"),
    ("rcode", "dns.response_code"),
    ("id", "dns.id"),
    ("answer_count", "dns.answer_count"),
    ("peer_ip", "net.peer.ip"),
    ("client_port", "client.port"),
];

const DNS_OTHER: &[&str] =
    &["name", "query_seen", "response_only", "latency_ms", "first_answer", "answers"];

fn dns_matches(e: &Value, r: &Value) -> Vec<String> {
    let mut m = Vec::new();
    known_fields(e, DNS_FIELDS, DNS_OTHER);
    if let Some(n) = e.get("name") {
        let n = n.as_str().expect("name: a string");
        let got = a(r, "dns.question.name").as_str().unwrap_or("");
        if !n.eq_ignore_ascii_case(got) {
            m.push(format!("name: want {n:?}, got {got:?}"));
        }
    }
    plain_fields(e, r, DNS_FIELDS, &mut m);
    let resp_only = a(r, "dns.response_only") == true;
    if e["query_seen"] == true && resp_only {
        m.push("query_seen: the query was not matched (response_only)".into());
    }
    if e["response_only"] == true && !resp_only {
        m.push("response_only: want true".into());
    }
    if let Some(want) = e["latency_ms"].as_f64() {
        let got = a(r, "dns.latency_ms").as_f64();
        if got.is_none_or(|g| (g - want).abs() > 0.002) {
            m.push(format!("latency_ms: want {want}, got {got:?}"));
        }
    }
    let answers: Vec<&str> = a(r, "dns.answers")
        .as_array()
        .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let types: Vec<&str> = a(r, "dns.answer_types")
        .as_array()
        .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    if let Some(ip) = e["first_answer"].as_str() {
        let first = answers.iter().find(|x| x.parse::<std::net::IpAddr>().is_ok());
        if first != Some(&ip) {
            m.push(format!("first_answer: want {ip}, got {first:?}"));
        }
    }
    if let Some(want) = e["answers"].as_array() {
        if want.len() != answers.len() {
            m.push(format!(
                "answers: want {} {want:?}, got {} {answers:?}",
                want.len(),
                answers.len()
            ));
        } else {
            for (i, w) in want.iter().enumerate() {
                if let Some(why) = answer_mismatch(w, answers[i], types.get(i).copied()) {
                    m.push(format!("answers[{i}]: {why}"));
                }
            }
        }
    }
    m
}

fn answer_mismatch(w: &Value, got: &str, rtype: Option<&str>) -> Option<String> {
    if let Some(s) = w.as_str() {
        return (s != got).then(|| format!("want {s:?}, got {got:?}"));
    }
    for k in w.as_object().expect("an answer: a string or an object").keys() {
        assert!(["ci", "type", "contains", "txt"].contains(&k.as_str()), "unknown answer key {k}");
    }
    if let Some(s) = w["ci"].as_str() {
        return (!s.eq_ignore_ascii_case(got))
            .then(|| format!("want {s:?} (any case), got {got:?}"));
    }
    if let Some(t) = w["type"].as_str() {
        if rtype != Some(t) {
            return Some(format!("want type {t}, got {rtype:?}"));
        }
    }
    for c in w["contains"].as_array().into_iter().flatten() {
        let c = c.as_str().unwrap();
        if !got.contains(c) {
            return Some(format!("want data containing {c:?}, got {got:?}"));
        }
    }
    if let Some(txt) = w["txt"].as_array() {
        let want: Vec<String> = txt
            .iter()
            .map(|s| {
                format!("\"{}\"", s.as_str().unwrap().replace('\\', "\\\\").replace('"', "\\\""))
            })
            .collect();
        let want = want.join(" ");
        if want != got {
            return Some(format!("want TXT {want:?}, got {got:?}"));
        }
    }
    None
}

const HTTP_FIELDS: &[(&str, &str)] = &[
    ("method", "http.method"),
    ("target", "http.target"),
    ("status", "http.status_code"),
    ("host", "net.host.name"),
    ("request_body", "http.request_content_length"),
    ("response_body", "http.response_content_length"),
    ("version", "network.protocol.version"),
    ("stream_id", "http2.stream_id"),
    ("grpc_status", "rpc.grpc.status_code"),
    ("rpc_system", "rpc.system"),
    ("rpc_service", "rpc.service"),
    ("rpc_method", "rpc.method"),
    ("incomplete", "telegen.incomplete"),
    ("server_port", "server.port"),
];

const HTTP_OTHER: &[&str] = &["path", "target_prefix", "name"];

fn http_matches(e: &Value, r: &Value) -> Vec<String> {
    let mut m = Vec::new();
    known_fields(e, HTTP_FIELDS, HTTP_OTHER);
    plain_fields(e, r, HTTP_FIELDS, &mut m);
    let target = a(r, "http.target").as_str().unwrap_or("");
    if let Some(p) = e.get("path") {
        let p = p.as_str().expect("path: a string");
        if target.split('?').next() != Some(p) {
            m.push(format!("path: want {p:?}, got {target:?}"));
        }
    }
    if let Some(p) = e.get("target_prefix") {
        let p = p.as_str().expect("target_prefix: a string");
        if !target.starts_with(p) {
            m.push(format!("target_prefix: want {p:?}, got {target:?}"));
        }
    }
    if let Some(n) = e.get("name") {
        if *n != r["name"] {
            m.push(format!("name: want {n}, got {}", r["name"]));
        }
    }
    m
}

/// Panics on a field the harness does not know (a typo would silently check nothing).
fn known_fields(e: &Value, plain: &[(&str, &str)], other: &[&str]) {
    for k in e.as_object().expect("an expected record: an object").keys() {
        let k = k.as_str();
        assert!(
            plain.iter().any(|(f, _)| *f == k) || other.contains(&k),
            "unknown fact field {k} in {e}"
        );
    }
}

/// One line per record, for failure messages.
pub fn summary(r: &Value) -> String {
    let at = &r["attributes"];
    if r["type"] == "span" {
        format!(
            "  span {} {} {} -> {} req={} resp={} host={} v{} stream={} grpc={} incomplete={}",
            r["name"],
            at["http.method"],
            at["http.target"],
            at["http.status_code"],
            at["http.request_content_length"],
            at["http.response_content_length"],
            at["net.host.name"],
            at["network.protocol.version"],
            at["http2.stream_id"],
            at["rpc.grpc.status_code"],
            at["telegen.incomplete"]
        )
    } else {
        format!(
            "  dns id={} {} {} -> {} answers={} response_only={}",
            at["dns.id"],
            at["dns.question.name"],
            at["dns.question.type"],
            at["dns.response_code"],
            at["dns.answers"],
            at["dns.response_only"]
        )
    }
}

/// Whether the `source` the facts `f` name is a file of the corpus folder `dir`.
pub fn source_exists(dir: &Path, f: &Value) -> bool {
    f["source"].as_str().is_some_and(|s| dir.join(s).is_file())
}
