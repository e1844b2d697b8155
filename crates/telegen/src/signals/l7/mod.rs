//! Application-layer signals: [`StreamEvent`]s go into one `telegen_proto` parser per
//! connection ([`conns`]); the records that come out are mapped, each by its protocol's
//! module, to RED metrics and spans ([`http`], with [`grpc`]'s part) or events ([`dns`]).
//! The same code serves live capture and replay.
//!
//! Adding a protocol's mapping: a module here with its metrics struct and a `map`
//! function, one field in [`L7Metrics`], one arm in [`Mappers::map`].

pub mod conns;
pub mod dns;
pub mod grpc;
pub mod http;
pub mod options;

pub use conns::{ConnCtx, ConnTable};
pub use options::L7Options;

use crate::enrich::Enrichment;
use crate::model::{Attributes, ConnKey, ProcessInfo, Signal, StreamEvent};
use crate::signals::metrics::MetricsBuilder;
use crate::telemetry::SelfTelemetry;
use std::sync::Arc;
use telegen_proto::record::Record;
use telegen_proto::stats::ParseStats;

/// Record kinds counted for the summary.
const RECORD_KINDS: [&str; 2] = ["http", "dns"];

/// HTTP duration buckets, in seconds.
pub const HTTP_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// DNS latency buckets, in seconds.
pub const DNS_BUCKETS: [f64; 12] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

/// Every L7 metric family, registered in a fixed order (the exposition order).
pub struct L7Metrics {
    http: http::HttpMetrics,
    rpc: grpc::RpcMetrics,
    dns: dns::DnsMetrics,
}

impl L7Metrics {
    pub fn new(b: &mut MetricsBuilder<'_>) -> Self {
        L7Metrics {
            http: http::HttpMetrics::new(b),
            rpc: grpc::RpcMetrics::new(b),
            dns: dns::DnsMetrics::new(b),
        }
    }
}

/// The record -> signal mappings, one per protocol.
struct Mappers {
    opts: L7Options,
    http: http::HttpMetrics,
    rpc: grpc::RpcMetrics,
    dns: dns::DnsMapper,
    enrich: Arc<Enrichment>,
    /// Records mapped, by [`RECORD_KINDS`] index.
    record_counts: [u64; 2],
}

impl Mappers {
    fn map(&mut self, cx: &ConnCtx, r: Record) -> Option<Signal> {
        match r {
            Record::Http(h) => {
                self.record_counts[0] += 1;
                http::map(h, cx, &self.opts, &self.http, &self.rpc, &self.enrich)
            }
            Record::Dns(d) => {
                self.record_counts[1] += 1;
                self.dns.map(d, cx, &self.opts, &self.enrich)
            }
        }
    }
}

/// The L7 stage. Not thread-safe by design: one owner (the pipeline) drives it.
pub struct L7Signals {
    conns: ConnTable,
    map: Mappers,
}

impl L7Signals {
    pub fn new(
        opts: L7Options,
        m: L7Metrics,
        enrich: Arc<Enrichment>,
        telemetry: SelfTelemetry,
    ) -> Self {
        let conns = ConnTable::new(opts.limits.clone(), opts.max_connections, telemetry.clone());
        let map = Mappers {
            http: m.http,
            rpc: m.rpc,
            dns: dns::DnsMapper::new(m.dns, telemetry),
            enrich,
            record_counts: [0; 2],
            opts,
        };
        L7Signals { conns, map }
    }

    /// Feeds one stream event; finished records are mapped and handed to `emit`.
    pub fn on_event(&mut self, ev: StreamEvent, emit: &mut dyn FnMut(Signal)) {
        let L7Signals { conns, map } = self;
        conns.on_event(ev, &mut |cx, r| {
            if let Some(s) = map.map(cx, r) {
                emit(s)
            }
        });
    }

    /// Expires pending requests everywhere (call periodically with the current time, and
    /// at the end of a replay with the last packet's time plus the timeouts).
    pub fn expire(&mut self, now_ns: u64, emit: &mut dyn FnMut(Signal)) {
        let L7Signals { conns, map } = self;
        conns.expire(now_ns, &mut |cx, r| {
            if let Some(s) = map.map(cx, r) {
                emit(s)
            }
        });
    }

    /// Closes every connection (end of replay, shutdown).
    pub fn close_all(&mut self, now_ns: u64, emit: &mut dyn FnMut(Signal)) {
        let L7Signals { conns, map } = self;
        conns.close_all(now_ns, &mut |cx, r| {
            if let Some(s) = map.map(cx, r) {
                emit(s)
            }
        });
    }

    /// Records mapped so far, by protocol (`http`, `dns`); protocols with none are absent.
    pub fn records_by_protocol(&self) -> Vec<(&'static str, u64)> {
        RECORD_KINDS
            .iter()
            .zip(self.map.record_counts)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
            .collect()
    }

    /// Totals of the parser counters published so far.
    pub fn parse_stats(&self) -> &ParseStats {
        &self.conns.stats
    }

    /// Connections with parser state.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }
}

/// The connection's addresses and namespace, then the local end's resource attributes.
fn put_conn(a: &mut Attributes, key: &ConnKey, p: Option<&ProcessInfo>, enrich: &Enrichment) {
    a.put("client.address", key.client.ip().to_string());
    a.put("client.port", key.client.port());
    a.put("server.ip", key.server.ip().to_string());
    a.put("server.port", key.server.port());
    if key.netns != 0 {
        a.put("network.namespace", key.netns);
    }
    enrich.put_local(a, p);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Direction;
    use crate::model::{ConnKey, Observer, Payload, StreamEvent, Transport};
    use crate::signals::metrics::MetricsBuilder;
    use prometheus_client::registry::Registry;

    fn query(id: u16, name: &str) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend(l.as_bytes());
        }
        q.extend([0, 0, 1, 0, 1]);
        q
    }

    #[test]
    fn unanswered_multicast_queries_are_skipped_unicast_ones_time_out() {
        let mut reg = Registry::default();
        let telemetry = SelfTelemetry::register(&mut reg);
        let mut b = MetricsBuilder::new(&mut reg, None, 100);
        let m = L7Metrics::new(&mut b);
        let enrich = Arc::new(Enrichment::default());
        let mut l7 = L7Signals::new(L7Options::default(), m, enrich, telemetry.clone());
        let mut out = Vec::new();
        for (id, server) in [(1u64, "224.0.0.251:5353"), (2, "127.0.0.53:53")] {
            let ev = StreamEvent {
                conn_id: id,
                key: ConnKey {
                    client: "10.0.0.1:40000".parse().unwrap(),
                    server: server.parse().unwrap(),
                    transport: Transport::Udp,
                    netns: 0,
                },
                dir: Direction::ClientToServer,
                ts_ns: 1_000,
                payload: Payload::Data(query(id as u16, "printer.local")),
                process: None,
                observer: Observer::Client,
            };
            l7.on_event(ev, &mut |s| out.push(s));
        }
        l7.expire(60_000_000_000, &mut |s| out.push(s));
        let timeouts: Vec<_> = out
            .iter()
            .filter_map(|s| match s {
                Signal::Event(e) => e.attributes.get_str("net.peer.ip").map(str::to_string),
                _ => None,
            })
            .collect();
        assert_eq!(timeouts, ["127.0.0.53"], "only the unicast query is a TIMEOUT");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        assert!(
            text.contains(
                r#"telegen_capture_skipped_total{source="dns",reason="multicast_unanswered"} 1"#
            ),
            "{text}"
        );
        // Only the unicast query counts as an expired request in the parser's errors.
        assert!(
            text.contains(
                r#"telegen_parse_errors_total{protocol="dns",reason="request_expired"} 1"#
            ),
            "{text}"
        );
    }
}
