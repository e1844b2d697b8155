//! source: [`PcapReplaySource`], the offline producer of [`StreamEvent`]s.
//!
//! Pipeline per packet: [`pcap`](super::pcap) container -> [`link`](super::link) layer
//! -> [`ip`](super::ip) (+ [`defrag`](super::defrag)) -> TCP/UDP -> [`flows`](super::flows)
//! (+ [`reassembly`](super::reassembly)). UDP datagrams to a VXLAN or Geneve port are
//! unwrapped by [`tunnel`](super::tunnel) and their inner frame goes through the link
//! layer again (bounded depth); the outer datagram makes no flow. Malformed packets are
//! counted in [`ReplayStats`] and skipped; only an unreadable file header, an I/O error,
//! or a corrupt container block (after which nothing can be trusted) end the replay with
//! an error.

use super::defrag::{Defrag, DefragConfig, DefragStats};
use super::flows::{FlowConfig, FlowStats, FlowTable};
use super::ip::{self, IpError, PROTO_TCP, PROTO_UDP};
use super::link::{self, LinkOutcome, L3};
use super::pcap::{CaptureFormat, PacketReader, RawPacket};
use super::tunnel::{self, TunnelConfig};
use crate::model::StreamEvent;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Errors of the replay source. Packet-level problems are never errors (see
/// [`ReplayStats`]).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot open capture file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read error at byte {offset} of the capture: {source}")]
    Read {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("the capture file is empty")]
    Empty,
    #[error("not a pcap or pcapng file (first four bytes {magic:#010x})")]
    UnknownFormat { magic: u32 },
    #[error("malformed {format} file header: {reason}")]
    BadHeader { format: &'static str, reason: String },
    #[error("corrupt {format} block at byte {offset}: {reason}")]
    Corrupt { format: &'static str, offset: u64, reason: String },
    #[error("capture block at byte {offset} is larger than the {limit}-byte limit")]
    BlockTooLarge { offset: u64, limit: usize },
}

/// Bounds and timeouts of a replay; every field has a default.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Initial read buffer in bytes.
    pub read_buffer: usize,
    /// Largest container block accepted (the buffer grows up to this for one block).
    pub max_block: usize,
    /// Packets handled per [`PcapReplaySource::next_events`] call.
    pub batch_packets: usize,
    pub flows: FlowConfig,
    pub defrag: DefragConfig,
    /// VXLAN / Geneve decapsulation.
    pub tunnels: TunnelConfig,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            read_buffer: 256 * 1024,
            max_block: 64 * 1024 * 1024,
            batch_packets: 256,
            flows: FlowConfig::default(),
            defrag: DefragConfig::default(),
            tunnels: TunnelConfig::default(),
        }
    }
}

/// What a replay saw and gave up on.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplayStats {
    pub format: Option<CaptureFormat>,
    /// Packets read, and their captured bytes.
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
    /// Frames of link types this reader does not decode.
    pub unsupported_linktype: u64,
    /// Packets shorter than their own headers.
    pub truncated_packets: u64,
    /// Packets whose payload the capture cut short (snaplen); the rest becomes a gap.
    pub snaplen_cut_packets: u64,
    /// Packets with inconsistent headers.
    pub malformed_packets: u64,
    /// pcapng packets naming an interface without an Interface Description Block.
    pub no_interface_packets: u64,
    /// The file ended in the middle of a block.
    pub truncated_file: bool,
    /// Packets per link type (LINKTYPE_* number).
    pub linktypes: Vec<(u32, u64)>,
    pub fragments: DefragStats,
    pub flows: FlowStats,
}

/// Reads a capture and produces [`StreamEvent`]s in per-connection order, the same events
/// live capture produces (observer [`Wire`](crate::model::Observer::Wire), netns 0, no process).
///
/// Push API: [`next_events`](Self::next_events). Pull API: the `Iterator` impl.
pub struct PcapReplaySource<R: Read> {
    reader: PacketReader<R>,
    defrag: Defrag,
    flows: FlowTable,
    stats: ReplayStats,
    tunnels: TunnelConfig,
    batch: usize,
    total: Option<u64>,
    last_frag_sweep: u64,
    finished: bool,
    queue: VecDeque<StreamEvent>,
    scratch: Vec<StreamEvent>,
    pending_err: Option<StreamError>,
}

impl PcapReplaySource<File> {
    /// Opens a file; its size is the progress total.
    pub fn open(path: impl AsRef<Path>, cfg: ReplayConfig) -> Result<Self, StreamError> {
        let path = path.as_ref();
        let open_err = |source| StreamError::Open { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(open_err)?;
        let total = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        let mut s = Self::new(file, cfg)?;
        s.total = total;
        Ok(s)
    }
}

impl<R: Read> PcapReplaySource<R> {
    /// Reads the file header from any reader (a pipe works; progress has no total then).
    pub fn new(reader: R, cfg: ReplayConfig) -> Result<Self, StreamError> {
        let reader = PacketReader::new(reader, cfg.read_buffer, cfg.max_block)?;
        let stats = ReplayStats { format: Some(reader.format()), ..Default::default() };
        Ok(PcapReplaySource {
            reader,
            defrag: Defrag::new(cfg.defrag),
            flows: FlowTable::new(cfg.flows),
            stats,
            tunnels: cfg.tunnels,
            batch: cfg.batch_packets.max(1),
            total: None,
            last_frag_sweep: 0,
            finished: false,
            queue: VecDeque::new(),
            scratch: Vec::new(),
            pending_err: None,
        })
    }

    /// Sets the size used by [`progress`](Self::progress).
    pub fn with_total_bytes(mut self, total: Option<u64>) -> Self {
        self.total = total;
        self
    }

    /// Handles up to `batch_packets` packets, appending their events to `out`. Returns
    /// `Ok(false)` once the input is exhausted (all flows then have been closed into
    /// `out`). On an error the open flows are closed into `out` too, and later calls
    /// return `Ok(false)`.
    pub fn next_events(&mut self, out: &mut Vec<StreamEvent>) -> Result<bool, StreamError> {
        if self.finished {
            return Ok(false);
        }
        for _ in 0..self.batch {
            let Self { reader, defrag, flows, stats, tunnels, last_frag_sweep, .. } = self;
            let mut cx = Ctx { defrag, flows, stats, tunnels, last_frag_sweep, out };
            let r = reader.next_packet(|p| handle_packet(p, &mut cx));
            match r {
                Ok(Some(())) => {}
                Ok(None) => {
                    self.end(out);
                    return Ok(false);
                }
                Err(e) => {
                    self.end(out);
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) {
        self.flows.finish_all(out);
        self.defrag.finish();
        self.finished = true;
    }

    /// Counters so far.
    pub fn stats(&self) -> ReplayStats {
        let mut s = self.stats.clone();
        let c = self.reader.counters();
        s.no_interface_packets = c.no_interface;
        s.truncated_file = c.truncated_file;
        s.fragments = self.defrag.stats.clone();
        s.flows = self.flows.stats.clone();
        s.linktypes.sort_unstable();
        s
    }

    /// (bytes of the file consumed, file size when known), for a progress bar.
    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.reader.consumed(), self.total)
    }
}

impl<R: Read> Iterator for PcapReplaySource<R> {
    type Item = Result<StreamEvent, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(Ok(e));
            }
            if let Some(e) = self.pending_err.take() {
                return Some(Err(e));
            }
            if self.finished {
                return None;
            }
            let mut buf = std::mem::take(&mut self.scratch);
            if let Err(e) = self.next_events(&mut buf) {
                self.pending_err = Some(e);
            }
            self.queue.extend(buf.drain(..));
            self.scratch = buf;
        }
    }
}

/// The mutable state one packet touches.
struct Ctx<'a> {
    defrag: &'a mut Defrag,
    flows: &'a mut FlowTable,
    stats: &'a mut ReplayStats,
    tunnels: &'a TunnelConfig,
    last_frag_sweep: &'a mut u64,
    out: &'a mut Vec<StreamEvent>,
}

fn handle_packet(p: RawPacket<'_>, cx: &mut Ctx<'_>) {
    let stats = &mut *cx.stats;
    stats.packets += 1;
    stats.bytes += p.data.len() as u64;
    match stats.linktypes.iter_mut().find(|(lt, _)| *lt == p.linktype) {
        Some((_, n)) => *n += 1,
        None => stats.linktypes.push((p.linktype, 1)),
    }
    link_outcome(p.ts_ns, link::decode(p.linktype, p.data), 0, cx);
}

/// One frame's link-layer outcome; `depth` = tunnels already unwrapped around it.
fn link_outcome(ts: u64, l: LinkOutcome<'_>, depth: usize, cx: &mut Ctx<'_>) {
    let parsed = match l {
        LinkOutcome::Ip(L3::V4(d)) => ip::parse_v4(d),
        LinkOutcome::Ip(L3::V6(d)) => ip::parse_v6(d),
        LinkOutcome::NotIp => return cx.stats.non_ip_skipped += 1,
        LinkOutcome::Truncated => return cx.stats.truncated_packets += 1,
        LinkOutcome::Unsupported => return cx.stats.unsupported_linktype += 1,
    };
    let pkt = match parsed {
        Ok(pkt) => pkt,
        Err(e) => return count_err(cx.stats, e),
    };
    let Some(frag) = pkt.frag else {
        // A tunnelled packet cut by the snaplen was already counted by its outer packet.
        if pkt.missing > 0 && depth == 0 {
            cx.stats.snaplen_cut_packets += 1;
        }
        return transport(ts, pkt.src, pkt.dst, pkt.proto, pkt.payload, pkt.missing, depth, cx);
    };
    if ts.saturating_sub(*cx.last_frag_sweep) >= 1_000_000_000 {
        *cx.last_frag_sweep = ts;
        cx.defrag.expire(ts);
    }
    let whole = cx.defrag.push(ts, pkt.src, pkt.dst, pkt.proto, frag, pkt.payload, pkt.missing);
    let Some(buf) = whole else { return };
    if pkt.src.is_ipv4() {
        transport(ts, pkt.src, pkt.dst, pkt.proto, &buf, 0, depth, cx);
    } else {
        match ip::walk_v6_exts(pkt.proto, &buf) {
            Ok((proto, off, None)) => {
                transport(ts, pkt.src, pkt.dst, proto, &buf[off..], 0, depth, cx)
            }
            // A second fragment header inside a reassembled datagram is nonsense.
            Ok((_, _, Some(_))) => cx.stats.malformed_packets += 1,
            Err(e) => count_err(cx.stats, e),
        }
    }
}

fn count_err(stats: &mut ReplayStats, e: IpError) {
    match e {
        IpError::Truncated => stats.truncated_packets += 1,
        IpError::Malformed => stats.malformed_packets += 1,
    }
}

#[allow(clippy::too_many_arguments)]
fn transport(
    ts: u64,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    data: &[u8],
    missing: u32,
    depth: usize,
    cx: &mut Ctx<'_>,
) {
    match proto {
        PROTO_TCP => match ip::parse_tcp(data) {
            Ok(seg) => {
                cx.stats.tcp_packets += 1;
                let s = SocketAddr::new(src, seg.src_port);
                let d = SocketAddr::new(dst, seg.dst_port);
                cx.flows.tcp(ts, s, d, &seg, missing, cx.out);
            }
            Err(e) => count_err(cx.stats, e),
        },
        PROTO_UDP => match ip::parse_udp(data, missing) {
            Ok(dg) => {
                if let Some(kind) = cx.tunnels.kind(dg.dst_port) {
                    if decapsulate(ts, kind, dg.payload, depth, cx) {
                        return;
                    }
                }
                cx.stats.udp_packets += 1;
                let s = SocketAddr::new(src, dg.src_port);
                let d = SocketAddr::new(dst, dg.dst_port);
                cx.flows.udp(ts, s, d, &dg, cx.out);
            }
            Err(e) => count_err(cx.stats, e),
        },
        _ => cx.stats.other_ip_packets += 1,
    }
}

/// Unwraps a tunnel datagram and handles the inner frame. Returns false when the datagram
/// is to stay an ordinary UDP datagram (too deep, or not a valid tunnel header).
fn decapsulate(
    ts: u64,
    kind: tunnel::Kind,
    payload: &[u8],
    depth: usize,
    cx: &mut Ctx<'_>,
) -> bool {
    if depth >= cx.tunnels.max_depth {
        cx.stats.tunnel_depth_exceeded += 1;
        return false;
    }
    match tunnel::decapsulate(kind, payload) {
        Ok(inner) => {
            match kind {
                tunnel::Kind::Vxlan => cx.stats.vxlan_decapsulated += 1,
                tunnel::Kind::Geneve => cx.stats.geneve_decapsulated += 1,
            }
            link_outcome(ts, inner, depth + 1, cx);
            true
        }
        Err(_) => {
            cx.stats.tunnel_invalid += 1;
            false
        }
    }
}
