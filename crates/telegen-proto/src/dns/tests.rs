//! DNS edge cases through `ConnParser` (UDP datagrams and TCP streams).

use super::message::tests::{build, rr};
use crate::record::Record;
use crate::session::{ConnParser, Protocol};
use crate::testutil::*;
use crate::{Limits, Transport};

fn tcp(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

fn udp(l: &Limits, port: u16, steps: &[Step<'_>]) -> (Vec<Record>, crate::stats::ParseStats) {
    run_with(Transport::Udp, None, port, l, steps, &|_, _| vec![])
}

#[test]
fn udp_query_and_answer() {
    let q = build(0x1234, 0x0100, "www.example.com", 1, &[]);
    let r = build(
        0x1234,
        0x8180,
        "www.example.com",
        1,
        &[rr(5, 300, &[3, b'c', b'd', b'n', 0xc0, 16]), rr(1, 60, &[93, 184, 216, 34])],
    );
    let (recs, st) = udp(&Limits::default(), 53, &[(C2S, &q), (S2C, &r)]);
    let d = dns(&recs);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].id, d[0].question_name.as_str(), d[0].question_type.as_str()),
        (0x1234, "www.example.com", "A")
    );
    assert_eq!((d[0].query_ns, d[0].response_ns), (1000, Some(2000)));
    assert_eq!(
        (d[0].response_code.as_str(), d[0].answer_count, d[0].response_only),
        ("NOERROR", 2, false)
    );
    let a: Vec<_> = d[0]
        .answers
        .iter()
        .map(|a| (a.name.as_str(), a.rtype.as_str(), a.ttl, a.data.as_str()))
        .collect();
    assert_eq!(
        a,
        [
            ("www.example.com", "CNAME", 300, "cdn.example.com"),
            ("www.example.com", "A", 60, "93.184.216.34")
        ]
    );
    assert_eq!(st.proto.dns.messages, 2);
}

#[test]
fn tcp_prefix_alone_and_several_messages_per_segment() {
    let q1 = tcp(&build(1, 0x0100, "a.test", 28, &[]));
    let q2 = tcp(&build(2, 0x0100, "b.test", 1, &[]));
    let r1 = tcp(&build(1, 0x8183, "a.test", 28, &[]));
    let r2 = tcp(&build(2, 0x8180, "b.test", 1, &[rr(1, 5, &[10, 0, 0, 2])]));
    let both_q = [q1.clone(), q2].concat();
    let both_r = [r1[..2].to_vec()].concat();
    let rest = [r1[2..].to_vec(), r2].concat();
    let recs = same_records_any_split(
        Transport::Tcp,
        53,
        &Limits::default(),
        &[(C2S, &both_q), (S2C, &both_r), (S2C, &rest)],
    );
    let d = dns(&recs);
    let got: Vec<_> = d
        .iter()
        .map(|r| (r.question_name.as_str(), r.question_type.as_str(), r.response_code.as_str()))
        .collect();
    assert_eq!(got, [("a.test", "AAAA", "NXDOMAIN"), ("b.test", "A", "NOERROR")]);
}

#[test]
fn retries_match_oldest_and_leftover_times_out() {
    let q = build(9, 0x0100, "retry.test", 1, &[]);
    let r = build(9, 0x8180, "RETRY.test", 1, &[]);
    let (recs, st) = udp(&Limits::default(), 53, &[(C2S, &q), (C2S, &q), (S2C, &r)]);
    let d = dns(&recs);
    assert_eq!(d.len(), 2);
    assert_eq!((d[0].query_ns, d[0].response_code.as_str()), (1000, "NOERROR"));
    assert_eq!(
        (d[1].query_ns, d[1].response_code.as_str(), d[1].response_ns),
        (2000, "TIMEOUT", None)
    );
    assert_eq!(st.requests_expired, 1);
}

#[test]
fn response_without_query_or_for_other_name() {
    let q = build(5, 0x0100, "asked.test", 1, &[]);
    let other = build(5, 0x8180, "other.test", 1, &[]);
    let (recs, st) = udp(&Limits::default(), 53, &[(C2S, &q), (S2C, &other)]);
    let d = dns(&recs);
    assert_eq!((d[0].question_name.as_str(), d[0].response_only), ("other.test", true));
    assert_eq!(
        (d[1].question_name.as_str(), d[1].response_code.as_str()),
        ("asked.test", "TIMEOUT")
    );
    assert_eq!(st.unmatched_responses, 1);
}

#[test]
fn expire_reports_timeout_after_dns_timeout() {
    let mut l = Limits::default();
    l.dns.timeout_ns = 500;
    let mut p = ConnParser::new(Transport::Udp, 53, &l);
    let mut out = Vec::new();
    p.on_data(C2S, 100, &build(1, 0x0100, "slow.test", 1, &[]), &mut out);
    p.expire(599, &mut out);
    assert!(out.is_empty());
    p.expire(600, &mut out);
    let d = dns(&out);
    assert_eq!(
        (d[0].response_code.as_str(), d[0].question_name.as_str()),
        ("TIMEOUT", "slow.test")
    );
    assert_eq!(p.pending(), 0);
}

#[test]
fn edns_extended_rcode_and_unknown_types() {
    let q = build(3, 0x0100, "x.test", 4242, &[]);
    let mut r = build(3, 0x8180, "x.test", 4242, &[rr(4242, 1, &[0xde, 0xad])]);
    r[11] = 1;
    r.extend_from_slice(&[0, 0, 41, 0x10, 0, 1, 0, 0, 0, 0, 0]);
    let (recs, _) = udp(&Limits::default(), 53, &[(C2S, &q), (S2C, &r)]);
    let d = dns(&recs);
    assert_eq!((d[0].question_type.as_str(), d[0].response_code.as_str()), ("TYPE4242", "BADVERS"));
    assert_eq!(d[0].answers[0].data, "\\# 2 dead");
    assert_eq!(d[0].additional_count, 1);
}

#[test]
fn malformed_and_looping_messages_are_counted() {
    let q = build(3, 0x0100, "x.test", 1, &[]);
    let mut looped = build(3, 0x8180, "x.test", 1, &[]);
    looped.truncate(12);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let (recs, st) = udp(&Limits::default(), 53, &[(C2S, &q), (S2C, &looped), (S2C, &q[..15])]);
    assert_eq!(dns(&recs)[0].response_code, "TIMEOUT");
    assert_eq!(st.errors_malformed, 2);
}

#[test]
fn detection_port_hint_and_full_parse() {
    let q = build(1, 0x0100, "a.test", 1, &[]);
    let p = ConnParser::new(Transport::Udp, 9999, &Limits::default());
    let mut p2 = p;
    p2.on_data(C2S, 1, &q, &mut Vec::new());
    assert_eq!(p2.protocol(), Protocol::Dns, "whole message parses: DNS on any port");
    let mut p3 = ConnParser::new(Transport::Udp, 9999, &Limits::default());
    for _ in 0..4 {
        p3.on_data(C2S, 1, b"\x01\x02random quic-ish bytes that are not dns", &mut Vec::new());
    }
    assert_eq!(p3.protocol(), Protocol::Unrecognised);
    assert_eq!(p3.take_stats().unrecognised, 1);
    let mut p4 = ConnParser::new(Transport::Tcp, 53, &Limits::default());
    p4.on_data(C2S, 1, &[0, 30], &mut Vec::new());
    assert_eq!(p4.protocol(), Protocol::Unknown, "length prefix alone: wait");
}

#[test]
fn tcp_oversized_message_skipped_and_gap_inside_message() {
    let mut l = Limits::default();
    l.dns.max_buffer = 64;
    let big = tcp(&build(1, 0x8180, "big.test", 16, &[rr(16, 1, &[b'x'; 100])]));
    let q = tcp(&build(2, 0x0100, "ok.test", 1, &[]));
    let r = tcp(&build(2, 0x8180, "ok.test", 1, &[]));
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Dns, &l);
    let mut out = Vec::new();
    p.on_data(S2C, 1, &big, &mut out);
    p.on_data(C2S, 2, &q, &mut out);
    p.on_data(S2C, 3, &r[..10], &mut out);
    p.on_gap(S2C, 4, 5, &mut out);
    p.on_data(S2C, 5, &r[15..], &mut out);
    p.on_data(S2C, 6, &r, &mut out);
    let d = dns(&out);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].question_name.as_str(), d[0].response_ns), ("ok.test", Some(6)));
    let st = p.take_stats();
    assert_eq!((st.errors_buffer_full, st.gaps, st.gaps_desync), (1, 1, 0));
}

#[test]
fn two_questions_with_forward_pointer_are_one_query() {
    // The first question is a pointer forward to the name of the second (offset 18),
    // as in suricata-verify's dns-forward-pointer capture.
    let mut q = vec![0x8e, 0x04, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(&[0xc0, 18, 0, 1, 0, 1]);
    q.extend_from_slice(b"\x0acodemonkey\x03net\x00\x00\x01\x00\x01");
    let r = build(0x8e04, 0x8180, "codemonkey.net", 1, &[rr(1, 300, &[152, 53, 82, 239])]);
    for port in [53, 9999] {
        let (recs, st) = udp(&Limits::default(), port, &[(C2S, &q), (S2C, &r)]);
        let d = dns(&recs);
        if port != 53 {
            // Off the DNS ports detection wants one question: the query is not DNS yet.
            assert!(d[0].response_only);
            continue;
        }
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].id, d[0].question_name.as_str(), d[0].question_type.as_str()),
            (0x8e04, "codemonkey.net", "A")
        );
        assert!(!d[0].response_only);
        assert_eq!(d[0].answers[0].data, "152.53.82.239");
        assert_eq!(
            (st.proto.dns.messages, st.proto.dns.extra_questions, st.errors_malformed),
            (2, 1, 0)
        );
    }
}

#[test]
fn inverse_query_matches_its_response_by_id() {
    // IQUERY (opcode 1): no question, the answer section holds the known data; the
    // response adds the question. Over TCP, as in zeek's dns-inverse-query capture.
    let mut q = vec![0x87, 0xee, 0x09, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
    q.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0x7a, 0x69, 0, 4, 4, 3, 2, 1]);
    let mut r = vec![0x87, 0xee, 0x89, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    r.extend_from_slice(b"\x09[4.3.2.1]\x00\x00\x01\x00\x01");
    r.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0x7a, 0x69, 0, 4, 4, 3, 2, 1]);
    let (q, r) = (tcp(&q), tcp(&r));
    let recs =
        same_records_any_split(Transport::Tcp, 53, &Limits::default(), &[(C2S, &q), (S2C, &r)]);
    let d = dns(&recs);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].question_name.as_str(), d[0].question_type.as_str(), d[0].response_only),
        ("[4\\.3\\.2\\.1]", "A", false)
    );
    assert_eq!((d[0].query_ns, d[0].response_ns), (1000, Some(2000)));
}

#[test]
fn mdns_announcement_with_id_zero_answers_no_query() {
    // An mDNS query (id 0, two questions), then an unsolicited announcement: id 0, no
    // question, on the same multicast flow.
    let mut q = build(0, 0x0000, "_ipp._tcp.local", 12, &[]);
    q[5] = 2;
    q.extend_from_slice(b"\x05_ipps\xc0\x11\x00\x0c\x00\x01");
    let mut a = build(0, 0x8400, "host.local", 1, &[rr(1, 120, &[10, 0, 2, 7])]);
    a.drain(12..12 + 16); // drop the question ("host.local" + type + class)
    a[5] = 0;
    a.splice(12..14, [0u8]); // the owner was a pointer to the question: the root now
    let (recs, st) = udp(&Limits::default(), 5353, &[(C2S, &q), (S2C, &a)]);
    let d = dns(&recs);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d[0].response_only && d[0].answers[0].data == "10.0.2.7");
    assert_eq!(
        (d[1].question_name.as_str(), d[1].response_code.as_str()),
        ("_ipp._tcp.local", "TIMEOUT")
    );
    assert_eq!((st.proto.dns.extra_questions, st.errors_malformed), (1, 0));
}
