//! The names the agent has seen DNS give to IP addresses: IP -> most recent names, each
//! with its TTL. Signal stages (service topology and security alerts, as they land) use it
//! to name external addresses. Bounded: at most `max_ips` addresses and `MAX_NAMES_PER_IP`
//! names each; the entry that expires first is evicted to make room, and evictions are
//! counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use telegen_proto::record::DnsRecord;

/// Names kept per address (the most recent win).
pub const MAX_NAMES_PER_IP: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    pub name: String,
    /// Unix-epoch nanoseconds after which the answer is stale.
    pub expires_ns: u64,
}

#[derive(Debug, Default)]
struct Inner {
    by_ip: HashMap<IpAddr, Vec<NameEntry>>,
    evictions: u64,
}

/// A shared, bounded IP -> names map. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DnsNames {
    inner: Arc<Mutex<Inner>>,
    max_ips: usize,
}

impl DnsNames {
    pub fn new(max_ips: usize) -> Self {
        DnsNames { inner: Arc::default(), max_ips: max_ips.max(1) }
    }

    /// Learns from one answered query: every A/AAAA answer names its address with the
    /// question name and with the name the record itself carries (the end of a CNAME
    /// chain), with the record's TTL (at least 1 s).
    pub fn learn(&self, r: &DnsRecord) {
        let Some(at) = r.response_ns else { return };
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for a in &r.answers {
            if a.rtype != "A" && a.rtype != "AAAA" {
                continue;
            }
            let Ok(ip) = a.data.parse::<IpAddr>() else { continue };
            let expires_ns = at.saturating_add(u64::from(a.ttl.max(1)) * 1_000_000_000);
            let qname = r.question_name.trim_end_matches('.').to_ascii_lowercase();
            let rname = a.name.trim_end_matches('.').to_ascii_lowercase();
            if !g.by_ip.contains_key(&ip) && g.by_ip.len() >= self.max_ips {
                let victim = g
                    .by_ip
                    .iter()
                    .min_by_key(|(_, v)| v.iter().map(|e| e.expires_ns).max().unwrap_or(0))
                    .map(|(k, _)| *k);
                if let Some(v) = victim {
                    g.by_ip.remove(&v);
                    g.evictions += 1;
                }
            }
            let names = g.by_ip.entry(ip).or_default();
            for n in [rname, qname] {
                if n.is_empty() {
                    continue;
                }
                names.retain(|e| e.name != n);
                names.insert(0, NameEntry { name: n, expires_ns });
            }
            names.truncate(MAX_NAMES_PER_IP);
        }
    }

    /// Unexpired names of `ip` at `now_ns`, most recent first.
    pub fn lookup(&self, ip: IpAddr, now_ns: u64) -> Vec<String> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.by_ip
            .get(&ip)
            .map(|v| v.iter().filter(|e| e.expires_ns > now_ns).map(|e| e.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Drops expired entries; returns how many addresses are left.
    pub fn sweep(&self, now_ns: u64) -> usize {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.by_ip.retain(|_, v| {
            v.retain(|e| e.expires_ns > now_ns);
            !v.is_empty()
        });
        g.by_ip.len()
    }

    pub fn evictions(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).evictions
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).by_ip.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telegen_proto::record::DnsAnswer;

    fn rec(q: &str, answers: &[(&str, &str, &str, u32)]) -> DnsRecord {
        DnsRecord {
            query_ns: 1_000,
            response_ns: Some(2_000),
            question_name: q.into(),
            question_type: "A".into(),
            response_code: "NOERROR".into(),
            answers: answers
                .iter()
                .map(|(n, t, d, ttl)| DnsAnswer {
                    name: n.to_string(),
                    rtype: t.to_string(),
                    ttl: *ttl,
                    data: d.to_string(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn names_addresses_through_cname_chains_until_ttl() {
        let n = DnsNames::new(10);
        n.learn(&rec(
            "alias.example.",
            &[
                ("alias.example.", "CNAME", "www.example.", 300),
                ("www.example.", "A", "10.9.9.9", 60),
            ],
        ));
        let ip: IpAddr = "10.9.9.9".parse().unwrap();
        assert_eq!(
            n.lookup(ip, 3_000),
            vec!["alias.example".to_string(), "www.example".to_string()]
        );
        assert!(n.lookup(ip, 2_000 + 61_000_000_000).is_empty(), "expired after the TTL");
        assert_eq!(n.sweep(2_000 + 61_000_000_000), 0);
    }

    #[test]
    fn bounded_with_counted_evictions() {
        let n = DnsNames::new(2);
        for (i, ttl) in [(1, 10), (2, 100), (3, 50)] {
            n.learn(&rec(
                &format!("h{i}.example"),
                &[(&format!("h{i}.example"), "A", &format!("10.0.0.{i}"), ttl)],
            ));
        }
        assert_eq!(n.len(), 2);
        assert_eq!(n.evictions(), 1);
        assert!(
            n.lookup("10.0.0.1".parse().unwrap(), 3_000).is_empty(),
            "the soonest to expire went"
        );
        assert_eq!(n.lookup("10.0.0.3".parse().unwrap(), 3_000), vec!["h3.example".to_string()]);
    }

    #[test]
    fn timeouts_and_non_address_answers_teach_nothing() {
        let n = DnsNames::new(10);
        let mut r = rec("x.example", &[("x.example", "A", "10.1.1.1", 5)]);
        r.response_ns = None;
        n.learn(&r);
        n.learn(&rec("y.example", &[("y.example", "TXT", "hello", 5)]));
        assert!(n.is_empty());
    }
}
