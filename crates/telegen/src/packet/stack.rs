//! stack: [`PacketStack`], the per-frame decoder that owns the fragment and flow tables.
//!
//! Per frame: [`link`] layer -> [`ip`] (+ [`defrag`]) -> TCP/UDP -> [`flows`]
//! (+ [`reassembly`](super::reassembly)). UDP datagrams to a VXLAN or Geneve port are
//! unwrapped by [`tunnel`] and their inner frame goes through the link layer again
//! (bounded depth); the outer datagram makes no flow. Nothing here is an error: a frame
//! that cannot be decoded is counted in [`PacketStats`] and skipped.

use super::defrag::{Defrag, DefragConfig, DefragStats};
use super::flows::{FlowConfig, FlowStats, FlowTable};
use super::ip::{self, IpError, PROTO_TCP, PROTO_UDP};
use super::link::{self, LinkOutcome, L3};
use super::tunnel::{self, TunnelConfig};
use crate::model::StreamEvent;
use std::net::{IpAddr, SocketAddr};

/// Fragment reassembly is swept for timed-out datagrams at most once per this much
/// frame time (only when a fragment arrives).
const FRAG_SWEEP_NS: u64 = 1_000_000_000;

/// Bounds and timeouts of the packet stack; every field has a default.
#[derive(Debug, Clone, Default)]
pub struct PacketConfig {
    pub flows: FlowConfig,
    pub defrag: DefragConfig,
    /// VXLAN / Geneve decapsulation.
    pub tunnels: TunnelConfig,
}

/// What the packet stack saw and gave up on.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PacketStats {
    /// Frames handed to [`PacketStack::frame`], and their bytes.
    pub packets: u64,
    pub bytes: u64,
    /// TCP / UDP packets handed to the flow table (for a tunnel: the inner packet; the
    /// outer datagram of a decapsulated tunnel is not counted here).
    pub tcp_packets: u64,
    pub udp_packets: u64,
    /// Tunnel datagrams unwrapped (a Geneve-in-VXLAN packet counts once in each).
    pub vxlan_decapsulated: u64,
    pub geneve_decapsulated: u64,
    /// Tunnel datagrams left as plain UDP because they were nested deeper than
    /// [`TunnelConfig::max_depth`].
    pub tunnel_depth_exceeded: u64,
    /// Datagrams on a tunnel port whose tunnel header was truncated or invalid (left as
    /// plain UDP).
    pub tunnel_invalid: u64,
    /// Frames that carry no IP (ARP, LLDP, ...).
    pub non_ip_skipped: u64,
    /// IP packets of other protocols (ICMP, ESP, ...).
    pub other_ip_packets: u64,
    /// Frames of link types this stack does not decode.
    pub unsupported_linktype: u64,
    /// Packets shorter than their own headers.
    pub truncated_packets: u64,
    /// Packets whose payload the capture cut short (snaplen); the rest becomes a gap.
    pub snaplen_cut_packets: u64,
    /// Packets with inconsistent headers.
    pub malformed_packets: u64,
    /// Frames per link type (LINKTYPE_* number), sorted by link type.
    pub linktypes: Vec<(u32, u64)>,
    pub fragments: DefragStats,
    pub flows: FlowStats,
}

/// Decodes captured frames into [`StreamEvent`]s, in per-connection order, with the
/// observer [`Wire`](crate::model::Observer::Wire), netns 0 and no process.
///
/// Time is the frames' own (`ts_ns`, Unix-epoch nanoseconds): flows and fragments time
/// out when later frames arrive, or when [`expire`](Self::expire) is called.
pub struct PacketStack {
    defrag: Defrag,
    flows: FlowTable,
    tunnels: TunnelConfig,
    /// Counters kept here; `fragments` and `flows` are filled in by [`Self::stats`].
    stats: PacketStats,
    last_frag_sweep: u64,
}

impl PacketStack {
    pub fn new(cfg: PacketConfig) -> Self {
        PacketStack {
            defrag: Defrag::new(cfg.defrag),
            flows: FlowTable::new(cfg.flows),
            tunnels: cfg.tunnels,
            stats: PacketStats::default(),
            last_frag_sweep: 0,
        }
    }

    /// One captured frame of link type `linktype` (LINKTYPE_* number, e.g.
    /// [`link::LINKTYPE_ETHERNET`]); `data` is what was captured of it. Appends the
    /// events it completes to `out`.
    pub fn frame(&mut self, ts_ns: u64, linktype: u32, data: &[u8], out: &mut Vec<StreamEvent>) {
        let stats = &mut self.stats;
        stats.packets += 1;
        stats.bytes += data.len() as u64;
        match stats.linktypes.iter_mut().find(|(lt, _)| *lt == linktype) {
            Some((_, n)) => *n += 1,
            None => stats.linktypes.push((linktype, 1)),
        }
        self.link_outcome(ts_ns, link::decode(linktype, data), 0, out);
    }

    /// Moves time to `now_ns` without a frame: closes flows idle past their timeout
    /// (into `out`) and drops fragments past theirs. For sources whose frames can pause
    /// (live capture); a capture file's own frames advance time.
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<StreamEvent>) {
        self.flows.advance(now_ns, out);
        self.last_frag_sweep = self.last_frag_sweep.max(now_ns);
        self.defrag.expire(now_ns);
    }

    /// End of input: closes every open flow into `out` (gaps first) and drops the
    /// fragments still in flight (counted as timeouts).
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.flows.finish_all(out);
        self.defrag.finish();
    }

    /// Counters so far.
    pub fn stats(&self) -> PacketStats {
        let mut s = self.stats.clone();
        s.fragments = self.defrag.stats.clone();
        s.flows = self.flows.stats.clone();
        s.linktypes.sort_unstable();
        s
    }

    /// One frame's link-layer outcome; `depth` = tunnels already unwrapped around it.
    fn link_outcome(
        &mut self,
        ts: u64,
        l: LinkOutcome<'_>,
        depth: usize,
        out: &mut Vec<StreamEvent>,
    ) {
        let parsed = match l {
            LinkOutcome::Ip(L3::V4(d)) => ip::parse_v4(d),
            LinkOutcome::Ip(L3::V6(d)) => ip::parse_v6(d),
            LinkOutcome::NotIp => return self.stats.non_ip_skipped += 1,
            LinkOutcome::Truncated => return self.stats.truncated_packets += 1,
            LinkOutcome::Unsupported => return self.stats.unsupported_linktype += 1,
        };
        let pkt = match parsed {
            Ok(pkt) => pkt,
            Err(e) => return self.count_err(e),
        };
        let Some(frag) = pkt.frag else {
            // A tunnelled packet cut by the snaplen was already counted by its outer packet.
            if pkt.missing > 0 && depth == 0 {
                self.stats.snaplen_cut_packets += 1;
            }
            let (src, dst) = (pkt.src, pkt.dst);
            return self.transport(ts, src, dst, pkt.proto, pkt.payload, pkt.missing, depth, out);
        };
        if ts.saturating_sub(self.last_frag_sweep) >= FRAG_SWEEP_NS {
            self.last_frag_sweep = ts;
            self.defrag.expire(ts);
        }
        let whole =
            self.defrag.push(ts, pkt.src, pkt.dst, pkt.proto, frag, pkt.payload, pkt.missing);
        let Some(buf) = whole else { return };
        if pkt.src.is_ipv4() {
            self.transport(ts, pkt.src, pkt.dst, pkt.proto, &buf, 0, depth, out);
        } else {
            match ip::walk_v6_exts(pkt.proto, &buf) {
                Ok((proto, off, None)) => {
                    self.transport(ts, pkt.src, pkt.dst, proto, &buf[off..], 0, depth, out)
                }
                // A second fragment header inside a reassembled datagram is nonsense.
                Ok((_, _, Some(_))) => self.stats.malformed_packets += 1,
                Err(e) => self.count_err(e),
            }
        }
    }

    fn count_err(&mut self, e: IpError) {
        match e {
            IpError::Truncated => self.stats.truncated_packets += 1,
            IpError::Malformed => self.stats.malformed_packets += 1,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        ts: u64,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        data: &[u8],
        missing: u32,
        depth: usize,
        out: &mut Vec<StreamEvent>,
    ) {
        match proto {
            PROTO_TCP => match ip::parse_tcp(data) {
                Ok(seg) => {
                    self.stats.tcp_packets += 1;
                    let s = SocketAddr::new(src, seg.src_port);
                    let d = SocketAddr::new(dst, seg.dst_port);
                    self.flows.tcp(ts, s, d, &seg, missing, out);
                }
                Err(e) => self.count_err(e),
            },
            PROTO_UDP => match ip::parse_udp(data, missing) {
                Ok(dg) => {
                    if let Some(kind) = self.tunnels.kind(dg.dst_port) {
                        if self.decapsulate(ts, kind, dg.payload, depth, out) {
                            return;
                        }
                    }
                    self.stats.udp_packets += 1;
                    let s = SocketAddr::new(src, dg.src_port);
                    let d = SocketAddr::new(dst, dg.dst_port);
                    self.flows.udp(ts, s, d, &dg, out);
                }
                Err(e) => self.count_err(e),
            },
            _ => self.stats.other_ip_packets += 1,
        }
    }

    /// Unwraps a tunnel datagram and handles the inner frame. Returns false when the
    /// datagram is to stay an ordinary UDP datagram (too deep, or not a valid tunnel
    /// header).
    fn decapsulate(
        &mut self,
        ts: u64,
        kind: tunnel::Kind,
        payload: &[u8],
        depth: usize,
        out: &mut Vec<StreamEvent>,
    ) -> bool {
        if depth >= self.tunnels.max_depth {
            self.stats.tunnel_depth_exceeded += 1;
            return false;
        }
        match tunnel::decapsulate(kind, payload) {
            Ok(inner) => {
                match kind {
                    tunnel::Kind::Vxlan => self.stats.vxlan_decapsulated += 1,
                    tunnel::Kind::Geneve => self.stats.geneve_decapsulated += 1,
                }
                self.link_outcome(ts, inner, depth + 1, out);
                true
            }
            Err(_) => {
                self.stats.tunnel_invalid += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Direction, Payload};
    use etherparse::PacketBuilder;

    const T0: u64 = 1_700_000_000_000_000_000;

    fn udp_frame(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(sport, dport);
        let mut f = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut f, payload).expect("frame");
        f
    }

    #[test]
    fn frames_become_events_and_expire_closes_idle_flows() {
        let mut stack = PacketStack::new(PacketConfig::default());
        let mut out = Vec::new();
        stack.frame(T0, link::LINKTYPE_ETHERNET, &udp_frame(40000, 53, b"query"), &mut out);
        stack.frame(T0 + 1, link::LINKTYPE_ETHERNET, &[0u8; 6], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].dir, Direction::ClientToServer);
        assert_eq!(out[0].key.server.port(), 53);
        assert!(matches!(&out[0].payload, Payload::Data(d) if d == b"query"));

        out.clear();
        let idle = PacketConfig::default().flows.udp_idle_timeout_ns;
        stack.expire(T0 + idle / 2, &mut out);
        assert!(out.is_empty());
        stack.expire(T0 + idle + 1, &mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0].payload, Payload::Close));

        out.clear();
        stack.finish(&mut out);
        assert!(out.is_empty());
        let st = stack.stats();
        assert_eq!((st.packets, st.udp_packets, st.truncated_packets), (2, 1, 1));
        assert_eq!((st.flows.udp_flows, st.flows.flows_expired), (1, 1));
        assert_eq!(st.linktypes, vec![(1, 2)]);
    }
}
