//! Per-connection protocol state: detection, then the protocol's connection parser
//! (which keeps one parser per direction where the protocol needs it), then
//! request/response matching. Owned by the agent's signals stage, one per connection
//! (or UDP flow). The protocols are the list in `protocols.rs`: this file names none.

use crate::detect::{self, Hints, Verdict};
use crate::protocols::{self, Parser};
use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Limits, Transport};

pub use crate::protocols::Protocol;

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
    Parsing(Parser),
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
        let expected_ports = protocols::expected_ports(limits, server_port);
        ConnParser {
            engine: Engine::Detecting(Detector::default()),
            stats: ParseStats::default(),
            transport,
            hints: Hints { transport, expected_ports },
            limits: limits.clone(),
            one_way: false,
        }
    }

    /// The server is a multicast group (mDNS on 224.0.0.251 or ff02::fb): its answers go
    /// to the group, not back on this flow, so a query without an answer is reported as
    /// usual (DNS `TIMEOUT`) but not counted in `ParseStats::requests_expired`.
    pub fn expect_no_replies(&mut self) {
        self.one_way = true;
        if let Engine::Parsing(p) = &mut self.engine {
            p.expect_no_replies();
        }
    }

    /// A parser for a connection whose protocol is already known (tests, benches, or an
    /// agent that knows better than detection).
    pub fn with_protocol(transport: Transport, protocol: Protocol, limits: &Limits) -> Self {
        let mut p = ConnParser::new(transport, 0, limits);
        p.engine = match protocol {
            Protocol::Unrecognised => Engine::Ignored,
            Protocol::Unknown => Engine::Detecting(Detector::default()),
            _ => Parser::new(protocol, transport, limits).map_or(Engine::Ignored, Engine::Parsing),
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
            Engine::Parsing(p) => {
                if let Some(switch) = p.on_data(dir, ts_ns, data, &mut self.stats, out) {
                    // The connection left its protocol for another one that is parsed.
                    let next = switch.into_parser(&self.limits, ts_ns, &mut self.stats, out);
                    self.engine = Engine::Parsing(next);
                }
            }
            Engine::Ignored => self.stats.bytes_unparsed += data.len() as u64,
        }
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
            Verdict::Found(p) => self.start(p, dir, buf, out),
            Verdict::NeedMore if buf.len() <= DETECT_BUF => {
                let owned = if held.is_empty() { data.to_vec() } else { held };
                if let Engine::Detecting(d) = &mut self.engine {
                    d.bufs[i] = owned;
                }
            }
            Verdict::NeedMore | Verdict::NotRecognised => {
                if let Some((p, off)) = detect::find_start(self.transport, buf) {
                    self.stats.resync_bytes_skipped += off as u64;
                    self.start(p, dir, &buf[off..], out);
                    return;
                }
                self.stats.bytes_unparsed += buf.len() as u64;
                let Engine::Detecting(d) = &mut self.engine else { return };
                d.seen += buf.len() as u64;
                d.datagrams += 1;
                let give_up = match self.transport {
                    Transport::Tcp => d.seen > self.limits.detect.max_bytes,
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

    /// Detection chose `p` on `dir`'s bytes `buf`: the other direction's held bytes
    /// (which arrived earlier) are fed first.
    fn start(&mut self, p: Protocol, dir: Direction, buf: &[u8], out: &mut Vec<Record>) {
        let Engine::Detecting(d) = std::mem::replace(&mut self.engine, Engine::Ignored) else {
            return;
        };
        let Some(mut parser) = Parser::new(p, self.transport, &self.limits) else { return };
        if self.one_way {
            parser.expect_no_replies();
        }
        self.engine = Engine::Parsing(parser);
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
            Engine::Parsing(p) => p.on_gap(dir, ts_ns, len, &mut self.stats, out),
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
            Engine::Parsing(p) => p.on_close(ts_ns, &mut self.stats, out),
            Engine::Ignored => {}
        }
    }

    /// Expire requests older than their timeout at `now_ns`.
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<Record>) {
        if let Engine::Parsing(p) = &mut self.engine {
            p.expire(now_ns, &mut self.stats, out);
        }
    }

    pub fn protocol(&self) -> Protocol {
        match &self.engine {
            Engine::Detecting(_) => Protocol::Unknown,
            Engine::Parsing(p) => p.protocol(),
            Engine::Ignored => Protocol::Unrecognised,
        }
    }

    /// The protocol's connection parser, once detection chose one (to inspect
    /// protocol-specific state, e.g. `Parser::Http1(h) => h.upgraded()`).
    pub fn parser(&self) -> Option<&Parser> {
        match &self.engine {
            Engine::Parsing(p) => Some(p),
            _ => None,
        }
    }

    /// Requests (HTTP) or queries (DNS) waiting for their answer.
    pub fn pending(&self) -> usize {
        match &self.engine {
            Engine::Parsing(p) => p.pending(),
            _ => 0,
        }
    }

    /// Counters since the last call (the agent sums them).
    pub fn take_stats(&mut self) -> ParseStats {
        std::mem::take(&mut self.stats)
    }
}
