//! Golden tests over the shared capture corpus (folder in env `TELEGEN_CAPTURES`, see its
//! README.md and MANIFEST.tsv). Every test is opt-in (`--ignored`):
//!
//! `TELEGEN_CAPTURES=/work/shared/captures cargo test -p telegen --release --test replay_corpus -- --ignored`
//!
//! - every DNS and HTTP/1 capture of the MANIFEST replays without a panic or an error, and
//!   its normalized record list (random trace/span ids removed; capture timestamps kept)
//!   matches the insta snapshot tests/snapshots/replay_corpus__<capture>.snap;
//! - the facts stated by the expected-result files next to the captures (deepflow
//!   *.result, zeek *.log, suricata-verify *.test.yaml, arkime *.test, ndpi *.out) are
//!   asserted one test per capture. The facts are NOT parsed from those files at run
//!   time: they were read by hand into one small JSON file per capture under
//!   tests/corpus_facts/ (each names its `source` result file and explains in `notes` how
//!   the source's conventions map onto our records);
//! - malformed captures produce counted parse failures, not crashes.
//!
//! Facts file fields: `dns` / `http`: expected records, each matched to a distinct
//! record of ours (all stated fields must agree); `dns_exact_count` / `http_exact_count`:
//! no other records of that kind; `dns_queries` / `dns_responses`: records whose query /
//! response was seen; `min_dns`, `min_gaps`; `parse_failures`: ParseStats counters that
//! must be > 0; `parse_clean`: no malformed message. DNS answers: a string is compared
//! exactly, `{"ci": s}` ignoring ASCII case (names), `{"type": t}` checks
//! `dns.answer_types`, with `contains` (substrings of the data) or `txt` (the TXT
//! character-strings, which we render quoted and space-separated).

mod common;

use common::corpus::{corpus, manifest_captures, replay};
use serde_json::Value;
use std::path::PathBuf;
use telegen::replay::ReplaySummary;

fn facts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_facts")
}

fn snapshot_name(capture: &str) -> String {
    capture.replace('/', "__")
}

#[test]
#[ignore = "needs the capture corpus"]
fn every_dns_and_http1_capture_replays_and_matches_its_snapshot() {
    let dir = corpus();
    let files = manifest_captures(&dir, &["dns/", "http1/"]);
    assert!(files.len() >= 70, "MANIFEST lists {} DNS/HTTP1 captures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let path = dir.join(file);
        let res = std::panic::catch_unwind(|| replay(&path));
        let (recs, sum) = match res {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                failures.push(format!("{file}: error {e:#}"));
                continue;
            }
            Err(_) => {
                failures.push(format!("{file}: PANIC"));
                continue;
            }
        };
        let p = &sum.parse;
        println!(
            "{file}: {} records {:?}; malformed={} unmatched={} expired={} resync_bytes={} gaps={}",
            recs.len(),
            sum.records,
            p.errors_malformed,
            p.unmatched_responses,
            p.requests_expired,
            p.resync_bytes_skipped,
            sum.gaps
        );
        let name = snapshot_name(file);
        let snap = std::panic::catch_unwind(|| insta::assert_json_snapshot!(name, recs));
        if snap.is_err() {
            failures.push(format!("{file}: snapshot differs"));
        }
    }
    assert!(failures.is_empty(), "{} captures failed:\n{}", failures.len(), failures.join("\n"));
}

/// Captures that are malformed on purpose must count their parse failures.
#[test]
#[ignore = "needs the capture corpus"]
fn malformed_captures_count_parse_failures() {
    let dir = corpus();
    // (capture, counter that must be > 0). dns-invalid-names: CRAFTED per MANIFEST
    // (truncated qname, self-referencing pointer c00c, unterminated label) - no result
    // file, the three queries are malformed by construction.
    let cases: &[(&str, &str)] = &[
        ("dns/ndpi/malformed_dns.pcap", "errors_malformed"),
        ("dns/zeek/dns-invalid-names.pcap", "errors_malformed"),
        ("dns/ndpi/dns-invalid-chars.pcap", "unmatched_responses"),
    ];
    for (file, counter) in cases {
        let (_, sum) = replay(&dir.join(file)).unwrap();
        let got = counter_value(&sum, counter);
        assert!(got > 0, "{file}: parse.{counter} = 0 ({:?})", sum.parse);
    }
    let (recs, sum) = replay(&dir.join("dns/zeek/dns-invalid-names.pcap")).unwrap();
    assert_eq!((recs.len(), sum.parse.errors_malformed), (0, 3), "{recs:?}");
}

fn counter_value(sum: &ReplaySummary, counter: &str) -> u64 {
    let v = serde_json::to_value(&sum.parse).unwrap();
    v[counter].as_u64().unwrap_or_else(|| panic!("no ParseStats counter {counter}"))
}

/// Every capture with an expected-result file has a facts file, and every facts file has
/// a test below.
#[test]
#[ignore = "needs the capture corpus"]
fn facts_files_cover_the_expected_results() {
    let dir = corpus();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(facts_dir()).unwrap() {
        let entry = entry.unwrap();
        // Subfolders hold other suites' facts (http2/ belongs to replay_http2_corpus).
        if entry.file_type().unwrap().is_dir() {
            continue;
        }
        let name = entry.file_name().into_string().unwrap();
        let f: Value =
            serde_json::from_str(&std::fs::read_to_string(facts_dir().join(&name)).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let src = f["source"].as_str().unwrap();
        assert!(dir.join(src).is_file(), "{name}: source {src} not in the corpus");
        let cap = f["capture"].as_str().unwrap();
        assert_eq!(name, format!("{}.json", snapshot_name(cap)));
        if !FACT_FILES.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "facts files without a test: {missing:?}");
    let n = std::fs::read_dir(facts_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref().map(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false)).unwrap_or(false)
        })
        .count();
    assert_eq!(FACT_FILES.len(), n, "a test per facts file");
}

fn check_facts(facts_file: &str) {
    let f: Value =
        serde_json::from_str(&std::fs::read_to_string(facts_dir().join(facts_file)).unwrap())
            .unwrap();
    let cap = f["capture"].as_str().unwrap();
    let (recs, sum) = replay(&corpus().join(cap)).unwrap_or_else(|e| panic!("{cap}: {e:#}"));
    let dns: Vec<&Value> = recs.iter().filter(|r| r["name"] == "dns.query").collect();
    let http: Vec<&Value> = recs.iter().filter(|r| r["type"] == "span").collect();
    let mut fails = Vec::new();
    match_all(&f["dns"], &dns, dns_matches, &mut fails);
    match_all(&f["http"], &http, http_matches, &mut fails);
    let exp_len = |k: &str| f[k].as_array().map_or(0, |a| a.len());
    // An empty `dns` list with `dns_exact_count` leaves the counting to dns_queries/responses.
    if f["dns_exact_count"] == true && exp_len("dns") > 0 && dns.len() != exp_len("dns") {
        fails.push(format!("dns records: expected {}, got {}", exp_len("dns"), dns.len()));
    }
    if f["http_exact_count"] == true && http.len() != exp_len("http") {
        fails.push(format!("http records: expected {}, got {}", exp_len("http"), http.len()));
    }
    let queries = dns.iter().filter(|r| r["attributes"]["dns.response_only"] != true).count();
    let responses =
        dns.iter().filter(|r| r["attributes"]["dns.response_code"] != "TIMEOUT").count();
    for (key, got) in [("dns_queries", queries), ("dns_responses", responses)] {
        if let Some(want) = f[key].as_u64() {
            if want as usize != got {
                fails.push(format!("{key}: expected {want}, got {got}"));
            }
        }
    }
    if let Some(n) = f["min_dns"].as_u64() {
        if (dns.len() as u64) < n {
            fails.push(format!("min_dns: expected >= {n}, got {}", dns.len()));
        }
    }
    if let Some(n) = f["min_gaps"].as_u64() {
        if sum.gaps < n {
            fails.push(format!("min_gaps: expected >= {n}, got {}", sum.gaps));
        }
    }
    for c in f["parse_failures"].as_array().into_iter().flatten() {
        let c = c.as_str().unwrap();
        if counter_value(&sum, c) == 0 {
            fails.push(format!("parse.{c}: expected > 0, got 0"));
        }
    }
    if f["parse_clean"] == true && sum.parse.errors_malformed != 0 {
        fails.push(format!(
            "parse.errors_malformed: expected 0, got {}",
            sum.parse.errors_malformed
        ));
    }
    assert!(
        fails.is_empty(),
        "{cap} (facts from {}):\n  {}\nour records:\n{}\nparse: {:?}",
        f["source"],
        fails.join("\n  "),
        recs.iter().map(summary).collect::<Vec<_>>().join("\n"),
        sum.parse
    );
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

fn dns_matches(e: &Value, r: &Value) -> Vec<String> {
    let mut m = Vec::new();
    if let Some(n) = e["name"].as_str() {
        let got = a(r, "dns.question.name").as_str().unwrap_or("");
        if !n.eq_ignore_ascii_case(got) {
            m.push(format!("name: want {n:?}, got {got:?}"));
        }
    }
    for (k, attr) in [
        ("type", "dns.question.type"),
        ("rcode", "dns.response_code"),
        ("id", "dns.id"),
        ("answer_count", "dns.answer_count"),
        ("peer_ip", "net.peer.ip"),
        ("client_port", "client.port"),
    ] {
        if !e[k].is_null() && e[k] != *a(r, attr) {
            m.push(format!("{k}: want {}, got {}", e[k], a(r, attr)));
        }
    }
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

fn http_matches(e: &Value, r: &Value) -> Vec<String> {
    let mut m = Vec::new();
    for (k, attr) in [
        ("method", "http.method"),
        ("target", "http.target"),
        ("status", "http.status_code"),
        ("host", "net.host.name"),
        ("request_body", "http.request_content_length"),
        ("response_body", "http.response_content_length"),
    ] {
        if !e[k].is_null() && e[k] != *a(r, attr) {
            m.push(format!("{k}: want {}, got {}", e[k], a(r, attr)));
        }
    }
    if let Some(p) = e["path"].as_str() {
        let t = a(r, "http.target").as_str().unwrap_or("");
        if t.split('?').next() != Some(p) {
            m.push(format!("path: want {p:?}, got {t:?}"));
        }
    }
    m
}

fn summary(r: &Value) -> String {
    let at = &r["attributes"];
    if r["type"] == "span" {
        format!(
            "  span {} {} -> {} req={} resp={} host={} incomplete={}",
            at["http.method"],
            at["http.target"],
            at["http.status_code"],
            at["http.request_content_length"],
            at["http.response_content_length"],
            at["net.host.name"],
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

macro_rules! facts_tests {
    ($($name:ident => $file:literal,)*) => {
        const FACT_FILES: &[&str] = &[$($file),*];
        $(
            #[test]
            #[ignore = "needs the capture corpus"]
            fn $name() {
                check_facts($file);
            }
        )*
    };
}

facts_tests! {
    facts_dns_arkime_dns_error => "dns__arkime__dns-error.pcap.json",
    facts_dns_arkime_dns_punycode => "dns__arkime__dns-punycode.pcap.json",
    facts_dns_arkime_dns_tcp => "dns__arkime__dns-tcp.pcap.json",
    facts_dns_deepflow_a_and_ns => "dns__deepflow__a-and-ns.pcap.json",
    facts_dns_deepflow_dns_tcp_multi => "dns__deepflow__dns-tcp-multi.pcap.json",
    facts_dns_deepflow_dns => "dns__deepflow__dns.pcap.json",
    facts_dns_deepflow_not_handled_qtype => "dns__deepflow__not-handled-qtype.pcap.json",
    facts_dns_deepflow_nxdomain => "dns__deepflow__nxdomain.pcap.json",
    facts_dns_ndpi_dns_google_nsid => "dns__ndpi__dns-google-nsid.pcapng.json",
    facts_dns_ndpi_dns_invalid_chars => "dns__ndpi__dns-invalid-chars.pcap.json",
    facts_dns_ndpi_dns => "dns__ndpi__dns.pcap.json",
    facts_dns_ndpi_dns_ambiguous_names => "dns__ndpi__dns_ambiguous_names.pcap.json",
    facts_dns_ndpi_dns_fragmented => "dns__ndpi__dns_fragmented.pcap.json",
    facts_dns_ndpi_dns_invert_query => "dns__ndpi__dns_invert_query.pcapng.json",
    facts_dns_ndpi_dns_long_domainname => "dns__ndpi__dns_long_domainname.pcap.json",
    facts_dns_ndpi_malformed_dns => "dns__ndpi__malformed_dns.pcap.json",
    facts_dns_suricata_answer_emptydata => "dns__suricata-verify__dns-answer-emptydata.pcap.json",
    facts_dns_suricata_forward_pointer => "dns__suricata-verify__dns-forward-pointer.pcap.json",
    facts_dns_suricata_incomplete => "dns__suricata-verify__dns-incomplete.pcap.json",
    facts_dns_suricata_response_2x => "dns__suricata-verify__dns-response-2x.pcap.json",
    facts_dns_suricata_reversed_tcp_1 => "dns__suricata-verify__dns-reversed-tcp-1.pcap.json",
    facts_dns_suricata_tcp_multirequest_buffer => "dns__suricata-verify__dns-tcp-multirequest-buffer.pcap.json",
    facts_dns_suricata_tcp_ts_gap => "dns__suricata-verify__dns-tcp-ts-gap.pcap.json",
    facts_dns_suricata_tcp_www_google_com => "dns__suricata-verify__dns-tcp-www-google-com.pcap.json",
    facts_dns_suricata_udp_double_request_response => "dns__suricata-verify__dns-udp-double-request-response.pcap.json",
    facts_dns_suricata_udp_eve_log_srv => "dns__suricata-verify__dns-udp-eve-log-srv.pcap.json",
    facts_dns_suricata_udp_eve_txt => "dns__suricata-verify__dns-udp-eve-txt.pcap.json",
    facts_dns_suricata_udp_google_a_aaaa_mx => "dns__suricata-verify__dns-udp-google.com-a-aaaa-mx.pcap.json",
    facts_dns_suricata_udp_nxdomain_soa => "dns__suricata-verify__dns-udp-nxdomain-soa.pcap.json",
    facts_dns_zeek_dns_edns_tcp_keepalive => "dns__zeek__dns-edns-tcp-keepalive.pcap.json",
    facts_dns_zeek_dns_two_responses => "dns__zeek__dns-two-responses.pcap.json",
    facts_dns_zeek_dns_txt_multiple => "dns__zeek__dns-txt-multiple.pcap.json",
    facts_dns_zeek_dns_zero_rrs => "dns__zeek__dns-zero-RRs.pcap.json",
    facts_dns_zeek_dns53 => "dns__zeek__dns53.pcap.json",
    facts_dns_zeek_ipv6_fragmented_dns => "dns__zeek__ipv6-fragmented-dns.pcap.json",
    facts_dns_zeek_naptr => "dns__zeek__naptr.pcap.json",
    facts_http1_arkime_http_no_length => "http1__arkime__http-no-length.pcap.json",
    facts_http1_arkime_http_tcp_seq_issue => "http1__arkime__http-tcp-seq-issue.pcap.json",
    facts_http1_arkime_http_wrapped_header => "http1__arkime__http-wrapped-header.pcap.json",
    facts_http1_deepflow_client_ip => "http1__deepflow__client-ip.pcap.json",
    facts_http1_deepflow_httpv1 => "http1__deepflow__httpv1.pcap.json",
    facts_http1_deepflow_istio_tcp_frag => "http1__deepflow__istio-tcp-frag.pcap.json",
    facts_http1_deepflow_sw8 => "http1__deepflow__sw8.pcap.json",
    facts_http1_ndpi_dotenv => "http1__ndpi__dotenv.pcap.json",
    facts_http1_ndpi_http_lines_split => "http1__ndpi__http-lines-split.pcap.json",
    facts_http1_ndpi_http => "http1__ndpi__http.pcapng.json",
    facts_http1_ndpi_http_auth => "http1__ndpi__http_auth.pcap.json",
    facts_http1_ndpi_http_starting_with_reply => "http1__ndpi__http_starting_with_reply.pcapng.json",
    facts_http1_zeek_100_continue => "http1__zeek__100-continue.pcap.json",
    facts_http1_zeek_http_desync_request_response_5 => "http1__zeek__http-desync-request-response-5.pcap.json",
    facts_http1_zeek_http_lower_case => "http1__zeek__http-lower-case.pcap.json",
    facts_http1_zeek_http_09 => "http1__zeek__http_09.pcap.json",
    facts_http1_zeek_interleaved_http_entity => "http1__zeek__interleaved-http-entity.pcap.json",
    facts_http1_zeek_nflog_http => "http1__zeek__nflog-http.pcap.json",
    facts_http1_zeek_no_version => "http1__zeek__no-version.pcap.json",
    facts_http1_zeek_version_mismatch => "http1__zeek__version-mismatch.pcap.json",
    facts_http1_zeek_websocket => "http1__zeek__websocket.pcap.json",
}
