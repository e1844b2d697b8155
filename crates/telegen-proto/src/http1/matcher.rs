//! HTTP/1 request/response matching: a bounded FIFO of requests per connection
//! (pipelining), response framing decisions that depend on the request (HEAD, CONNECT,
//! RFC 9112 section 6.3), interim 1xx responses, upgrades, HTTP/0.9 simple requests
//! (answered by a bare body until close), heads cut short (by a gap, the connection's
//! end, a timeout, or the response starting) kept with what was seen, and record
//! building.

use std::collections::VecDeque;

use httparse::Header;

use super::parser::{HeadInfo, Upgrade};
use super::Limits;
use crate::record::{HttpRecord, Record};
use crate::stats::ParseStats;

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

/// What a response-direction gap cost, for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The response being read (its head was incomplete).
    Current,
    /// An unknown number of whole responses.
    Unknown,
    /// Nothing more than what was already given up.
    Nothing,
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
    /// An HTTP/0.9 request: its response has no head.
    http09: bool,
    /// The request head was cut short: why (the record is incomplete for this reason
    /// even when the response is complete).
    cut: Option<&'static str>,
    req_body: Vec<u8>,
    resp_body: Vec<u8>,
}

/// Per-connection matching state. Exchanges stay in one deque from request head to
/// emission (records are large: they are moved as little as possible).
pub struct Matcher {
    pending: VecDeque<Exchange>,
    /// The front exchange's response is being read.
    responding: bool,
    /// Id of the request whose body is being read.
    req_cur: Option<u64>,
    next_id: u64,
    /// Set once a 101 or CONNECT tunnel was seen.
    pub upgraded: Option<Upgrade>,
    /// The request that asked for `Upgrade: h2c` (its response continues on stream 1).
    pub upgrade_request: Option<HttpRecord>,
    limits: Limits,
}

impl Matcher {
    pub fn new(limits: &Limits) -> Self {
        Matcher {
            pending: VecDeque::new(),
            responding: false,
            req_cur: None,
            next_id: 0,
            upgraded: None,
            upgrade_request: None,
            limits: limits.clone(),
        }
    }

    /// How long a request waits for its response.
    pub fn request_timeout(&self) -> u64 {
        self.limits.request_timeout_ns
    }

    /// Requests not yet emitted (including one whose response is being read).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn capture(&self, headers: &[Header<'_>], stats: &mut ParseStats) -> Vec<(String, String)> {
        let max = self.limits.max_headers;
        stats.proto.http1.headers_dropped += headers.len().saturating_sub(max) as u64;
        if self.limits.capture_headers.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for h in headers.iter().take(max) {
            if self.limits.capture_headers.iter().any(|c| c.eq_ignore_ascii_case(h.name)) {
                let v = text(h.value);
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
        stats.proto.http1.messages += 1;
        let method = req.method.unwrap_or("");
        let host = info.host.map(|i| text(req.headers[i].value));
        let framing = if info.chunked {
            Framing::Chunked
        } else {
            Framing::Length(info.content_length.unwrap_or(0))
        };
        let request_headers = self.capture(req.headers, stats);
        let rec = HttpRecord {
            start_ns: ts,
            end_ns: ts,
            method: crate::record::method_name(method),
            target: req.path.unwrap_or("").to_owned(),
            version: if req.version == Some(0) { "1.0" } else { "1.1" },
            host,
            request_body_len: info.content_length.or(if info.chunked { None } else { Some(0) }),
            request_headers,
            ..HttpRecord::default()
        };
        self.push(ts, rec, info.upgrade, stats, out);
        framing
    }

    /// An HTTP/0.9 simple request (`GET /path` and a line end): no headers, no body.
    pub fn request09(
        &mut self,
        ts: u64,
        method: &str,
        target: &str,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        stats.proto.http1.messages += 1;
        let rec = HttpRecord {
            start_ns: ts,
            end_ns: ts,
            method: crate::record::method_name(method),
            target: target.to_owned(),
            version: "0.9",
            request_body_len: Some(0),
            ..HttpRecord::default()
        };
        self.push(ts, rec, None, stats, out);
        if let Some(x) = self.pending.back_mut() {
            x.http09 = true;
        }
        self.req_cur = None;
    }

    /// A request head cut short by `why` ("gap", "connection_closed", "timeout"): its
    /// start line and the header lines seen are kept, the body is not followed. The
    /// request body length is the declared one, if a Content-Length was seen.
    pub fn request_cut(
        &mut self,
        ts: u64,
        req: &httparse::Request<'_, '_>,
        info: &HeadInfo,
        why: &'static str,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        self.request_head(ts, req, info, stats, out);
        self.req_cur = None;
        if let Some(x) = self.pending.back_mut() {
            x.cut = Some(why);
            x.rec.request_body_len = info.content_length;
        }
    }

    /// Queues a new exchange (evicting the oldest when `Limits::max_pending` is hit);
    /// it becomes the request whose body is read.
    // Inlined so the record is built in place rather than moved through the call.
    #[inline(always)]
    fn push(
        &mut self,
        ts: u64,
        rec: HttpRecord,
        upgrade: Option<Upgrade>,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        if self.pending.len() >= self.limits.max_pending.max(1) {
            stats.pending_overflow += 1;
            // Evict the oldest request that is not being answered right now.
            let evict = if self.responding && self.pending.len() > 1 { 1 } else { 0 };
            if evict == 0 {
                self.responding = false;
            }
            if let Some(old) = self.pending.remove(evict) {
                Self::emit(old, ts, Some("pending_overflow"), out);
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.req_cur = Some(id);
        self.pending.push_back(Exchange {
            id,
            is_head: rec.method == "HEAD",
            is_connect: rec.method == "CONNECT",
            rec,
            upgrade,
            http09: false,
            cut: None,
            req_body: Vec::new(),
            resp_body: Vec::new(),
        });
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
        stats.proto.http1.messages += 1;
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) && code != 101 {
            return RespAction::Interim;
        }
        // The response belongs to the oldest request, unless that request started after
        // it (its own request was lost, e.g. the capture started late or in a gap).
        self.responding = self.pending.front().is_some_and(|x| x.rec.start_ns <= ts);
        let (mut is_head, mut is_connect, mut req_upgrade) = (false, false, None);
        if self.responding {
            let headers = self.capture(resp.headers, stats);
            let x = self.pending.front_mut().expect("responding implies a front");
            x.rec.status = Some(code);
            x.rec.response_headers = headers;
            (is_head, is_connect, req_upgrade) = (x.is_head, x.is_connect, x.upgrade);
        } else {
            stats.unmatched_responses += 1;
        }
        if code == 101 {
            let up = info.upgrade.or(req_upgrade).unwrap_or(Upgrade::Other);
            self.upgraded = Some(up);
            stats.proto.http1.upgrades += 1;
            if up == Upgrade::H2c && self.responding {
                self.upgrade_request = self.pending.front().map(|x| x.rec.clone());
            }
            self.response_end(ts, 0, out);
            return RespAction::Upgrade(up);
        }
        if is_connect && (200..300).contains(&code) {
            self.upgraded = Some(Upgrade::Tunnel);
            stats.proto.http1.upgrades += 1;
            self.response_end(ts, 0, out);
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

    /// Whether a response starting at `ts` answers an HTTP/0.9 request (so it has no
    /// head: the body runs until close).
    pub fn expects_http09(&self, ts: u64) -> bool {
        !self.responding && self.pending.front().is_some_and(|x| x.http09 && x.rec.start_ns <= ts)
    }

    /// The response to the oldest (HTTP/0.9) request starts: no status, body until close.
    pub fn response09(&mut self, stats: &mut ParseStats) {
        stats.proto.http1.messages += 1;
        self.responding = true;
    }

    /// A response head cut short by `why`: its status line (and the header lines seen)
    /// answer the oldest request, which is emitted incomplete; the body is not followed.
    /// Interim (1xx) heads are dropped (counted as messages).
    pub fn response_cut(
        &mut self,
        ts: u64,
        resp: &httparse::Response<'_, '_>,
        why: &'static str,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        stats.proto.http1.messages += 1;
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) {
            return;
        }
        if self.pending.front().is_none_or(|x| x.rec.start_ns > ts) {
            stats.unmatched_responses += 1;
            return;
        }
        match why {
            "connection_closed" => stats.closed_incomplete += 1,
            "timeout" => stats.requests_expired += 1,
            _ => {}
        }
        let headers = self.capture(resp.headers, stats);
        let mut x = self.pending.pop_front().expect("checked: a front exists");
        if self.req_cur == Some(x.id) {
            self.req_cur = None;
        }
        x.rec.status = Some(code);
        x.rec.response_headers = headers;
        Self::emit(x, ts, Some(why), out);
    }

    /// Body bytes of the current message on `role`.
    pub fn body(&mut self, role: Role, bytes: &[u8]) {
        let cap = self.limits.max_body_capture;
        if cap == 0 {
            return;
        }
        let buf = match role {
            Role::Request => {
                let Some(id) = self.req_cur else { return };
                match self.pending.iter_mut().rev().find(|x| x.id == id) {
                    Some(x) => &mut x.req_body,
                    None => return,
                }
            }
            Role::Response if self.responding => match self.pending.front_mut() {
                Some(x) => &mut x.resp_body,
                None => return,
            },
            Role::Response => return,
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// The current request ended with `body_len` body bytes.
    pub fn request_end(&mut self, body_len: u64) {
        if let Some(id) = self.req_cur.take() {
            if let Some(x) = self.pending.iter_mut().rev().find(|x| x.id == id) {
                x.rec.request_body_len = Some(body_len);
            }
        }
    }

    /// The current response ended at `ts`: emits its record.
    pub fn response_end(&mut self, ts: u64, body_len: u64, out: &mut Vec<Record>) {
        self.finish_response(ts, body_len, None, out);
    }

    /// The current response was cut (gap or close) after `body_len` bytes.
    pub fn response_abort(
        &mut self,
        ts: u64,
        body_len: u64,
        why: &'static str,
        out: &mut Vec<Record>,
    ) {
        self.finish_response(ts, body_len, Some(why), out);
    }

    fn finish_response(
        &mut self,
        ts: u64,
        len: u64,
        why: Option<&'static str>,
        out: &mut Vec<Record>,
    ) {
        if !std::mem::take(&mut self.responding) {
            return;
        }
        if let Some(mut x) = self.pending.pop_front() {
            if self.req_cur == Some(x.id) {
                // Answered before its body ended (e.g. an early 413): the body is not tracked.
                self.req_cur = None;
            }
            x.rec.response_body_len = Some(len);
            Self::emit(x, ts, why, out);
        }
    }

    /// The response direction lost framing in a gap. With `Lost::Current` a response
    /// had begun (its head was cut): the oldest request's response is lost. With
    /// `Lost::Unknown` the gap fell between responses: the responses of all but the
    /// newest pending request are assumed lost (exact for non-pipelined traffic).
    pub fn response_desync(&mut self, ts: u64, lost: Lost, out: &mut Vec<Record>) {
        match lost {
            Lost::Current => {
                if let Some(x) = self.pending.pop_front() {
                    Self::emit(x, ts, Some("gap"), out);
                }
            }
            Lost::Unknown => {
                while self.pending.len() > 1 {
                    let x = self.pending.pop_front().expect("len > 1");
                    Self::emit(x, ts, Some("gap"), out);
                }
            }
            Lost::Nothing => {}
        }
    }

    /// Emits requests older than the request timeout (FIFO order); a request whose
    /// response is being read does not expire.
    pub fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        let t = self.limits.request_timeout_ns;
        while !self.responding
            && self.pending.front().is_some_and(|x| x.rec.start_ns.saturating_add(t) <= now)
        {
            let x = self.pending.pop_front().expect("front exists");
            stats.requests_expired += 1;
            Self::emit(x, now, Some("timeout"), out);
        }
    }

    /// Connection closed: everything pending is emitted incomplete.
    pub fn close(&mut self, ts: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        self.responding = false;
        while let Some(x) = self.pending.pop_front() {
            stats.closed_incomplete += 1;
            Self::emit(x, ts, Some("connection_closed"), out);
        }
    }

    fn emit(mut x: Exchange, ts: u64, why: Option<&'static str>, out: &mut Vec<Record>) {
        x.rec.end_ns = ts.max(x.rec.start_ns);
        x.rec.incomplete = why.or(x.cut);
        if !x.req_body.is_empty() {
            x.rec.request_body = Some(String::from_utf8_lossy(&x.req_body).into_owned());
        }
        if !x.resp_body.is_empty() {
            x.rec.response_body = Some(String::from_utf8_lossy(&x.resp_body).into_owned());
        }
        out.push(Record::Http(x.rec));
    }
}

/// Header bytes as text (lossy only when not UTF-8).
fn text(v: &[u8]) -> String {
    if v.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8 (checked just above; cheaper than
        // `str::from_utf8` on the short values of header fields).
        return unsafe { std::str::from_utf8_unchecked(v) }.to_owned();
    }
    String::from_utf8_lossy(v).into_owned()
}
