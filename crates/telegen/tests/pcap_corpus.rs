//! Every capture of the shared corpus (TELEGEN_CAPTURES, see its README.md and
//! MANIFEST.tsv) is replayed without a panic or an error, and the packet count matches
//! the MANIFEST's `linktype_pkts` column (`LINKTYPE/Npkts`, as tcpdump counted them).
//! The stats of each file are printed (run with `--nocapture` to see them).
//!
//! `TELEGEN_CAPTURES=/work/shared/captures cargo test -p telegen --test pcap_corpus -- --ignored`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use telegen::pcap::{PcapReplaySource, ReplayConfig};

/// Captures whose MANIFEST count is tcpdump's line count, not its packet count: tcpdump
/// prints the inner packet of a VXLAN/Geneve tunnel on a second line. The real counts
/// (checked with `tcpdump -r FILE | grep -c '^[0-9]'`) are asserted instead.
const TUNNEL_LINE_COUNTS: &[(&str, u64)] = &[
    ("dns/zeek/geneve-vxlan-dns-truncated.pcap", 2),
    ("http1/zeek/vxlan-encapsulated-http.pcap", 12),
];

fn corpus() -> PathBuf {
    let dir = std::env::var_os("TELEGEN_CAPTURES")
        .expect("set TELEGEN_CAPTURES to the capture corpus folder");
    PathBuf::from(dir)
}

/// file -> expected packet count, from MANIFEST.tsv.
fn manifest(dir: &Path) -> BTreeMap<String, Option<u64>> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (file_col, lt_col) = (col("file"), col("linktype_pkts"));
    let mut out = BTreeMap::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let lt = cols[lt_col];
        if lt.starts_with('(') {
            continue; // an expected-result file, not a capture
        }
        let count =
            lt.rsplit('/').next().and_then(|p| p.strip_suffix("pkts")).and_then(|n| n.parse().ok());
        let file = cols[file_col];
        let fixed = TUNNEL_LINE_COUNTS.iter().find(|(f, _)| *f == file).map(|(_, n)| *n);
        out.insert(file.to_string(), fixed.or(count));
    }
    out
}

#[test]
#[ignore = "needs the capture corpus"]
fn every_capture_replays_and_packet_counts_match() {
    let dir = corpus();
    let files = manifest(&dir);
    assert!(files.len() > 50, "MANIFEST lists {} captures", files.len());
    let mut failures = Vec::new();
    let mut total_events = 0u64;
    for (file, want) in &files {
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
            if stats.packets != *want {
                failures.push(format!("{file}: {} packets, MANIFEST says {want}", stats.packets));
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
