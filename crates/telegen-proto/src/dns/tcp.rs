//! DNS over TCP framing (RFC 1035 section 4.2.2, RFC 7766): a 2-byte length before each
//! message. The prefix may sit in its own segment, several messages may share one, and a
//! message is delivered zero-copy when it lies whole in one chunk. Messages longer than
//! the buffer cap are skipped (counted), never buffered.

use super::header::{Header, HEADER_LEN};
use crate::stats::ParseStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the 2-byte length.
    Len,
    Msg {
        len: usize,
    },
    Skip {
        remaining: usize,
    },
    /// Framing was lost: looking for a plausible length + header.
    Resync,
}

/// One direction's framer.
pub struct TcpFramer {
    state: State,
    buf: Vec<u8>,
    buf_ts: u64,
}

impl Default for TcpFramer {
    fn default() -> Self {
        TcpFramer { state: State::Len, buf: Vec::new(), buf_ts: 0 }
    }
}

/// Where a length-prefixed message plausibly starts in `d`.
fn find_start(d: &[u8]) -> Option<usize> {
    (0..d.len().saturating_sub(1 + HEADER_LEN)).find(|&i| {
        let len = usize::from(u16::from_be_bytes([d[i], d[i + 1]]));
        len >= HEADER_LEN
            && Header::parse(&d[i + 2..]).is_some_and(|h| h.plausible() && h.qdcount == 1)
            && (d.len() < i + 2 + len || super::message::parse(&d[i + 2..i + 2 + len]).is_ok())
    })
}

impl TcpFramer {
    /// Feeds bytes; `deliver(first_ts, msg)` gets every complete message.
    pub fn feed(
        &mut self,
        ts: u64,
        mut data: &[u8],
        max_buffer: usize,
        stats: &mut ParseStats,
        deliver: &mut impl FnMut(u64, &[u8], &mut ParseStats),
    ) {
        if !self.buf.is_empty() {
            let want = match self.state {
                State::Len => 2,
                State::Msg { len } => len,
                _ => 0,
            };
            let take = want.saturating_sub(self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() < want {
                return;
            }
            let buf = std::mem::take(&mut self.buf);
            let was_msg = self.state != State::Len;
            self.unit(&buf, max_buffer, stats);
            if was_msg {
                deliver(self.buf_ts, &buf, stats);
            }
            self.buf = buf;
            self.buf.clear();
        }
        while !data.is_empty() {
            match self.state {
                State::Len | State::Msg { .. } => {
                    let want = if self.state == State::Len { 2 } else { self.msg_len() };
                    if data.len() < want {
                        self.buf_ts = ts;
                        self.buf.extend_from_slice(data);
                        return;
                    }
                    let was_msg = self.state != State::Len;
                    self.unit(&data[..want], max_buffer, stats);
                    if was_msg {
                        deliver(ts, &data[..want], stats);
                    }
                    data = &data[want..];
                }
                State::Skip { remaining } => {
                    let n = remaining.min(data.len());
                    stats.resync_bytes_skipped += n as u64;
                    data = &data[n..];
                    self.state = if n == remaining {
                        State::Len
                    } else {
                        State::Skip { remaining: remaining - n }
                    };
                }
                State::Resync => match find_start(data) {
                    Some(i) => {
                        stats.resync_bytes_skipped += i as u64;
                        data = &data[i..];
                        self.state = State::Len;
                    }
                    None => {
                        stats.resync_bytes_skipped += data.len() as u64;
                        return;
                    }
                },
            }
        }
    }

    fn msg_len(&self) -> usize {
        match self.state {
            State::Msg { len } => len,
            _ => 0,
        }
    }

    /// A complete unit (length prefix or message) was read: advances the state.
    fn unit(&mut self, u: &[u8], max_buffer: usize, stats: &mut ParseStats) {
        self.state = match self.state {
            State::Len => {
                let len = usize::from(u16::from_be_bytes([u[0], u[1]]));
                if len < HEADER_LEN {
                    stats.errors_malformed += 1;
                    State::Resync
                } else if len > max_buffer {
                    stats.errors_buffer_full += 1;
                    State::Skip { remaining: len }
                } else {
                    State::Msg { len }
                }
            }
            _ => State::Len,
        };
    }

    /// `len` bytes were lost. Inside a message of known length the framing survives
    /// (that message is lost); otherwise the framer resyncs.
    pub fn gap(&mut self, len: u64, stats: &mut ParseStats) {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let remaining = match self.state {
            State::Msg { len: m } => Some(m - self.buf.len()),
            State::Skip { remaining } => Some(remaining),
            _ => None,
        };
        stats.resync_bytes_skipped += self.buf.len() as u64;
        self.buf.clear();
        self.state = match remaining {
            Some(r) if len < r => State::Skip { remaining: r - len },
            Some(r) if len == r => State::Len,
            _ => {
                stats.gaps_desync += 1;
                State::Resync
            }
        };
    }
}
