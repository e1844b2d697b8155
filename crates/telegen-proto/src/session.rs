//! Per-connection protocol state: detection, then the protocol's connection parser
//! (which keeps one parser per direction where the protocol needs it), then
//! request/response matching. Owned by the agent's signals stage, one per connection
//! (or UDP flow). Dispatch is an enum: each protocol is one more variant.

use crate::detect::{self, Candidate, Hints, Verdict};
use crate::dns::DnsConn;
use crate::http1::{Http1Conn, Upgrade};
use crate::http2::Http2Conn;
use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Limits, Transport};

/// What a connection has been recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Unknown,
    Http1,
    /// HTTP/2 (prior knowledge, an h2c upgrade, or joined mid-connection) and gRPC.
    Http2,
    Dns,
    /// Detection gave up: bytes are counted, not parsed.
    Unrecognised,
}

/// Bytes held per direction while detection is unsure.
const DETECT_BUF: usize = 4096;
/// UDP datagrams probed before a flow is given up.
const DETECT_DATAGRAMS: u32 = 4;

#[derive(Default)]
struct Detector {
    bufs: [Vec<u8>; 2],
    ts: [u64; 2],
    seen: u64,
    datagrams: u32,
}

enum Engine {
    Detecting(Detector),
    Http1(Box<Http1Conn>),
    Http2(Box<Http2Conn>),
    Dns(Box<DnsConn>),
    Ignored,
}

/// Protocol state for one connection (TCP) or one UDP flow.
pub struct ConnParser {
    engine: Engine,
    pub(crate) stats: ParseStats,
    transport: Transport,
    hints: Hints,
    limits: Limits,
    /// The peer does not answer on this flow (a multicast group): see
    /// [`ConnParser::expect_no_replies`].
    one_way: bool,
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

impl ConnParser {
    /// `server_port` is a hint for detection (53 suggests DNS); detection decides.
    pub fn new(transport: Transport, server_port: u16, limits: &Limits) -> Self {
        let hints = Hints { transport, dns_port: limits.dns_ports.contains(&server_port) };
        ConnParser {
            engine: Engine::Detecting(Detector::default()),
            stats: ParseStats::default(),
            transport,
            hints,
            limits: limits.clone(),
            one_way: false,
        }
    }

    /// The server is a multicast group (mDNS on 224.0.0.251 or ff02::fb): its answers go
    /// to the group, not back on this flow, so a query without an answer is reported as
    /// usual (DNS `TIMEOUT`) but not counted in `ParseStats::requests_expired`.
    pub fn expect_no_replies(&mut self) {
        self.one_way = true;
        if let Engine::Dns(d) = &mut self.engine {
            d.set_one_way();
        }
    }

    /// A parser for a connection whose protocol is already known (tests, benches, or an
    /// agent that knows better than detection).
    pub fn with_protocol(transport: Transport, protocol: Protocol, limits: &Limits) -> Self {
        let mut p = ConnParser::new(transport, 0, limits);
        p.engine = match protocol {
            Protocol::Http1 => Engine::Http1(Box::new(Http1Conn::new(limits))),
            Protocol::Http2 => Engine::Http2(Box::new(Http2Conn::new(limits))),
            Protocol::Dns => Engine::Dns(Box::new(DnsConn::new(transport, limits))),
            Protocol::Unrecognised => Engine::Ignored,
            Protocol::Unknown => Engine::Detecting(Detector::default()),
        };
        p
    }

    /// Bytes of a TCP stream (in order, no overlap), or one UDP datagram.
    pub fn on_data(&mut self, dir: Direction, ts_ns: u64, data: &[u8], out: &mut Vec<Record>) {
        if data.is_empty() {
            return;
        }
        match &mut self.engine {
            Engine::Detecting(_) => self.detect(dir, ts_ns, data, out),
            Engine::Http1(h) => {
                h.on_data(dir, ts_ns, data, &mut self.stats, out);
                if h.upgraded() == Some(Upgrade::H2c) {
                    self.switch_to_http2(ts_ns, out);
                }
            }
            Engine::Http2(h) => h.on_data(dir, ts_ns, data, &mut self.stats, out),
            Engine::Dns(d) => d.on_data(dir, ts_ns, data, &mut self.stats, out),
            Engine::Ignored => self.stats.bytes_unparsed += data.len() as u64,
        }
    }

    /// `Upgrade: h2c` was accepted: HTTP/2 takes over with the bytes seen after the 101.
    fn switch_to_http2(&mut self, ts: u64, out: &mut Vec<Record>) {
        let Engine::Http1(h) = &mut self.engine else { return };
        let req = h.take_upgrade_request();
        let s2c = h.take_handover(Direction::ServerToClient);
        let c2s = h.take_handover(Direction::ClientToServer);
        let mut h2 = Http2Conn::upgraded(&self.limits, req);
        h2.on_data(Direction::ServerToClient, ts, &s2c, &mut self.stats, out);
        h2.on_data(Direction::ClientToServer, ts, &c2s, &mut self.stats, out);
        self.engine = Engine::Http2(Box::new(h2));
    }

    fn detect(&mut self, dir: Direction, ts: u64, data: &[u8], out: &mut Vec<Record>) {
        let Engine::Detecting(d) = &mut self.engine else { return };
        let i = idx(dir);
        let mut held = std::mem::take(&mut d.bufs[i]);
        if held.is_empty() {
            d.ts[i] = ts;
        }
        let buf: &[u8] = if held.is_empty() {
            data
        } else {
            held.extend_from_slice(data);
            &held
        };
        let verdict = detect::detect(dir, buf, self.hints);
        match verdict {
            Verdict::Found(c) => self.start(c, dir, buf, out),
            Verdict::NeedMore if buf.len() <= DETECT_BUF => {
                let owned = if held.is_empty() { data.to_vec() } else { held };
                if let Engine::Detecting(d) = &mut self.engine {
                    d.bufs[i] = owned;
                }
            }
            Verdict::NeedMore | Verdict::NotRecognised => {
                let start = match self.transport {
                    Transport::Tcp => detect::find_http1_start(buf),
                    Transport::Udp => None,
                };
                if let Some(off) = start {
                    self.stats.resync_bytes_skipped += off as u64;
                    self.start(Candidate::Http1, dir, &buf[off..], out);
                    return;
                }
                self.stats.bytes_unparsed += buf.len() as u64;
                let Engine::Detecting(d) = &mut self.engine else { return };
                d.seen += buf.len() as u64;
                d.datagrams += 1;
                let give_up = match self.transport {
                    Transport::Tcp => d.seen > self.limits.detect_max_bytes,
                    Transport::Udp => d.datagrams >= DETECT_DATAGRAMS,
                };
                if give_up {
                    self.give_up();
                }
            }
        }
    }

    fn give_up(&mut self) {
        if let Engine::Detecting(d) = &self.engine {
            let held: usize = d.bufs.iter().map(Vec::len).sum();
            self.stats.bytes_unparsed += held as u64;
        }
        self.stats.unrecognised += 1;
        self.engine = Engine::Ignored;
    }

    /// Detection chose `c` on `dir`'s bytes `buf`: the other direction's held bytes
    /// (which arrived earlier) are fed first.
    fn start(&mut self, c: Candidate, dir: Direction, buf: &[u8], out: &mut Vec<Record>) {
        let Engine::Detecting(d) = std::mem::replace(&mut self.engine, Engine::Ignored) else {
            return;
        };
        self.engine = match c {
            Candidate::Http1 => Engine::Http1(Box::new(Http1Conn::new(&self.limits))),
            Candidate::Http2 => Engine::Http2(Box::new(Http2Conn::new(&self.limits))),
            Candidate::Dns => {
                let mut d = DnsConn::new(self.transport, &self.limits);
                if self.one_way {
                    d.set_one_way();
                }
                Engine::Dns(Box::new(d))
            }
        };
        let other = dir.reverse();
        let held = &d.bufs[idx(other)];
        if !held.is_empty() {
            self.on_data(other, d.ts[idx(other)], held, out);
        }
        self.on_data(dir, d.ts[idx(dir)], buf, out);
    }

    /// `len` bytes in `dir` were not seen (lost, not copied, or cut by the capture).
    pub fn on_gap(&mut self, dir: Direction, ts_ns: u64, len: u64, out: &mut Vec<Record>) {
        if len == 0 {
            return;
        }
        match &mut self.engine {
            Engine::Detecting(d) => {
                self.stats.gaps += 1;
                let held = std::mem::take(&mut d.bufs[idx(dir)]);
                self.stats.bytes_unparsed += held.len() as u64 + len;
                d.seen += len;
            }
            Engine::Http1(h) => h.on_gap(dir, ts_ns, len, &mut self.stats, out),
            Engine::Http2(h) => h.on_gap(dir, ts_ns, len, &mut self.stats, out),
            Engine::Dns(d) => d.on_gap(dir, len, &mut self.stats),
            Engine::Ignored => {
                self.stats.gaps += 1;
                self.stats.bytes_unparsed += len;
            }
        }
    }

    /// The connection ended: flush what close delimits, expire what is pending.
    pub fn on_close(&mut self, ts_ns: u64, out: &mut Vec<Record>) {
        match &mut self.engine {
            Engine::Detecting(d) => {
                if d.seen > 0 || d.bufs.iter().any(|b| !b.is_empty()) {
                    self.give_up();
                }
            }
            Engine::Http1(h) => h.on_close(ts_ns, &mut self.stats, out),
            Engine::Http2(h) => h.on_close(ts_ns, &mut self.stats, out),
            Engine::Dns(d) => d.on_close(&mut self.stats, out),
            Engine::Ignored => {}
        }
    }

    /// Expire requests older than their timeout at `now_ns`.
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<Record>) {
        match &mut self.engine {
            Engine::Http1(h) => h.expire(now_ns, &mut self.stats, out),
            Engine::Http2(h) => h.expire(now_ns, &mut self.stats, out),
            Engine::Dns(d) => d.expire(now_ns, &mut self.stats, out),
            Engine::Detecting(_) | Engine::Ignored => {}
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self.engine {
            Engine::Detecting(_) => Protocol::Unknown,
            Engine::Http1(_) => Protocol::Http1,
            Engine::Http2(_) => Protocol::Http2,
            Engine::Dns(_) => Protocol::Dns,
            Engine::Ignored => Protocol::Unrecognised,
        }
    }

    /// Set when an HTTP/1 connection switched protocols (101 or CONNECT);
    /// `Some(Upgrade::H2c)` means HTTP/2 follows.
    pub fn upgrade(&self) -> Option<Upgrade> {
        match &self.engine {
            Engine::Http1(h) => h.upgraded(),
            _ => None,
        }
    }

    /// Requests (HTTP) or queries (DNS) waiting for their answer.
    pub fn pending(&self) -> usize {
        match &self.engine {
            Engine::Http1(h) => h.pending(),
            Engine::Http2(h) => h.pending(),
            Engine::Dns(d) => d.pending(),
            _ => 0,
        }
    }

    /// Counters since the last call (the agent sums them).
    pub fn take_stats(&mut self) -> ParseStats {
        std::mem::take(&mut self.stats)
    }
}
