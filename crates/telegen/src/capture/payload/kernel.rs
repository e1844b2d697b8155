//! Loads bpf/obj/payload.bpf.o with aya and attaches each program on its own: a syscall
//! the kernel does not let us hook loses only that syscall's payloads, reported in the
//! hook list. Only classic tracepoints are used (see bpf/payload.bpf.c for why).

use aya::Ebpf;

use crate::capture::bpf::loader::{self, Admission, HookReport, HookStatus, LoadError};

/// The compiled payload programs (rebuilt by `cargo xtask bpf`).
pub static PAYLOAD_OBJ: &[u8] = aya::include_bytes_aligned!("../../../../../bpf/obj/payload.bpf.o");

/// Load-time settings written into rodata and map sizes.
#[derive(Debug, Clone)]
pub struct PayloadKernelSettings {
    pub max_payload: u32,
    pub classify_bytes: u32,
    pub protocols: u32,
    pub sample_rate: u32,
    pub include_ports: Vec<u16>,
    pub exclude_ports: Vec<u16>,
    pub dns_ports: Vec<u16>,
    pub ignore_tgid: u32,
    pub ring_bytes: u32,
    pub wakeup_bytes: u64,
    pub max_connections: u32,
    pub port_filter_max: u32,
}

/// (program, tracepoint, feature) of every hook, in attach order. One exit program serves
/// every syscall (it reads the arguments from the task's saved registers and tells the
/// syscalls apart by number), one enter program notes the sends' start time (an exit
/// attached before its enter times its sends at exit: nothing is lost).
const HOOKS: &[(&str, &str, &str)] = &[
    ("tg_pl_state", "sock/inet_sock_set_state", "tcp roles and closes"),
    ("tg_pl_exit", "syscalls/sys_exit_write", "write"),
    ("tg_pl_enter_send", "syscalls/sys_enter_write", "write (start time)"),
    ("tg_pl_exit", "syscalls/sys_exit_writev", "writev"),
    ("tg_pl_enter_send", "syscalls/sys_enter_writev", "writev (start time)"),
    ("tg_pl_exit", "syscalls/sys_exit_sendto", "send/sendto"),
    ("tg_pl_enter_send", "syscalls/sys_enter_sendto", "send/sendto (start time)"),
    ("tg_pl_exit", "syscalls/sys_exit_sendmsg", "sendmsg"),
    ("tg_pl_enter_send", "syscalls/sys_enter_sendmsg", "sendmsg (start time)"),
    ("tg_pl_exit", "syscalls/sys_exit_sendmmsg", "sendmmsg"),
    ("tg_pl_enter_send", "syscalls/sys_enter_sendmmsg", "sendmmsg (start time)"),
    ("tg_pl_exit", "syscalls/sys_exit_read", "read"),
    ("tg_pl_exit", "syscalls/sys_exit_readv", "readv"),
    ("tg_pl_exit", "syscalls/sys_exit_recvfrom", "recv/recvfrom"),
    ("tg_pl_exit", "syscalls/sys_exit_recvmsg", "recvmsg"),
    ("tg_pl_exit", "syscalls/sys_exit_recvmmsg", "recvmmsg"),
    ("tg_pl_exit", "syscalls/sys_exit_sendfile64", "sendfile (byte count)"),
    ("tg_pl_enter_send", "syscalls/sys_enter_sendfile64", "sendfile (start time)"),
    ("tg_pl_exit", "syscalls/sys_exit_splice", "splice (byte count)"),
    ("tg_pl_enter_send", "syscalls/sys_enter_splice", "splice (start time)"),
    ("tg_pl_enter_close", "syscalls/sys_enter_close", "udp closes"),
];

/// The loaded object plus the hook report.
pub struct PayloadProgs {
    pub ebpf: Ebpf,
    pub hooks: Vec<HookReport>,
}

/// Loads the object with `s` and attaches every hook it can (see the hook report).
pub fn load(s: &PayloadKernelSettings) -> Result<PayloadProgs, LoadError> {
    loader::ensure_mounts();
    loader::raise_memlock();
    let btf = loader::kernel_btf()?;
    let cpus = aya::util::nr_cpus().map(|n| n as u32).unwrap_or(256).max(1);
    let adm = Admission::new(&s.include_ports, &s.exclude_ports, s.port_filter_max, s.sample_rate);
    let dns_max = (s.dns_ports.len() as u32).max(64);
    let mut ebpf = adm
        .loader(&btf)
        .override_global("cfg_max_payload", &s.max_payload, true)
        .override_global("cfg_classify_bytes", &s.classify_bytes, true)
        .override_global("cfg_protocols", &s.protocols, true)
        .override_global("cfg_ignore_tgid", &s.ignore_tgid, true)
        .override_global("cfg_wakeup_bytes", &s.wakeup_bytes, true)
        .map_max_entries("tg_pl_events", s.ring_bytes)
        .map_max_entries("tg_pl_conns", s.max_connections.max(1))
        .map_max_entries("tg_pl_h2s", s.max_connections.max(1))
        .map_max_entries("tg_pl_scratch", cpus)
        .map_max_entries("tg_dns_ports", dns_max)
        .load(PAYLOAD_OBJ)
        .map_err(LoadError::Object)?;
    adm.fill(&mut ebpf)?;
    loader::fill_ports(&mut ebpf, "tg_dns_ports", &s.dns_ports)?;

    let mut hooks = Vec::with_capacity(HOOKS.len());
    for &(prog, hook, feature) in HOOKS {
        let (cat, name) = hook.split_once('/').expect("hook names are category/name");
        let status = match loader::attach_classic(&mut ebpf, prog, cat, name) {
            Ok(()) => HookStatus::ClassicOnly,
            Err(error) => {
                tracing::warn!(hook, %error, "payload hook refused");
                HookStatus::Failed { error }
            }
        };
        hooks.push(HookReport { hook, feature, status });
    }
    Ok(PayloadProgs { ebpf, hooks })
}
