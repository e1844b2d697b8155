//! `#[repr(C)]` mirror of the payload section of bpf/telegen.h (`struct tg_pl_event`,
//! `struct tg_pl_conn`, the enums and counters). Sizes and offsets are checked at compile
//! time against the C layout; change both files together. What both sections share
//! (address families, `enum tg_role`, comm) lives in [`crate::capture::bpf::abi`] and is
//! re-exported here.

use std::mem::size_of;

use crate::capture::bpf::abi::{assert_layout, comm_to_string, read_record};
pub use crate::capture::bpf::abi::{role, AF_INET, AF_INET6, COMM_LEN};

/// `TG_PL_MAX_COPY`: hard cap of payload bytes per event.
pub const MAX_COPY: u32 = 16384;
/// `TG_PL_MAX_IOV`: iovec segments walked per syscall.
pub const MAX_IOV: u32 = 16;
/// `TG_PL_MAX_MMSG`: messages reported per sendmmsg/recvmmsg.
pub const MAX_MMSG: u32 = 8;

/// `enum tg_pl_event_type`.
pub mod ev {
    pub const DATA: u8 = 1;
    pub const CLOSE: u8 = 2;
}

/// `enum tg_pl_dir` (from the local socket's point of view).
pub mod dir {
    pub const EGRESS: u8 = 0;
    pub const INGRESS: u8 = 1;
}

/// `enum tg_pl_l4`.
pub mod l4 {
    pub const TCP: u8 = 1;
    pub const UDP: u8 = 2;
}

/// `enum tg_pl_proto`.
pub mod proto {
    pub const UNKNOWN: u8 = 0;
    pub const HTTP1: u8 = 1;
    pub const HTTP2: u8 = 2;
    pub const DNS: u8 = 3;
}

/// Bits of `cfg_protocols`.
pub mod classify {
    pub const HTTP1: u32 = 0x1;
    pub const HTTP2: u32 = 0x2;
}

/// `enum tg_pl_op`: the syscall that moved the bytes.
pub mod op {
    pub const WRITE: u8 = 1;
    pub const WRITEV: u8 = 2;
    pub const SENDTO: u8 = 3;
    pub const SENDMSG: u8 = 4;
    pub const SENDMMSG: u8 = 5;
    pub const READ: u8 = 6;
    pub const READV: u8 = 7;
    pub const RECVFROM: u8 = 8;
    pub const RECVMSG: u8 = 9;
    pub const RECVMMSG: u8 = 10;
    pub const SENDFILE: u8 = 11;
    pub const SPLICE: u8 = 12;
    pub const CLOSE: u8 = 13;
    pub const STATE: u8 = 14;
}

/// `TG_PL_F_*`: flags of an event.
pub mod flag {
    pub const IOV_TRUNC: u8 = 0x01;
    pub const FAULT: u8 = 0x02;
    pub const UNCONNECTED: u8 = 0x04;
    pub const NO_COOKIE: u8 = 0x08;
    pub const SCRATCH_BUSY: u8 = 0x10;
}

/// `enum tg_pl_counter`: indexes of the `tg_pl_counters` PERCPU_ARRAY.
pub mod cnt {
    pub const EVENTS: u32 = 0;
    pub const RB_FAIL: u32 = 1;
    pub const SEND_START_AT_EXIT: u32 = 2;
    pub const SCRATCH_BUSY: u32 = 3;
    pub const CONN_FULL: u32 = 4;
    pub const CLASSIFY_MISS: u32 = 5;
    pub const SKIPPED_BYTES: u32 = 6;
    pub const FILTERED: u32 = 7;
    pub const SAMPLED_OUT: u32 = 8;
    pub const TRUNCATED: u32 = 9;
    pub const IOV_TRUNC: u32 = 10;
    pub const READ_FAULT: u32 = 11;
    pub const MMSG_TRUNC: u32 = 12;
    pub const WAKEUPS: u32 = 13;
    pub const NO_COOKIE: u32 = 14;
    pub const UDP_SKIPPED: u32 = 15;
    pub const CLASSIFIED: u32 = 16;
    pub const H2_HEADERS_CUT: u32 = 17;
    pub const MAX: u32 = 18;
}

/// `struct tg_pl_event` (128 bytes); `copied` payload bytes follow it in the record.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawPayloadEvent {
    pub enter_ns: u64,
    pub exit_ns: u64,
    pub conn_id: u64,
    pub bytes: u64,
    pub total_tx: u64,
    pub total_rx: u64,
    pub pid: u32,
    pub tid: u32,
    pub copied: u32,
    pub netns: u32,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub family: u16,
    pub kind: u8,
    pub dir: u8,
    pub l4: u8,
    pub role: u8,
    pub proto: u8,
    pub op: u8,
    pub flags: u8,
    pub _pad0: u8,
    pub _pad1: u16,
    pub comm: [u8; COMM_LEN],
}

/// `struct tg_pl_conn` (value of the `tg_pl_conns` LRU_HASH, key = sock pointer).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawPayloadConn {
    pub conn_id: u64,
    pub total_tx: u64,
    pub total_rx: u64,
    pub pid: u32,
    pub role: u8,
    pub verdict: u8,
    pub proto: u8,
    pub flags: u8,
    pub peer_addr: [u8; 16],
    pub peer_port: u16,
    pub peer_family: u16,
    pub netns: u32,
    pub laddr: [u8; 16],
    pub raddr: [u8; 16],
    pub lport: u16,
    pub rport: u16,
    pub family: u16,
    pub addr_cached: u16,
}

// SAFETY: plain-old-data, every bit pattern valid, explicit padding (asserted below).
unsafe impl aya::Pod for RawPayloadEvent {}
// SAFETY: as above.
unsafe impl aya::Pod for RawPayloadConn {}

pub const HEADER_LEN: usize = size_of::<RawPayloadEvent>();

assert_layout!(
    RawPayloadEvent,
    128,
    enter_ns = 0,
    exit_ns = 8,
    conn_id = 16,
    bytes = 24,
    total_tx = 32,
    total_rx = 40,
    pid = 48,
    tid = 52,
    copied = 56,
    netns = 60,
    saddr = 64,
    daddr = 80,
    sport = 96,
    dport = 98,
    family = 100,
    kind = 102,
    dir = 103,
    l4 = 104,
    role = 105,
    proto = 106,
    op = 107,
    flags = 108,
    comm = 112,
);
assert_layout!(
    RawPayloadConn,
    96,
    pid = 24,
    role = 28,
    flags = 31,
    peer_addr = 32,
    peer_port = 48,
    netns = 52,
    laddr = 56,
    raddr = 72,
    lport = 88,
    addr_cached = 94,
);

impl RawPayloadEvent {
    /// Splits one ring-buffer record into header and payload; None when the record is
    /// shorter than the header plus the `copied` bytes it announces.
    pub fn parse(buf: &[u8]) -> Option<(Self, &[u8])> {
        let hdr: Self = read_record(buf)?;
        let end = HEADER_LEN.checked_add(hdr.copied as usize)?;
        let data = buf.get(HEADER_LEN..end)?;
        Some((hdr, data))
    }

    /// The command name up to its NUL.
    pub fn comm_str(&self) -> String {
        comm_to_string(&self.comm)
    }

    /// Serialises the header followed by `data` (tests and replays of raw records).
    pub fn to_record(&self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + data.len());
        // SAFETY: POD with explicit padding; reading its bytes is sound.
        let bytes =
            unsafe { std::slice::from_raw_parts(self as *const Self as *const u8, HEADER_LEN) };
        out.extend_from_slice(bytes);
        out.extend_from_slice(data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_and_short_ones_are_rejected() {
        assert!(RawPayloadEvent::parse(&[0u8; 127]).is_none());
        let hdr = RawPayloadEvent { copied: 3, bytes: 10, ..Default::default() };
        let rec = hdr.to_record(b"abc");
        let (h, d) = RawPayloadEvent::parse(&rec).unwrap();
        assert_eq!(h, hdr);
        assert_eq!(d, b"abc");
        assert!(RawPayloadEvent::parse(&rec[..rec.len() - 1]).is_none());
        let huge = RawPayloadEvent { copied: u32::MAX, ..Default::default() };
        assert!(RawPayloadEvent::parse(&huge.to_record(b"")).is_none());
    }

    #[test]
    fn comm_stops_at_nul() {
        let mut e = RawPayloadEvent::default();
        e.comm[..4].copy_from_slice(b"curl");
        assert_eq!(e.comm_str(), "curl");
    }
}
