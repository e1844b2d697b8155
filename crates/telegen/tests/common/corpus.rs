//! The shared capture corpus (never copied into the repository; its folder is named by
//! TELEGEN_CAPTURES): where it is, and the captures its MANIFEST.tsv lists with the
//! packet count tcpdump gave for each.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The corpus folder, from TELEGEN_CAPTURES (tests over it are opt-in: `--ignored`).
pub fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var_os("TELEGEN_CAPTURES")
            .expect("set TELEGEN_CAPTURES to the capture corpus folder"),
    )
}

/// One capture of the MANIFEST.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The path in the corpus, e.g. `dns/zeek/dns53.pcap`.
    pub file: String,
    /// The packet count of the `linktype_pkts` column (`LINKTYPE/Npkts`), if it has one.
    pub packets: Option<u64>,
}

/// Every capture MANIFEST.tsv lists, in its order (the expected-result files it also
/// lists, whose `linktype_pkts` is a note in parentheses, are left out).
pub fn manifest(dir: &Path) -> Vec<Listed> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (file_col, lt_col) = (col("file"), col("linktype_pkts"));
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let lt = cols[lt_col];
        if lt.starts_with('(') {
            continue; // an expected-result file, not a capture
        }
        let packets =
            lt.rsplit('/').next().and_then(|p| p.strip_suffix("pkts")).and_then(|n| n.parse().ok());
        out.push(Listed { file: cols[file_col].to_string(), packets });
    }
    out
}

/// The captures MANIFEST.tsv lists under any of `prefixes` (e.g. `"dns/"`).
pub fn manifest_captures(dir: &Path, prefixes: &[&str]) -> Vec<String> {
    manifest(dir)
        .into_iter()
        .map(|c| c.file)
        .filter(|f| prefixes.iter().any(|p| f.starts_with(p)))
        .collect()
}
