//! `probe_kernel` against the real kernel: every hook type gets a verdict, the hooks this
//! machine kind is known to allow work, and nothing is left attached. Needs root; fails
//! with a clear message without it.

use crate::common::bpftool::program_names;
use crate::common::root::root_test;
use telegen::capture::check::{core_ok, probe_kernel};

fn tg_probe_programs() -> Vec<String> {
    program_names("tg_pr_")
}

fn lo_qdiscs() -> String {
    let out =
        std::process::Command::new("tc").args(["qdisc", "show", "dev", "lo"]).output().expect("tc");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn probe_reports_every_hook_and_leaves_nothing() {
    let _root = root_test(module_path!());
    let clsact_before = lo_qdiscs().contains("clsact");
    let results = probe_kernel();
    for r in &results {
        eprintln!("{:<16} {:<5} {}", r.hook, r.works, r.detail.lines().next().unwrap_or(""));
        assert!(!r.detail.is_empty(), "{r:?}");
        // A row names a feature only where telegen really uses the hook.
        let used = ["btf", "ring_buffer", "tp_btf", "tracepoint", "task_pt_regs", "iter_tcp"];
        assert_eq!(!r.enables.is_empty(), used.contains(&r.hook), "{r:?}");
    }
    let hooks: Vec<&str> = results.iter().map(|r| r.hook).collect();
    for h in [
        "btf",
        "ring_buffer",
        "tp_btf",
        "tracepoint",
        "task_pt_regs",
        "fentry",
        "kprobe",
        "iter_tcp",
        "xdp_native(lo)",
        "xdp_generic(lo)",
        "tcx(lo)",
        "tc_clsact(lo)",
        "cgroup_skb",
        "uprobe",
    ] {
        assert!(hooks.contains(&h), "no verdict for {h}: {hooks:?}");
    }
    // Measured on this machine kind.
    for h in [
        "btf",
        "ring_buffer",
        "tp_btf",
        "tracepoint",
        "task_pt_regs",
        "iter_tcp",
        "xdp_generic(lo)",
        "tcx(lo)",
        "tc_clsact(lo)",
        "cgroup_skb",
        "uprobe",
    ] {
        let r = results.iter().find(|r| r.hook == h).unwrap();
        assert!(r.works, "{h} should work on this kernel: {}", r.detail);
    }
    let native = results.iter().find(|r| r.hook == "xdp_native(lo)").unwrap();
    assert!(!native.works, "lo has no native XDP support, yet the probe said it works");
    assert!(core_ok(&results));
    // Programs are freed after an RCU grace period: poll briefly.
    let t0 = std::time::Instant::now();
    while !tg_probe_programs().is_empty() {
        assert!(
            t0.elapsed().as_secs() < 5,
            "probe programs left loaded: {:?}",
            tg_probe_programs()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        lo_qdiscs().contains("clsact"),
        clsact_before,
        "the probe changed lo's qdiscs: {}",
        lo_qdiscs()
    );
}
