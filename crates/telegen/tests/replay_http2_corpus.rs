//! HTTP/2 and gRPC captures of the shared corpus (folder in env `TELEGEN_CAPTURES`):
//! every `http2/` capture of MANIFEST.tsv replays without a panic or an error, and the
//! facts stated by its expected-result file (deepflow *.result, suricata-verify
//! *.test.yaml, arkime *.test, ndpi *.out) hold. Opt-in (`--ignored`):
//!
//! `TELEGEN_CAPTURES=/work/shared/captures cargo test -p telegen --release --test replay_http2_corpus -- --ignored`
//!
//! The facts were read by hand into tests/corpus_facts/http2/<capture>.json (`source`
//! names the result file, `notes` how its conventions map onto our spans). Fields:
//! `http`: expected spans, each matched to a distinct span of ours on which every stated
//! field agrees (`method`, `target`, `target_prefix`, `host`, `status` (null = none),
//! `grpc_status`, `stream_id`, `name`, `rpc_system`, `rpc_service`, `rpc_method`,
//! `version`, `incomplete`, `server_port`); `http_exact_count`: the number of HTTP spans;
//! `parse_clean`: no malformed HTTP/2 message; `known_gaps`: facts of the source we do not
//! meet yet (documented, not asserted).

mod common;

use common::corpus::{corpus, manifest_captures, replay};
use serde_json::Value;
use std::path::PathBuf;
use telegen::replay::ReplaySummary;

fn facts_path(capture: &str) -> PathBuf {
    let name = capture.trim_start_matches("http2/").replace('/', "__");
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/corpus_facts/http2/{name}.json"))
}

/// Whether span `s` agrees with every field stated in `want`.
fn agrees(s: &Value, want: &Value) -> bool {
    let a = &s["attributes"];
    want.as_object().unwrap().iter().all(|(k, v)| {
        let got = match k.as_str() {
            "method" => a["http.method"].clone(),
            "target" => a["http.target"].clone(),
            "target_prefix" => {
                let t = a["http.target"].as_str().unwrap_or("");
                return t.starts_with(v.as_str().unwrap());
            }
            "host" => a["net.host.name"].clone(),
            "status" => a["http.status_code"].clone(),
            "grpc_status" => a["rpc.grpc.status_code"].clone(),
            "stream_id" => a["http2.stream_id"].clone(),
            "name" => s["name"].clone(),
            "rpc_system" => a["rpc.system"].clone(),
            "rpc_service" => a["rpc.service"].clone(),
            "rpc_method" => a["rpc.method"].clone(),
            "version" => a["network.protocol.version"].clone(),
            "incomplete" => a["telegen.incomplete"].clone(),
            "server_port" => a["server.port"].clone(),
            other => panic!("unknown fact field {other}"),
        };
        &got == v
    })
}

/// Checks one capture against its facts; the failures as text.
fn check(capture: &str, spans: &[Value], sum: &ReplaySummary) -> Vec<String> {
    let path = facts_path(capture);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return vec![format!("{capture}: no facts file {} ({e})", path.display())],
    };
    let f: Value = serde_json::from_str(&text).expect("facts JSON");
    let mut bad = Vec::new();
    let mut used = vec![false; spans.len()];
    for want in f["http"].as_array().into_iter().flatten() {
        match (0..spans.len()).find(|&i| !used[i] && agrees(&spans[i], want)) {
            Some(i) => used[i] = true,
            None => bad.push(format!("{capture}: no span agrees with {want}")),
        }
    }
    if let Some(n) = f["http_exact_count"].as_u64() {
        if spans.len() as u64 != n {
            bad.push(format!("{capture}: {} HTTP spans, the source states {n}", spans.len()));
        }
    }
    if f["parse_clean"] == true && sum.parse.errors_malformed != 0 {
        bad.push(format!("{capture}: {} malformed messages", sum.parse.errors_malformed));
    }
    if !bad.is_empty() {
        let got: Vec<String> = spans
            .iter()
            .map(|s| {
                let a = &s["attributes"];
                format!(
                    "{} {} {} {} stream={} grpc={} inc={}",
                    s["name"],
                    a["http.method"],
                    a["http.target"],
                    a["http.status_code"],
                    a["http2.stream_id"],
                    a["rpc.grpc.status_code"],
                    a["telegen.incomplete"]
                )
            })
            .collect();
        bad.push(format!("{capture}: our spans: {got:#?}"));
    }
    bad
}

#[test]
#[ignore = "needs the capture corpus"]
fn every_http2_capture_replays_and_meets_its_facts() {
    let dir = corpus();
    let files = manifest_captures(&dir, &["http2/"]);
    assert!(files.len() >= 20, "MANIFEST lists {} HTTP/2 captures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let path = dir.join(file);
        let res = std::panic::catch_unwind(|| replay(&path));
        let (recs, sum) = match res {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                failures.push(format!("{file}: replay failed: {e:#}"));
                continue;
            }
            Err(_) => {
                failures.push(format!("{file}: replay panicked"));
                continue;
            }
        };
        let spans: Vec<Value> = recs
            .into_iter()
            .filter(|r| r["type"] == "span" && r["attributes"]["http.method"].is_string())
            .collect();
        assert!(
            spans.iter().all(|s| s["attributes"]["network.protocol.version"].is_string()),
            "{file}"
        );
        failures.extend(check(file, &spans, &sum));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every facts file belongs to a capture of the corpus (no stale facts).
#[test]
#[ignore = "needs the capture corpus"]
fn every_http2_facts_file_names_a_capture() {
    let dir = corpus();
    let files = manifest_captures(&dir, &["http2/"]);
    let facts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_facts/http2");
    for e in std::fs::read_dir(facts).unwrap().flatten() {
        let p = e.path();
        assert!(
            files.iter().any(|f| facts_path(f) == p),
            "{} matches no HTTP/2 capture of MANIFEST.tsv",
            p.display()
        );
        let f: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let src = f["source"].as_str().expect("source");
        assert!(dir.join(src).exists(), "{}: source {src} is missing", p.display());
    }
}
