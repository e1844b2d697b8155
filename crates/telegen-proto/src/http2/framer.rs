//! One direction's HTTP/2 frame stream: the optional client preface, then frames
//! delivered whole (zero-copy when a frame lies in one chunk, else from a bounded
//! buffer). DATA payloads are not buffered: they are streamed piece by piece as they
//! arrive (padding removed), and bytes lost inside one are reported with their count,
//! so body sizes and gRPC message framing survive a payload cut by the capture. Other
//! frames longer than the buffer cap are skipped and reported as such; after a gap
//! inside a frame the framing survives, otherwise it resyncs on two chained plausible
//! frame headers.

use super::frame::{chain, FrameHeader, DATA, FLAG_PADDED, HEADER_LEN, PREFACE};
use crate::stats::ParseStats;

/// What the framer hands to the connection.
#[derive(Debug)]
pub enum Frame<'a> {
    Whole(FrameHeader, &'a [u8]),
    /// The payload is not available (too large, or cut by a gap).
    Skipped(FrameHeader),
    /// A piece of a DATA frame's body (padding excluded); `end`: the frame is complete.
    DataPiece {
        h: FrameHeader,
        body: &'a [u8],
        end: bool,
    },
    /// `body` bytes of a DATA frame's body were lost in a gap.
    DataLost {
        h: FrameHeader,
        body: u64,
        end: bool,
    },
}

/// What [`Framer::gap`] found.
#[derive(Debug, Default)]
pub struct GapOutcome {
    /// A non-DATA frame whose payload was cut (its content is lost).
    pub cut: Option<FrameHeader>,
    /// The gap did not lie inside a payload: framing was lost (it resyncs).
    pub desync: bool,
    /// The gap fell inside a DATA frame: (header, body bytes lost, frame ended).
    pub data_lost: Option<(FrameHeader, u64, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The client preface may come first.
    Preface,
    Header,
    Payload(FrameHeader),
    /// Inside a DATA frame's payload: `pos` bytes of it seen; `pad` its padding length
    /// once read (PADDED frames).
    Data {
        h: FrameHeader,
        pos: u32,
        pad: Option<u8>,
    },
    Skip(usize),
    Resync,
}

pub struct Framer {
    state: State,
    buf: Vec<u8>,
}

impl Framer {
    pub fn new(expect_preface: bool) -> Self {
        Framer {
            state: if expect_preface { State::Preface } else { State::Header },
            buf: Vec::new(),
        }
    }

    /// Bytes of one unit (preface, header or payload) still wanted in the buffer.
    fn want(&self) -> usize {
        match self.state {
            State::Preface => PREFACE.len(),
            State::Header => HEADER_LEN,
            State::Payload(h) => h.len as usize,
            State::Data { .. } | State::Skip(_) | State::Resync => 0,
        }
    }

    pub fn feed(
        &mut self,
        mut data: &[u8],
        max_buffer: usize,
        stats: &mut ParseStats,
        deliver: &mut impl FnMut(Frame<'_>, &mut ParseStats),
    ) {
        if !self.buf.is_empty() {
            let want = self.want();
            if self.state == State::Preface {
                let n = (want - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..n]);
                if !PREFACE.starts_with(&self.buf) {
                    // Not a preface after all: replay the held bytes as frames.
                    let held = std::mem::take(&mut self.buf);
                    self.state = State::Header;
                    self.feed(&held, max_buffer, stats, deliver);
                    return self.feed(&data[n..], max_buffer, stats, deliver);
                }
                data = &data[n..];
                if self.buf.len() < want {
                    return;
                }
                self.buf.clear();
                self.state = State::Header;
            } else {
                let n = want.saturating_sub(self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..n]);
                data = &data[n..];
                if self.buf.len() < want {
                    return;
                }
                let unit = std::mem::take(&mut self.buf);
                self.unit(&unit, max_buffer, stats, deliver);
                self.buf = unit;
                self.buf.clear();
            }
        }
        while !data.is_empty() {
            match self.state {
                State::Preface => {
                    let n = PREFACE.len().min(data.len());
                    if data[..n] != PREFACE[..n] {
                        self.state = State::Header;
                    } else if n < PREFACE.len() {
                        self.buf.extend_from_slice(data);
                        return;
                    } else {
                        data = &data[n..];
                        self.state = State::Header;
                    }
                }
                State::Header | State::Payload(_) => {
                    let want = self.want();
                    if data.len() < want {
                        self.buf.extend_from_slice(data);
                        return;
                    }
                    self.unit(&data[..want], max_buffer, stats, deliver);
                    data = &data[want..];
                }
                State::Data { h, pos, pad } => {
                    let remaining = (h.len - pos) as usize;
                    let k = remaining.min(data.len());
                    let (range, pad) = data_body(h, pos, k, pad, data.first().copied());
                    let end = k == remaining;
                    self.state = if end {
                        State::Header
                    } else {
                        State::Data { h, pos: pos + k as u32, pad }
                    };
                    deliver(Frame::DataPiece { h, body: &data[range], end }, stats);
                    data = &data[k..];
                }
                State::Skip(n) => {
                    let k = n.min(data.len());
                    data = &data[k..];
                    self.state = if k == n { State::Header } else { State::Skip(n - k) };
                }
                State::Resync => {
                    let at = (0..data.len()).find(|&i| {
                        let (n, ran_out) = chain(&data[i..], 2);
                        n == 2 || (n == 1 && ran_out)
                    });
                    let skip = at.unwrap_or(data.len());
                    stats.resync_bytes_skipped += skip as u64;
                    data = &data[skip..];
                    if at.is_some() {
                        self.state = State::Header;
                    }
                }
            }
        }
    }

    /// A complete unit: a frame header (decides what follows) or a payload.
    fn unit(
        &mut self,
        u: &[u8],
        max_buffer: usize,
        stats: &mut ParseStats,
        deliver: &mut impl FnMut(Frame<'_>, &mut ParseStats),
    ) {
        match self.state {
            State::Header => {
                let h = FrameHeader::parse(u).expect("unit is a whole header");
                if !h.plausible() {
                    stats.errors_malformed += 1;
                    self.state = State::Resync;
                } else if h.len == 0 {
                    deliver(Frame::Whole(h, &[]), stats);
                } else if h.kind == DATA {
                    self.state = State::Data { h, pos: 0, pad: None };
                } else if h.len as usize > max_buffer {
                    stats.errors_buffer_full += 1;
                    deliver(Frame::Skipped(h), stats);
                    self.state = State::Skip(h.len as usize);
                } else {
                    self.state = State::Payload(h);
                }
            }
            State::Payload(h) => {
                self.state = State::Header;
                deliver(Frame::Whole(h, u), stats);
            }
            _ => {}
        }
    }

    /// `len` bytes were lost: what was cut, and whether framing was lost.
    pub fn gap(&mut self, len: u64, stats: &mut ParseStats) -> GapOutcome {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let mut out = GapOutcome::default();
        let remaining = match self.state {
            State::Payload(h) => {
                out.cut = Some(h);
                Some(h.len as usize - self.buf.len())
            }
            State::Data { h, pos, pad } => {
                let remaining = (h.len - pos) as usize;
                let k = remaining.min(len);
                // The padding length itself may be lost: then the body is taken to run
                // to the frame's end (at most 255 bytes too many).
                let (range, _) = data_body(h, pos, k, pad.or(Some(0)), Some(0));
                out.data_lost = Some((h, range.len() as u64, len >= remaining));
                Some(remaining)
            }
            State::Skip(n) => Some(n),
            _ => None,
        };
        stats.resync_bytes_skipped += self.buf.len() as u64;
        self.buf.clear();
        let (state, desync) = match remaining {
            Some(r) if len < r => match self.state {
                // Still inside the DATA frame: later bytes of it are body again.
                State::Data { h, pos, pad } => {
                    (State::Data { h, pos: pos + len as u32, pad }, false)
                }
                _ => (State::Skip(r - len), false),
            },
            Some(r) if len == r => (State::Header, false),
            _ => {
                stats.gaps_desync += 1;
                (State::Resync, true)
            }
        };
        self.state = state;
        out.desync = desync;
        out
    }
}

/// The body part of the `k` payload bytes of DATA frame `h` starting at offset `pos`:
/// a range relative to those bytes, and the padding length (read from `first`, the
/// first of those bytes, when `pos` is 0 on a PADDED frame).
fn data_body(
    h: FrameHeader,
    pos: u32,
    k: usize,
    pad: Option<u8>,
    first: Option<u8>,
) -> (std::ops::Range<usize>, Option<u8>) {
    if !h.has(FLAG_PADDED) {
        return (0..k, None);
    }
    let pad = if pos == 0 { first } else { pad };
    let len = h.len as usize;
    // Body: payload offsets [1, len - pad); a pad length past the frame means no body.
    let body_end = len.saturating_sub(usize::from(pad.unwrap_or(0))).max(1);
    let (from, to) = (pos as usize, pos as usize + k);
    let lo = from.max(1).min(to);
    let hi = to.min(body_end).max(lo);
    (lo - from..hi - from, pad)
}
