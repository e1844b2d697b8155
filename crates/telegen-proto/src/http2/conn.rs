//! One HTTP/2 connection: frames of both directions, one HPACK decoder per direction,
//! concurrent streams matched by id, and a record per stream (request HEADERS to
//! response END_STREAM, RST_STREAM or GOAWAY).

use super::frame::{self, FrameHeader, FLAG_END_HEADERS, FLAG_END_STREAM};
use super::framer::{Frame, Framer};
use super::grpc::MessageCounter;
use super::hpack::{Fields, Hpack};
use super::Limits;

use crate::conn::ProtocolConn;
use crate::detect::{Confidence, Hints};
use crate::record::{HttpRecord, Record};
use crate::stats::ParseStats;
use crate::{Direction, Transport};

/// DATA body bytes: seen, or lost (their count).
enum DataPart<'a> {
    Bytes(&'a [u8]),
    Lost(u64),
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

struct Stream {
    id: u32,
    rec: HttpRecord,
    req_done: bool,
    resp_seen: bool,
    grpc: bool,
    /// A header block of this stream was not (fully) decoded: some fields are unknown.
    unknown: bool,
    body: [u64; 2],
    msgs: [MessageCounter; 2],
}

/// A header block being assembled from HEADERS/PUSH_PROMISE + CONTINUATION frames.
struct Block {
    first: FrameHeader,
    /// PUSH_PROMISE: the promised stream.
    promised: Option<u32>,
    ts: u64,
    bytes: Vec<u8>,
}

/// Both directions of one HTTP/2 connection.
pub struct Http2Conn {
    framers: [Framer; 2],
    hpack: [Hpack; 2],
    blocks: [Option<Block>; 2],
    streams: Vec<Stream>,
    limits: Limits,
    max_buffer: usize,
}

impl Http2Conn {
    /// After an HTTP/1.1 `Upgrade: h2c`: the upgrade request continues as stream 1,
    /// whose response comes over HTTP/2 (RFC 7540 section 3.2).
    pub fn upgraded(limits: &Limits, request: Option<HttpRecord>) -> Self {
        let mut c = <Http2Conn as ProtocolConn>::new(Transport::Tcp, limits);
        if let Some(mut rec) = request {
            rec.version = "2";
            rec.status = None;
            rec.stream_id = Some(1);
            c.streams.push(Stream {
                id: 1,
                rec,
                req_done: true,
                resp_seen: false,
                grpc: false,
                unknown: false,
                body: [0; 2],
                msgs: Default::default(),
            });
        }
        c
    }

    fn frame(
        &mut self,
        dir: Direction,
        ts: u64,
        f: Frame<'_>,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        let i = idx(dir);
        let (h, payload) = match f {
            Frame::Whole(h, p) => (h, Some(p)),
            Frame::Skipped(h) => (h, None),
            Frame::DataPiece { h, body, end } => {
                self.interleaved(i, h, stats);
                return self.data(dir, ts, h, DataPart::Bytes(body), end, out);
            }
            Frame::DataLost { h, body, end } => {
                return self.data(dir, ts, h, DataPart::Lost(body), end, out);
            }
        };
        self.interleaved(i, h, stats);
        match h.kind {
            frame::HEADERS | frame::PUSH_PROMISE => {
                let Some(frag) = payload.and_then(|p| frame::strip(&h, p)) else {
                    stats.errors_malformed += u64::from(payload.is_some());
                    self.lose_hpack(i, stats);
                    return self.headers(dir, ts, h, &mut Fields::default(), stats, out);
                };
                let promised = payload.and_then(|p| frame::promised_stream(&h, p));
                if h.has(FLAG_END_HEADERS) {
                    self.block_done(dir, ts, h, promised, frag, stats, out);
                } else {
                    self.blocks[i] = Some(Block { first: h, promised, ts, bytes: frag.to_vec() });
                }
            }
            frame::CONTINUATION => {
                let Some(mut b) = self.blocks[i].take() else {
                    stats.errors_malformed += 1;
                    return self.lose_hpack(i, stats);
                };
                let Some(p) = payload else { return self.lose_hpack(i, stats) };
                if b.bytes.len() + p.len() > self.max_buffer || b.first.stream != h.stream {
                    // A CONTINUATION flood or a broken sequence: the block is given up.
                    stats.errors_buffer_full += 1;
                    return self.lose_hpack(i, stats);
                }
                b.bytes.extend_from_slice(p);
                if h.has(FLAG_END_HEADERS) {
                    self.block_done(dir, b.ts, b.first, b.promised, &b.bytes, stats, out);
                } else {
                    self.blocks[i] = Some(b);
                }
            }
            frame::DATA => {
                let part = match payload.map(|p| frame::strip(&h, p)) {
                    Some(Some(d)) => DataPart::Bytes(d),
                    Some(None) => DataPart::Bytes(&[]),
                    None => DataPart::Lost(u64::from(h.len)),
                };
                self.data(dir, ts, h, part, true, out)
            }
            frame::RST_STREAM => {
                if let Some(k) = self.streams.iter().position(|s| s.id == h.stream) {
                    let s = self.streams.swap_remove(k);
                    Self::emit(s, ts, Some("reset"), out);
                }
            }
            frame::GOAWAY => {
                let last = payload
                    .and_then(|p| p.get(..4))
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff);
                if let Some(last) = last {
                    let mut gone: Vec<Stream> = Vec::new();
                    while let Some(k) = self.streams.iter().position(|s| s.id > last) {
                        gone.push(self.streams.swap_remove(k));
                    }
                    Self::emit_in_order(gone, ts, Some("goaway"), out);
                }
            }
            _ => {}
        }
    }

    /// RFC 9113 6.10: nothing may interleave a header block.
    fn interleaved(&mut self, i: usize, h: FrameHeader, stats: &mut ParseStats) {
        if self.blocks[i].is_some() && h.kind != frame::CONTINUATION {
            stats.errors_malformed += 1;
            self.blocks[i] = None;
            self.lose_hpack(i, stats);
        }
    }

    fn lose_hpack(&mut self, i: usize, stats: &mut ParseStats) {
        stats.proto.http2.hpack_resets += 1;
        self.hpack[i].reset();
    }

    #[allow(clippy::too_many_arguments)]
    fn block_done(
        &mut self,
        dir: Direction,
        ts: u64,
        first: FrameHeader,
        promised: Option<u32>,
        block: &[u8],
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        let mut f = Fields::default();
        if !self.hpack[idx(dir)].decode(block, &self.limits, &mut f) {
            stats.proto.http2.hpack_resets += 1;
        }
        stats.proto.http2.headers_dropped += f.dropped;
        stats.proto.http2.hpack_fields_unknown += f.unknown;
        if first.kind == frame::HEADERS {
            self.headers(dir, ts, first, &mut f, stats, out);
        } else if let (Direction::ServerToClient, Some(id)) = (dir, promised) {
            // Server push (RFC 9113 8.4): the promise carries the request the server
            // answers on the promised stream; it has no body.
            stats.proto.http2.messages += 1;
            let end_req = FrameHeader { stream: id, flags: FLAG_END_STREAM, ..first };
            self.open_stream(ts, end_req, &mut f, stats, out);
        }
    }

    /// A new request on stream `h.stream` (END_STREAM in `h` when it has no body). The
    /// strings of `f` move into the record.
    fn open_stream(
        &mut self,
        ts: u64,
        h: FrameHeader,
        f: &mut Fields,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        let end = h.has(FLAG_END_STREAM);
        if self.streams.len() >= self.limits.max_pending.max(1) {
            stats.pending_overflow += 1;
            // The oldest request gives way (streams are not kept in order).
            let k = (0..self.streams.len())
                .min_by_key(|&k| (self.streams[k].rec.start_ns, self.streams[k].id))
                .unwrap_or(0);
            let s = self.streams.swap_remove(k);
            Self::emit(s, ts, Some("pending_overflow"), out);
        }
        let unknown = !f.complete || f.method.is_none() || f.path.is_none();
        self.streams.push(Stream {
            id: h.stream,
            rec: HttpRecord {
                start_ns: ts,
                end_ns: ts,
                method: f.method.take().unwrap_or_default(),
                target: f.path.take().unwrap_or_default(),
                version: "2",
                host: f.authority.take(),
                request_body_len: end.then_some(0),
                request_headers: std::mem::take(&mut f.captured),
                stream_id: Some(h.stream),
                ..HttpRecord::default()
            },
            req_done: end,
            resp_seen: false,
            grpc: f.grpc,
            unknown,
            body: [0; 2],
            msgs: Default::default(),
        });
    }

    fn headers(
        &mut self,
        dir: Direction,
        ts: u64,
        h: FrameHeader,
        f: &mut Fields,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        stats.proto.http2.messages += 1;
        let end = h.has(FLAG_END_STREAM);
        let pos = self.streams.iter().position(|s| s.id == h.stream);
        match (dir, pos) {
            (Direction::ClientToServer, Some(k)) => {
                // Request trailers.
                let s = &mut self.streams[k];
                s.unknown |= !f.complete;
                s.req_done |= end;
                s.rec.request_body_len = s.req_done.then_some(s.body[0]);
            }
            (Direction::ClientToServer, None) => self.open_stream(ts, h, f, stats, out),
            (Direction::ServerToClient, None) => stats.unmatched_responses += 1,
            (Direction::ServerToClient, Some(k)) => {
                let s = &mut self.streams[k];
                s.unknown |= !f.complete;
                if !s.resp_seen {
                    if f.status.is_some_and(|c| (100..200).contains(&c)) && !end {
                        return; // interim response
                    }
                    s.resp_seen = true;
                    s.rec.status = f.status;
                    s.rec.response_headers = std::mem::take(&mut f.captured);
                    s.grpc |= f.grpc;
                }
                if f.grpc_status.is_some() {
                    s.rec.grpc_status = f.grpc_status;
                }
                if end {
                    let s = self.streams.swap_remove(k);
                    Self::emit(s, ts, None, out);
                }
            }
        }
    }

    /// A piece of DATA frame `h` (seen or lost); `end`: the frame is complete, so its
    /// END_STREAM flag applies.
    fn data(
        &mut self,
        dir: Direction,
        ts: u64,
        h: FrameHeader,
        part: DataPart<'_>,
        end: bool,
        out: &mut Vec<Record>,
    ) {
        let Some(k) = self.streams.iter().position(|s| s.id == h.stream) else { return };
        let i = idx(dir);
        let s = &mut self.streams[k];
        match part {
            DataPart::Bytes(d) => {
                s.body[i] += d.len() as u64;
                // Counted for every stream (cheap); reported when the stream is gRPC,
                // which the response's content-type may be the first to say.
                s.msgs[i].feed(d);
            }
            DataPart::Lost(n) => {
                s.body[i] += n;
                s.msgs[i].skip(n);
            }
        }
        if end && h.has(FLAG_END_STREAM) {
            match dir {
                Direction::ClientToServer => {
                    s.req_done = true;
                    s.rec.request_body_len = Some(s.body[0]);
                }
                Direction::ServerToClient => {
                    let s = self.streams.swap_remove(k);
                    Self::emit(s, ts, None, out);
                }
            }
        }
    }

    fn emit(mut s: Stream, ts: u64, why: Option<&'static str>, out: &mut Vec<Record>) {
        s.rec.end_ns = ts.max(s.rec.start_ns);
        // Fields that could not be decoded are left empty, never guessed, and marked.
        s.rec.incomplete = why.or(s.unknown.then_some("headers_unknown"));
        if s.rec.request_body_len.is_none() && s.req_done {
            s.rec.request_body_len = Some(s.body[0]);
        }
        if s.resp_seen {
            s.rec.response_body_len = Some(s.body[1]);
        }
        if s.grpc {
            // A count whose message framing was lost in a gap is not reported (it would
            // only be a lower bound).
            s.rec.request_messages = (!s.msgs[0].lost).then_some(s.msgs[0].count);
            s.rec.response_messages = (!s.msgs[1].lost).then_some(s.msgs[1].count);
        }
        out.push(Record::Http(s.rec));
    }

    /// Emits streams ended together in the order their requests began (the stream list
    /// is unordered: completed streams are swap-removed).
    fn emit_in_order(
        mut v: Vec<Stream>,
        ts: u64,
        why: Option<&'static str>,
        out: &mut Vec<Record>,
    ) {
        v.sort_by_key(|s| (s.rec.start_ns, s.id));
        for s in v {
            Self::emit(s, ts, why, out);
        }
    }
}

impl ProtocolConn for Http2Conn {
    type Limits = Limits;

    fn new(_transport: Transport, limits: &Limits) -> Self {
        Http2Conn {
            framers: [Framer::new(true), Framer::new(false)],
            hpack: Default::default(),
            blocks: [None, None],
            streams: Vec::new(),
            limits: limits.clone(),
            max_buffer: limits.max_buffer.max(64),
        }
    }

    fn probe(dir: Direction, buf: &[u8], hints: Hints) -> Confidence {
        super::probe(dir, buf, hints)
    }

    fn on_data(
        &mut self,
        dir: Direction,
        ts: u64,
        data: &[u8],
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        let i = idx(dir);
        let mut framer = std::mem::replace(&mut self.framers[i], Framer::new(false));
        framer.feed(data, self.max_buffer, stats, &mut |f, s| self.frame(dir, ts, f, s, out));
        self.framers[i] = framer;
    }

    fn on_gap(
        &mut self,
        dir: Direction,
        ts: u64,
        len: u64,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) {
        stats.gaps += 1;
        let i = idx(dir);
        let g = self.framers[i].gap(len, stats);
        if let Some((h, body, end)) = g.data_lost {
            self.data(dir, ts, h, DataPart::Lost(body), end, out);
        }
        let (cut, desync) = (g.cut, g.desync);
        let header_cut = cut.is_some_and(|h| {
            matches!(h.kind, frame::HEADERS | frame::PUSH_PROMISE | frame::CONTINUATION)
        });
        // A header block cut, interrupted, or possibly inside an unframed gap.
        if self.blocks[i].take().is_some() || header_cut || desync {
            self.lose_hpack(i, stats);
        }
    }

    fn on_close(&mut self, ts: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        let all = std::mem::take(&mut self.streams);
        stats.closed_incomplete += all.len() as u64;
        Self::emit_in_order(all, ts, Some("connection_closed"), out);
    }

    /// Streams older than the request timeout are emitted incomplete.
    fn expire(&mut self, now: u64, stats: &mut ParseStats, out: &mut Vec<Record>) {
        let t = self.limits.request_timeout_ns;
        let mut gone: Vec<Stream> = Vec::new();
        while let Some(k) =
            self.streams.iter().position(|s| s.rec.start_ns.saturating_add(t) <= now)
        {
            gone.push(self.streams.swap_remove(k));
        }
        stats.requests_expired += gone.len() as u64;
        Self::emit_in_order(gone, now, Some("timeout"), out);
    }

    /// Streams waiting for their response to end.
    fn pending(&self) -> usize {
        self.streams.len()
    }
}
