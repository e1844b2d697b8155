//! Turns raw connection records (`struct tg_conn_event`, from the ring buffer or the
//! start-up iterator) into [`ConnEvent`]s: event kind and error, addresses, role, kernel
//! monotonic time -> Unix time, and the owning process.
//!
//! The owner comes from the kernel's pid (looked up in a bounded [`ProcessCache`]); for
//! connections the kernel has no pid for (found at start-up or late), the capture finds
//! the owner by socket inode and hands it over with [`ConnDecoder::remember_owner`]. That
//! map is bounded by the kernel's connection table size and emptied when full.

use std::net::SocketAddr;
use std::sync::Arc;

use super::abi::{self, RawConnEvent};
use crate::capture::bpf::abi::ip_addr;
use crate::capture::process::{proc_comm, ProcessCache};
use crate::model::{ConnError, ConnEvent, ConnEventKind, ConnRole, ProcessInfo};

/// Decoder state: the clock offset, the process cache and owners found in user space.
pub struct ConnDecoder {
    /// Unix time minus kernel monotonic time, in ns.
    offset: i128,
    cache: ProcessCache,
    /// Owners found in user space for connections the kernel has no pid for.
    owners: crate::util::FastMap<u64, Arc<ProcessInfo>>,
    owners_cap: usize,
    /// The kernel's 1-in-N sampling, copied into every event.
    sample_rate: u32,
}

impl ConnDecoder {
    /// `offset`: Unix minus monotonic ns; `owners_cap`: owners remembered at most (the
    /// kernel's connection table size); `sample_rate`: 1 = every connection.
    pub fn new(
        offset: i128,
        process_cache_size: usize,
        owners_cap: usize,
        sample_rate: u32,
    ) -> Self {
        ConnDecoder {
            offset,
            cache: ProcessCache::new(process_cache_size),
            owners: Default::default(),
            owners_cap,
            sample_rate,
        }
    }

    /// Records `pid` as the owner of connection `conn_id` (found by socket inode).
    pub fn remember_owner(&mut self, conn_id: u64, pid: u32) {
        let comm = proc_comm(pid);
        if let Some(p) = self.cache.get(pid, comm.as_bytes()) {
            if self.owners.len() >= self.owners_cap {
                self.owners.clear();
            }
            self.owners.insert(conn_id, p);
        }
    }

    /// Forgets the owner of a closed connection.
    pub fn forget_owner(&mut self, conn_id: u64) {
        self.owners.remove(&conn_id);
    }

    /// One typed event; None for an unknown kind, error code or address family.
    pub fn decode(&mut self, r: &RawConnEvent) -> Option<ConnEvent> {
        let kind = match r.kind {
            abi::ev::OPEN => ConnEventKind::Open,
            abi::ev::ESTABLISHED => ConnEventKind::Established,
            abi::ev::EXISTING => ConnEventKind::Existing,
            abi::ev::RTT | abi::ev::STATS => ConnEventKind::Stats,
            abi::ev::RETRANSMIT => ConnEventKind::Retransmit,
            abi::ev::ERROR => ConnEventKind::Error { error: decode_error(r.error)? },
            abi::ev::CLOSE => ConnEventKind::Close,
            _ => return None,
        };
        let (local, remote) = decode_addrs(r)?;
        let process = if r.pid != 0 {
            self.cache.get(r.pid, &r.comm)
        } else {
            self.owners.get(&r.conn_id).cloned()
        };
        Some(ConnEvent {
            ts_ns: (r.ts_ns as i128 + self.offset).max(0) as u64,
            conn_id: r.conn_id,
            netns: r.netns,
            role: match r.role {
                abi::role::CLIENT => ConnRole::Client,
                abi::role::SERVER => ConnRole::Server,
                _ => ConnRole::Unknown,
            },
            local,
            remote,
            process,
            kind,
            srtt_us: r.srtt_us,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            segs_in: r.segs_in as u64,
            segs_out: r.segs_out as u64,
            retransmits: r.retransmits as u64,
            sample_rate: self.sample_rate,
        })
    }
}

fn decode_error(e: u8) -> Option<ConnError> {
    Some(match e {
        abi::err::REFUSED => ConnError::Refused,
        abi::err::RESET => ConnError::Reset,
        abi::err::TIMEOUT => ConnError::Timeout,
        abi::err::OTHER => ConnError::Other,
        _ => return None,
    })
}

/// Local and remote address; IPv4-mapped IPv6 addresses are reported as IPv4.
pub fn decode_addrs(r: &RawConnEvent) -> Option<(SocketAddr, SocketAddr)> {
    let ip = |b: &[u8; 16]| ip_addr(r.family, b);
    Some((SocketAddr::new(ip(&r.saddr)?, r.sport), SocketAddr::new(ip(&r.daddr)?, r.dport)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn addresses_decode_and_mapped_v4_is_canonical() {
        let mut r = RawConnEvent { family: abi::AF_INET, sport: 1, dport: 2, ..Default::default() };
        r.saddr[..4].copy_from_slice(&[10, 0, 0, 1]);
        let (l, rem) = decode_addrs(&r).unwrap();
        assert_eq!(l, "10.0.0.1:1".parse().unwrap());
        assert_eq!(rem, "0.0.0.0:2".parse().unwrap());
        r.family = abi::AF_INET6;
        r.saddr = Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0x0a00, 2]).octets();
        assert_eq!(decode_addrs(&r).unwrap().0, "10.0.0.2:1".parse().unwrap());
        r.family = 99;
        assert!(decode_addrs(&r).is_none());
    }

    #[test]
    fn decodes_kind_role_time_and_sampling() {
        let mut d = ConnDecoder::new(1_000, 4, 4, 3);
        let mut r = RawConnEvent {
            ts_ns: 5,
            conn_id: 7,
            kind: abi::ev::CLOSE,
            role: abi::role::SERVER,
            family: abi::AF_INET,
            ..Default::default()
        };
        let ev = d.decode(&r).unwrap();
        assert_eq!(ev.ts_ns, 1_005);
        assert_eq!(ev.kind, ConnEventKind::Close);
        assert_eq!(ev.role, ConnRole::Server);
        assert_eq!(ev.sample_rate, 3);
        assert!(ev.process.is_none(), "no pid and no owner found");
        r.kind = abi::ev::RTT;
        assert_eq!(d.decode(&r).unwrap().kind, ConnEventKind::Stats);
        r.kind = 0;
        assert!(d.decode(&r).is_none());
        r.kind = abi::ev::ERROR;
        assert!(d.decode(&r).is_none(), "error event without a known code");
    }

    #[test]
    fn owners_found_in_user_space_are_used_and_forgotten() {
        let mut d = ConnDecoder::new(0, 4, 4, 1);
        let r = RawConnEvent {
            conn_id: 9,
            kind: abi::ev::EXISTING,
            family: abi::AF_INET,
            ..Default::default()
        };
        d.remember_owner(9, std::process::id());
        assert_eq!(d.decode(&r).unwrap().process.unwrap().pid, std::process::id());
        d.forget_owner(9);
        assert!(d.decode(&r).unwrap().process.is_none());
    }

    #[test]
    fn unknown_error_code_is_rejected() {
        assert_eq!(decode_error(abi::err::REFUSED), Some(ConnError::Refused));
        assert_eq!(decode_error(0), None);
        assert_eq!(decode_error(200), None);
    }
}
