//! `#[repr(C)]` mirror of the connection section of bpf/telegen.h (`struct
//! tg_conn_event`, `struct tg_conn_state`, the event, error and counter enums). Sizes and
//! offsets are checked at compile time against the C layout; change both files together.
//! What both sections share (address families, `enum tg_role`, comm) lives in
//! [`crate::capture::bpf::abi`] and is re-exported here.

use crate::capture::bpf::abi::{assert_layout, comm_to_string, read_record};
pub use crate::capture::bpf::abi::{role, AF_INET, AF_INET6, COMM_LEN};

/// `enum tg_event_type`.
pub mod ev {
    pub const OPEN: u8 = 1;
    pub const ESTABLISHED: u8 = 2;
    pub const EXISTING: u8 = 3;
    pub const RTT: u8 = 4;
    pub const STATS: u8 = 5;
    pub const RETRANSMIT: u8 = 6;
    pub const ERROR: u8 = 7;
    pub const CLOSE: u8 = 8;
}

/// `enum tg_error`.
pub mod err {
    pub const NONE: u8 = 0;
    pub const REFUSED: u8 = 1;
    pub const RESET: u8 = 2;
    pub const TIMEOUT: u8 = 3;
    pub const OTHER: u8 = 4;
}

/// `enum tg_counter`: indexes of the `tg_counters` PERCPU_ARRAY.
pub mod cnt {
    pub const EVENTS: u32 = 0;
    pub const RB_RESERVE_FAIL: u32 = 1;
    pub const MAP_FULL: u32 = 2;
    pub const FILTERED: u32 = 3;
    pub const SAMPLED_OUT: u32 = 4;
    pub const UNTRACKED_CLOSE: u32 = 5;
    pub const WAKEUPS: u32 = 6;
    pub const LAZY_TRACKED: u32 = 7;
    pub const ACCEPT_UNTRACKED: u32 = 8;
    pub const MAX: u32 = 9;
}

/// Flags of `struct tg_conn_state`.
pub const F_OPEN_EMITTED: u8 = 0x1;
pub const F_EXISTING: u8 = 0x8;

/// `struct tg_conn_event` (128 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawConnEvent {
    pub ts_ns: u64,
    pub conn_id: u64,
    pub sock_ino: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub segs_in: u32,
    pub segs_out: u32,
    pub retransmits: u32,
    pub srtt_us: u32,
    pub netns: u32,
    pub pid: u32,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub family: u16,
    pub kind: u8,
    pub role: u8,
    pub error: u8,
    pub old_state: u8,
    pub new_state: u8,
    pub _pad0: u8,
    pub _pad1: u32,
    pub comm: [u8; COMM_LEN],
}

/// `struct tg_conn_state` (value of the `tg_conns` LRU_HASH, key = sock pointer).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawConnState {
    pub conn_id: u64,
    pub start_ns: u64,
    pub established_ns: u64,
    pub last_rtt_ns: u64,
    pub last_stats_ns: u64,
    pub pid: u32,
    pub retrans: u32,
    pub role: u8,
    pub flags: u8,
    pub _pad0: u16,
    pub _pad1: u32,
    pub comm: [u8; COMM_LEN],
}

// SAFETY: plain-old-data, every bit pattern valid, no padding the compiler adds (the
// asserts below prove the layout matches the C structs with explicit padding).
unsafe impl aya::Pod for RawConnEvent {}
// SAFETY: as above.
unsafe impl aya::Pod for RawConnState {}

assert_layout!(
    RawConnEvent,
    128,
    ts_ns = 0,
    conn_id = 8,
    sock_ino = 16,
    bytes_sent = 24,
    bytes_received = 32,
    segs_in = 40,
    segs_out = 44,
    retransmits = 48,
    srtt_us = 52,
    netns = 56,
    pid = 60,
    saddr = 64,
    daddr = 80,
    sport = 96,
    dport = 98,
    family = 100,
    kind = 102,
    role = 103,
    error = 104,
    old_state = 105,
    new_state = 106,
    comm = 112,
);
assert_layout!(RawConnState, 72, pid = 40, role = 48, flags = 49, comm = 56);

impl RawConnEvent {
    /// Reads one event from ring-buffer bytes; None when the record is too short.
    pub fn from_bytes(buf: &[u8]) -> Option<Self> {
        read_record(buf)
    }

    /// The command name up to its NUL.
    pub fn comm_str(&self) -> String {
        comm_to_string(&self.comm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_buffer_is_rejected() {
        assert!(RawConnEvent::from_bytes(&[0u8; 127]).is_none());
        let ev = RawConnEvent::from_bytes(&[0u8; 128]).unwrap();
        assert_eq!(ev, RawConnEvent::default());
    }

    #[test]
    fn comm_stops_at_nul() {
        let mut e = RawConnEvent::default();
        e.comm[..4].copy_from_slice(b"curl");
        assert_eq!(e.comm_str(), "curl");
    }
}
