//! `#[repr(C)]` mirror of bpf/telegen.h (the kernel/user event ABI). Sizes and offsets
//! are checked at compile time against the C layout; change both files together.

use std::mem::{offset_of, size_of};

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

/// `enum tg_role`.
pub mod role {
    pub const UNKNOWN: u8 = 0;
    pub const CLIENT: u8 = 1;
    pub const SERVER: u8 = 2;
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

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const COMM_LEN: usize = 16;

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

const _: () = {
    assert!(size_of::<RawConnEvent>() == 128);
    assert!(offset_of!(RawConnEvent, ts_ns) == 0);
    assert!(offset_of!(RawConnEvent, conn_id) == 8);
    assert!(offset_of!(RawConnEvent, sock_ino) == 16);
    assert!(offset_of!(RawConnEvent, bytes_sent) == 24);
    assert!(offset_of!(RawConnEvent, bytes_received) == 32);
    assert!(offset_of!(RawConnEvent, segs_in) == 40);
    assert!(offset_of!(RawConnEvent, segs_out) == 44);
    assert!(offset_of!(RawConnEvent, retransmits) == 48);
    assert!(offset_of!(RawConnEvent, srtt_us) == 52);
    assert!(offset_of!(RawConnEvent, netns) == 56);
    assert!(offset_of!(RawConnEvent, pid) == 60);
    assert!(offset_of!(RawConnEvent, saddr) == 64);
    assert!(offset_of!(RawConnEvent, daddr) == 80);
    assert!(offset_of!(RawConnEvent, sport) == 96);
    assert!(offset_of!(RawConnEvent, dport) == 98);
    assert!(offset_of!(RawConnEvent, family) == 100);
    assert!(offset_of!(RawConnEvent, kind) == 102);
    assert!(offset_of!(RawConnEvent, role) == 103);
    assert!(offset_of!(RawConnEvent, error) == 104);
    assert!(offset_of!(RawConnEvent, old_state) == 105);
    assert!(offset_of!(RawConnEvent, new_state) == 106);
    assert!(offset_of!(RawConnEvent, comm) == 112);
    assert!(size_of::<RawConnState>() == 72);
    assert!(offset_of!(RawConnState, pid) == 40);
    assert!(offset_of!(RawConnState, role) == 48);
    assert!(offset_of!(RawConnState, flags) == 49);
    assert!(offset_of!(RawConnState, comm) == 56);
};

impl RawConnEvent {
    /// Reads one event from ring-buffer bytes; None when the record is too short.
    pub fn from_bytes(buf: &[u8]) -> Option<Self> {
        if buf.len() < size_of::<Self>() {
            return None;
        }
        // SAFETY: length checked; the type is POD, so any bytes are a valid value;
        // read_unaligned copes with any alignment of the ring-buffer record.
        Some(unsafe { std::ptr::read_unaligned(buf.as_ptr() as *const Self) })
    }

    /// The command name up to its NUL.
    pub fn comm_str(&self) -> String {
        comm_to_string(&self.comm)
    }
}

pub fn comm_to_string(comm: &[u8; COMM_LEN]) -> String {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    String::from_utf8_lossy(&comm[..end]).into_owned()
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
        let mut c = [0u8; COMM_LEN];
        c[..4].copy_from_slice(b"curl");
        assert_eq!(comm_to_string(&c), "curl");
        assert_eq!(comm_to_string(&[b'a'; COMM_LEN]).len(), 16);
    }
}
