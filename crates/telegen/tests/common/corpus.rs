//! The shared capture corpus (../shared/captures, never copied into the repository):
//! where it is, which captures its MANIFEST lists, and replaying one through the agent's
//! pipeline with the default configuration.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use telegen::config::Config;
use telegen::export::json::signal_json;
use telegen::replay::{replay_with, ReplaySummary};

/// The corpus folder, from TELEGEN_CAPTURES (tests over it are opt-in: `--ignored`).
pub fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var_os("TELEGEN_CAPTURES")
            .expect("set TELEGEN_CAPTURES to the capture corpus folder"),
    )
}

/// The captures MANIFEST.tsv lists under any of `prefixes` (expected-result rows skipped).
pub fn manifest_captures(dir: &Path, prefixes: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let (file, lt) = (*cols.first()?, *cols.get(6)?);
            let wanted = prefixes.iter().any(|p| file.starts_with(p));
            (wanted && !lt.starts_with('(')).then(|| file.to_string())
        })
        .collect()
}

/// Replays a capture with the default configuration; records as JSON, without the
/// random trace and span ids.
pub fn replay(path: &Path) -> anyhow::Result<(Vec<Value>, ReplaySummary)> {
    let eff = Config::default().effective();
    let mut out = Vec::new();
    let sum = replay_with(path, &eff, false, &mut |s| out.push(signal_json(&s)))?;
    for r in &mut out {
        if let Some(o) = r.as_object_mut() {
            o.remove("trace_id");
            o.remove("span_id");
        }
    }
    Ok((out, sum))
}
