//! Loads bpf/obj/conn.bpf.o with aya and attaches each program on its own, so a hook the
//! kernel refuses degrades one feature instead of the whole capture. Each hook tries its
//! tp_btf program first and falls back to the classic tracepoint twin (see
//! [`loader::attach_pair`]); the accept hooks exist only as classic tracepoints.

use std::sync::Arc;

use aya::{Btf, Ebpf};

use crate::capture::bpf::loader::{self, Admission, HookReport, HookStatus, LoadError};

/// The compiled connection programs (rebuilt by `cargo xtask bpf`).
pub static CONN_OBJ: &[u8] = aya::include_bytes_aligned!("../../../../../bpf/obj/conn.bpf.o");

/// Load-time settings written into rodata and map sizes.
#[derive(Debug, Clone)]
pub struct TcpKernelSettings {
    pub sample_rate: u32,
    /// Connections whose local or remote port is listed are kept (empty = all).
    pub include_ports: Vec<u16>,
    /// Connections whose local or remote port is listed are dropped.
    pub exclude_ports: Vec<u16>,
    pub rtt: bool,
    pub retransmits: bool,
    pub stats: bool,
    pub rtt_interval_ns: u64,
    pub stats_interval_ns: u64,
    pub ring_bytes: u32,
    pub wakeup_bytes: u64,
    pub max_connections: u32,
    pub port_filter_max: u32,
}

/// The loaded object plus the hook report.
pub struct TcpProgs {
    pub ebpf: Ebpf,
    pub btf: Arc<Btf>,
    pub hooks: Vec<HookReport>,
}

/// Loads the object with `s` in rodata and attaches every enabled hook.
pub fn load(s: &TcpKernelSettings) -> Result<TcpProgs, LoadError> {
    loader::ensure_mounts();
    loader::raise_memlock();
    let btf = loader::kernel_btf()?;
    let adm = Admission::new(&s.include_ports, &s.exclude_ports, s.port_filter_max, s.sample_rate);
    let (rtt, retx, stats) = (s.rtt as u32, s.retransmits as u32, s.stats as u32);
    let mut ebpf = adm
        .loader(&btf)
        .override_global("cfg_emit_rtt", &rtt, true)
        .override_global("cfg_emit_retransmits", &retx, true)
        .override_global("cfg_emit_stats", &stats, true)
        .override_global("cfg_rtt_interval_ns", &s.rtt_interval_ns, true)
        .override_global("cfg_stats_interval_ns", &s.stats_interval_ns, true)
        .override_global("cfg_wakeup_bytes", &s.wakeup_bytes, true)
        .map_max_entries("tg_events", s.ring_bytes)
        .map_max_entries("tg_conns", s.max_connections.max(1))
        .load(CONN_OBJ)
        .map_err(LoadError::Object)?;
    adm.fill(&mut ebpf)?;

    let mut hooks = Vec::new();
    let state = loader::attach_pair(
        &mut ebpf,
        &btf,
        "tg_btf_state",
        "tg_tp_state",
        "sock",
        "inet_sock_set_state",
    );
    if !state.is_attached() {
        return Err(LoadError::NoLifecycle(format!("{state:?}")));
    }
    hooks.push(HookReport {
        hook: "sock/inet_sock_set_state",
        feature: "connection lifecycle",
        status: state,
    });
    let probe = if s.rtt || s.stats {
        loader::attach_pair(&mut ebpf, &btf, "tg_btf_probe", "tg_tp_probe", "tcp", "tcp_probe")
    } else {
        HookStatus::Disabled
    };
    hooks.push(HookReport {
        hook: "tcp/tcp_probe",
        feature: "rtt and periodic stats",
        status: probe,
    });
    let retx = if s.retransmits {
        loader::attach_pair(
            &mut ebpf,
            &btf,
            "tg_btf_retx",
            "tg_tp_retx",
            "tcp",
            "tcp_retransmit_skb",
        )
    } else {
        HookStatus::Disabled
    };
    hooks.push(HookReport { hook: "tcp/tcp_retransmit_skb", feature: "retransmits", status: retx });
    let rx = loader::attach_pair(
        &mut ebpf,
        &btf,
        "tg_btf_rst_rx",
        "tg_tp_rst_rx",
        "tcp",
        "tcp_receive_reset",
    );
    hooks.push(HookReport {
        hook: "tcp/tcp_receive_reset",
        feature: "reset errors (received)",
        status: rx,
    });
    let tx = loader::attach_pair(
        &mut ebpf,
        &btf,
        "tg_btf_rst_tx",
        "tg_tp_rst_tx",
        "tcp",
        "tcp_send_reset",
    );
    hooks.push(HookReport {
        hook: "tcp/tcp_send_reset",
        feature: "reset errors (sent)",
        status: tx,
    });
    for (prog, name) in [("tg_tp_accept4", "sys_exit_accept4"), ("tg_tp_accept", "sys_exit_accept")]
    {
        let status = match loader::attach_classic(&mut ebpf, prog, "syscalls", name) {
            Ok(()) => HookStatus::ClassicOnly,
            Err(error) => HookStatus::Failed { error },
        };
        let hook = if name == "sys_exit_accept4" {
            "syscalls/sys_exit_accept4"
        } else {
            "syscalls/sys_exit_accept"
        };
        hooks.push(HookReport { hook, feature: "accepting process (server side)", status });
    }
    Ok(TcpProgs { ebpf, btf, hooks })
}
