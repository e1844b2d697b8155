//! Replay of synthesized captures: packets built with etherparse's PacketBuilder, written
//! into pcap / pcapng buffers by `telegen::pcap::writer`, read back through
//! `PcapReplaySource`, and the resulting per-connection streams compared with what the
//! packets were made to say.

use etherparse::PacketBuilder;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use telegen::model::{Direction, Payload, StreamEvent, Transport};
use telegen::pcap::writer::{PcapNgWriter, PcapWriter};
use telegen::pcap::{PcapError as StreamError, PcapReplaySource, ReplayConfig, ReplayStats};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;
const T0: u64 = 1_700_000_000_123_456_000;

// ---------- packet synthesis ----------

#[derive(Clone, Copy, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
}

fn tcp_ip(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, f: Flags, data: &[u8]) -> Vec<u8> {
    let b = match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            PacketBuilder::ipv4(s.ip().octets(), d.ip().octets(), 64)
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            PacketBuilder::ipv6(s.ip().octets(), d.ip().octets(), 64)
        }
        _ => panic!("mixed families"),
    };
    let mut t = b.tcp(src.port(), dst.port(), seq, 65535);
    if f.syn {
        t = t.syn();
    }
    if f.ack {
        t = t.ack(ack);
    }
    if f.fin {
        t = t.fin();
    }
    if f.rst {
        t = t.rst();
    }
    let mut v = Vec::new();
    t.write(&mut v, data).unwrap();
    v
}

fn udp_ip(src: SocketAddr, dst: SocketAddr, data: &[u8]) -> Vec<u8> {
    let b = match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            PacketBuilder::ipv4(s.ip().octets(), d.ip().octets(), 64)
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            PacketBuilder::ipv6(s.ip().octets(), d.ip().octets(), 64)
        }
        _ => panic!("mixed families"),
    };
    let mut v = Vec::new();
    b.udp(src.port(), dst.port()).write(&mut v, data).unwrap();
    v
}

fn ethertype_of(ip: &[u8]) -> [u8; 2] {
    if ip[0] >> 4 == 6 {
        [0x86, 0xDD]
    } else {
        [0x08, 0x00]
    }
}

/// Ethernet with the given VLAN tags (TPIDs) before the IP packet.
fn eth(ip: &[u8], tags: &[u16]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    for (i, tpid) in tags.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    f.extend_from_slice(&ethertype_of(ip));
    f.extend_from_slice(ip);
    f
}

fn sll(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    f.extend_from_slice(&ethertype_of(ip));
    f.extend_from_slice(ip);
    f
}

fn null(ip: &[u8], big: bool) -> Vec<u8> {
    let fam: u32 = if ip[0] >> 4 == 6 { 30 } else { 2 };
    let mut f = if big { fam.to_be_bytes().to_vec() } else { fam.to_le_bytes().to_vec() };
    f.extend_from_slice(ip);
    f
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A TCP conversation that keeps both sequence numbers.
struct Conv {
    c: SocketAddr,
    s: SocketAddr,
    cseq: u32,
    sseq: u32,
}

impl Conv {
    fn new(c: &str, s: &str) -> Self {
        Conv { c: sa(c), s: sa(s), cseq: 1000, sseq: 0xFFFF_FF00 }
    }
    fn handshake(&mut self) -> Vec<Vec<u8>> {
        let syn = Flags { syn: true, ..Default::default() };
        let synack = Flags { syn: true, ack: true, ..Default::default() };
        let p = vec![
            tcp_ip(self.c, self.s, self.cseq, 0, syn, b""),
            tcp_ip(self.s, self.c, self.sseq, self.cseq + 1, synack, b""),
            tcp_ip(self.c, self.s, self.cseq + 1, self.sseq.wrapping_add(1), ACK, b""),
        ];
        self.cseq += 1;
        self.sseq = self.sseq.wrapping_add(1);
        p
    }
    fn client(&mut self, data: &[u8]) -> Vec<u8> {
        let p = tcp_ip(self.c, self.s, self.cseq, self.sseq, ACK, data);
        self.cseq = self.cseq.wrapping_add(data.len() as u32);
        p
    }
    fn server(&mut self, data: &[u8]) -> Vec<u8> {
        let p = tcp_ip(self.s, self.c, self.sseq, self.cseq, ACK, data);
        self.sseq = self.sseq.wrapping_add(data.len() as u32);
        p
    }
    fn client_fin(&mut self) -> Vec<u8> {
        let p = tcp_ip(self.c, self.s, self.cseq, self.sseq, FIN, b"");
        self.cseq += 1;
        p
    }
    fn server_fin(&mut self) -> Vec<u8> {
        let p = tcp_ip(self.s, self.c, self.sseq, self.cseq, FIN, b"");
        self.sseq = self.sseq.wrapping_add(1);
        p
    }
}

const ACK: Flags = Flags { syn: false, ack: true, fin: false, rst: false };
const FIN: Flags = Flags { syn: false, ack: true, fin: true, rst: false };

// ---------- capture files ----------

fn pcap_of(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    pcap_with(linktype, frames, false, false)
}

fn pcap_with(linktype: u32, frames: &[Vec<u8>], big: bool, nanos: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), linktype, big, nanos).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.packet(T0 + i as u64 * 1_000_000, f, None).unwrap();
    }
    w.into_inner()
}

fn replay_cfg(bytes: &[u8], cfg: ReplayConfig) -> (Vec<StreamEvent>, ReplayStats) {
    let mut src = PcapReplaySource::new(bytes, cfg).expect("header");
    let events: Vec<StreamEvent> = src.by_ref().map(|e| e.expect("event")).collect();
    (events, src.stats())
}

fn replay(bytes: &[u8]) -> (Vec<StreamEvent>, ReplayStats) {
    replay_cfg(bytes, ReplayConfig::default())
}

/// Per (conn_id, direction): the bytes as text with gaps as `<n>`; and Close counts.
fn streams(events: &[StreamEvent]) -> (HashMap<(u64, Direction), String>, BTreeMap<u64, u32>) {
    let mut text: HashMap<(u64, Direction), String> = HashMap::new();
    let mut closes = BTreeMap::new();
    for e in events {
        match &e.payload {
            Payload::Data(d) => {
                text.entry((e.conn_id, e.dir)).or_default().push_str(&String::from_utf8_lossy(d))
            }
            Payload::Gap(n) => {
                text.entry((e.conn_id, e.dir)).or_default().push_str(&format!("<{n}>"))
            }
            Payload::Close => *closes.entry(e.conn_id).or_insert(0) += 1,
        }
    }
    (text, closes)
}

fn simple_http(conv: &mut Conv) -> Vec<Vec<u8>> {
    let mut p = conv.handshake();
    p.push(conv.client(b"GET / HTTP/1.1\r\n\r\n"));
    p.push(conv.server(b"HTTP/1.1 200 OK\r\n"));
    p.push(conv.server(b"Content-Length: 0\r\n\r\n"));
    p.push(conv.client_fin());
    p.push(conv.server_fin());
    p.push(conv.client(b""));
    p
}

fn assert_simple_http(events: &[StreamEvent], client: SocketAddr, server: SocketAddr) {
    let (text, closes) = streams(events);
    assert_eq!(text[&(1, C2S)], "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(text[&(1, S2C)], "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(closes, BTreeMap::from([(1, 1)]));
    let last = events.last().unwrap();
    assert_eq!(last.payload, Payload::Close);
    for e in events {
        assert_eq!(e.key.client, client);
        assert_eq!(e.key.server, server);
        assert_eq!(e.key.transport, Transport::Tcp);
        assert_eq!(e.key.netns, 0);
        assert!(e.process.is_none());
        assert_eq!(e.observer, telegen::model::Observer::Wire);
    }
}

// ---------- TCP reassembly ----------

#[test]
fn in_order_both_directions_fin_close() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:8080");
    let frames: Vec<_> = simple_http(&mut conv).iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    assert_simple_http(&events, conv.c, conv.s);
    assert_eq!(stats.packet.flows.closed_by_fin, 1);
    assert_eq!(stats.packet.flows.tcp_flows, 1);
    assert_eq!(stats.packet.tcp_packets, 9);
    assert_eq!(stats.packet.linktypes, vec![(1, 9)]);
    // timestamps are the packets' (data event of packet 4 = index 3)
    assert_eq!(events[0].ts_ns, T0 + 3_000_000);
}

#[test]
fn out_of_order_segments_are_reordered() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut p = conv.handshake();
    let a = conv.client(b"GET /a");
    let b = conv.client(b" HTTP/1.1\r\n");
    let c = conv.client(b"\r\n");
    p.extend([c, a, b]);
    let frames: Vec<_> = p.iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    let (text, _) = streams(&events);
    assert_eq!(text[&(1, C2S)], "GET /a HTTP/1.1\r\n\r\n");
    assert_eq!(stats.packet.flows.reassembly.ooo_segments, 1);
    assert_eq!(stats.packet.flows.reassembly.gaps, 0);
}

#[test]
fn retransmitted_and_overlapping_data_is_trimmed() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut p = conv.handshake();
    let start = conv.cseq;
    p.push(conv.client(b"hello"));
    p.push(tcp_ip(conv.c, conv.s, start, conv.sseq, ACK, b"hello world"));
    p.push(tcp_ip(conv.c, conv.s, start + 6, conv.sseq, ACK, b"world"));
    let frames: Vec<_> = p.iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    assert_eq!(streams(&events).0[&(1, C2S)], "hello world");
    assert_eq!(stats.packet.flows.reassembly.retransmitted_bytes, 5 + 5);
}

#[test]
fn hole_becomes_gap_when_flow_closes() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut p = conv.handshake();
    p.push(conv.client(b"aaa"));
    let _lost = conv.client(b"bbb");
    p.push(tcp_ip(conv.c, conv.s, conv.cseq, 0, Flags::default(), b"ccc"));
    let frames: Vec<_> = p.iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    let (text, closes) = streams(&events);
    assert_eq!(text[&(1, C2S)], "aaa<3>ccc");
    assert_eq!(closes[&1], 1);
    assert_eq!(stats.packet.flows.reassembly.gap_bytes, 3);
    assert_eq!(stats.packet.flows.closed_at_end, 1);
}

#[test]
fn peer_ack_past_hole_emits_gap_before_close() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut p = conv.handshake();
    p.push(conv.client(b"aaa"));
    let _lost = conv.client(b"bbb");
    p.push(conv.client(b"ccc"));
    p.push(conv.server(b"ok")); // acks everything the client sent
    let frames: Vec<_> = p.iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    let (text, _) = streams(&events);
    assert_eq!(text[&(1, C2S)], "aaa<3>ccc");
    assert_eq!(stats.packet.flows.reassembly.acked_holes, 1);
    // the gap and "ccc" come with the server's packet, before the end-of-input Close
    let pos_gap = events.iter().position(|e| e.payload == Payload::Gap(3)).unwrap();
    assert_eq!(events[pos_gap].ts_ns, T0 + 5_000_000);
    assert!(matches!(events.last().unwrap().payload, Payload::Close));
}

#[test]
fn ooo_bound_forces_gap_and_counts() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut p = conv.handshake();
    let _lost = conv.client(b"x");
    for i in 0..5u8 {
        p.push(tcp_ip(conv.c, conv.s, conv.cseq, 0, Flags::default(), &[b'a' + i]));
        conv.cseq += 1;
    }
    let mut cfg = ReplayConfig::default();
    cfg.flows.half.max_ooo_segments = 2;
    let frames: Vec<_> = p.iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay_cfg(&pcap_of(1, &frames), cfg);
    assert_eq!(streams(&events).0[&(1, C2S)], "<1>abcde");
    assert_eq!(stats.packet.flows.reassembly.ooo_forced_skips, 1);
}

#[test]
fn mid_stream_start_oriented_by_port() {
    // no handshake: the first packet is the server's response
    let c = sa("192.168.1.5:51000");
    let s = sa("192.168.1.9:80");
    let p = [
        tcp_ip(s, c, 5000, 777, ACK, b"HTTP/1.1 200 OK\r\n"),
        tcp_ip(c, s, 777, 5017, ACK, b"GET /next HTTP/1.1\r\n"),
        tcp_ip(s, c, 5017, 797, ACK, b"\r\n"),
    ];
    let frames: Vec<_> = p.iter().map(|p| eth(p, &[])).collect();
    let (events, _) = replay(&pcap_of(1, &frames));
    let (text, _) = streams(&events);
    assert_eq!(events[0].dir, S2C);
    assert_eq!(events[0].key.client, c);
    assert_eq!(text[&(1, S2C)], "HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(text[&(1, C2S)], "GET /next HTTP/1.1\r\n");
}

#[test]
fn rst_closes_once_and_new_syn_starts_new_connection() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut p = conv.handshake();
    p.push(conv.client(b"one"));
    let rst = Flags { rst: true, ..Default::default() };
    p.push(tcp_ip(conv.s, conv.c, conv.sseq, 0, rst, b""));
    p.push(conv.client(b"late")); // after Close: swallowed
    let mut conv2 = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    conv2.cseq = 90_000;
    p.extend(conv2.handshake());
    p.push(conv2.client(b"two"));
    let frames: Vec<_> = p.iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    let (text, closes) = streams(&events);
    assert_eq!(text[&(1, C2S)], "one");
    assert_eq!(text[&(2, C2S)], "two");
    assert_eq!(closes, BTreeMap::from([(1, 1), (2, 1)]));
    assert_eq!(stats.packet.flows.closed_by_rst, 1);
    assert_eq!(stats.packet.flows.after_close, 1);
}

#[test]
fn idle_timeout_and_eviction_close_flows() {
    let mut cfg = ReplayConfig::default();
    cfg.flows.max_flows = 2;
    let mut frames = Vec::new();
    for port in [40001u16, 40002, 40003] {
        let c = SocketAddr::new("10.0.0.1".parse().unwrap(), port);
        frames.push(eth(&tcp_ip(c, sa("10.0.0.2:80"), 1, 1, ACK, b"x"), &[]));
    }
    let (events, stats) = replay_cfg(&pcap_of(1, &frames), cfg);
    assert_eq!(stats.packet.flows.flow_evictions, 1);
    // the evicted flow (the first) is closed before the third flow's data
    let close1 = events.iter().position(|e| e.conn_id == 1 && e.payload == Payload::Close);
    let data3 = events.iter().position(|e| e.conn_id == 3);
    assert!(close1.unwrap() < data3.unwrap());

    let mut cfg = ReplayConfig::default();
    cfg.flows.tcp_idle_timeout_ns = 1_500_000; // 1.5 ms; packets are 1 ms apart
    let c = sa("10.0.0.1:40000");
    let s = sa("10.0.0.2:80");
    let frames = vec![
        eth(&tcp_ip(c, s, 1, 1, ACK, b"a"), &[]),
        eth(&tcp_ip(c, s, 2, 1, ACK, b"b"), &[]),
        eth(&tcp_ip(c, sa("10.0.0.2:81"), 1, 1, ACK, b"z"), &[]),
        eth(&tcp_ip(c, sa("10.0.0.2:81"), 2, 1, ACK, b"y"), &[]),
        eth(&tcp_ip(c, sa("10.0.0.2:81"), 3, 1, ACK, b"x"), &[]),
    ];
    let (events, stats) = replay_cfg(&pcap_of(1, &frames), cfg);
    assert_eq!(stats.packet.flows.flows_expired, 1);
    assert_eq!(stats.packet.flows.closed_at_end, 1);
    assert_eq!(streams(&events).1, BTreeMap::from([(1, 1), (2, 1)]));
    let close1 = events.iter().position(|e| e.conn_id == 1 && e.payload == Payload::Close);
    let y = events.iter().position(|e| e.payload == Payload::Data(b"y".to_vec()));
    assert!(close1.unwrap() < y.unwrap());
}

#[test]
fn snaplen_cut_segment_becomes_gap() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut p = conv.handshake();
    p.push(conv.client(b"0123456789"));
    p.push(conv.client(b"after"));
    let mut w = PcapWriter::new(Vec::new(), 1, false, false).unwrap();
    for (i, pkt) in p.iter().enumerate() {
        let f = eth(pkt, &[]);
        if i == 3 {
            // cut the last 6 payload bytes
            w.packet(T0, &f[..f.len() - 6], Some(f.len() as u32)).unwrap();
        } else {
            w.packet(T0, &f, None).unwrap();
        }
    }
    let (events, stats) = replay(&w.into_inner());
    assert_eq!(streams(&events).0[&(1, C2S)], "0123<6>after");
    assert_eq!(stats.packet.snaplen_cut_packets, 1);
}

// ---------- link types and IP versions ----------

#[test]
fn link_types_give_the_same_streams() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:8080");
    let ips = simple_http(&mut conv);
    let cases: Vec<(&str, u32, Vec<Vec<u8>>)> = vec![
        ("vlan", 1, ips.iter().map(|p| eth(p, &[0x8100])).collect()),
        ("qinq", 1, ips.iter().map(|p| eth(p, &[0x88A8, 0x8100])).collect()),
        ("sll", 113, ips.iter().map(|p| sll(p)).collect()),
        ("null-le", 0, ips.iter().map(|p| null(p, false)).collect()),
        ("null-be", 0, ips.iter().map(|p| null(p, true)).collect()),
        ("raw", 101, ips.clone()),
        ("ipv4", 228, ips.clone()),
    ];
    for (name, lt, frames) in cases {
        let (events, stats) = replay(&pcap_of(lt, &frames));
        assert_eq!(stats.packet.tcp_packets, 9, "{name}");
        assert_simple_http(&events, conv.c, conv.s);
    }
}

#[test]
fn ipv6_streams_over_ethernet_null_and_linktype_229() {
    let mut conv = Conv::new("[2001:db8::1]:40000", "[2001:db8::2]:8080");
    let ips = simple_http(&mut conv);
    for (lt, frames) in [
        (1, ips.iter().map(|p| eth(p, &[])).collect::<Vec<_>>()),
        (0, ips.iter().map(|p| null(p, false)).collect()),
        (229, ips.clone()),
    ] {
        let (events, _) = replay(&pcap_of(lt, &frames));
        assert_simple_http(&events, conv.c, conv.s);
    }
}

/// Splits an IPv4 packet into fragments of `chunk` payload bytes (a multiple of 8).
fn fragment_v4(pkt: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let ihl = (pkt[0] & 0x0F) as usize * 4;
    let payload = &pkt[ihl..];
    let mut out = Vec::new();
    for (i, part) in payload.chunks(chunk).enumerate() {
        let off = i * chunk;
        let more = off + part.len() < payload.len();
        let mut h = pkt[..ihl].to_vec();
        h[2..4].copy_from_slice(&((ihl + part.len()) as u16).to_be_bytes());
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&fo.to_be_bytes());
        h.extend_from_slice(part);
        out.push(h);
    }
    out
}

/// Splits an IPv6 packet (no extension headers) with a Fragment header.
fn fragment_v6(pkt: &[u8], chunk: usize, id: u32) -> Vec<Vec<u8>> {
    let payload = &pkt[40..];
    let next = pkt[6];
    let mut out = Vec::new();
    for (i, part) in payload.chunks(chunk).enumerate() {
        let off = i * chunk;
        let more = off + part.len() < payload.len();
        let mut h = pkt[..40].to_vec();
        h[4..6].copy_from_slice(&((8 + part.len()) as u16).to_be_bytes());
        h[6] = 44;
        let fo = off as u16 | more as u16;
        h.extend_from_slice(&[next, 0]);
        h.extend_from_slice(&fo.to_be_bytes());
        h.extend_from_slice(&id.to_be_bytes());
        h.extend_from_slice(part);
        out.push(h);
    }
    out
}

#[test]
fn ipv4_fragments_are_reassembled_out_of_order() {
    let body: Vec<u8> = (0..100u8).collect();
    let pkt = udp_ip(sa("10.0.0.1:40000"), sa("10.0.0.53:53"), &body);
    let mut frags = fragment_v4(&pkt, 32);
    assert_eq!(frags.len(), 4);
    frags.swap(0, 3);
    let frames: Vec<_> = frags.iter().map(|p| eth(p, &[])).collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    assert_eq!(events[0].payload, Payload::Data(body));
    assert_eq!(events[0].dir, C2S);
    assert_eq!(events[0].key.server, sa("10.0.0.53:53"));
    assert_eq!(stats.packet.fragments.fragments, 4);
    assert_eq!(stats.packet.fragments.reassembled, 1);
}

#[test]
fn ipv6_fragments_are_reassembled_and_incomplete_ones_counted() {
    let body: Vec<u8> = (0..200u8).collect();
    let pkt = udp_ip(sa("[2001:db8::1]:40000"), sa("[2001:db8::53]:53"), &body);
    let frags = fragment_v6(&pkt, 64, 7);
    let mut frames: Vec<_> = frags.iter().rev().map(|p| eth(p, &[])).collect();
    // a second datagram missing its first fragment never completes
    let other = fragment_v6(&pkt, 64, 8);
    frames.push(eth(&other[1], &[]));
    let (events, stats) = replay(&pcap_of(1, &frames));
    assert_eq!(events[0].payload, Payload::Data(body));
    assert_eq!(stats.packet.fragments.reassembled, 1);
    assert_eq!(stats.packet.fragments.timeouts, 1);
}

// ---------- UDP ----------

#[test]
fn udp_orientation_and_idle_expiry() {
    let c = sa("10.0.0.1:40000");
    let s = sa("10.0.0.53:53");
    let mut w = PcapWriter::new(Vec::new(), 1, false, false).unwrap();
    w.packet(T0, &eth(&udp_ip(s, c, b"resp-first"), &[]), None).unwrap();
    w.packet(T0 + 1, &eth(&udp_ip(c, s, b"query"), &[]), None).unwrap();
    w.packet(T0 + 60_000_000_000, &eth(&udp_ip(c, s, b"again"), &[]), None).unwrap();
    let (events, stats) = replay(&w.into_inner());
    let (text, closes) = streams(&events);
    assert_eq!(text[&(1, S2C)], "resp-first");
    assert_eq!(text[&(1, C2S)], "query");
    assert_eq!(text[&(2, C2S)], "again");
    assert_eq!(closes, BTreeMap::from([(1, 1), (2, 1)]));
    assert_eq!(events[0].key.client, c);
    assert_eq!(events[0].key.transport, Transport::Udp);
    assert_eq!(stats.packet.flows.flows_expired, 1);
    assert_eq!(stats.packet.flows.udp_flows, 2);
}

// ---------- container formats ----------

#[test]
fn pcap_byte_orders_and_nanoseconds() {
    let c = sa("10.0.0.1:40000");
    let s = sa("10.0.0.53:53");
    let frame = eth(&udp_ip(c, s, b"q"), &[]);
    for (big, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut w = PcapWriter::new(Vec::new(), 1, big, nanos).unwrap();
        w.packet(T0 + 789, &frame, None).unwrap();
        let (events, stats) = replay(&w.into_inner());
        let want = if nanos { T0 + 789 } else { T0 };
        assert_eq!(events[0].ts_ns, want, "big={big} nanos={nanos}");
        assert_eq!(stats.packet.packets, 1);
    }
}

#[test]
fn pcapng_interfaces_byte_orders_and_missing_idb() {
    let c = sa("10.0.0.1:40000");
    let s = sa("10.0.0.53:53");
    let ip = udp_ip(c, s, b"q");
    for big in [false, true] {
        let mut w = PcapNgWriter::new(Vec::new(), big).unwrap();
        let eth_if = w.interface(1, 6).unwrap();
        let raw_if = w.interface(101, 9).unwrap();
        w.packet(eth_if, T0, &eth(&ip, &[]), None).unwrap();
        w.packet(raw_if, T0 + 5, &ip, None).unwrap();
        w.packet(7, T0, &ip, None).unwrap(); // undeclared interface
        let (events, stats) = replay(&w.into_inner());
        let data: Vec<_> =
            events.iter().filter(|e| matches!(e.payload, Payload::Data(_))).collect();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].ts_ns, T0);
        assert_eq!(data[1].ts_ns, T0 + 5);
        assert_eq!(stats.packet.linktypes, vec![(1, 1), (101, 1)]);
        assert_eq!(stats.no_interface_packets, 1);
    }
    // a file with no IDB at all
    let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
    w.packet(0, T0, &ip, None).unwrap();
    let (events, stats) = replay(&w.into_inner());
    assert!(events.is_empty());
    assert_eq!((stats.packet.packets, stats.no_interface_packets), (0, 1));
}

#[test]
fn non_ip_and_malformed_packets_are_counted() {
    let mut arp = vec![0u8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    let mut bad_ip = eth(&udp_ip(sa("10.0.0.1:1"), sa("10.0.0.2:53"), b"x"), &[]);
    bad_ip[14] = 0x41; // IHL 1
    let short = vec![0u8; 10];
    let frames = vec![arp, bad_ip, short];
    let (events, stats) = replay(&pcap_of(1, &frames));
    assert!(events.is_empty());
    assert_eq!(stats.packet.non_ip_skipped, 1);
    assert_eq!(stats.packet.malformed_packets, 1);
    assert_eq!(stats.packet.truncated_packets, 1);
    let (_, stats) = replay(&pcap_of(147, &[vec![1, 2, 3]]));
    assert_eq!(stats.packet.unsupported_linktype, 1);
}

#[test]
fn truncated_file_ends_cleanly_and_corrupt_block_is_an_error() {
    let mut conv = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let frames: Vec<_> = simple_http(&mut conv).iter().map(|p| eth(p, &[])).collect();
    let full = pcap_of(1, &frames);
    let (events, stats) = replay(&full[..full.len() - 10]);
    assert!(stats.truncated_file);
    assert_eq!(streams(&events).1, BTreeMap::from([(1, 1)]));

    // pcapng with a block whose trailing length disagrees
    let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
    w.interface(1, 6).unwrap();
    w.packet(0, T0, &frames[3], None).unwrap();
    let mut bytes = w.into_inner();
    let n = bytes.len();
    bytes[n - 4] ^= 0x40;
    let mut src = PcapReplaySource::new(&bytes[..], ReplayConfig::default()).unwrap();
    let items: Vec<_> = src.by_ref().collect();
    assert!(matches!(items.last(), Some(Err(StreamError::Corrupt { .. }))), "{items:?}");

    assert!(matches!(
        PcapReplaySource::new(&full[..20], ReplayConfig::default()),
        Err(StreamError::BadHeader { .. })
    ));
}

#[test]
fn large_block_grows_buffer_and_progress_reaches_total() {
    let c = sa("10.0.0.1:40000");
    let s = sa("10.0.0.2:80");
    let big = vec![b'x'; 60_000];
    let ip = tcp_ip(c, s, 1, 1, ACK, &big);
    let mut frames: Vec<_> = (0..8).map(|_| ip.clone()).collect();
    frames.insert(3, vec![0x10; 300_000]); // not IP, bigger than the initial buffer
    let bytes = pcap_of(101, &frames);
    // the reader raises this to its minimum, then grows
    let cfg = ReplayConfig { read_buffer: 1024, ..Default::default() };
    let mut src =
        PcapReplaySource::new(&bytes[..], cfg).unwrap().with_total_bytes(Some(bytes.len() as u64));
    let mut out = Vec::new();
    while src.next_events(&mut out).unwrap() {}
    assert_eq!(src.progress(), (bytes.len() as u64, Some(bytes.len() as u64)));
    assert_eq!(src.stats().packet.packets, 9);
    assert_eq!(src.stats().packet.non_ip_skipped, 1);
}

// ---------- IPv6 atomic fragments, tunnels ----------

/// Inserts an atomic Fragment header (offset 0, M = 0; RFC 6946) into an IPv6 packet.
fn atomic_v6(pkt: &[u8], id: u32) -> Vec<u8> {
    let mut h = pkt[..40].to_vec();
    let plen = u16::from_be_bytes([h[4], h[5]]) + 8;
    h[4..6].copy_from_slice(&plen.to_be_bytes());
    h[6] = 44;
    h.extend_from_slice(&[pkt[6], 0, 0, 0]);
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&pkt[40..]);
    h
}

#[test]
fn ipv6_atomic_fragments_are_whole_packets() {
    let mut conv = Conv::new("[2001:db8::2]:36951", "[2001:db8::1]:80");
    let p = simple_http(&mut conv);
    // the client's packets carry atomic fragment headers, all with the same id
    let frames: Vec<_> = p
        .iter()
        .map(|p| if p[8..24] == ipv6_octets(conv.c) { atomic_v6(p, 0) } else { p.clone() })
        .map(|p| eth(&p, &[]))
        .collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    assert_simple_http(&events, conv.c, conv.s);
    assert_eq!(stats.packet.fragments.fragments, 0);
    assert_eq!(stats.packet.malformed_packets, 0);
    assert_eq!(stats.packet.tcp_packets, 9);
}

fn ipv6_octets(a: SocketAddr) -> [u8; 16] {
    match a {
        SocketAddr::V6(a) => a.ip().octets(),
        SocketAddr::V4(_) => panic!("not IPv6"),
    }
}

fn vxlan(inner_frame: &[u8], flags: u8) -> Vec<u8> {
    let mut v = vec![flags, 0, 0, 0, 0, 0, 42, 0];
    v.extend_from_slice(inner_frame);
    v
}

/// Geneve with two option words and the given protocol type.
fn geneve(inner: &[u8], proto: u16) -> Vec<u8> {
    let mut v = vec![0x02, 0];
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(&[0, 0x10, 0x92, 0, 0x01, 0x02, 0x80, 0x01, 0xAA, 0xBB, 0xCC, 0xDD]);
    v.extend_from_slice(inner);
    v
}

#[test]
fn vxlan_inner_packets_become_their_own_flows() {
    let mut conv = Conv::new("172.16.11.201:40354", "54.86.237.188:80");
    let (vtep_a, vtep_b) = (sa("10.1.200.131:50000"), sa("10.1.1.172:4789"));
    let frames: Vec<_> = simple_http(&mut conv)
        .iter()
        .map(|p| eth(&udp_ip(vtep_a, vtep_b, &vxlan(&eth(p, &[0x8100]), 0x08)), &[]))
        .collect();
    let (events, stats) = replay(&pcap_of(1, &frames));
    // only the inner connection is reported; the VTEP-to-VTEP datagrams make no flow
    assert_simple_http(&events, conv.c, conv.s);
    assert_eq!(stats.packet.vxlan_decapsulated, 9);
    assert_eq!((stats.packet.tcp_packets, stats.packet.udp_packets), (9, 0));
    assert_eq!((stats.packet.flows.tcp_flows, stats.packet.flows.udp_flows), (1, 0));
}

#[test]
fn geneve_vxlan_nesting_is_bounded_and_bad_headers_stay_udp() {
    let (c, s) = (sa("172.16.11.201:36872"), sa("1.1.1.1:53"));
    let dns = udp_ip(c, s, b"query");
    // Geneve over IPv6 carrying an Ethernet frame (0x6558) with VXLAN over IPv4 inside
    let in_vxlan = udp_ip(sa("127.0.0.1:26383"), sa("127.0.0.1:4789"), &vxlan(&eth(&dns, &[]), 8));
    let outer = geneve(&eth(&in_vxlan, &[]), 0x6558);
    let pkt = eth(&udp_ip(sa("[2001:db8::a]:11803"), sa("[2001:db8::b]:6081"), &outer), &[]);
    // Geneve straight to IPv4 (protocol type 0x0800), as in zeek's geneve-vxlan capture
    let direct = geneve(&udp_ip(s, c, b"answer"), 0x0800);
    let pkt2 = eth(&udp_ip(sa("10.0.0.1:11803"), sa("10.0.0.2:6081"), &direct), &[]);
    let (events, stats) = replay(&pcap_of(1, &[pkt.clone(), pkt2]));
    let (text, _) = streams(&events);
    assert_eq!(text[&(1, C2S)], "query");
    assert_eq!(text[&(1, S2C)], "answer");
    assert_eq!(events[0].key.server, s);
    assert_eq!((stats.packet.geneve_decapsulated, stats.packet.vxlan_decapsulated), (2, 1));
    assert_eq!((stats.packet.udp_packets, stats.packet.flows.udp_flows), (2, 1));

    // depth 1: the VXLAN inside the Geneve tunnel stays a UDP datagram to port 4789
    let mut cfg = ReplayConfig::default();
    cfg.tunnels.max_depth = 1;
    let (events, stats) = replay_cfg(&pcap_of(1, &[pkt]), cfg);
    assert_eq!(events[0].key.server, sa("127.0.0.1:4789"));
    assert_eq!((stats.packet.geneve_decapsulated, stats.packet.vxlan_decapsulated), (1, 0));
    assert_eq!(stats.packet.tunnel_depth_exceeded, 1);

    // a VXLAN header without the I flag, and a truncated Geneve header: plain UDP
    let bad = eth(&udp_ip(sa("10.0.0.1:50000"), sa("10.0.0.2:4789"), &vxlan(b"x", 0)), &[]);
    let short = eth(&udp_ip(sa("10.0.0.1:50000"), sa("10.0.0.2:6081"), &[2, 0, 8, 0]), &[]);
    let (events, stats) = replay(&pcap_of(1, &[bad, short]));
    assert_eq!(stats.packet.tunnel_invalid, 2);
    assert_eq!((stats.packet.vxlan_decapsulated, stats.packet.geneve_decapsulated), (0, 0));
    assert_eq!(stats.packet.flows.udp_flows, 2);
    assert_eq!(events[0].key.server, sa("10.0.0.2:4789"));
}
