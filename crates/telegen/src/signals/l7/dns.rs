//! DNS records -> `telegen_dns_*` metrics and one `dns.query` event per query. Answers
//! also feed the peer-names table of [`crate::enrich`] ([`crate::enrich::DnsNames`]).

use super::conns::ConnCtx;
use super::{put_conn, L7Options, DNS_BUCKETS};
use crate::enrich::Enrichment;
use crate::model::{Attributes, Event, Observer, Severity, Signal, Transport};
use crate::signals::metrics::{
    CounterVec, HistogramSeries, MetricName, MetricsBuilder, OVERFLOW_VALUE,
};
use crate::telemetry::SelfTelemetry;
use std::collections::HashSet;
use telegen_proto::record::DnsRecord;

/// `telegen_dns_queries` and `telegen_dns_latency`.
pub struct DnsMetrics {
    queries: CounterVec,
    latency: HistogramSeries,
}

impl DnsMetrics {
    pub fn new(b: &mut MetricsBuilder<'_>) -> Self {
        let m = |prom, otel, help| MetricName { prom, otel, help };
        DnsMetrics {
            queries: b.counter(
                m(
                    "telegen_dns_queries",
                    "telegen.dns.queries",
                    "DNS queries by domain, query_type and response_code",
                ),
                &["domain", "query_type", "response_code"],
            ),
            latency: b
                .histogram(
                    m("telegen_dns_latency", "telegen.dns.latency", "DNS query latency in seconds"),
                    &[],
                    "s",
                    &DNS_BUCKETS,
                )
                .series(&[]),
        }
    }
}

/// The DNS mapping's state: the bounded set of `domain` label values.
pub struct DnsMapper {
    m: DnsMetrics,
    telemetry: SelfTelemetry,
    domains: HashSet<String>,
}

impl DnsMapper {
    pub fn new(m: DnsMetrics, telemetry: SelfTelemetry) -> Self {
        DnsMapper { m, telemetry, domains: HashSet::new() }
    }

    /// Maps one DNS record: metrics always, the event only when wanted.
    pub fn map(
        &mut self,
        d: DnsRecord,
        cx: &ConnCtx,
        opts: &L7Options,
        enrich: &Enrichment,
    ) -> Option<Signal> {
        // A query is reported by the process that asked it (or the wire in replay); a
        // local DNS server's view of the same exchange would count it twice.
        if cx.observer == Observer::Server || !opts.dns_enabled {
            return None;
        }
        let (key, p) = (&cx.key, cx.process.as_deref());
        if d.response_code == "TIMEOUT" && key.server.ip().is_multicast() {
            // A multicast query (mDNS on 224.0.0.251 / ff02::fb) is answered, if at all,
            // by other hosts to the group, not as a reply to this socket: no answer seen is
            // not a timeout. Counted, not reported.
            self.telemetry.skip("dns", "multicast_unanswered", 1);
            return None;
        }
        enrich.dns_names.learn(&d);
        let domain = self.domain_label(&d.question_name, opts.max_domains);
        let latency_ms = d.response_ns.map(|r| r.saturating_sub(d.query_ns) as f64 / 1e6);
        self.m.queries.inc(&[&domain, &d.question_type, &d.response_code]);
        if let Some(ms) = latency_ms {
            self.m.latency.observe(ms / 1000.0);
        }
        if !opts.dns_capture_queries || !opts.emit_spans {
            return None;
        }
        let mut a = Attributes::default();
        a.put("dns.question.name", d.question_name.clone());
        a.put("dns.question.type", d.question_type.clone());
        a.put("dns.id", d.id);
        if opts.dns_capture_responses {
            a.put("dns.response_code", d.response_code.clone());
            a.put_opt("dns.latency_ms", latency_ms);
            a.put("dns.answer_count", d.answer_count);
            if opts.dns_capture_content {
                a.put("dns.answers", d.answers.iter().map(|x| x.data.clone()).collect::<Vec<_>>());
                a.put(
                    "dns.answer_types",
                    d.answers.iter().map(|x| x.rtype.clone()).collect::<Vec<_>>(),
                );
            }
        }
        if d.response_only {
            a.put("dns.response_only", true);
        }
        a.put("net.peer.ip", key.server.ip().to_string());
        a.put("net.peer.port", key.server.port());
        a.put(
            "net.transport",
            match key.transport {
                Transport::Tcp => "ip_tcp",
                Transport::Udp => "ip_udp",
            },
        );
        put_conn(&mut a, key, p, enrich);
        let severity = if d.response_code == "NOERROR" { Severity::Info } else { Severity::Warn };
        Some(Signal::Event(Event {
            name: "dns.query",
            time_unix_nano: d.query_ns,
            severity,
            attributes: a,
        }))
    }

    fn domain_label(&mut self, name: &str, max_domains: usize) -> String {
        let d = name.trim_end_matches('.').to_ascii_lowercase();
        if self.domains.contains(&d) {
            return d;
        }
        if self.domains.len() < max_domains {
            self.domains.insert(d.clone());
            return d;
        }
        self.telemetry.drop("dns", "domain_label_overflow", 1);
        OVERFLOW_VALUE.to_string()
    }
}
