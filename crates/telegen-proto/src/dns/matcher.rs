//! DNS query/response matching within one connection or UDP flow: by (id, question
//! name, question type), oldest first (a retry with the same id is a separate query).
//! A query without a question (an inverse query, RFC 1035 section 6.4 / RFC 3425) is
//! matched by id alone, and its record takes the question of the response. Only the
//! first question of a message is used; further ones are counted. Unanswered queries
//! become `TIMEOUT` records; responses without a query become `response_only` records.

use std::collections::VecDeque;

use super::message::{self, Message};
use super::rdata::{rcode_name, rdata_text, type_name};
use super::record::{DnsAnswer, DnsRecord};
use super::Limits;
use crate::record::Record;
use crate::stats::ParseStats;

struct PendingQuery {
    id: u16,
    /// The query carried a question (inverse queries do not).
    has_question: bool,
    qname: String,
    qtype: u16,
    ts: u64,
}

pub struct DnsMatcher {
    pending: VecDeque<PendingQuery>,
    max_pending: usize,
    timeout_ns: u64,
    max_answers: usize,
    /// Queries to a multicast group (mDNS): answers go to the group, so an unanswered
    /// query is still reported (`TIMEOUT`) but is not counted as an expired request.
    one_way: bool,
}

impl DnsMatcher {
    pub fn new(l: &Limits) -> Self {
        DnsMatcher {
            pending: VecDeque::new(),
            max_pending: l.max_pending.max(1),
            timeout_ns: l.timeout_ns,
            max_answers: l.max_answers,
            one_way: false,
        }
    }

    /// Unanswered queries are expected (a multicast group): not counted as expired.
    pub fn set_one_way(&mut self) {
        self.one_way = true;
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// One whole message seen at `ts`.
    pub fn on_message(
        &mut self,
        ts: u64,
        buf: &[u8],
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        let msg = match message::parse(buf) {
            Ok(m) => m,
            Err(_) => {
                stats.errors_malformed += 1;
                return;
            }
        };
        stats.proto.dns.messages += 1;
        stats.proto.dns.extra_questions += u64::from(msg.header.qdcount.saturating_sub(1));
        let qname = msg.question_name().unwrap_or_default();
        let qtype = msg.question.map_or(0, |q| q.qtype);
        if !msg.header.is_response() {
            if self.pending.len() >= self.max_pending {
                stats.pending_overflow += 1;
                if let Some(old) = self.pending.pop_front() {
                    out.push(Record::Dns(timeout_record(old)));
                }
            }
            let has_question = msg.question.is_some();
            let id = msg.header.id;
            self.pending.push_back(PendingQuery { id, has_question, qname, qtype, ts });
            return;
        }
        let id = msg.header.id;
        // A response without a question matches by id, except with id 0: that is an
        // mDNS announcement (RFC 6762 section 18.1), not an answer to a query.
        let by_id = msg.question.is_none() && id != 0;
        let found = self.pending.iter().position(|p| {
            p.id == id
                && (by_id
                    || !p.has_question
                    || (p.qtype == qtype && p.qname.eq_ignore_ascii_case(&qname)))
        });
        let mut rec = match found.and_then(|i| self.pending.remove(i)) {
            Some(p) if p.has_question => DnsRecord {
                query_ns: p.ts,
                question_name: p.qname,
                question_type: type_name(p.qtype),
                ..DnsRecord::default()
            },
            // An inverse query: the response names what was asked for.
            Some(p) => DnsRecord {
                query_ns: p.ts,
                question_name: qname,
                question_type: type_name(qtype),
                ..DnsRecord::default()
            },
            None => {
                stats.unmatched_responses += 1;
                DnsRecord {
                    query_ns: ts,
                    question_name: qname,
                    question_type: type_name(qtype),
                    response_only: true,
                    ..DnsRecord::default()
                }
            }
        };
        self.fill_response(&mut rec, ts, &msg);
        out.push(Record::Dns(rec));
    }

    fn fill_response(&self, rec: &mut DnsRecord, ts: u64, msg: &Message<'_>) {
        rec.id = msg.header.id;
        rec.response_ns = Some(ts);
        rec.response_code = rcode_name(msg.rcode());
        rec.answer_count = msg.header.ancount;
        rec.authority_count = msg.header.nscount;
        rec.additional_count = msg.header.arcount;
        rec.answers = msg
            .answers()
            .take(self.max_answers)
            .map(|rr| {
                let mut name = String::new();
                let _ = super::name::read_name(msg.buf, rr.name_off, Some(&mut name));
                DnsAnswer {
                    name,
                    rtype: type_name(rr.rtype),
                    ttl: rr.ttl,
                    data: rdata_text(msg.buf, &rr),
                }
            })
            .collect();
    }

    /// Emits queries older than the DNS timeout as `TIMEOUT`.
    pub fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        let t = self.timeout_ns;
        while let Some(i) = self.pending.iter().position(|p| p.ts.saturating_add(t) <= now) {
            let p = self.pending.remove(i).expect("index from position");
            stats.requests_expired += u64::from(!self.one_way);
            out.push(Record::Dns(timeout_record(p)));
        }
    }

    /// The flow ended: every unanswered query is a `TIMEOUT`.
    pub fn close(&mut self, stats: &mut ParseStats, out: &mut Vec<Record>) {
        while let Some(p) = self.pending.pop_front() {
            stats.requests_expired += u64::from(!self.one_way);
            out.push(Record::Dns(timeout_record(p)));
        }
    }
}

fn timeout_record(p: PendingQuery) -> DnsRecord {
    DnsRecord {
        query_ns: p.ts,
        id: p.id,
        question_type: type_name(p.qtype),
        question_name: p.qname,
        response_code: "TIMEOUT".to_owned(),
        ..DnsRecord::default()
    }
}
