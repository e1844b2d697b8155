//! Turns raw payload records (`struct tg_pl_event` + bytes) into oriented
//! [`StreamEvent`]s.
//!
//! - Orientation: the kernel's role of the local socket (connect() = client, accepted =
//!   server, or learnt from the first HTTP message) decides which side is the client;
//!   for UDP the side on a DNS port is the server; when the kernel could not tell, the
//!   side with a DNS port, else the lower port, is taken as the server.
//! - Gaps: every record carries the socket's byte totals, so the start offset of a
//!   TCP chunk is known. A jump past the expected offset (chunks lost in the ring buffer,
//!   or skipped while the kernel was still classifying) becomes a [`Payload::Gap`] before
//!   the data; bytes of a chunk that were not copied become a gap after it; bytes missing
//!   at close become a gap before [`Payload::Close`].
//! - UDP sockets without a connected peer carry many flows: each (socket, peer) pair is
//!   its own stream with its own id, and the socket's close closes all of them.
//!
//! Every bound (sockets tracked, flows per socket, process cache) is configurable and
//! every eviction is counted.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::abi::{self, RawPayloadEvent};
use crate::capture::bpf::abi::ip_addr;
use crate::capture::process::ProcessCache;
use crate::model::{ConnKey, Direction, Observer, Payload, ProcessInfo, StreamEvent, Transport};

/// Bounds and settings of the decoder.
#[derive(Debug, Clone)]
pub struct DecoderConfig {
    /// Ports whose side is the DNS server (same set as the kernel's).
    pub dns_ports: HashSet<u16>,
    /// Sockets whose stream offsets are remembered.
    pub max_sockets: usize,
    /// Peers remembered per unconnected UDP socket (to close their flows).
    pub max_flows_per_socket: usize,
    /// Process cache entries.
    pub process_cache_size: usize,
}

/// Decoder counters (totals since start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// Bytes reported as gaps because chunks were missing (lost or not yet classified).
    pub offset_gap_bytes: u64,
    /// Bytes reported as gaps because the kernel did not copy them (size cap, iovec cap).
    pub uncopied_bytes: u64,
    /// Socket states evicted because `max_sockets` was reached.
    pub sockets_evicted: u64,
    /// UDP flows not remembered for close because `max_flows_per_socket` was reached.
    pub flows_untracked: u64,
    /// Records with an unknown type, direction, transport or address family.
    pub malformed: u64,
}

#[derive(Debug, Clone)]
struct Flow {
    id: u64,
    key: ConnKey,
    observer: Observer,
}

#[derive(Debug, Default)]
struct SockState {
    /// Next expected stream offset, [egress, ingress].
    expected: [u64; 2],
    flows: Vec<Flow>,
    process: Option<Arc<ProcessInfo>>,
    last_seen: u64,
}

/// Stateful decoder; one per capture.
pub struct Decoder {
    cfg: DecoderConfig,
    offset_ns: i128,
    sockets: crate::util::FastMap<u64, SockState>,
    processes: ProcessCache,
    tick: u64,
    pub counters: DecodeCounters,
}

fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// Stream id of one peer of an unconnected UDP socket.
fn flow_id(sock_id: u64, peer: &SocketAddr) -> u64 {
    let mut h = sock_id;
    match peer.ip() {
        IpAddr::V4(a) => h = mix64(h ^ u32::from(a) as u64),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            h = mix64(h ^ (v as u64));
            h = mix64(h ^ ((v >> 64) as u64));
        }
    }
    mix64(h ^ ((peer.port() as u64) << 48))
}

impl Decoder {
    /// `offset_ns` converts CLOCK_MONOTONIC to Unix-epoch nanoseconds.
    pub fn new(cfg: DecoderConfig, offset_ns: i128) -> Self {
        let processes = ProcessCache::new(cfg.process_cache_size);
        Decoder {
            cfg,
            offset_ns,
            sockets: Default::default(),
            processes,
            tick: 0,
            counters: DecodeCounters::default(),
        }
    }

    /// Refreshes the monotonic -> Unix offset (clock adjustments).
    pub fn set_offset(&mut self, offset_ns: i128) {
        self.offset_ns = offset_ns;
    }

    /// Sockets currently remembered.
    pub fn sockets(&self) -> usize {
        self.sockets.len()
    }

    /// Process-cache resets so far.
    pub fn process_cache_resets(&self) -> u64 {
        self.processes.resets
    }

    fn unix(&self, mono: u64) -> u64 {
        (mono as i128 + self.offset_ns).max(0) as u64
    }

    fn is_dns(&self, port: u16) -> bool {
        self.cfg.dns_ports.contains(&port)
    }

    /// True when the local socket is the client.
    fn local_is_client(
        &self,
        h: &RawPayloadEvent,
        local: &SocketAddr,
        remote: &SocketAddr,
    ) -> bool {
        match h.role {
            abi::role::CLIENT => true,
            abi::role::SERVER => false,
            _ => {
                if self.is_dns(remote.port()) {
                    true
                } else if self.is_dns(local.port()) {
                    false
                } else {
                    // The well-known (lower) port is the server's.
                    local.port() >= remote.port()
                }
            }
        }
    }

    /// Advances the clock and, when the table is full and `sock` is new, evicts (the
    /// membership test runs only then: one lookup per event otherwise).
    fn make_room(&mut self, sock: u64) {
        self.tick += 1;
        if self.sockets.len() >= self.cfg.max_sockets.max(1) && !self.sockets.contains_key(&sock) {
            self.evict();
        }
    }

    /// Drops the least recently used eighth of the sockets (amortised O(1)).
    fn evict(&mut self) {
        let n = (self.sockets.len() / 8).max(1);
        for k in crate::util::oldest_keys(self.sockets.iter(), |v| v.last_seen, n) {
            self.sockets.remove(&k);
            self.counters.sockets_evicted += 1;
        }
    }

    /// Decodes one record, appending its stream events to `out`.
    pub fn decode(&mut self, h: &RawPayloadEvent, data: &[u8], out: &mut Vec<StreamEvent>) {
        let (Some(lip), Some(rip)) = (ip_addr(h.family, &h.saddr), ip_addr(h.family, &h.daddr))
        else {
            self.counters.malformed += 1;
            return;
        };
        let transport = match h.l4 {
            abi::l4::TCP => Transport::Tcp,
            abi::l4::UDP => Transport::Udp,
            _ => {
                self.counters.malformed += 1;
                return;
            }
        };
        let local = SocketAddr::new(lip, h.sport);
        let remote = SocketAddr::new(rip, h.dport);
        match h.kind {
            abi::ev::DATA => self.data(h, data, transport, local, remote, out),
            abi::ev::CLOSE => self.close(h, transport, local, remote, out),
            _ => self.counters.malformed += 1,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn data(
        &mut self,
        h: &RawPayloadEvent,
        data: &[u8],
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        out: &mut Vec<StreamEvent>,
    ) {
        let egress = match h.dir {
            abi::dir::EGRESS => true,
            abi::dir::INGRESS => false,
            _ => {
                self.counters.malformed += 1;
                return;
            }
        };
        let client = self.local_is_client(h, &local, &remote);
        let (observer, key) = if client {
            (Observer::Client, ConnKey { client: local, server: remote, transport, netns: h.netns })
        } else {
            (Observer::Server, ConnKey { client: remote, server: local, transport, netns: h.netns })
        };
        let dir =
            if egress == client { Direction::ClientToServer } else { Direction::ServerToClient };
        let ts_ns = self.unix(if egress { h.enter_ns } else { h.exit_ns });
        let unconnected = h.flags & abi::flag::UNCONNECTED != 0;
        let conn_id = if unconnected { flow_id(h.conn_id, &remote) } else { h.conn_id };
        let max_flows = self.cfg.max_flows_per_socket;
        self.make_room(h.conn_id);
        let st = self.sockets.entry(h.conn_id).or_default();
        st.last_seen = self.tick;
        // The socket's last process is almost always this one: no cache lookup then.
        let same = st.process.as_ref().is_some_and(|p| {
            p.pid == h.pid && p.comm.as_bytes() == crate::capture::bpf::abi::comm_bytes(&h.comm)
        });
        if !same {
            st.process = self.processes.get(h.pid, &h.comm);
        }
        let process = st.process.clone();
        let mut lead_gap = 0;
        if transport == Transport::Tcp {
            let idx = if egress { 0 } else { 1 };
            let total = if egress { h.total_tx } else { h.total_rx };
            let start = total.saturating_sub(h.bytes);
            if start > st.expected[idx] {
                lead_gap = start - st.expected[idx];
            }
            st.expected[idx] = st.expected[idx].max(total);
        }
        if !st.flows.iter().any(|f| f.id == conn_id) {
            if st.flows.len() < max_flows.max(1) {
                st.flows.push(Flow { id: conn_id, key, observer });
            } else {
                self.counters.flows_untracked += 1;
            }
        }
        let ev = |payload| StreamEvent {
            conn_id,
            key,
            dir,
            ts_ns,
            payload,
            process: process.clone(),
            observer,
        };
        if lead_gap > 0 {
            self.counters.offset_gap_bytes += lead_gap;
            out.push(ev(Payload::Gap(lead_gap)));
        }
        if !data.is_empty() {
            out.push(ev(Payload::Data(data.to_vec())));
        }
        let rest = h.bytes.saturating_sub(data.len() as u64);
        if rest > 0 {
            self.counters.uncopied_bytes += rest;
            out.push(ev(Payload::Gap(rest)));
        }
    }

    fn close(
        &mut self,
        h: &RawPayloadEvent,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        out: &mut Vec<StreamEvent>,
    ) {
        let ts_ns = self.unix(h.exit_ns);
        let client = self.local_is_client(h, &local, &remote);
        let Some(st) = self.sockets.remove(&h.conn_id) else {
            // Never decoded (evicted): close the connected stream with what we know.
            let (observer, key) = if client {
                (
                    Observer::Client,
                    ConnKey { client: local, server: remote, transport, netns: h.netns },
                )
            } else {
                (
                    Observer::Server,
                    ConnKey { client: remote, server: local, transport, netns: h.netns },
                )
            };
            out.push(StreamEvent {
                conn_id: h.conn_id,
                key,
                dir: Direction::ClientToServer,
                ts_ns,
                payload: Payload::Close,
                process: None,
                observer,
            });
            return;
        };
        for f in &st.flows {
            if transport == Transport::Tcp {
                // Bytes that moved after the last chunk we saw, per direction.
                for (idx, total) in [(0usize, h.total_tx), (1, h.total_rx)] {
                    if total > st.expected[idx] {
                        let gap = total - st.expected[idx];
                        self.counters.offset_gap_bytes += gap;
                        let egress = idx == 0;
                        let client = f.observer == Observer::Client;
                        out.push(StreamEvent {
                            conn_id: f.id,
                            key: f.key,
                            dir: if egress == client {
                                Direction::ClientToServer
                            } else {
                                Direction::ServerToClient
                            },
                            ts_ns,
                            payload: Payload::Gap(gap),
                            process: st.process.clone(),
                            observer: f.observer,
                        });
                    }
                }
            }
            out.push(StreamEvent {
                conn_id: f.id,
                key: f.key,
                dir: Direction::ClientToServer,
                ts_ns,
                payload: Payload::Close,
                process: st.process.clone(),
                observer: f.observer,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DecoderConfig {
        DecoderConfig {
            dns_ports: HashSet::from([53]),
            max_sockets: 4,
            max_flows_per_socket: 2,
            process_cache_size: 16,
        }
    }

    fn tcp(role: u8, dir: u8, bytes: u64, total: u64, copied: u32) -> RawPayloadEvent {
        let mut h = RawPayloadEvent {
            kind: abi::ev::DATA,
            l4: abi::l4::TCP,
            family: abi::AF_INET,
            conn_id: 7,
            sport: 40000,
            dport: 80,
            role,
            dir,
            bytes,
            copied,
            pid: 0,
            ..Default::default()
        };
        h.saddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        h.daddr[..4].copy_from_slice(&[127, 0, 0, 2]);
        if dir == abi::dir::EGRESS {
            h.total_tx = total;
        } else {
            h.total_rx = total;
        }
        h
    }

    fn payloads(out: &[StreamEvent]) -> Vec<Payload> {
        out.iter().map(|e| e.payload.clone()).collect()
    }

    #[test]
    fn client_egress_is_client_to_server_with_tail_gap() {
        let mut d = Decoder::new(cfg(), 0);
        let mut out = Vec::new();
        d.decode(&tcp(abi::role::CLIENT, abi::dir::EGRESS, 10, 10, 4), b"GET ", &mut out);
        assert_eq!(payloads(&out), vec![Payload::Data(b"GET ".to_vec()), Payload::Gap(6)]);
        assert_eq!(out[0].dir, Direction::ClientToServer);
        assert_eq!(out[0].observer, Observer::Client);
        assert_eq!(out[0].key.client, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(out[0].key.server, "127.0.0.2:80".parse().unwrap());
        assert_eq!(d.counters.uncopied_bytes, 6);
    }

    #[test]
    fn server_orientation_and_offset_gaps() {
        let mut d = Decoder::new(cfg(), 0);
        let mut out = Vec::new();
        // 5 bytes skipped before this chunk (total 8, chunk 3).
        d.decode(&tcp(abi::role::SERVER, abi::dir::INGRESS, 3, 8, 3), b"abc", &mut out);
        assert_eq!(payloads(&out), vec![Payload::Gap(5), Payload::Data(b"abc".to_vec())]);
        assert_eq!(out[0].dir, Direction::ClientToServer);
        assert_eq!(out[0].observer, Observer::Server);
        assert_eq!(out[0].key.server, "127.0.0.1:40000".parse().unwrap());
        out.clear();
        // Contiguous: no gap.
        d.decode(&tcp(abi::role::SERVER, abi::dir::INGRESS, 2, 10, 2), b"de", &mut out);
        assert_eq!(payloads(&out), vec![Payload::Data(b"de".to_vec())]);
        out.clear();
        // Egress of the server: server -> client.
        d.decode(&tcp(abi::role::SERVER, abi::dir::EGRESS, 2, 2, 2), b"ok", &mut out);
        assert_eq!(out[0].dir, Direction::ServerToClient);
        out.clear();
        // Close with 4 more received bytes never seen: gap then close.
        let mut c = tcp(abi::role::SERVER, abi::dir::EGRESS, 0, 2, 0);
        c.kind = abi::ev::CLOSE;
        c.total_rx = 14;
        d.decode(&c, b"", &mut out);
        assert_eq!(payloads(&out), vec![Payload::Gap(4), Payload::Close]);
        assert_eq!(out[0].dir, Direction::ClientToServer);
        assert_eq!(d.sockets(), 0);
    }

    #[test]
    fn unknown_role_uses_dns_then_lower_port() {
        let mut d = Decoder::new(cfg(), 0);
        let mut out = Vec::new();
        d.decode(&tcp(abi::role::UNKNOWN, abi::dir::EGRESS, 1, 1, 1), b"x", &mut out);
        assert_eq!(out[0].observer, Observer::Client, "remote port 80 < 40000");
        let mut h = tcp(abi::role::UNKNOWN, abi::dir::EGRESS, 1, 1, 1);
        h.conn_id = 8;
        h.sport = 53;
        h.dport = 40000;
        out.clear();
        d.decode(&h, b"x", &mut out);
        assert_eq!(out[0].observer, Observer::Server);
        assert_eq!(out[0].dir, Direction::ServerToClient);
    }

    #[test]
    fn unconnected_udp_peers_are_separate_flows_closed_together() {
        let mut d = Decoder::new(cfg(), 0);
        let mut out = Vec::new();
        let mut h = tcp(abi::role::SERVER, abi::dir::INGRESS, 3, 100, 3);
        h.l4 = abi::l4::UDP;
        h.flags = abi::flag::UNCONNECTED;
        h.sport = 53;
        h.dport = 1111;
        d.decode(&h, b"q1!", &mut out);
        h.dport = 2222;
        d.decode(&h, b"q2!", &mut out);
        h.dport = 3333; // beyond max_flows_per_socket
        d.decode(&h, b"q3!", &mut out);
        assert_eq!(out.len(), 3, "no offset gaps for UDP");
        assert_ne!(out[0].conn_id, out[1].conn_id);
        assert_eq!(out[0].key.transport, Transport::Udp);
        assert_eq!(d.counters.flows_untracked, 1);
        out.clear();
        let mut c = h;
        c.kind = abi::ev::CLOSE;
        d.decode(&c, b"", &mut out);
        assert_eq!(payloads(&out), vec![Payload::Close, Payload::Close]);
    }

    #[test]
    fn sockets_are_bounded() {
        let mut d = Decoder::new(cfg(), 0);
        let mut out = Vec::new();
        for id in 0..20 {
            let mut h = tcp(abi::role::CLIENT, abi::dir::EGRESS, 1, 1, 1);
            h.conn_id = id;
            d.decode(&h, b"x", &mut out);
        }
        assert!(d.sockets() <= 4);
        assert!(d.counters.sockets_evicted >= 16);
    }

    #[test]
    fn malformed_records_are_counted() {
        let mut d = Decoder::new(cfg(), 0);
        let mut out = Vec::new();
        let mut h = tcp(abi::role::CLIENT, abi::dir::EGRESS, 1, 1, 1);
        h.family = 3;
        d.decode(&h, b"x", &mut out);
        let mut h = tcp(abi::role::CLIENT, 9, 1, 1, 1);
        d.decode(&h, b"x", &mut out);
        h.dir = 0;
        h.kind = 77;
        d.decode(&h, b"x", &mut out);
        assert!(out.is_empty());
        assert_eq!(d.counters.malformed, 3);
    }
}
