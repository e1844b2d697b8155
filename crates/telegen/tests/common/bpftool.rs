//! What is loaded in the kernel, as `bpftool` reports it: for the checks that a test left
//! no program behind.

#![allow(dead_code)]

/// `bpftool -j <what> show` (what: "prog", "link", ...), parsed.
pub fn bpftool_json(what: &str) -> serde_json::Value {
    let out = std::process::Command::new("bpftool")
        .args(["-j", what, "show"])
        .output()
        .expect("bpftool (apt-get install bpftool)");
    assert!(out.status.success(), "bpftool {what} show failed");
    serde_json::from_slice(&out.stdout).expect("bpftool JSON")
}

/// The names of the loaded programs that start with `prefix`.
pub fn program_names(prefix: &str) -> Vec<String> {
    bpftool_json("prog")
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .filter(|n| n.starts_with(prefix))
        .map(String::from)
        .collect()
}
