//! reassembly: one direction of a TCP connection's byte stream (RFC 9293 sequence
//! space) turned into in-order bytes and gaps.
//!
//! - The stream starts at the SYN's sequence + 1, or, when the start was not captured, at
//!   the first data segment seen.
//! - Sequence numbers are unwrapped to 64-bit stream offsets, so streams longer than 4 GiB
//!   and sequence wrap-around work.
//! - Retransmitted and overlapping bytes are trimmed; out-of-order segments wait in a
//!   bounded buffer (bytes and segments per direction). Overlaps inside the buffer keep
//!   the bytes seen first.
//! - A hole is given up as [`Chunk::Gap`] when the buffer bound is reached, when the peer
//!   acknowledges data past the hole (the capture missed it, the receiver did not), or
//!   when the connection ends ([`TcpHalf::flush`]).
//! - Segments cut short by the capture's snaplen carry a `missing` tail that becomes a gap.

use std::collections::BTreeMap;

/// What the half hands to the flow layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    Data(Vec<u8>),
    Gap(u64),
}

/// Bounds of one direction's reassembly buffer.
#[derive(Debug, Clone)]
pub struct HalfConfig {
    /// Out-of-order bytes buffered per direction before a hole is given up.
    pub max_ooo_bytes: usize,
    /// Out-of-order segments buffered per direction before a hole is given up.
    pub max_ooo_segments: usize,
    /// Segments starting further than this beyond the next expected byte are dropped as
    /// out of window (a stray or corrupt sequence number would otherwise become a huge gap).
    pub max_seq_jump: u64,
}

impl Default for HalfConfig {
    fn default() -> Self {
        HalfConfig { max_ooo_bytes: 1 << 20, max_ooo_segments: 1024, max_seq_jump: 64 << 20 }
    }
}

/// Counters shared by all halves.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReassemblyStats {
    /// Gaps emitted, and the bytes they stand for.
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Segments that arrived ahead of a hole and were buffered.
    pub ooo_segments: u64,
    /// Holes given up because the out-of-order buffer was full.
    pub ooo_forced_skips: u64,
    /// Holes given up because the peer acknowledged past them.
    pub acked_holes: u64,
    /// Segments dropped as out of window.
    pub out_of_window: u64,
    /// Bytes received again (retransmissions and overlaps), trimmed.
    pub retransmitted_bytes: u64,
    /// Bytes delivered in order.
    pub delivered_bytes: u64,
}

#[derive(Debug)]
struct Seg {
    data: Vec<u8>,
    /// Bytes after `data` that belong to the segment but were not captured.
    missing: u64,
}

impl Seg {
    fn len(&self) -> u64 {
        self.data.len() as u64 + self.missing
    }

    /// Drops the first `k` bytes.
    fn trim_front(&mut self, k: u64) {
        let d = self.data.len() as u64;
        if k >= d {
            self.missing -= (k - d).min(self.missing);
            self.data.clear();
        } else {
            self.data.drain(..k as usize);
        }
    }
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct TcpHalf {
    started: bool,
    /// Sequence number of stream offset 0.
    base_seq: u32,
    /// Offset of the next byte expected.
    next_off: u64,
    ooo: BTreeMap<u64, Seg>,
    ooo_bytes: usize,
    fin_off: Option<u64>,
    /// Highest acknowledgment the peer sent for this direction, as an offset.
    peer_acked: Option<u64>,
}

impl TcpHalf {
    /// Starts the stream at `seq` (the first data byte's sequence) unless already started.
    pub fn start(&mut self, seq: u32) {
        if !self.started {
            self.started = true;
            self.base_seq = seq;
        }
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Sequence number where the stream started (for SYN reuse detection).
    pub fn base_seq(&self) -> u32 {
        self.base_seq
    }

    /// The FIN was seen and every byte before it delivered (or given up).
    pub fn is_finished(&self) -> bool {
        self.fin_off.is_some_and(|f| self.next_off >= f)
    }

    /// Bytes delivered or skipped so far.
    pub fn offset(&self) -> u64 {
        self.next_off
    }

    /// Buffered out-of-order bytes.
    pub fn buffered(&self) -> usize {
        self.ooo_bytes
    }

    fn to_off(&self, seq: u32) -> i128 {
        let next_seq = self.base_seq.wrapping_add(self.next_off as u32);
        self.next_off as i128 + seq.wrapping_sub(next_seq) as i32 as i128
    }

    /// Handles one segment's data (`seq` = sequence of its first data byte).
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        missing: u32,
        fin: bool,
        cfg: &HalfConfig,
        stats: &mut ReassemblyStats,
        out: &mut Vec<Chunk>,
    ) {
        let len = data.len() as u64 + missing as u64;
        if len == 0 && !fin {
            return;
        }
        self.start(seq);
        let start = self.to_off(seq);
        let end = start + len as i128;
        if start > self.next_off as i128 + cfg.max_seq_jump as i128 {
            stats.out_of_window += 1;
            return;
        }
        if fin && end >= 0 && self.fin_off.is_none() {
            self.fin_off = Some(end as u64);
        }
        if len == 0 {
            return;
        }
        if end <= self.next_off as i128 {
            stats.retransmitted_bytes += len;
            return;
        }
        let mut seg = Seg { data: Vec::new(), missing: missing as u64 };
        let mut start = start;
        let mut data = data;
        if start < self.next_off as i128 {
            let k = (self.next_off as i128 - start) as u64;
            stats.retransmitted_bytes += k;
            let kd = (k as usize).min(data.len());
            data = &data[kd..];
            seg.missing -= (k - kd as u64).min(seg.missing);
            start = self.next_off as i128;
        }
        let start = start as u64;
        let seg_end = start + data.len() as u64 + seg.missing;
        let in_order = start == self.next_off;
        if in_order && self.ooo.first_key_value().is_none_or(|(&k, _)| k >= seg_end) {
            // Fast path: deliver straight from the packet, no buffering.
            self.deliver_slice(data, seg.missing, stats, out);
            self.drain(stats, out);
        } else {
            // Out of order, or in order but overlapping buffered bytes (which win).
            seg.data = data.to_vec();
            if !in_order {
                stats.ooo_segments += 1;
            }
            self.insert(start, seg, stats);
            self.drain(stats, out);
            self.enforce_bounds(cfg, stats, out);
            self.apply_ack(stats, out);
        }
    }

    /// The peer acknowledged up to `ack` in this direction's sequence space.
    pub fn peer_ack(
        &mut self,
        ack: u32,
        cfg: &HalfConfig,
        stats: &mut ReassemblyStats,
        out: &mut Vec<Chunk>,
    ) {
        if !self.started {
            return;
        }
        let off = self.to_off(ack);
        if off <= self.next_off as i128 || off > self.next_off as i128 + cfg.max_seq_jump as i128 {
            return;
        }
        let off = off as u64;
        if self.peer_acked.is_none_or(|a| off > a) {
            self.peer_acked = Some(off);
        }
        self.apply_ack(stats, out);
    }

    /// Gives up every hole: delivers all buffered data with gaps, and a gap up to the FIN.
    pub fn flush(&mut self, stats: &mut ReassemblyStats, out: &mut Vec<Chunk>) {
        while let Some((&first, _)) = self.ooo.first_key_value() {
            self.skip_to(first, stats, out);
            self.drain(stats, out);
        }
        if let Some(f) = self.fin_off {
            if f > self.next_off && f - self.next_off <= u32::MAX as u64 {
                self.skip_to(f, stats, out);
            }
        }
    }

    /// A hole exists and the peer acknowledged past its start: the capture lost it.
    fn apply_ack(&mut self, stats: &mut ReassemblyStats, out: &mut Vec<Chunk>) {
        let Some(acked) = self.peer_acked else { return };
        while let Some((&first, _)) = self.ooo.first_key_value() {
            if acked <= self.next_off {
                return;
            }
            stats.acked_holes += 1;
            self.skip_to(first.min(acked), stats, out);
            self.drain(stats, out);
            if acked < first {
                return;
            }
        }
    }

    fn enforce_bounds(
        &mut self,
        cfg: &HalfConfig,
        stats: &mut ReassemblyStats,
        out: &mut Vec<Chunk>,
    ) {
        while self.ooo_bytes > cfg.max_ooo_bytes || self.ooo.len() > cfg.max_ooo_segments {
            let Some((&first, _)) = self.ooo.first_key_value() else { break };
            stats.ooo_forced_skips += 1;
            self.skip_to(first, stats, out);
            self.drain(stats, out);
        }
    }

    fn skip_to(&mut self, off: u64, stats: &mut ReassemblyStats, out: &mut Vec<Chunk>) {
        if off > self.next_off {
            let n = off - self.next_off;
            stats.gaps += 1;
            stats.gap_bytes += n;
            out.push(Chunk::Gap(n));
            self.next_off = off;
        }
    }

    fn deliver_slice(
        &mut self,
        data: &[u8],
        missing: u64,
        stats: &mut ReassemblyStats,
        out: &mut Vec<Chunk>,
    ) {
        if !data.is_empty() {
            stats.delivered_bytes += data.len() as u64;
            self.next_off += data.len() as u64;
            out.push(Chunk::Data(data.to_vec()));
        }
        if missing > 0 {
            let to = self.next_off + missing;
            self.skip_to(to, stats, out);
        }
    }

    /// Delivers buffered segments that now start at or before the next expected byte.
    fn drain(&mut self, stats: &mut ReassemblyStats, out: &mut Vec<Chunk>) {
        while let Some(entry) = self.ooo.first_entry() {
            let start = *entry.key();
            if start > self.next_off {
                break;
            }
            let mut seg = entry.remove();
            self.ooo_bytes -= seg.data.len();
            let end = start + seg.len();
            if end <= self.next_off {
                stats.retransmitted_bytes += seg.len();
                continue;
            }
            let k = self.next_off - start;
            if k > 0 {
                stats.retransmitted_bytes += k;
                seg.trim_front(k);
            }
            let missing = seg.missing;
            if !seg.data.is_empty() {
                stats.delivered_bytes += seg.data.len() as u64;
                self.next_off += seg.data.len() as u64;
                out.push(Chunk::Data(seg.data));
            }
            if missing > 0 {
                let to = self.next_off + missing;
                self.skip_to(to, stats, out);
            }
        }
    }

    /// Inserts a segment into the out-of-order buffer, keeping bytes already buffered.
    fn insert(&mut self, start: u64, seg: Seg, stats: &mut ReassemblyStats) {
        let end = start + seg.len();
        // Pieces of [start, end) not covered by buffered segments.
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut cursor = start;
        let prev = self.ooo.range(..start).next_back().map(|(&s, g)| s + g.len());
        if let Some(pe) = prev {
            cursor = cursor.max(pe);
        }
        for (&s, g) in self.ooo.range(start..end) {
            if s > cursor {
                pieces.push((cursor, s));
            }
            cursor = cursor.max(s + g.len());
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        let covered = seg.len() - pieces.iter().map(|(a, b)| b - a).sum::<u64>();
        stats.retransmitted_bytes += covered;
        let d = seg.data.len() as u64;
        for (a, b) in pieces {
            let (ra, rb) = (a - start, b - start);
            let data = seg.data[ra.min(d) as usize..rb.min(d) as usize].to_vec();
            let piece = Seg { missing: (rb - ra) - data.len() as u64, data };
            self.ooo_bytes += piece.data.len();
            self.ooo.insert(a, piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct H {
        h: TcpHalf,
        cfg: HalfConfig,
        st: ReassemblyStats,
        out: Vec<Chunk>,
    }

    impl H {
        fn new(cfg: HalfConfig) -> Self {
            H { h: TcpHalf::default(), cfg, st: Default::default(), out: vec![] }
        }
        fn seg(&mut self, seq: u32, d: &[u8]) {
            self.h.segment(seq, d, 0, false, &self.cfg, &mut self.st, &mut self.out);
        }
        fn text(&self) -> String {
            let mut s = String::new();
            for c in &self.out {
                match c {
                    Chunk::Data(d) => s.push_str(std::str::from_utf8(d).unwrap()),
                    Chunk::Gap(n) => s.push_str(&format!("<{n}>")),
                }
            }
            s
        }
    }

    #[test]
    fn in_order_out_of_order_and_overlap() {
        let mut h = H::new(HalfConfig::default());
        h.h.start(1000);
        h.seg(1000, b"abc");
        h.seg(1006, b"ghi");
        h.seg(1005, b"XgX"); // overlaps buffered "g": first wins
        h.seg(1001, b"bcdef"); // retransmit overlap
                               // buffered bytes were seen first and win over the later overlapping segment
        assert_eq!(h.text(), "abcdeXghi");
        assert_eq!(h.st.retransmitted_bytes, 2 + 2 + 1);
    }

    #[test]
    fn sequence_wraps() {
        let mut h = H::new(HalfConfig::default());
        h.seg(u32::MAX - 1, b"ab");
        h.seg(0, b"cd");
        assert_eq!(h.text(), "abcd");
        assert_eq!(h.h.offset(), 4);
    }

    #[test]
    fn bound_forces_gap() {
        let cfg = HalfConfig { max_ooo_segments: 2, ..Default::default() };
        let mut h = H::new(cfg);
        h.seg(0, b"a");
        h.seg(2, b"c");
        h.seg(4, b"e");
        h.seg(6, b"g");
        // three buffered segments exceed the bound of two: the first hole is given up
        assert_eq!(h.text(), "a<1>c");
        assert_eq!(h.h.buffered(), 2);
        assert_eq!(h.st.ooo_forced_skips, 1);
    }

    #[test]
    fn ack_past_hole_and_flush_with_fin() {
        let mut h = H::new(HalfConfig::default());
        h.seg(0, b"ab");
        h.seg(5, b"fg");
        h.h.peer_ack(4, &h.cfg, &mut h.st, &mut h.out);
        assert_eq!(h.text(), "ab<2>");
        h.h.segment(10, b"", 0, true, &h.cfg, &mut h.st, &mut h.out);
        h.h.flush(&mut h.st, &mut h.out);
        assert_eq!(h.text(), "ab<2><1>fg<3>");
        assert!(h.h.is_finished());
    }

    #[test]
    fn truncated_segment_becomes_gap() {
        let mut h = H::new(HalfConfig::default());
        h.h.segment(0, b"ab", 3, false, &h.cfg, &mut h.st, &mut h.out);
        h.seg(5, b"f");
        assert_eq!(h.text(), "ab<3>f");
    }
}
