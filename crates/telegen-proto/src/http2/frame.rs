//! HTTP/2 frames (RFC 9113 section 4 and 6): the 9-byte frame header, the client
//! preface, plausibility checks for detection and resync, and payload helpers
//! (padding, priority fields).

/// Client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const HEADER_LEN: usize = 9;
/// Frames longer than this are never taken as plausible (the protocol allows 16 MiB,
/// real peers rarely negotiate above 1 MiB).
pub const MAX_PLAUSIBLE_LEN: u32 = 1 << 20;

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const PRIORITY: u8 = 2;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

pub const FLAG_END_STREAM: u8 = 0x1;
pub const FLAG_END_HEADERS: u8 = 0x4;
pub const FLAG_PADDED: u8 = 0x8;
pub const FLAG_PRIORITY: u8 = 0x20;

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl FrameHeader {
    pub fn parse(b: &[u8]) -> Option<FrameHeader> {
        let b = b.get(..HEADER_LEN)?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether this looks like a real frame header: a known type on the right kind of
    /// stream with a length its type allows.
    pub fn plausible(&self) -> bool {
        if self.len > MAX_PLAUSIBLE_LEN {
            return false;
        }
        let on_stream = self.stream != 0;
        match self.kind {
            DATA | HEADERS | CONTINUATION | PUSH_PROMISE => on_stream,
            PRIORITY => on_stream && self.len == 5,
            RST_STREAM => on_stream && self.len == 4,
            SETTINGS => !on_stream && self.len.is_multiple_of(6) && self.flags & !1 == 0,
            PING => !on_stream && self.len == 8 && self.flags & !1 == 0,
            GOAWAY => !on_stream && self.len >= 8,
            WINDOW_UPDATE => self.len == 4,
            _ => false,
        }
    }
}

/// Frames chained from `buf[0]`: how many plausible headers follow each other exactly
/// (at most `want`), and whether the chain ran out of bytes rather than into garbage.
pub fn chain(buf: &[u8], want: usize) -> (usize, bool) {
    let mut p = 0;
    for n in 0..want {
        let Some(h) = FrameHeader::parse(&buf[p..]) else {
            // A cut header: its length and type bytes must still be possible.
            let rest = &buf[p..];
            let len_ok = rest.first().is_none_or(|&b| u32::from(b) << 16 <= MAX_PLAUSIBLE_LEN);
            let type_ok = rest.get(3).is_none_or(|&t| t <= CONTINUATION);
            return (n, len_ok && type_ok);
        };
        if !h.plausible() {
            return (n, false);
        }
        p += HEADER_LEN + h.len as usize;
        if p >= buf.len() {
            return (n + 1, true);
        }
    }
    (want, false)
}

/// The header-block fragment or data of a HEADERS, PUSH_PROMISE or DATA payload with
/// padding (and priority / promised stream fields) removed; `None` if malformed.
pub fn strip<'a>(h: &FrameHeader, p: &'a [u8]) -> Option<&'a [u8]> {
    let mut start = 0;
    let mut end = p.len();
    if matches!(h.kind, DATA | HEADERS | PUSH_PROMISE) && h.has(FLAG_PADDED) {
        let pad = usize::from(*p.first()?);
        start = 1;
        end = end.checked_sub(pad)?;
    }
    if h.kind == HEADERS && h.has(FLAG_PRIORITY) {
        start += 5;
    }
    if h.kind == PUSH_PROMISE {
        start += 4;
    }
    p.get(start..end)
}

/// The promised stream id of a PUSH_PROMISE payload (after the padding length).
pub fn promised_stream(h: &FrameHeader, p: &[u8]) -> Option<u32> {
    if h.kind != PUSH_PROMISE {
        return None;
    }
    let at = usize::from(h.has(FLAG_PADDED));
    let b = p.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(len: u32, kind: u8, flags: u8, stream: u32) -> Vec<u8> {
        let mut v = len.to_be_bytes()[1..].to_vec();
        v.extend([kind, flags]);
        v.extend(stream.to_be_bytes());
        v
    }

    #[test]
    fn header_and_plausibility() {
        let h = FrameHeader::parse(&hdr(18, SETTINGS, 0, 0)).unwrap();
        assert_eq!((h.len, h.kind, h.stream), (18, SETTINGS, 0));
        assert!(h.plausible());
        assert!(!FrameHeader::parse(&hdr(7, SETTINGS, 0, 0)).unwrap().plausible());
        assert!(!FrameHeader::parse(&hdr(4, HEADERS, 4, 0)).unwrap().plausible());
        assert!(!FrameHeader::parse(&hdr(4, 0x42, 0, 1)).unwrap().plausible());
        let mut two = hdr(0, SETTINGS, 1, 0);
        two.extend(hdr(4, WINDOW_UPDATE, 0, 0));
        two.extend([0, 0, 1, 0]);
        assert_eq!(chain(&two, 3), (2, true));
        assert_eq!(chain(b"GET / HTTP/1.1\r\n", 2), (0, false));
    }

    #[test]
    fn strips_padding_and_priority() {
        let h =
            FrameHeader { len: 10, kind: HEADERS, flags: FLAG_PADDED | FLAG_PRIORITY, stream: 1 };
        let p = [2, 0, 0, 0, 0, 9, 0x82, 0x84, 0, 0];
        assert_eq!(strip(&h, &p), Some(&[0x82, 0x84][..]));
        let bad = FrameHeader { len: 1, kind: DATA, flags: FLAG_PADDED, stream: 1 };
        assert_eq!(strip(&bad, &[5]), None);
    }
}
