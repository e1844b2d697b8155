//! A capture replayed through the agent's whole pipeline (what `telegen replay` does):
//! the records as JSON lines would carry them, without the random trace and span ids
//! (capture timestamps kept).

#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use telegen::config::Effective;
use telegen::export::json::signal_json;
use telegen::replay::{replay_with, ReplaySummary};

/// Replays `path` with the settings `eff`: the records and the summary.
pub fn records(path: &Path, eff: &Effective) -> anyhow::Result<(Vec<Value>, ReplaySummary)> {
    let mut out = Vec::new();
    let sum = replay_with(path, eff, false, &mut |s| out.push(signal_json(&s)))?;
    for r in &mut out {
        if let Some(o) = r.as_object_mut() {
            o.remove("trace_id");
            o.remove("span_id");
        }
    }
    Ok((out, sum))
}
