//! Loading a kernel object and attaching its programs, for both captures (and the
//! probe): mounts, the shared kernel BTF, the admission settings both objects take
//! (bpf/filters.h), and attaching one hook at a time, so a hook the kernel refuses
//! degrades one feature instead of the whole capture. [`attach_pair`] tries a tp_btf
//! program first and falls back to its classic tracepoint twin from the same object;
//! [`attach_classic`] attaches a classic tracepoint.
//!
//! Nothing is pinned and no persistent object is created: every program, link and map
//! lives only as long as the file descriptors of this process, so dropping the loaded
//! object (or the process dying, even by SIGKILL) removes everything from the kernel.

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use aya::programs::{BtfTracePoint, Program, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use tracing::{debug, warn};

/// Errors that stop the whole capture (individual hooks only degrade).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("kernel BTF (/sys/kernel/btf/vmlinux) is unavailable")]
    Btf(#[source] aya::BtfError),
    #[error("loading the BPF object failed")]
    Object(#[source] aya::EbpfError),
    #[error("BPF map {name} is missing or has the wrong type")]
    Map {
        name: &'static str,
        #[source]
        source: Option<aya::maps::MapError>,
    },
    #[error("no connection-lifecycle hook could be attached: {0}")]
    NoLifecycle(String),
}

/// How one hook ended up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum HookStatus {
    /// The preferred tp_btf program is attached.
    TpBtf,
    /// tp_btf was refused; the classic tracepoint is attached instead.
    Classic { tp_btf_error: String },
    /// Only a classic tracepoint exists for this hook and it is attached.
    ClassicOnly,
    /// Disabled by the options.
    Disabled,
    /// Nothing could be attached.
    Failed { error: String },
}

impl HookStatus {
    pub fn is_attached(&self) -> bool {
        matches!(self, HookStatus::TpBtf | HookStatus::Classic { .. } | HookStatus::ClassicOnly)
    }
}

/// One hook and what it feeds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HookReport {
    /// Tracepoint name, e.g. `sock/inet_sock_set_state`.
    pub hook: &'static str,
    /// The telegen feature it serves.
    pub feature: &'static str,
    #[serde(flatten)]
    pub status: HookStatus,
}

/// Mounts tracefs and bpffs when missing (best effort: failures are logged only).
pub fn ensure_mounts() {
    for (fs, target) in [("tracefs", "/sys/kernel/tracing"), ("bpf", "/sys/fs/bpf")] {
        let probe = if fs == "tracefs" { "events" } else { "" };
        if fs == "tracefs" && Path::new(target).join(probe).exists() {
            continue;
        }
        if fs == "bpf" && is_mounted(target, "bpf") {
            continue;
        }
        let res = std::process::Command::new("mount").args(["-t", fs, fs, target]).output();
        match res {
            Ok(o) if o.status.success() => debug!(fs, target, "mounted"),
            Ok(o) => {
                warn!(fs, target, err = %String::from_utf8_lossy(&o.stderr).trim(), "mount failed")
            }
            Err(e) => warn!(fs, target, %e, "mount failed"),
        }
    }
}

fn is_mounted(target: &str, fstype: &str) -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines().any(|l| {
                let mut f = l.split_whitespace();
                let _dev = f.next();
                f.next() == Some(target) && f.next() == Some(fstype)
            })
        })
        .unwrap_or(false)
}

/// The kernel's BTF, parsed from /sys/kernel/btf/vmlinux. Parsing takes about 15 MB of
/// heap and tens of milliseconds, so the result is shared: every object loaded while some
/// caller still holds the returned `Arc` reuses it, and it is freed with the last holder
/// (`run` holds one across all its loads, then drops it).
pub fn kernel_btf() -> Result<Arc<Btf>, LoadError> {
    static CACHE: Mutex<Weak<Btf>> = Mutex::new(Weak::new());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(btf) = cache.upgrade() {
        return Ok(btf);
    }
    let btf = Arc::new(Btf::from_sys_fs().map_err(LoadError::Btf)?);
    // The parse leaves its file buffer and outgrown vectors behind.
    crate::util::release_free_heap();
    *cache = Arc::downgrade(&btf);
    Ok(btf)
}

/// Raises RLIMIT_MEMLOCK; kernels that charge BPF memory to the cgroup do not need it,
/// and this machine refuses it (EPERM), so a failure is only a debug message.
pub fn raise_memlock() {
    let rl = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rl) } != 0 {
        debug!(err = %std::io::Error::last_os_error(), "setrlimit(RLIMIT_MEMLOCK) failed; continuing");
    }
}

/// Rounds a ring-buffer size to what the kernel accepts (power of two, >= one page).
pub fn ring_size(bytes: u64) -> u32 {
    bytes.clamp(4096, 1 << 30).next_power_of_two() as u32
}

/// The first port list longer than `max`: (its name, its length).
pub fn too_many_ports(lists: &[(&'static str, &[u16])], max: u32) -> Option<(&'static str, usize)> {
    lists.iter().find(|(_, ports)| ports.len() > max as usize).map(|(w, p)| (*w, p.len()))
}

/// Admission settings both objects share (bpf/filters.h): include/exclude port maps and
/// 1-in-N sampling.
#[derive(Debug, Clone)]
pub struct Admission<'a> {
    pub include_ports: &'a [u16],
    pub exclude_ports: &'a [u16],
    pub port_filter_max: u32,
    sample_rate: u32,
    use_include: u32,
    use_exclude: u32,
}

impl<'a> Admission<'a> {
    pub fn new(include: &'a [u16], exclude: &'a [u16], max: u32, sample_rate: u32) -> Self {
        Admission {
            include_ports: include,
            exclude_ports: exclude,
            port_filter_max: max.max(1),
            sample_rate: sample_rate.max(1),
            use_include: !include.is_empty() as u32,
            use_exclude: !exclude.is_empty() as u32,
        }
    }

    /// A loader with kernel BTF and the admission globals and map sizes set.
    pub fn loader<'l>(&'l self, btf: &'l Btf) -> EbpfLoader<'l> {
        let mut l = EbpfLoader::new();
        l.btf(Some(btf))
            .override_global("cfg_sample_rate", &self.sample_rate, true)
            .override_global("cfg_use_include", &self.use_include, true)
            .override_global("cfg_use_exclude", &self.use_exclude, true)
            .map_max_entries("tg_incl_ports", self.port_filter_max)
            .map_max_entries("tg_excl_ports", self.port_filter_max);
        l
    }

    /// Writes the port lists into the loaded object's maps.
    pub fn fill(&self, ebpf: &mut Ebpf) -> Result<(), LoadError> {
        fill_ports(ebpf, "tg_incl_ports", self.include_ports)?;
        fill_ports(ebpf, "tg_excl_ports", self.exclude_ports)
    }
}

/// Writes `ports` (value 1) into the `HASH<u16, u8>` map `name`.
pub fn fill_ports(ebpf: &mut Ebpf, name: &'static str, ports: &[u16]) -> Result<(), LoadError> {
    let map = ebpf.map_mut(name).ok_or(LoadError::Map { name, source: None })?;
    let mut map: aya::maps::HashMap<_, u16, u8> =
        aya::maps::HashMap::try_from(map).map_err(|e| LoadError::Map { name, source: Some(e) })?;
    for p in ports {
        map.insert(p, 1, 0).map_err(|e| LoadError::Map { name, source: Some(e) })?;
    }
    Ok(())
}

/// Error text with the whole source chain (aya nests the errno deep inside).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        let mut t = c.to_string();
        // aya ends a failed load with "Verifier output: <log>"; an empty log says nothing.
        if let Some(x) = t.trim_end().strip_suffix("Verifier output:") {
            t = x.trim_end().trim_end_matches('.').to_string();
        }
        // A cause that its wrapper already printed is not repeated.
        if !t.is_empty() && !parts.last().is_some_and(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = c.source();
    }
    parts.join(": ")
}

/// Attaches the tp_btf program `btf_prog` to `name`; if the kernel refuses it (load or
/// attach), attaches the classic tracepoint program `tp_prog` to `cat/name` instead.
pub fn attach_pair(
    ebpf: &mut Ebpf,
    btf: &Btf,
    btf_prog: &str,
    tp_prog: &str,
    cat: &str,
    name: &str,
) -> HookStatus {
    match attach_btf(ebpf, btf, btf_prog, name) {
        Ok(()) => HookStatus::TpBtf,
        Err(tp_btf_error) => {
            warn!(hook = name, error = %tp_btf_error, "tp_btf refused; trying the classic tracepoint");
            match attach_classic(ebpf, tp_prog, cat, name) {
                Ok(()) => HookStatus::Classic { tp_btf_error },
                Err(e) => {
                    HookStatus::Failed { error: format!("tp_btf: {tp_btf_error}; tracepoint: {e}") }
                }
            }
        }
    }
}

fn attach_btf(ebpf: &mut Ebpf, btf: &Btf, prog: &str, tp: &str) -> Result<(), String> {
    let p: &mut BtfTracePoint = program(ebpf, prog)?.try_into().map_err(|e| chain(&e))?;
    p.load(tp, btf).map_err(|e| chain(&e))?;
    if let Err(e) = p.attach() {
        let _ = p.unload();
        return Err(chain(&e));
    }
    Ok(())
}

/// Loads program `prog` and attaches it to the classic tracepoint `cat/name`.
/// A program may serve several tracepoints: it is loaded (verified) at its first attach
/// only, and a refused attach leaves its other attachments alone.
pub fn attach_classic(ebpf: &mut Ebpf, prog: &str, cat: &str, name: &str) -> Result<(), String> {
    let p: &mut TracePoint = program(ebpf, prog)?.try_into().map_err(|e| chain(&e))?;
    if p.fd().is_err() {
        p.load().map_err(|e| chain(&e))?;
    }
    p.attach(cat, name).map(|_| ()).map_err(|e| chain(&e))
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Program, String> {
    ebpf.program_mut(name).ok_or_else(|| format!("program {name} missing from the object"))
}
