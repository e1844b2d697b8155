//! The shared capture corpus (folder in env `TELEGEN_CAPTURES`, see its README.md and
//! MANIFEST.tsv). Every test is opt-in (`--ignored`):
//!
//! `TELEGEN_CAPTURES=/path/to/captures cargo test --release -p telegen --test replay -- --ignored`
//!
//! - every capture of the MANIFEST is read through the stream layer without a panic or an
//!   error, and its packet count matches the MANIFEST's `linktype_pkts` column
//!   (`LINKTYPE/Npkts`, as tcpdump counted them); the stats of each file are printed (run
//!   with `--nocapture` to see them);
//! - every DNS and HTTP/1 capture replays through the whole pipeline without a panic or an
//!   error, and its normalized record list (random trace/span ids removed; capture
//!   timestamps kept) matches the insta snapshot
//!   tests/replay/snapshots/replay__corpus__<capture>.snap;
//! - the facts of tests/corpus_facts/ (the expected-result files read by hand, see
//!   [`crate::facts`]) hold: one test per DNS or HTTP/1 facts file, and one test over
//!   every HTTP/2 capture of the MANIFEST, each of which must have a facts file;
//! - malformed captures produce counted parse failures, not crashes.

use crate::common::corpus::{corpus, manifest, manifest_captures};
use crate::common::replay::records;
use crate::facts::{self, counter_value, facts_file_name};
use serde_json::Value;
use std::path::Path;
use telegen::config::Config;
use telegen::pcap::{PcapReplaySource, ReplayConfig};
use telegen::replay::ReplaySummary;

/// Replays a capture with the default configuration.
fn replay(path: &Path) -> anyhow::Result<(Vec<Value>, ReplaySummary)> {
    records(path, &Config::default().effective())
}

/// Captures whose MANIFEST count is tcpdump's line count, not its packet count: tcpdump
/// prints the inner packet of a VXLAN/Geneve tunnel on a second line. The real counts
/// (checked with `tcpdump -r FILE | grep -c '^[0-9]'`) are asserted instead.
const TUNNEL_LINE_COUNTS: &[(&str, u64)] = &[
    ("dns/zeek/geneve-vxlan-dns-truncated.pcap", 2),
    ("http1/zeek/vxlan-encapsulated-http.pcap", 12),
];

#[test]
#[ignore = "needs the capture corpus"]
fn every_capture_replays_and_packet_counts_match() {
    let dir = corpus();
    let files = manifest(&dir);
    assert!(files.len() > 50, "MANIFEST lists {} captures", files.len());
    let mut failures = Vec::new();
    let mut total_events = 0u64;
    for listed in &files {
        let file = &listed.file;
        let fixed = TUNNEL_LINE_COUNTS.iter().find(|(f, _)| f == file).map(|(_, n)| *n);
        let want = fixed.or(listed.packets);
        let path = dir.join(file);
        let mut src = match PcapReplaySource::open(&path, ReplayConfig::default()) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{file}: open: {e}"));
                continue;
            }
        };
        let mut out = Vec::new();
        let result = loop {
            match src.next_events(&mut out) {
                Ok(true) => continue,
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        total_events += out.len() as u64;
        let stats = src.stats();
        println!("{file}\t{}", serde_json::to_string(&stats).unwrap());
        if let Err(e) = result {
            failures.push(format!("{file}: {e}"));
        }
        if let Some(want) = want {
            if stats.packet.packets != want {
                failures.push(format!(
                    "{file}: {} packets, MANIFEST says {want}",
                    stats.packet.packets
                ));
            }
        }
        let (done, total) = src.progress();
        if total != Some(done) {
            failures.push(format!("{file}: progress {done} of {total:?}"));
        }
    }
    println!("{} captures, {total_events} events", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Replays `file` of the corpus, a panic or an error as a failure line.
fn replay_caught(dir: &Path, file: &str) -> Result<(Vec<Value>, ReplaySummary), String> {
    let path = dir.join(file);
    match std::panic::catch_unwind(|| replay(&path)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{file}: error {e:#}")),
        Err(_) => Err(format!("{file}: PANIC")),
    }
}

#[test]
#[ignore = "needs the capture corpus"]
fn every_dns_and_http1_capture_replays_and_matches_its_snapshot() {
    let dir = corpus();
    let files = manifest_captures(&dir, &["dns/", "http1/"]);
    assert!(files.len() >= 70, "MANIFEST lists {} DNS/HTTP1 captures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let (recs, sum) = match replay_caught(&dir, file) {
            Ok(v) => v,
            Err(why) => {
                failures.push(why);
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
        let name = file.replace('/', "__");
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

/// Every facts file names its capture and an existing source, and is checked by a test:
/// a DNS or HTTP/1 one by its own test below, an HTTP/2 one by
/// [`every_http2_capture_replays_and_meets_its_facts`].
#[test]
#[ignore = "needs the capture corpus"]
fn facts_files_cover_the_expected_results() {
    let dir = corpus();
    let http2 = manifest_captures(&dir, &["http2/"]);
    let mut missing = Vec::new();
    let mut own_test = 0;
    for name in facts::all_files() {
        let f = facts::load(&name);
        assert!(facts::source_exists(&dir, &f), "{name}: source {} not in the corpus", f["source"]);
        let cap = f["capture"].as_str().unwrap_or_else(|| panic!("{name}: no capture"));
        assert_eq!(name, facts_file_name(cap));
        if FACT_FILES.contains(&name.as_str()) {
            own_test += 1;
        } else if !http2.iter().any(|c| c == cap) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "facts files without a test: {missing:?}");
    assert_eq!(FACT_FILES.len(), own_test, "a facts file per test");
}

/// Replays a capture and checks it against its facts file `name`.
fn check_file(name: &str) {
    let f = facts::load(name);
    let cap = f["capture"].as_str().unwrap();
    let (recs, sum) = replay(&corpus().join(cap)).unwrap_or_else(|e| panic!("{cap}: {e:#}"));
    let fails = facts::check(&f, &recs, &sum);
    assert!(
        fails.is_empty(),
        "{cap} (facts from {}):\n  {}\nour records:\n{}\nparse: {:?}",
        f["source"],
        fails.join("\n  "),
        recs.iter().map(facts::summary).collect::<Vec<_>>().join("\n"),
        sum.parse
    );
}

macro_rules! facts_tests {
    ($($name:ident => $file:literal,)*) => {
        /// The facts files with a test of their own.
        const FACT_FILES: &[&str] = &[$($file),*];
        $(
            #[test]
            #[ignore = "needs the capture corpus"]
            fn $name() {
                check_file($file);
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

#[test]
#[ignore = "needs the capture corpus"]
fn every_http2_capture_replays_and_meets_its_facts() {
    let dir = corpus();
    let files = manifest_captures(&dir, &["http2/"]);
    assert!(files.len() >= 20, "MANIFEST lists {} HTTP/2 captures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let name = facts_file_name(file);
        if !facts::facts_dir().join(&name).is_file() {
            failures.push(format!("{file}: no facts file {name}"));
            continue;
        }
        let f = facts::load(&name);
        let (recs, sum) = match replay_caught(&dir, file) {
            Ok(v) => v,
            Err(why) => {
                failures.push(why);
                continue;
            }
        };
        let spans: Vec<&Value> = recs.iter().filter(|r| r["type"] == "span").collect();
        assert!(
            spans.iter().all(|s| s["attributes"]["network.protocol.version"].is_string()),
            "{file}"
        );
        let fails = facts::check(&f, &recs, &sum);
        if !fails.is_empty() {
            let ours: Vec<String> = spans.iter().map(|s| facts::summary(s)).collect();
            failures.push(format!(
                "{file}: {}\n  our spans:\n{}",
                fails.join("\n  "),
                ours.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every HTTP/2 facts file belongs to an HTTP/2 capture of the corpus (no stale facts).
#[test]
#[ignore = "needs the capture corpus"]
fn every_http2_facts_file_names_a_capture() {
    let dir = corpus();
    let files = manifest_captures(&dir, &["http2/"]);
    for name in facts::all_files().into_iter().filter(|n| n.starts_with("http2__")) {
        let f = facts::load(&name);
        let cap = f["capture"].as_str().unwrap_or("");
        assert!(
            files.iter().any(|c| c == cap && facts_file_name(c) == name),
            "{name} matches no HTTP/2 capture of MANIFEST.tsv"
        );
        assert!(facts::source_exists(&dir, &f), "{name}: source {} is missing", f["source"]);
    }
}
