//! defrag: bounded IPv4 (RFC 791) and IPv6 (RFC 8200 §4.5) fragment reassembly.
//!
//! Datagrams are keyed by (source, destination, identification, protocol for IPv4).
//! Overlapping fragments keep the bytes seen first (the conservative choice against
//! overlap evasion). Bounds: datagrams in flight (the oldest is evicted), fragments per
//! datagram, reassembled size, and a timeout in capture time. Every give-up is counted.

use super::ip::FragInfo;
use std::collections::HashMap;
use std::net::IpAddr;

/// Limits of the reassembler.
#[derive(Debug, Clone)]
pub struct DefragConfig {
    /// Datagrams being reassembled at once; the oldest is dropped beyond this.
    pub max_datagrams: usize,
    /// Fragments accepted for one datagram.
    pub max_fragments: usize,
    /// Largest reassembled payload in bytes.
    pub max_len: usize,
    /// A datagram not complete this long after its first fragment is dropped (ns).
    pub timeout_ns: u64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_datagrams: 1024,
            max_fragments: 128,
            max_len: 65_535,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Reassembly counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DefragStats {
    /// Fragments seen.
    pub fragments: u64,
    /// Datagrams rebuilt.
    pub reassembled: u64,
    /// Datagrams dropped because they did not complete in time (or by the end of input).
    pub timeouts: u64,
    /// Datagrams dropped to make room (in-flight bound).
    pub evicted: u64,
    /// Datagrams dropped as invalid: too many fragments, too long, inconsistent end,
    /// or a fragment not fully captured.
    pub invalid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

struct Pending {
    first_ns: u64,
    buf: Vec<u8>,
    /// Sorted, merged byte ranges received.
    have: Vec<(u32, u32)>,
    total: Option<u32>,
    count: usize,
}

/// The reassembler.
pub struct Defrag {
    cfg: DefragConfig,
    pending: HashMap<Key, Pending>,
    pub stats: DefragStats,
}

impl Defrag {
    pub fn new(cfg: DefragConfig) -> Self {
        Defrag { cfg, pending: HashMap::new(), stats: DefragStats::default() }
    }

    /// Number of datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Adds one fragment. `missing` > 0 means the capture cut the fragment short, which
    /// makes the datagram unrecoverable. Returns the reassembled transport bytes when
    /// this fragment completes the datagram.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        now_ns: u64,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        frag: FragInfo,
        data: &[u8],
        missing: u32,
    ) -> Option<Vec<u8>> {
        self.stats.fragments += 1;
        // IPv6 identifications are unique per (src, dst); the protocol is part of the
        // IPv4 key only.
        let proto_key = if src.is_ipv4() { proto } else { 0 };
        let key = Key { src, dst, id: frag.id, proto: proto_key };
        let start = frag.offset as usize;
        let end = start + data.len();
        let bad = missing > 0
            || end > self.cfg.max_len
            || (frag.more && !data.len().is_multiple_of(8))
            || (data.is_empty() && frag.more);
        if bad {
            self.pending.remove(&key);
            self.stats.invalid += 1;
            return None;
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= self.cfg.max_datagrams {
            self.evict_oldest();
        }
        let p = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            first_ns: now_ns,
            buf: Vec::new(),
            have: Vec::new(),
            total: None,
            count: 0,
        });
        p.count += 1;
        let end32 = end as u32;
        let inconsistent = match p.total {
            Some(t) => end32 > t || (!frag.more && end32 != t),
            None => false,
        };
        if p.count > self.cfg.max_fragments || inconsistent {
            self.pending.remove(&key);
            self.stats.invalid += 1;
            return None;
        }
        if !frag.more {
            if p.have.last().is_some_and(|&(_, e)| e > end32) {
                self.pending.remove(&key);
                self.stats.invalid += 1;
                return None;
            }
            p.total = Some(end32);
        }
        if p.buf.len() < end {
            p.buf.resize(end, 0);
        }
        insert_first_wins(&mut p.buf, &mut p.have, start as u32, data);
        let complete = matches!((p.total, p.have.as_slice()), (Some(t), [(0, e)]) if *e == t);
        if complete {
            let mut p = self.pending.remove(&key)?;
            self.stats.reassembled += 1;
            p.buf.truncate(p.total.unwrap_or(0) as usize);
            return Some(p.buf);
        }
        None
    }

    /// Drops datagrams older than the timeout.
    pub fn expire(&mut self, now_ns: u64) {
        let timeout = self.cfg.timeout_ns;
        let before = self.pending.len();
        self.pending.retain(|_, p| now_ns.saturating_sub(p.first_ns) < timeout);
        self.stats.timeouts += (before - self.pending.len()) as u64;
    }

    /// Drops everything still in flight (end of input); counted as timeouts.
    pub fn finish(&mut self) {
        self.stats.timeouts += self.pending.len() as u64;
        self.pending.clear();
    }

    fn evict_oldest(&mut self) {
        let oldest =
            self.pending.iter().min_by_key(|(k, p)| (p.first_ns, k.id)).map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.pending.remove(&k);
            self.stats.evicted += 1;
        }
    }
}

/// Copies the parts of `data` (at `start`) not yet covered by `have`, and merges ranges.
fn insert_first_wins(buf: &mut [u8], have: &mut Vec<(u32, u32)>, start: u32, data: &[u8]) {
    let end = start + data.len() as u32;
    let mut cursor = start;
    for &(s, e) in have.iter() {
        if e <= cursor {
            continue;
        }
        if s >= end {
            break;
        }
        if s > cursor {
            let (a, b) = (cursor as usize, s as usize);
            buf[a..b].copy_from_slice(&data[a - start as usize..b - start as usize]);
        }
        cursor = cursor.max(e);
        if cursor >= end {
            break;
        }
    }
    if cursor < end {
        let (a, b) = (cursor as usize, end as usize);
        buf[a..b].copy_from_slice(&data[a - start as usize..b - start as usize]);
    }
    if data.is_empty() {
        return;
    }
    have.push((start, end));
    have.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(have.len());
    for &(s, e) in have.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *have = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn push(d: &mut Defrag, t: u64, off: u32, more: bool, data: &[u8]) -> Option<Vec<u8>> {
        d.push(t, addr(1), addr(2), 17, FragInfo { id: 9, offset: off, more }, data, 0)
    }

    #[test]
    fn reassembles_out_of_order_with_overlap_first_wins() {
        let mut d = Defrag::new(DefragConfig::default());
        assert!(push(&mut d, 0, 16, false, b"CCCC").is_none());
        assert!(push(&mut d, 1, 0, true, b"AAAAAAAA").is_none());
        // overlaps the first fragment: its bytes are ignored where already present
        let out = push(&mut d, 2, 0, true, b"xxxxxxxxBBBBBBBB").unwrap();
        assert_eq!(out, b"AAAAAAAABBBBBBBBCCCC");
        assert_eq!(d.stats.reassembled, 1);
        assert_eq!(d.in_flight(), 0);
    }

    #[test]
    fn bounds_are_counted() {
        let cfg = DefragConfig { max_datagrams: 1, timeout_ns: 10, ..Default::default() };
        let mut d = Defrag::new(cfg);
        push(&mut d, 0, 0, true, b"AAAAAAAA");
        d.push(0, addr(3), addr(2), 17, FragInfo { id: 1, offset: 0, more: true }, &[0; 8], 0);
        assert_eq!(d.stats.evicted, 1);
        d.expire(100);
        assert_eq!(d.stats.timeouts, 1);
        assert!(push(&mut d, 0, 65_530, false, b"0123456789").is_none());
        assert_eq!(d.stats.invalid, 1);
    }
}
