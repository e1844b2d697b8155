//! The L7 connection table: one `telegen_proto` parser per connection (or UDP flow), fed
//! with [`StreamEvent`]s in per-connection order. Finished records come out with the
//! connection's context ([`ConnCtx`]); parser counters are summed per protocol and
//! published to `telegen_parse_errors_total` once per [`ConnTable::expire`].

use crate::model::{ConnKey, Observer, Payload, ProcessInfo, StreamEvent};
use crate::telemetry::SelfTelemetry;
use crate::util::FastMap;
use std::sync::Arc;
use telegen_proto::record::Record;
use telegen_proto::session::{ConnParser, Protocol};
use telegen_proto::stats::ParseStats;
use telegen_proto::Limits;

/// Protocol label values of parser counters (every protocol, then `unknown`).
const PROTOCOLS: [&str; Protocol::COUNT + 1] = Protocol::LABELS;

/// What the mapping of a record needs to know about its connection.
#[derive(Debug, Clone)]
pub struct ConnCtx {
    pub key: ConnKey,
    /// Which side's socket the bytes were seen on (decides span kind).
    pub observer: Observer,
    /// The local process, in live mode.
    pub process: Option<Arc<ProcessInfo>>,
}

struct Conn {
    parser: ConnParser,
    ctx: ConnCtx,
    last_ns: u64,
}

/// Parser state of every live connection. Bounded: past `max_connections` the least
/// recently used sixteenth is dropped (counted).
pub struct ConnTable {
    limits: Limits,
    max_connections: usize,
    telemetry: SelfTelemetry,
    conns: FastMap<u64, Conn>,
    records: Vec<Record>,
    /// Totals of parser counters, for the summary (published ones; see `expire`).
    pub stats: ParseStats,
    /// Parser counters not yet published, by [`PROTOCOLS`] index.
    unpublished: [ParseStats; PROTOCOLS.len()],
}

/// Where finished records go, with their connection's context.
pub type RecordSink<'a> = dyn FnMut(&ConnCtx, Record) + 'a;

impl ConnTable {
    pub fn new(limits: Limits, max_connections: usize, telemetry: SelfTelemetry) -> Self {
        ConnTable {
            limits,
            max_connections,
            telemetry,
            conns: FastMap::default(),
            records: Vec::new(),
            stats: ParseStats::default(),
            unpublished: Default::default(),
        }
    }

    /// Feeds one stream event; finished records go to `out`.
    pub fn on_event(&mut self, ev: StreamEvent, out: &mut RecordSink<'_>) {
        if !self.conns.contains_key(&ev.conn_id) {
            if matches!(ev.payload, Payload::Close) {
                return;
            }
            self.make_room();
            let mut parser = ConnParser::new(ev.key.transport, ev.key.server.port(), &self.limits);
            if ev.key.server.ip().is_multicast() {
                parser.expect_no_replies();
            }
            let ctx = ConnCtx { key: ev.key, observer: ev.observer, process: ev.process.clone() };
            self.conns.insert(ev.conn_id, Conn { parser, ctx, last_ns: ev.ts_ns });
        }
        let Some(c) = self.conns.get_mut(&ev.conn_id) else { return };
        c.last_ns = ev.ts_ns;
        if c.ctx.process.is_none() {
            c.ctx.process = ev.process.clone();
        }
        let closed = match &ev.payload {
            Payload::Data(d) => {
                c.parser.on_data(ev.dir, ev.ts_ns, d, &mut self.records);
                false
            }
            Payload::Gap(n) => {
                c.parser.on_gap(ev.dir, ev.ts_ns, *n, &mut self.records);
                false
            }
            Payload::Close => {
                c.parser.on_close(ev.ts_ns, &mut self.records);
                true
            }
        };
        self.drain(ev.conn_id, out);
        if closed {
            self.conns.remove(&ev.conn_id);
        }
    }

    /// Expires pending requests everywhere (call periodically with the current time, and
    /// at the end of a replay with the last packet's time plus the timeouts), then
    /// publishes the parser counters.
    pub fn expire(&mut self, now_ns: u64, out: &mut RecordSink<'_>) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                c.parser.expire(now_ns, &mut self.records);
            }
            self.drain(id, out);
        }
        self.publish_stats();
    }

    /// Closes every connection (end of replay, shutdown).
    pub fn close_all(&mut self, now_ns: u64, out: &mut RecordSink<'_>) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                c.parser.on_close(now_ns, &mut self.records);
                c.parser.expire(u64::MAX, &mut self.records);
            }
            self.drain(id, out);
            self.conns.remove(&id);
        }
        self.publish_stats();
    }

    /// Connections with parser state.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    fn make_room(&mut self) {
        if self.conns.len() < self.max_connections {
            return;
        }
        // The least recently used sixteenth at once: one scan per batch.
        let n = (self.conns.len() / 16).max(1);
        let old = crate::util::oldest_keys(self.conns.iter(), |c| c.last_ns, n);
        for k in &old {
            self.conns.remove(k);
        }
        self.telemetry.drop("l7", "connection_table_full", old.len() as u64);
    }

    fn drain(&mut self, id: u64, out: &mut RecordSink<'_>) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        let st = c.parser.take_stats();
        let proto = c.parser.protocol().label_index();
        if st != ParseStats::default() {
            // Summed here, published to the telemetry counters once per `expire`.
            self.unpublished[proto].add(&st);
        }
        if self.records.is_empty() {
            return;
        }
        let recs = std::mem::take(&mut self.records);
        for r in recs {
            out(&c.ctx, r);
        }
    }

    /// Publishes the parser counters summed since the last call.
    fn publish_stats(&mut self) {
        for (i, proto) in PROTOCOLS.iter().enumerate() {
            let st = std::mem::take(&mut self.unpublished[i]);
            if st != ParseStats::default() {
                self.account(&st, proto);
            }
        }
    }

    fn account(&mut self, st: &ParseStats, proto: &'static str) {
        for (reason, n) in st.reasons() {
            self.telemetry.parse_error(proto, reason, n);
        }
        self.stats.add(st);
    }
}
