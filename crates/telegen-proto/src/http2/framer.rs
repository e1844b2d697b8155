//! One direction's HTTP/2 frame stream: the optional client preface, then frames
//! delivered whole (zero-copy when a frame lies in one chunk, else from a bounded
//! buffer). Frames longer than the buffer cap are skipped and reported as such;
//! after a gap inside a frame the framing survives, otherwise it resyncs on two
//! chained plausible frame headers.

use super::frame::{chain, FrameHeader, HEADER_LEN, PREFACE};
use crate::stats::ParseStats;

/// What the framer hands to the connection.
#[derive(Debug)]
pub enum Frame<'a> {
    Whole(FrameHeader, &'a [u8]),
    /// The payload is not available (too large, or cut by a gap).
    Skipped(FrameHeader),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The client preface may come first.
    Preface,
    Header,
    Payload(FrameHeader),
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
            State::Skip(_) | State::Resync => 0,
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

    /// `len` bytes were lost. Returns the header of a frame whose payload was cut (its
    /// content is lost), and whether framing was lost (it resyncs) because the gap did
    /// not lie inside a payload.
    pub fn gap(&mut self, len: u64, stats: &mut ParseStats) -> (Option<FrameHeader>, bool) {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let (remaining, cut) = match self.state {
            State::Payload(h) => (Some(h.len as usize - self.buf.len()), Some(h)),
            State::Skip(n) => (Some(n), None),
            _ => (None, None),
        };
        stats.resync_bytes_skipped += self.buf.len() as u64;
        self.buf.clear();
        let (state, desync) = match remaining {
            Some(r) if len < r => (State::Skip(r - len), false),
            Some(r) if len == r => (State::Header, false),
            _ => {
                stats.gaps_desync += 1;
                (State::Resync, true)
            }
        };
        self.state = state;
        (cut, desync)
    }
}
