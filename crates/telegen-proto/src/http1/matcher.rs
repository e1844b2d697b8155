//! HTTP/1 request/response matching: a bounded FIFO of requests per connection
//! (pipelining), response framing decisions that depend on the request (HEAD, CONNECT,
//! RFC 9112 section 6.3), interim 1xx responses, upgrades, and record building.

use std::collections::VecDeque;

use httparse::Header;

use super::parser::{HeadInfo, Upgrade};
use crate::record::{HttpRecord, Record};
use crate::stats::ParseStats;
use crate::Limits;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the response parser does after a response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespAction {
    Body(Framing),
    /// 1xx other than 101: no body, the final response follows.
    Interim,
    /// 101 or a 2xx to CONNECT: the connection stops being HTTP/1.
    Upgrade(Upgrade),
}

/// Which side of an exchange a parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Request,
    Response,
}

struct Exchange {
    id: u64,
    rec: HttpRecord,
    is_head: bool,
    is_connect: bool,
    upgrade: Option<Upgrade>,
    req_body: Vec<u8>,
    resp_body: Vec<u8>,
}

/// Per-connection matching state.
pub struct Matcher {
    pending: VecDeque<Exchange>,
    /// The exchange whose response is being read.
    resp_cur: Option<Exchange>,
    /// A response without request is being read (framed, not recorded).
    resp_unmatched: bool,
    /// Id of the request whose body is being read.
    req_cur: Option<u64>,
    next_id: u64,
    /// Set once a 101 or CONNECT tunnel was seen.
    pub upgraded: Option<Upgrade>,
    limits: Limits,
}

impl Matcher {
    pub fn new(limits: &Limits) -> Self {
        Matcher {
            pending: VecDeque::new(),
            resp_cur: None,
            resp_unmatched: false,
            req_cur: None,
            next_id: 0,
            upgraded: None,
            limits: limits.clone(),
        }
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn capture(&self, headers: &[Header<'_>], stats: &mut ParseStats) -> Vec<(String, String)> {
        let max = self.limits.max_headers;
        stats.headers_dropped += headers.len().saturating_sub(max) as u64;
        if self.limits.capture_headers.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for h in headers.iter().take(max) {
            if self.limits.capture_headers.iter().any(|c| c.eq_ignore_ascii_case(h.name)) {
                let v = String::from_utf8_lossy(h.value).into_owned();
                out.push((h.name.to_ascii_lowercase(), v));
            }
        }
        out
    }

    /// A request head was parsed; returns its body framing.
    pub fn request_head(
        &mut self,
        ts: u64,
        req: &httparse::Request<'_, '_>,
        info: &HeadInfo,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) -> Framing {
        stats.http_messages += 1;
        let method = req.method.unwrap_or("");
        let host = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned());
        let framing = if info.chunked {
            Framing::Chunked
        } else {
            Framing::Length(info.content_length.unwrap_or(0))
        };
        let rec = HttpRecord {
            start_ns: ts,
            end_ns: ts,
            method: method.to_owned(),
            target: req.path.unwrap_or("").to_owned(),
            version: if req.version == Some(0) { "1.0" } else { "1.1" }.to_owned(),
            host,
            request_body_len: info.content_length.or(if info.chunked { None } else { Some(0) }),
            request_headers: self.capture(req.headers, stats),
            ..HttpRecord::default()
        };
        let id = self.next_id;
        self.next_id += 1;
        if self.pending.len() >= self.limits.max_pending.max(1) {
            stats.pending_overflow += 1;
            if let Some(old) = self.pending.pop_front() {
                self.emit(old, ts, Some("pending_overflow"), out);
            }
        }
        self.pending.push_back(Exchange {
            id,
            rec,
            is_head: method == "HEAD",
            is_connect: method == "CONNECT",
            upgrade: info.upgrade,
            req_body: Vec::new(),
            resp_body: Vec::new(),
        });
        self.req_cur = Some(id);
        framing
    }

    /// A response head was parsed at `ts`; decides its framing.
    pub fn response_head(
        &mut self,
        ts: u64,
        resp: &httparse::Response<'_, '_>,
        info: &HeadInfo,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) -> RespAction {
        stats.http_messages += 1;
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) && code != 101 {
            return RespAction::Interim;
        }
        // The response belongs to the oldest request, unless that request started after
        // it (its own request was lost, e.g. the capture started late or in a gap).
        let matched = match self.pending.front() {
            Some(x) if x.rec.start_ns <= ts => self.pending.pop_front(),
            _ => None,
        };
        let (is_head, is_connect) =
            matched.as_ref().map_or((false, false), |x| (x.is_head, x.is_connect));
        let req_upgrade = matched.as_ref().and_then(|x| x.upgrade);
        match matched {
            Some(mut x) => {
                x.rec.status = Some(code);
                x.rec.response_headers = self.capture(resp.headers, stats);
                self.resp_cur = Some(x);
                self.resp_unmatched = false;
            }
            None => {
                stats.unmatched_responses += 1;
                self.resp_unmatched = true;
            }
        }
        if code == 101 {
            let up = info.upgrade.or(req_upgrade).unwrap_or(Upgrade::Other);
            self.upgraded = Some(up);
            stats.upgrades += 1;
            self.response_end(ts, 0, stats, out);
            return RespAction::Upgrade(up);
        }
        if is_connect && (200..300).contains(&code) {
            self.upgraded = Some(Upgrade::Tunnel);
            stats.upgrades += 1;
            self.response_end(ts, 0, stats, out);
            return RespAction::Upgrade(Upgrade::Tunnel);
        }
        if is_head || code == 204 || code == 304 {
            return RespAction::Body(Framing::Length(0));
        }
        RespAction::Body(if info.chunked {
            Framing::Chunked
        } else if let Some(n) = info.content_length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        })
    }

    fn find_req(&mut self, id: u64) -> Option<&mut Exchange> {
        if let Some(x) = self.resp_cur.as_mut().filter(|x| x.id == id) {
            return Some(x);
        }
        self.pending.iter_mut().rev().find(|x| x.id == id)
    }

    /// Body bytes of the current message on `role`.
    pub fn body(&mut self, role: Role, bytes: &[u8]) {
        let cap = self.limits.max_body_capture;
        if cap == 0 {
            return;
        }
        let x = match role {
            Role::Request => match self.req_cur {
                Some(id) => self.find_req(id),
                None => None,
            },
            Role::Response => self.resp_cur.as_mut(),
        };
        if let Some(x) = x {
            let buf = if role == Role::Request { &mut x.req_body } else { &mut x.resp_body };
            let room = cap.saturating_sub(buf.len());
            buf.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }

    /// The current request ended with `body_len` body bytes.
    pub fn request_end(&mut self, body_len: u64) {
        if let Some(id) = self.req_cur.take() {
            if let Some(x) = self.find_req(id) {
                x.rec.request_body_len = Some(body_len);
            }
        }
    }

    /// The current response ended at `ts`: emits its record.
    pub fn response_end(
        &mut self,
        ts: u64,
        body_len: u64,
        _s: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        self.resp_unmatched = false;
        if let Some(mut x) = self.resp_cur.take() {
            x.rec.response_body_len = Some(body_len);
            self.emit(x, ts, None, out);
        }
    }

    /// The current response was cut (gap or close) after `body_len` bytes.
    pub fn response_abort(
        &mut self,
        ts: u64,
        body_len: u64,
        why: &'static str,
        out: &mut Vec<Record>,
    ) {
        self.resp_unmatched = false;
        if let Some(mut x) = self.resp_cur.take() {
            x.rec.response_body_len = Some(body_len);
            self.emit(x, ts, Some(why), out);
        }
    }

    /// The response direction lost framing in a gap: responses of all but the newest
    /// pending request were probably inside the gap (exact for non-pipelined traffic).
    pub fn response_desync(&mut self, ts: u64, out: &mut Vec<Record>) {
        while self.pending.len() > 1 {
            let x = self.pending.pop_front().expect("len > 1");
            self.emit(x, ts, Some("gap"), out);
        }
    }

    /// Emits requests older than the request timeout (FIFO order).
    pub fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        let t = self.limits.request_timeout_ns;
        while self.pending.front().is_some_and(|x| x.rec.start_ns.saturating_add(t) <= now) {
            let x = self.pending.pop_front().expect("front exists");
            stats.requests_expired += 1;
            self.emit(x, now, Some("timeout"), out);
        }
    }

    /// Connection closed: everything pending is emitted incomplete.
    pub fn close(&mut self, ts: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        if let Some(x) = self.resp_cur.take() {
            stats.closed_incomplete += 1;
            self.emit(x, ts, Some("connection_closed"), out);
        }
        while let Some(x) = self.pending.pop_front() {
            stats.closed_incomplete += 1;
            self.emit(x, ts, Some("connection_closed"), out);
        }
    }

    fn emit(&self, mut x: Exchange, ts: u64, why: Option<&'static str>, out: &mut Vec<Record>) {
        x.rec.end_ns = ts.max(x.rec.start_ns);
        x.rec.incomplete = why;
        if !x.req_body.is_empty() {
            x.rec.request_body = Some(String::from_utf8_lossy(&x.req_body).into_owned());
        }
        if !x.resp_body.is_empty() {
            x.rec.response_body = Some(String::from_utf8_lossy(&x.resp_body).into_owned());
        }
        out.push(Record::Http(x.rec));
    }
}
