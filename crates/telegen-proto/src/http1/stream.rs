//! One direction of an HTTP/1 connection: a bounded reassembly buffer and the message
//! state machine (head, Content-Length body, chunked body with trailers, body until
//! close, upgraded), with resynchronisation on the next plausible start line after
//! garbage, a missed connection start, or a gap. A head cut short (gap, close, timeout,
//! or the response starting) is reported with the lines seen when its start line is
//! complete; an HTTP/0.9 request is answered by a body until close.

use super::lenient::{self, VersionFix};
use super::matcher::{Framing, Lost, Matcher, RespAction, Role};
use super::parser::{self, StartMatch, Upgrade};
use crate::record::Record;
use crate::stats::ParseStats;
use crate::status::Status;

/// Bytes kept at the end of a chunk while resynchronising.
const RESYNC_KEEP: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Expecting a start line.
    Head,
    /// Looking for a plausible start line; bytes before it are skipped and counted.
    Resync,
    Body {
        remaining: u64,
    },
    ChunkLine,
    ChunkData {
        remaining: u64,
    },
    ChunkEnd,
    Trailers,
    UntilClose,
    /// The connection switched protocol; bytes are not HTTP/1.
    Upgraded,
}

/// Shared context for a parse call.
pub struct Cx<'a> {
    pub m: &'a mut Matcher,
    pub stats: &'a mut ParseStats,
    pub out: &'a mut Vec<Record>,
    pub max_buffer: usize,
}

pub struct DirParser {
    role: Role,
    pub(crate) state: State,
    buf: Vec<u8>,
    /// Timestamp of the first buffered byte.
    buf_ts: u64,
    /// Body bytes of the current message.
    body_len: u64,
    /// Bytes after an upgrade, kept for the protocol that takes over (bounded).
    pub(crate) handover: Option<Vec<u8>>,
}

impl DirParser {
    pub fn new(role: Role) -> Self {
        DirParser {
            role,
            state: State::Head,
            buf: Vec::new(),
            buf_ts: 0,
            body_len: 0,
            handover: None,
        }
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds the next bytes of this direction. Bytes are parsed in place; only an
    /// incomplete unit (head, chunk line) at the end is copied into the buffer, and the
    /// buffer never holds more than `max_buffer` bytes.
    pub fn feed(&mut self, ts: u64, mut data: &[u8], cx: &mut Cx<'_>) {
        while !self.buf.is_empty() && !data.is_empty() {
            let old = self.buf.len();
            let take = cx.max_buffer.saturating_sub(old).min(data.len());
            if take == 0 {
                return self.overflow(data, ts, cx);
            }
            self.buf.extend_from_slice(&data[..take]);
            // A partial head is only re-parsed once its end may be present, or once its
            // first line is complete (an HTTP/0.9 request is that line alone), or when it
            // stopped looking like a message start.
            if self.state == State::Head
                && !parser::has_head_end(&self.buf[old.saturating_sub(2)..])
                && !first_line_completed(&self.buf, old)
                && self.probe(&self.buf) != StartMatch::No
            {
                data = &data[take..];
                continue;
            }
            let mut buf = std::mem::take(&mut self.buf);
            let n = self.run(&buf, ts, self.buf_ts, cx);
            if n >= old {
                // All buffered bytes are used; what follows is still in `data`.
                buf.clear();
                self.buf = buf;
                data = &data[n - old..];
                break;
            }
            buf.drain(..n);
            self.buf = buf;
            data = &data[take..];
            if n > 0 {
                // The rest starts after a consumed unit: date it to this chunk.
                self.buf_ts = ts;
            }
            if self.state == State::Upgraded {
                let held = std::mem::take(&mut self.buf);
                self.push_handover(&held, cx);
                break;
            }
        }
        if self.buf.is_empty() && !data.is_empty() {
            let n = self.run(data, ts, ts, cx);
            self.stash(&data[n..], ts, cx);
        } else if self.state == State::Upgraded && !data.is_empty() {
            self.push_handover(data, cx);
        }
    }

    /// The buffer cap was hit: the partial unit is given up, parsing resyncs.
    fn overflow(&mut self, data: &[u8], ts: u64, cx: &mut Cx<'_>) {
        cx.stats.errors_buffer_full += 1;
        cx.stats.resync_bytes_skipped += self.buf.len() as u64;
        self.buf.clear();
        self.abort(ts, "buffer_full", cx);
        self.state = State::Resync;
        let n = self.run(data, ts, ts, cx);
        self.stash(&data[n..], ts, cx);
    }

    fn stash(&mut self, rest: &[u8], ts: u64, cx: &mut Cx<'_>) {
        if rest.is_empty() {
            return;
        }
        if self.state == State::Upgraded {
            self.push_handover(rest, cx);
        } else if rest.len() > cx.max_buffer {
            cx.stats.errors_buffer_full += 1;
            cx.stats.resync_bytes_skipped += rest.len() as u64;
            self.abort(ts, "buffer_full", cx);
            self.state = State::Resync;
        } else {
            self.buf_ts = ts;
            self.buf.extend_from_slice(rest);
        }
    }

    fn push_handover(&mut self, bytes: &[u8], cx: &mut Cx<'_>) {
        match &mut self.handover {
            Some(h) if h.len() + bytes.len() <= cx.max_buffer => h.extend_from_slice(bytes),
            _ => cx.stats.bytes_unparsed += bytes.len() as u64,
        }
    }

    /// The current message is given up (its record, if any, is emitted incomplete).
    fn abort(&mut self, ts: u64, why: &'static str, cx: &mut Cx<'_>) {
        let mid_message = !matches!(self.state, State::Head | State::Resync | State::Upgraded);
        if mid_message {
            match self.role {
                Role::Request => cx.m.request_end(self.body_len),
                Role::Response => cx.m.response_abort(ts, self.body_len, why, cx.out),
            }
        }
        self.body_len = 0;
    }

    fn end_message(&mut self, ts: u64, cx: &mut Cx<'_>) {
        match self.role {
            Role::Request => cx.m.request_end(self.body_len),
            Role::Response => cx.m.response_end(ts, self.body_len, cx.out),
        }
        self.body_len = 0;
        self.state = State::Head;
    }

    fn start_body(&mut self, f: Framing, ts: u64, cx: &mut Cx<'_>) {
        self.body_len = 0;
        self.state = match f {
            Framing::Length(0) => return self.end_message(ts, cx),
            Framing::Length(n) => State::Body { remaining: n },
            Framing::Chunked => State::ChunkLine,
            Framing::UntilClose => State::UntilClose,
        };
    }

    fn body_bytes(&mut self, bytes: &[u8], cx: &mut Cx<'_>) {
        self.body_len += bytes.len() as u64;
        cx.m.body(self.role, bytes);
    }

    /// Parses one message head at the start of `buf`. A head httparse rejects gets a
    /// second chance with its version token upper-cased (`lenient::fix_version`): only
    /// then, so well-formed heads (nearly all) pay nothing for the leniency.
    fn head(&mut self, buf: &[u8], ts: u64, cx: &mut Cx<'_>) -> Status {
        let st = self.parse_head(buf, ts, cx);
        if !matches!(st, Status::Error(_)) {
            return st;
        }
        match lenient::fix_version(buf, self.role == Role::Request) {
            VersionFix::AsIs => st,
            VersionFix::Partial => Status::Partial,
            VersionFix::Fixed(v) => self.parse_head(&v, ts, cx),
        }
    }

    fn parse_head(&mut self, buf: &[u8], ts: u64, cx: &mut Cx<'_>) -> Status {
        let mut slots = parser::header_slots();
        match self.role {
            Role::Request => {
                let mut req = httparse::Request::new(&mut []);
                let st = parser::parse_request(buf, &mut slots, &mut req);
                if let Status::Error(_) = st {
                    if let Some((method, target, n)) = lenient::request09(buf) {
                        cx.m.request09(ts, method, target, cx.stats, cx.out);
                        return Status::Complete(n);
                    }
                    if lenient::request_line_partial(buf) {
                        return Status::Partial;
                    }
                }
                let Status::Complete(n) = st else { return st };
                let info = match parser::head_info(req.headers) {
                    Ok(i) => i,
                    Err(e) => return Status::Error(e),
                };
                let f = cx.m.request_head(ts, &req, &info, cx.stats, cx.out);
                self.start_body(f, ts, cx);
                Status::Complete(n)
            }
            Role::Response => {
                let mut resp = httparse::Response::new(&mut []);
                let st = parser::parse_response(buf, &mut slots, &mut resp);
                let Status::Complete(n) = st else { return st };
                let info = match parser::head_info(resp.headers) {
                    Ok(i) => i,
                    Err(e) => return Status::Error(e),
                };
                match cx.m.response_head(ts, &resp, &info, cx.stats, cx.out) {
                    RespAction::Interim => self.state = State::Head,
                    RespAction::Upgrade(u) => self.upgrade(u == Upgrade::H2c, cx.stats),
                    RespAction::Body(f) => self.start_body(f, ts, cx),
                }
                Status::Complete(n)
            }
        }
    }

    /// Stops HTTP/1 parsing in this direction; with `keep`, later bytes are kept in
    /// `handover` for the protocol that takes over, else they are counted as unparsed.
    pub fn upgrade(&mut self, keep: bool, stats: &mut ParseStats) {
        if self.state == State::Upgraded {
            return;
        }
        self.state = State::Upgraded;
        self.body_len = 0;
        let buf = std::mem::take(&mut self.buf);
        if keep {
            self.handover = Some(buf);
        } else {
            stats.bytes_unparsed += buf.len() as u64;
        }
    }

    fn probe(&self, buf: &[u8]) -> StartMatch {
        match self.role {
            Role::Request => parser::request_start(buf),
            Role::Response => parser::response_start(buf),
        }
    }

    /// Runs the state machine over `data`; returns the bytes consumed. Unconsumed bytes
    /// are an incomplete unit that must be buffered. `first_ts` is the time of `data[0]`.
    fn run(&mut self, data: &[u8], ts: u64, first_ts: u64, cx: &mut Cx<'_>) -> usize {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            if rest.is_empty() {
                return pos;
            }
            match self.state {
                State::Head => {
                    let t = if pos == 0 { first_ts } else { ts };
                    if self.role == Role::Response
                        && cx.m.expects_http09(t)
                        && self.probe(rest) == StartMatch::No
                    {
                        // HTTP/0.9: the response is the body alone, until close.
                        cx.m.response09(cx.stats);
                        self.start_body(Framing::UntilClose, t, cx);
                        continue;
                    }
                    match self.head(rest, t, cx) {
                        Status::Complete(n) => pos += n,
                        Status::Partial => match self.probe(rest) {
                            // Wait for the rest of a plausible head; anything else is
                            // not a message start (joined mid-stream, garbage).
                            StartMatch::Yes | StartMatch::Maybe => return pos,
                            StartMatch::No => self.state = State::Resync,
                        },
                        Status::Error(_) if self.probe(rest) == StartMatch::No => {
                            self.state = State::Resync;
                        }
                        Status::Error(_) => {
                            cx.stats.errors_malformed += 1;
                            cx.stats.resync_bytes_skipped += 1;
                            pos += 1;
                            self.state = State::Resync;
                        }
                    }
                }
                State::Resync => match parser::find_start(rest, self.role == Role::Request) {
                    Some(i) => {
                        cx.stats.resync_bytes_skipped += i as u64;
                        pos += i;
                        self.state = State::Head;
                    }
                    None => {
                        // Keep a tail: a start line may continue in the next chunk.
                        let skip = rest.len().saturating_sub(RESYNC_KEEP.min(cx.max_buffer / 2));
                        cx.stats.resync_bytes_skipped += skip as u64;
                        return pos + skip;
                    }
                },
                State::Body { remaining } => {
                    let n = remaining.min(rest.len() as u64) as usize;
                    self.body_bytes(&rest[..n], cx);
                    pos += n;
                    let left = remaining - n as u64;
                    if left == 0 {
                        self.end_message(ts, cx);
                    } else {
                        self.state = State::Body { remaining: left };
                    }
                }
                State::ChunkLine => {
                    let mut size = 0;
                    match parser::parse_chunk_line(rest, &mut size) {
                        Status::Complete(n) => {
                            pos += n;
                            self.state = if size == 0 {
                                State::Trailers
                            } else {
                                State::ChunkData { remaining: size }
                            };
                        }
                        Status::Partial => return pos,
                        Status::Error(_) => self.body_error(ts, cx),
                    }
                }
                State::ChunkData { remaining } => {
                    let n = remaining.min(rest.len() as u64) as usize;
                    self.body_bytes(&rest[..n], cx);
                    pos += n;
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData { remaining: left }
                    };
                }
                State::ChunkEnd => match parser::parse_chunk_end(rest) {
                    Status::Complete(n) => {
                        pos += n;
                        self.state = State::ChunkLine;
                    }
                    Status::Partial => return pos,
                    Status::Error(_) => self.body_error(ts, cx),
                },
                State::Trailers => match parser::parse_trailers(rest) {
                    Status::Complete(n) => {
                        pos += n;
                        self.end_message(ts, cx);
                    }
                    Status::Partial => return pos,
                    Status::Error(_) => self.body_error(ts, cx),
                },
                State::UntilClose => {
                    self.body_bytes(rest, cx);
                    return data.len();
                }
                State::Upgraded => return pos,
            }
        }
    }

    /// Malformed chunk framing: the message ends here, parsing resyncs.
    fn body_error(&mut self, ts: u64, cx: &mut Cx<'_>) {
        cx.stats.errors_malformed += 1;
        self.abort(ts, "malformed", cx);
        self.state = State::Resync;
    }

    /// `len` bytes of this direction were lost. Stays in sync inside a body of known
    /// length; otherwise gives the current message up and resyncs.
    pub fn gap(&mut self, ts: u64, len: u64, cx: &mut Cx<'_>) {
        cx.stats.gaps += 1;
        if self.buf.is_empty() {
            match self.state {
                State::Body { remaining } if len <= remaining => {
                    self.body_len += len;
                    self.state = State::Body { remaining: remaining - len };
                    if remaining == len {
                        self.end_message(ts, cx);
                    }
                    return;
                }
                State::ChunkData { remaining } if len <= remaining => {
                    self.body_len += len;
                    self.state = if remaining == len {
                        State::ChunkEnd
                    } else {
                        State::ChunkData { remaining: remaining - len }
                    };
                    return;
                }
                State::UntilClose => {
                    self.body_len += len;
                    return;
                }
                State::Upgraded => {
                    cx.stats.bytes_unparsed += len;
                    if let Some(h) = &mut self.handover {
                        // The next protocol cannot use bytes after a hole.
                        cx.stats.bytes_unparsed += h.len() as u64;
                        h.clear();
                    }
                    return;
                }
                _ => {}
            }
        }
        if self.state == State::Upgraded {
            return;
        }
        cx.stats.gaps_desync += 1;
        // A head whose start line was seen is reported with what was seen.
        let flushed = !self.buf.is_empty() && self.flush_partial(ts, "gap", cx);
        let lost = match self.state {
            _ if flushed => Lost::Nothing,
            State::Head if self.buf.is_empty() => Lost::Unknown,
            State::Head => Lost::Current,
            State::Resync => Lost::Nothing,
            _ => Lost::Nothing, // `abort` emits the current response
        };
        cx.stats.resync_bytes_skipped += self.buf.len() as u64;
        self.buf.clear();
        self.abort(ts, "gap", cx);
        if self.role == Role::Response {
            cx.m.response_desync(ts, lost, cx.out);
        }
        self.state = State::Resync;
    }

    /// The connection closed: a body delimited by close ends here, a head cut short is
    /// reported with what was seen.
    pub fn close(&mut self, ts: u64, cx: &mut Cx<'_>) {
        match self.state {
            State::UntilClose => self.end_message(ts, cx),
            State::Head => {
                self.flush_partial(ts, "connection_closed", cx);
            }
            State::Resync | State::Upgraded => {}
            _ => self.abort(ts, "connection_closed", cx),
        }
        if !self.buf.is_empty() {
            cx.stats.resync_bytes_skipped += self.buf.len() as u64;
            self.buf.clear();
        }
    }

    /// Time of the first byte of a head waiting for its end, if one is buffered.
    pub fn partial_head_since(&self) -> Option<u64> {
        (self.state == State::Head && !self.buf.is_empty()).then_some(self.buf_ts)
    }

    /// A head cut short (by a gap, the connection's end, a timeout, or for a request its
    /// response starting): when at least its start line is complete, its complete lines
    /// are parsed as the whole head and the message is reported with what was seen
    /// (request: start line, headers, declared body length; response: status). Returns
    /// whether the buffered bytes were used that way; parsing then resyncs.
    pub fn flush_partial(&mut self, ts: u64, why: &'static str, cx: &mut Cx<'_>) -> bool {
        if self.state != State::Head {
            return false;
        }
        let Some(last_nl) = self.buf.iter().rposition(|&b| b == b'\n') else { return false };
        let mut head = Vec::with_capacity(last_nl + 3);
        head.extend_from_slice(&self.buf[..=last_nl]);
        head.extend_from_slice(b"\r\n");
        let is_request = self.role == Role::Request;
        if let VersionFix::Fixed(v) = lenient::fix_version(&head, is_request) {
            head = v;
        }
        let mut slots = parser::header_slots();
        let used = if is_request {
            let mut req = httparse::Request::new(&mut []);
            let st = parser::parse_request(&head, &mut slots, &mut req);
            let ok = matches!(st, Status::Complete(_));
            if ok {
                let info = parser::head_info(req.headers).unwrap_or_default();
                cx.m.request_cut(self.buf_ts, &req, &info, why, cx.stats, cx.out);
            }
            ok
        } else {
            let mut resp = httparse::Response::new(&mut []);
            let st = parser::parse_response(&head, &mut slots, &mut resp);
            let ok = matches!(st, Status::Complete(_));
            if ok {
                cx.m.response_cut(ts, &resp, why, cx.stats, cx.out);
            }
            ok
        };
        if used {
            self.buf.clear();
            self.state = State::Resync;
        }
        used
    }
}

/// Whether the bytes appended to `buf` at `old` hold the end of its first line.
fn first_line_completed(buf: &[u8], old: usize) -> bool {
    parser::memchr(b'\n', &buf[old..]).is_some() && parser::memchr(b'\n', &buf[..old]).is_none()
}
