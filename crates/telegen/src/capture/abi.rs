//! `#[repr(C)]` mirror of bpf/telegen.h (the kernel/user event ABI). Sizes and offsets
//! are checked at compile time against the C layout; change both files together.
//!
//! This file holds what both sections of telegen.h share (address families, `enum
//! tg_role`, comm and address fields, reading a record, the layout asserts) and the
//! connection section; [`super::payload::abi`] mirrors the payload section.

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `TG_AF_INET` / `TG_AF_INET6`.
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
/// `TG_COMM_LEN`.
pub const COMM_LEN: usize = 16;

/// `enum tg_role` (connection events and payload events).
pub mod role {
    pub const UNKNOWN: u8 = 0;
    pub const CLIENT: u8 = 1;
    pub const SERVER: u8 = 2;
}

/// Compile-time layout check of a `#[repr(C)]` mirror: `assert_layout!(T, size, field =
/// offset, ...)`.
macro_rules! assert_layout {
    ($t:ty, $size:expr, $($field:ident = $off:expr),* $(,)?) => {
        const _: () = {
            assert!(::std::mem::size_of::<$t>() == $size);
            $(assert!(::std::mem::offset_of!($t, $field) == $off);)*
        };
    };
}
pub(crate) use assert_layout;

/// Reads one `T` from the start of a ring-buffer (or iterator) record; None when the
/// record is too short.
pub fn read_record<T: aya::Pod>(buf: &[u8]) -> Option<T> {
    if buf.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: length checked; T is POD, so any bytes are a valid value; read_unaligned
    // copes with any alignment of the record.
    Some(unsafe { std::ptr::read_unaligned(buf.as_ptr() as *const T) })
}

/// A `char comm[TG_COMM_LEN]` field up to its NUL.
/// A `char comm[TG_COMM_LEN]` field up to its NUL.
pub fn comm_to_string(comm: &[u8; COMM_LEN]) -> String {
    String::from_utf8_lossy(comm_bytes(comm)).into_owned()
}

/// A task name's bytes up to its first NUL.
pub fn comm_bytes(comm: &[u8; COMM_LEN]) -> &[u8] {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    &comm[..end]
}

/// A `__u8 addr[TG_ADDR_LEN]` field (network order; IPv4 in the first 4 bytes).
/// IPv4-mapped IPv6 addresses are returned as IPv4; None for an unknown family.
pub fn ip_addr(family: u16, b: &[u8; 16]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*b)).to_canonical()),
        _ => None,
    }
}

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
        let mut c = [0u8; COMM_LEN];
        c[..4].copy_from_slice(b"curl");
        assert_eq!(comm_to_string(&c), "curl");
        assert_eq!(comm_to_string(&[b'a'; COMM_LEN]).len(), 16);
    }

    #[test]
    fn addresses_decode_and_mapped_v4_is_canonical() {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(ip_addr(AF_INET, &b), Some("10.0.0.1".parse().unwrap()));
        let mapped = Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0x0a00, 2]).octets();
        assert_eq!(ip_addr(AF_INET6, &mapped), Some("10.0.0.2".parse().unwrap()));
        let v6 = Ipv6Addr::LOCALHOST.octets();
        assert_eq!(ip_addr(AF_INET6, &v6), Some("::1".parse().unwrap()));
        assert_eq!(ip_addr(99, &b), None);
    }
}
