//! Kernel capability probe for `telegen check`: for each hook type, load and attach a
//! trivial program from bpf/obj/probe.bpf.o, detach at once, and report whether it works
//! (with the kernel's error text when not) and which telegen features it enables.
//!
//! Nothing is left behind: every program is unloaded right after its attach, and a clsact
//! qdisc is removed again only if this probe created it (an existing one is left alone).

use std::os::fd::AsFd;

use aya::programs::links::LinkOrder;
use aya::programs::tc::{NlOptions, TcAttachOptions};
use aya::programs::uprobe::UProbeScope;
use aya::programs::{
    tc, BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, FEntry, Iter, KProbe,
    SchedClassifier, TcAttachType, TracePoint, UProbe, Xdp, XdpMode,
};
use aya::{Btf, Ebpf, EbpfLoader};

use super::bpf::loader::{chain, ensure_mounts};

/// The compiled probe programs (rebuilt by `cargo xtask bpf`).
pub static PROBE_OBJ: &[u8] = aya::include_bytes_aligned!("../../../../bpf/obj/probe.bpf.o");

/// One hook type's verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeResult {
    /// Hook type, e.g. `tp_btf`, `xdp_native(lo)`.
    pub hook: &'static str,
    pub works: bool,
    /// "ok" or the kernel's error.
    pub detail: String,
    /// telegen features that use this hook.
    pub enables: &'static [&'static str],
    /// True when the core TCP features cannot run without it (or its fallback).
    pub core: bool,
}

fn result(
    hook: &'static str,
    res: Result<(), String>,
    enables: &'static [&'static str],
    core: bool,
) -> ProbeResult {
    let (works, detail) = match res {
        Ok(()) => (true, "ok".to_string()),
        Err(e) => (false, e),
    };
    ProbeResult { hook, works, detail, enables, core }
}

/// What a hook type enables when no telegen feature uses it yet (rows gain features as
/// they land).
pub const NOT_USED_YET: &[&str] = &[];

/// Probes every hook type. Needs root; failures are results, never panics.
pub fn probe_kernel() -> Vec<ProbeResult> {
    ensure_mounts();
    super::bpf::loader::raise_memlock();
    let mut out = Vec::new();
    let btf = Btf::from_sys_fs();
    out.push(result(
        "btf",
        btf.as_ref().map(|_| ()).map_err(|e| chain(e)),
        &["CO-RE (all kernel programs)", "tp_btf", "iterators"],
        true,
    ));
    let mut ebpf = match EbpfLoader::new().btf(btf.as_ref().ok()).load(PROBE_OBJ) {
        Ok(e) => e,
        Err(e) => {
            out.push(result("bpf_object", Err(chain(&e)), &["everything"], true));
            return out;
        }
    };
    out.push(result("ring_buffer", ring(&mut ebpf), &["event delivery to user space"], true));
    let btf_ok = btf.as_ref().ok();
    out.push(result(
        "tp_btf",
        with_btf(btf_ok, |b| tp_btf(&mut ebpf, b)),
        &["tcp hooks (preferred: typed arguments, socket cookies)"],
        false,
    ));
    out.push(result(
        "tracepoint",
        tracepoint(&mut ebpf),
        &["tcp hooks (fallback)", "syscall hooks (accept owner, payload)"],
        true,
    ));
    out.push(result(
        "task_pt_regs",
        task_pt_regs(&mut ebpf),
        &["socket payload capture (syscall arguments read at exit)"],
        false,
    ));
    out.push(result("fentry", with_btf(btf_ok, |b| fentry(&mut ebpf, b)), NOT_USED_YET, false));
    out.push(result("kprobe", kprobe(&mut ebpf), NOT_USED_YET, false));
    out.push(result(
        "iter_tcp",
        with_btf(btf_ok, |b| iter(&mut ebpf, b)),
        &["pre-existing connections"],
        false,
    ));
    out.push(result("xdp_native(lo)", xdp(&mut ebpf, XdpMode::Driver), NOT_USED_YET, false));
    out.push(result("xdp_generic(lo)", xdp(&mut ebpf, XdpMode::Skb), NOT_USED_YET, false));
    out.push(result("tcx(lo)", tcx(&mut ebpf), NOT_USED_YET, false));
    out.push(result("tc_clsact(lo)", tc_clsact(&mut ebpf), NOT_USED_YET, false));
    out.push(result("cgroup_skb", cgroup_skb(&mut ebpf), NOT_USED_YET, false));
    out.push(result("uprobe", uprobe(&mut ebpf), NOT_USED_YET, false));
    out
}

/// True when the core TCP features can run: BTF-less CO-RE aside, a ring buffer and
/// either tp_btf or classic tracepoints.
pub fn core_ok(results: &[ProbeResult]) -> bool {
    let works = |h: &str| results.iter().any(|r| r.hook == h && r.works);
    works("ring_buffer") && (works("tp_btf") || works("tracepoint")) && works("btf")
}

fn with_btf(btf: Option<&Btf>, f: impl FnOnce(&Btf) -> Result<(), String>) -> Result<(), String> {
    match btf {
        Some(b) => f(b),
        None => Err("no kernel BTF".into()),
    }
}

fn prog<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, String>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf.program_mut(name).ok_or_else(|| format!("{name} missing from probe.bpf.o"))?;
    p.try_into().map_err(|e: aya::programs::ProgramError| chain(&e))
}

fn ring(ebpf: &mut Ebpf) -> Result<(), String> {
    let map = ebpf.map("tg_pr_ring").ok_or("ring buffer map missing")?;
    aya::maps::RingBuf::try_from(map).map_err(|e| chain(&e))?;
    let p: &mut TracePoint = prog(ebpf, "tg_pr_ring_tp")?;
    p.load().map_err(|e| chain(&e))?;
    p.unload().map_err(|e| chain(&e))
}

fn task_pt_regs(ebpf: &mut Ebpf) -> Result<(), String> {
    classic_once(ebpf, "tg_pr_pt_regs", "syscalls", "sys_exit_getppid")
}

fn tp_btf(ebpf: &mut Ebpf, btf: &Btf) -> Result<(), String> {
    let p: &mut BtfTracePoint = prog(ebpf, "tg_pr_tp_btf")?;
    p.load("inet_sock_set_state", btf).map_err(|e| chain(&e))?;
    let r = p.attach().map(|_| ()).map_err(|e| chain(&e));
    let _ = p.unload();
    r
}

fn tracepoint(ebpf: &mut Ebpf) -> Result<(), String> {
    classic_once(ebpf, "tg_pr_tp", "sock", "inet_sock_set_state")
}

/// Loads `name`, attaches it to the classic tracepoint `cat/tp`, detaches and unloads it.
fn classic_once(ebpf: &mut Ebpf, name: &str, cat: &str, tp: &str) -> Result<(), String> {
    let p: &mut TracePoint = prog(ebpf, name)?;
    p.load().map_err(|e| chain(&e))?;
    let r = p.attach(cat, tp).map(|_| ()).map_err(|e| chain(&e));
    let _ = p.unload();
    r
}

fn fentry(ebpf: &mut Ebpf, btf: &Btf) -> Result<(), String> {
    let p: &mut FEntry = prog(ebpf, "tg_pr_fentry")?;
    p.load("tcp_v4_connect", btf).map_err(|e| chain(&e))?;
    let r = p.attach().map(|_| ()).map_err(|e| chain(&e));
    let _ = p.unload();
    r
}

fn kprobe(ebpf: &mut Ebpf) -> Result<(), String> {
    let p: &mut KProbe = prog(ebpf, "tg_pr_kprobe")?;
    p.load().map_err(|e| chain(&e))?;
    let r = p.attach("tcp_v4_connect", 0).map(|_| ()).map_err(|e| chain(&e));
    let _ = p.unload();
    r
}

fn iter(ebpf: &mut Ebpf, btf: &Btf) -> Result<(), String> {
    let p: &mut Iter = prog(ebpf, "tg_pr_iter")?;
    p.load("tcp", btf).map_err(|e| chain(&e))?;
    let r = p.attach().map(|_| ()).map_err(|e| chain(&e));
    let _ = p.unload();
    r
}

fn xdp(ebpf: &mut Ebpf, mode: XdpMode) -> Result<(), String> {
    let p: &mut Xdp = prog(ebpf, "tg_pr_xdp")?;
    if p.fd().is_err() {
        p.load().map_err(|e| chain(&e))?;
    }
    match p.attach("lo", mode) {
        Ok(id) => p.detach(id).map_err(|e| chain(&e)),
        Err(e) => Err(chain(&e)),
    }
}

fn tcx(ebpf: &mut Ebpf) -> Result<(), String> {
    let p: &mut SchedClassifier = prog(ebpf, "tg_pr_tc")?;
    if p.fd().is_err() {
        p.load().map_err(|e| chain(&e))?;
    }
    let opts = TcAttachOptions::TcxOrder(LinkOrder::default());
    match p.attach_with_options("lo", TcAttachType::Ingress, opts) {
        Ok(id) => p.detach(id).map_err(|e| chain(&e)),
        Err(e) => Err(chain(&e)),
    }
}

fn tc_clsact(ebpf: &mut Ebpf) -> Result<(), String> {
    let p: &mut SchedClassifier = prog(ebpf, "tg_pr_tc")?;
    if p.fd().is_err() {
        p.load().map_err(|e| chain(&e))?;
    }
    // Only remove the qdisc again if we created it: another tool may own an existing one.
    let created = match tc::qdisc_add_clsact("lo") {
        Ok(()) => true,
        Err(tc::TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => false,
        Err(e) => return Err(chain(&e)),
    };
    let opts = TcAttachOptions::Netlink(NlOptions::default());
    let r = match p.attach_with_options("lo", TcAttachType::Ingress, opts) {
        Ok(id) => p.detach(id).map_err(|e| chain(&e)),
        Err(e) => Err(chain(&e)),
    };
    if created {
        remove_clsact("lo");
    }
    r
}

/// Removes the clsact qdisc of `iface` (tc from iproute2; aya has no qdisc delete).
pub fn remove_clsact(iface: &str) {
    let _ =
        std::process::Command::new("tc").args(["qdisc", "del", "dev", iface, "clsact"]).output();
}

/// The cgroup v2 root mount point, from /proc/self/mounts.
pub fn cgroup2_root() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "cgroup2").then(|| f[1].to_string())
    })
}

fn cgroup_skb(ebpf: &mut Ebpf) -> Result<(), String> {
    let root = cgroup2_root().ok_or("no cgroup v2 mount")?;
    let dir = std::fs::File::open(&root).map_err(|e| format!("{root}: {e}"))?;
    let p: &mut CgroupSkb = prog(ebpf, "tg_pr_cgskb")?;
    p.load().map_err(|e| chain(&e))?;
    let r = match p.attach(dir.as_fd(), CgroupSkbAttachType::Ingress, CgroupAttachMode::default()) {
        Ok(id) => p.detach(id).map_err(|e| chain(&e)),
        Err(e) => Err(chain(&e)),
    };
    let _ = p.unload();
    r
}

/// The C library this process maps (a uprobe target that always exists).
fn libc_path() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|l| {
        let path = l.split_whitespace().nth(5)?;
        path.contains("/libc.so").then(|| path.to_string())
    })
}

fn uprobe(ebpf: &mut Ebpf) -> Result<(), String> {
    let lib = libc_path().ok_or("libc not found in /proc/self/maps")?;
    let p: &mut UProbe = prog(ebpf, "tg_pr_uprobe")?;
    p.load().map_err(|e| chain(&e))?;
    let r = match p.attach(
        "getpid",
        &lib,
        UProbeScope::OneProcess(std::num::NonZeroU32::new(std::process::id()).ok_or("pid 0")?),
    ) {
        Ok(id) => p.detach(id).map_err(|e| chain(&e)),
        Err(e) => Err(chain(&e)),
    };
    let _ = p.unload();
    r
}
