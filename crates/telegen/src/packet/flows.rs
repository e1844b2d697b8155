//! flows: the flow table that turns TCP segments and UDP datagrams into
//! [`StreamEvent`]s, one connection at a time, in per-connection order.
//!
//! Orientation (who is the client):
//! - TCP: the sender of a SYN without ACK is the client; the sender of a SYN+ACK is the
//!   server. Without a handshake, ports decide ([`server_is_b`]): a port below 1024 or in
//!   the configured service-port list is the server's; when both or neither are, the
//!   lower port is the server's; equal ports make the first sender the client.
//! - UDP: the same port rule (a datagram to port 53 comes from the client); equal ports
//!   make the first sender the client.
//!
//! Lifetime: a TCP connection gets one `Close` when an RST is seen, when both FINs have
//! been reached in sequence, when it idles past the timeout, when it is evicted (table
//! full; the flow whose deadline is nearest goes), or at the end of input. Before `Close`,
//! holes still buffered are given up as gaps. A closed connection lingers briefly as a
//! tombstone so late ACKs and retransmitted FINs do not start a new one; a new SYN does.
//! UDP flows end by idle expiry, eviction or end of input.

use super::ip::{TcpSegment, UdpDatagram};
use super::reassembly::{Chunk, HalfConfig, ReassemblyStats, TcpHalf};
use crate::model::{ConnKey, Direction, Observer, Payload, StreamEvent, Transport};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;

/// Ports treated as server ports in addition to every port below 1024.
pub const DEFAULT_SERVICE_PORTS: &[u16] = &[
    1080, 1433, 1521, 1883, 2049, 2181, 2375, 2379, 3000, 3306, 3389, 4222, 4317, 4318, 5000, 5044,
    5353, 5432, 5601, 5672, 5683, 6379, 6443, 7000, 7001, 8000, 8008, 8080, 8081, 8086, 8088, 8443,
    8500, 8888, 9000, 9042, 9090, 9092, 9093, 9142, 9200, 9300, 9418, 11211, 15672, 27017, 50051,
];

/// Limits and timeouts of the flow table.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Connections and UDP flows tracked at once; the one nearest its deadline is
    /// evicted (with `Close`) to make room.
    pub max_flows: usize,
    /// A TCP connection idle this long (capture time) is closed.
    pub tcp_idle_timeout_ns: u64,
    /// A UDP flow idle this long is closed.
    pub udp_idle_timeout_ns: u64,
    /// How long a closed connection's tombstone swallows late packets.
    pub closed_linger_ns: u64,
    /// Out-of-order buffer bounds per direction.
    pub half: HalfConfig,
    /// Ports at or above 1024 that are treated as server ports.
    pub service_ports: Vec<u16>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 100_000,
            tcp_idle_timeout_ns: 300_000_000_000,
            udp_idle_timeout_ns: 30_000_000_000,
            closed_linger_ns: 10_000_000_000,
            half: HalfConfig::default(),
            service_ports: DEFAULT_SERVICE_PORTS.to_vec(),
        }
    }
}

/// Flow-table counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FlowStats {
    pub tcp_flows: u64,
    pub udp_flows: u64,
    /// Live flows evicted because the table was full.
    pub flow_evictions: u64,
    /// Flows closed by the idle timeout.
    pub flows_expired: u64,
    pub closed_by_fin: u64,
    pub closed_by_rst: u64,
    /// Flows still open at the end of input (closed then).
    pub closed_at_end: u64,
    /// Pure ACK / RST segments of connections never seen (no flow is made for them).
    pub tcp_without_flow: u64,
    /// Segments of a connection after its `Close` (late ACKs, retransmitted FINs).
    pub after_close: u64,
    /// A new SYN replaced a connection on the same addresses.
    pub syn_reuse: u64,
    /// UDP datagrams with no payload.
    pub udp_empty: u64,
    /// Events produced.
    pub events: u64,
    pub reassembly: ReassemblyStats,
}

/// Which of two ports is the server's: `Some(true)` when `b`, `Some(false)` when `a`,
/// `None` when the ports are equal.
pub fn server_is_b(a: u16, b: u16, service_ports: &[u16]) -> Option<bool> {
    let svc = |p: u16| p < 1024 || service_ports.contains(&p);
    match (svc(a), svc(b)) {
        (true, false) => Some(false),
        (false, true) => Some(true),
        _ => match a.cmp(&b) {
            Ordering::Less => Some(false),
            Ordering::Greater => Some(true),
            Ordering::Equal => None,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    lo: SocketAddr,
    hi: SocketAddr,
    transport: Transport,
}

impl FlowKey {
    fn new(a: SocketAddr, b: SocketAddr, transport: Transport) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey { lo, hi, transport }
    }
}

enum Proto {
    Tcp(Box<[TcpHalf; 2]>),
    Udp,
}

struct Flow {
    conn_id: u64,
    key: ConnKey,
    last_seen: u64,
    closed: bool,
    proto: Proto,
}

/// A deadline entry; ordered by (deadline, conn_id).
struct Due {
    at: u64,
    conn_id: u64,
    key: FlowKey,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.conn_id) == (o.at, o.conn_id)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.conn_id).cmp(&(o.at, o.conn_id))
    }
}

/// The flow table.
pub struct FlowTable {
    cfg: FlowConfig,
    flows: HashMap<FlowKey, Flow>,
    /// Lazy min-heap of deadlines: each flow has one entry at or before its real deadline.
    due: BinaryHeap<Reverse<Due>>,
    next_id: u64,
    now: u64,
    chunks: Vec<Chunk>,
    pub stats: FlowStats,
}

fn emit(
    out: &mut Vec<StreamEvent>,
    st: &mut FlowStats,
    f: &Flow,
    dir: Direction,
    ts: u64,
    p: Payload,
) {
    st.events += 1;
    out.push(StreamEvent {
        conn_id: f.conn_id,
        key: f.key,
        dir,
        ts_ns: ts,
        payload: p,
        process: None,
        observer: Observer::Wire,
    });
}

fn emit_chunks(
    out: &mut Vec<StreamEvent>,
    st: &mut FlowStats,
    f: &Flow,
    dir: Direction,
    ts: u64,
    chunks: &mut Vec<Chunk>,
) {
    for c in chunks.drain(..) {
        let p = match c {
            Chunk::Data(d) => Payload::Data(d),
            Chunk::Gap(n) => Payload::Gap(n),
        };
        emit(out, st, f, dir, ts, p);
    }
}

/// Gives up remaining holes and emits the one `Close` of a flow.
fn close_flow(
    now: u64,
    stats: &mut FlowStats,
    chunks: &mut Vec<Chunk>,
    f: &mut Flow,
    dir: Direction,
    out: &mut Vec<StreamEvent>,
) {
    if f.closed {
        return;
    }
    let ts = now.max(f.last_seen);
    for (i, d) in [(0, Direction::ClientToServer), (1, Direction::ServerToClient)] {
        if let Proto::Tcp(h) = &mut f.proto {
            h[i].flush(&mut stats.reassembly, chunks);
        }
        emit_chunks(out, stats, f, d, ts, chunks);
    }
    emit(out, stats, f, dir, ts, Payload::Close);
    f.closed = true;
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg,
            flows: HashMap::new(),
            due: BinaryHeap::new(),
            next_id: 1,
            now: 0,
            chunks: Vec::new(),
            stats: FlowStats::default(),
        }
    }

    /// Flows currently tracked (tombstones included).
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    fn deadline(&self, f: &Flow) -> u64 {
        let t = if f.closed {
            self.cfg.closed_linger_ns
        } else if matches!(f.proto, Proto::Tcp(_)) {
            self.cfg.tcp_idle_timeout_ns
        } else {
            self.cfg.udp_idle_timeout_ns
        };
        f.last_seen.saturating_add(t)
    }

    /// Moves capture time forward (never back) and closes flows past their deadline.
    pub fn advance(&mut self, ts: u64, out: &mut Vec<StreamEvent>) {
        self.now = self.now.max(ts);
        while let Some(Reverse(top)) = self.due.peek() {
            if top.at > self.now {
                break;
            }
            let Some(Reverse(d)) = self.due.pop() else { break };
            let Some(f) = self.flows.get(&d.key).filter(|f| f.conn_id == d.conn_id) else {
                continue;
            };
            let actual = self.deadline(f);
            if actual > self.now {
                self.due.push(Reverse(Due { at: actual, ..d }));
                continue;
            }
            if let Some(f) = self.flows.remove(&d.key) {
                if !f.closed {
                    self.stats.flows_expired += 1;
                    self.finish(f, Direction::ClientToServer, out);
                }
            }
        }
    }

    /// Gives up holes and emits `Close` for a flow leaving the table.
    fn finish(&mut self, mut f: Flow, dir: Direction, out: &mut Vec<StreamEvent>) {
        self.close(&mut f, dir, out);
    }

    fn close(&mut self, f: &mut Flow, dir: Direction, out: &mut Vec<StreamEvent>) {
        close_flow(self.now, &mut self.stats, &mut self.chunks, f, dir, out);
    }

    fn evict_one(&mut self, out: &mut Vec<StreamEvent>) {
        while let Some(Reverse(d)) = self.due.pop() {
            let Some(f) = self.flows.get(&d.key).filter(|f| f.conn_id == d.conn_id) else {
                continue;
            };
            let actual = self.deadline(f);
            if actual > d.at {
                self.due.push(Reverse(Due { at: actual, ..d }));
                continue;
            }
            if let Some(f) = self.flows.remove(&d.key) {
                if !f.closed {
                    self.stats.flow_evictions += 1;
                    self.finish(f, Direction::ClientToServer, out);
                }
            }
            return;
        }
    }

    fn create(
        &mut self,
        fk: FlowKey,
        client: SocketAddr,
        server: SocketAddr,
        ts: u64,
        out: &mut Vec<StreamEvent>,
    ) {
        while self.flows.len() >= self.cfg.max_flows.max(1) && !self.due.is_empty() {
            self.evict_one(out);
        }
        let proto = match fk.transport {
            Transport::Tcp => {
                self.stats.tcp_flows += 1;
                Proto::Tcp(Box::default())
            }
            Transport::Udp => {
                self.stats.udp_flows += 1;
                Proto::Udp
            }
        };
        let conn_id = self.next_id;
        self.next_id += 1;
        let key = ConnKey { client, server, transport: fk.transport, netns: 0 };
        let f = Flow { conn_id, key, last_seen: ts, closed: false, proto };
        let at = self.deadline(&f);
        self.flows.insert(fk, f);
        self.due.push(Reverse(Due { at, conn_id, key: fk }));
    }

    fn orient(&self, src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
        match server_is_b(src.port(), dst.port(), &self.cfg.service_ports) {
            Some(false) => (dst, src),
            _ => (src, dst),
        }
    }

    /// One TCP segment from `src` to `dst`; `missing` = payload bytes not captured.
    pub fn tcp(
        &mut self,
        ts: u64,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        missing: u32,
        out: &mut Vec<StreamEvent>,
    ) {
        self.advance(ts, out);
        let fl = seg.flags;
        let fk = FlowKey::new(src, dst, Transport::Tcp);
        let is_syn = fl.syn && !fl.ack;
        let mut create = false;
        match self.flows.get_mut(&fk) {
            Some(f) if f.closed => {
                if !is_syn {
                    self.stats.after_close += 1;
                    return;
                }
                self.flows.remove(&fk);
                create = true;
            }
            Some(f) => {
                let Proto::Tcp(h) = &f.proto else { return };
                let reused = is_syn
                    && src == f.key.client
                    && h[0].is_started()
                    && h[0].offset() > 0
                    && h[0].base_seq() != seg.seq.wrapping_add(1);
                if reused {
                    self.stats.syn_reuse += 1;
                    if let Some(old) = self.flows.remove(&fk) {
                        self.finish(old, Direction::ClientToServer, out);
                    }
                    create = true;
                }
            }
            None => {
                let has_data = !seg.payload.is_empty() || missing > 0;
                if fl.rst || !(fl.syn || fl.fin || has_data) {
                    self.stats.tcp_without_flow += 1;
                    return;
                }
                create = true;
            }
        }
        if create {
            let (client, server) = match (fl.syn, fl.ack) {
                (true, false) => (src, dst),
                (true, true) => (dst, src),
                _ => self.orient(src, dst),
            };
            self.create(fk, client, server, ts, out);
        }
        let Some(f) = self.flows.get_mut(&fk) else { return };
        f.last_seen = f.last_seen.max(ts);
        let dir =
            if src == f.key.client { Direction::ClientToServer } else { Direction::ServerToClient };
        let (i, j) = if dir == Direction::ClientToServer { (0, 1) } else { (1, 0) };
        let (stats, chunks, now) = (&mut self.stats, &mut self.chunks, self.now);
        if fl.rst {
            stats.closed_by_rst += 1;
            close_flow(now, stats, chunks, f, dir, out);
            return;
        }
        let Proto::Tcp(h) = &mut f.proto else { return };
        let cfg = &self.cfg.half;
        if fl.syn {
            h[i].start(seg.seq.wrapping_add(1));
        }
        let data_seq = if fl.syn { seg.seq.wrapping_add(1) } else { seg.seq };
        h[i].segment(data_seq, seg.payload, missing, fl.fin, cfg, &mut stats.reassembly, chunks);
        let mut back = Vec::new();
        if fl.ack {
            h[j].peer_ack(seg.ack, cfg, &mut stats.reassembly, &mut back);
        }
        let done = h[0].is_finished() && h[1].is_finished();
        emit_chunks(out, stats, f, dir, ts, chunks);
        emit_chunks(out, stats, f, dir.reverse(), ts, &mut back);
        if done {
            stats.closed_by_fin += 1;
            close_flow(now, stats, chunks, f, dir, out);
        }
    }

    /// One UDP datagram from `src` to `dst`.
    pub fn udp(
        &mut self,
        ts: u64,
        src: SocketAddr,
        dst: SocketAddr,
        dg: &UdpDatagram<'_>,
        out: &mut Vec<StreamEvent>,
    ) {
        self.advance(ts, out);
        let fk = FlowKey::new(src, dst, Transport::Udp);
        if !self.flows.contains_key(&fk) {
            let (client, server) = self.orient(src, dst);
            self.create(fk, client, server, ts, out);
        }
        let Some(f) = self.flows.get_mut(&fk) else { return };
        f.last_seen = f.last_seen.max(ts);
        let dir =
            if src == f.key.client { Direction::ClientToServer } else { Direction::ServerToClient };
        if dg.payload.is_empty() && dg.missing == 0 {
            self.stats.udp_empty += 1;
            return;
        }
        if !dg.payload.is_empty() {
            emit(out, &mut self.stats, f, dir, ts, Payload::Data(dg.payload.to_vec()));
        }
        if dg.missing > 0 {
            self.stats.reassembly.gaps += 1;
            self.stats.reassembly.gap_bytes += dg.missing as u64;
            emit(out, &mut self.stats, f, dir, ts, Payload::Gap(dg.missing as u64));
        }
    }

    /// End of input: closes every open flow, in creation order.
    pub fn finish_all(&mut self, out: &mut Vec<StreamEvent>) {
        let mut all: Vec<Flow> = self.flows.drain().map(|(_, f)| f).collect();
        all.sort_by_key(|f| f.conn_id);
        for mut f in all {
            if !f.closed {
                self.stats.closed_at_end += 1;
                self.close(&mut f, Direction::ClientToServer, out);
            }
        }
        self.due.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_heuristic() {
        let svc = DEFAULT_SERVICE_PORTS;
        assert_eq!(server_is_b(51000, 80, svc), Some(true));
        assert_eq!(server_is_b(53, 40000, svc), Some(false));
        assert_eq!(server_is_b(8080, 443, svc), Some(true)); // both service ports: lower wins
        assert_eq!(server_is_b(40000, 9042, svc), Some(true));
        assert_eq!(server_is_b(45000, 41000, svc), Some(true)); // neither: lower wins
        assert_eq!(server_is_b(5353, 5353, svc), None);
    }
}
