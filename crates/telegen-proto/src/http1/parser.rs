//! HTTP/1.x wire parsing (RFC 9112): message heads via httparse (zero-copy, uninitialised
//! header slots), message framing (RFC 9112 section 6.3), chunk lines and trailers, and
//! the "plausible message start" probes used for detection and resynchronisation.
//! Pure functions only: the per-direction state machine is in `stream.rs`.

use std::mem::MaybeUninit;

use httparse::Header;

use crate::status::{ParseError, Status};

/// Headers httparse may parse per message head; a head with more is malformed.
/// (How many are *kept* is `Limits::max_headers`.)
pub const MAX_PARSE_HEADERS: usize = 128;

/// Uninitialised header slots for one parse (no per-parse initialisation cost).
pub type HeaderSlots<'b> = [MaybeUninit<Header<'b>>; MAX_PARSE_HEADERS];

pub fn header_slots<'b>() -> HeaderSlots<'b> {
    [const { MaybeUninit::uninit() }; MAX_PARSE_HEADERS]
}

fn config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    c
}

fn map(r: httparse::Result<usize>) -> Status {
    match r {
        Ok(httparse::Status::Complete(n)) => Status::Complete(n),
        Ok(httparse::Status::Partial) => Status::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            Status::Error(ParseError::TooManyHeaders { max: MAX_PARSE_HEADERS })
        }
        Err(_) => Status::Error(ParseError::BadHead),
    }
}

/// Parses a request head into `req`. `Complete(n)`: the head is `n` bytes long.
pub fn parse_request<'h, 'b>(
    buf: &'b [u8],
    slots: &'h mut [MaybeUninit<Header<'b>>],
    req: &mut httparse::Request<'h, 'b>,
) -> Status {
    map(config().parse_request_with_uninit_headers(req, buf, slots))
}

/// Parses a response head into `resp`. `Complete(n)`: the head is `n` bytes long.
pub fn parse_response<'h, 'b>(
    buf: &'b [u8],
    slots: &'h mut [MaybeUninit<Header<'b>>],
    resp: &mut httparse::Response<'h, 'b>,
) -> Status {
    map(config().parse_response_with_uninit_headers(resp, buf, slots))
}

/// What an `Upgrade` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Upgrade {
    /// `Upgrade: h2c`: HTTP/2 follows on this connection (RFC 7540 section 3.2).
    H2c,
    WebSocket,
    /// A CONNECT tunnel was established (2xx to CONNECT).
    Tunnel,
    Other,
}

/// Framing-relevant facts of one message head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadInfo {
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub upgrade: Option<Upgrade>,
    pub expect_continue: bool,
    /// Index of the Host header.
    pub host: Option<usize>,
}

/// Reads framing headers. Conflicting or invalid Content-Length is an error (RFC 9112
/// 6.3 item 5); Transfer-Encoding wins over Content-Length.
pub fn head_info(headers: &[Header<'_>]) -> Result<HeadInfo, ParseError> {
    let mut info = HeadInfo::default();
    for (i, h) in headers.iter().enumerate() {
        let name = h.name.as_bytes();
        // Dispatch on length and first letter: most headers are none of these.
        match (name.len(), name.first().map(|b| b | 0x20)) {
            (4, Some(b'h'))
            | (6, Some(b'e'))
            | (7, Some(b'u'))
            | (14, Some(b'c'))
            | (17, Some(b't')) => {}
            _ => continue,
        }
        if name.len() == 4 && name.eq_ignore_ascii_case(b"host") {
            info.host.get_or_insert(i);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let v = parse_content_length(h.value).ok_or(ParseError::BadContentLength)?;
            if info.content_length.is_some_and(|old| old != v) {
                return Err(ParseError::BadContentLength);
            }
            info.content_length = Some(v);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Chunked only counts when it is the final coding.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            info.chunked = trim(last).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            let v = trim(h.value);
            info.upgrade = Some(if v.eq_ignore_ascii_case(b"h2c") {
                Upgrade::H2c
            } else if v.eq_ignore_ascii_case(b"websocket") {
                Upgrade::WebSocket
            } else {
                Upgrade::Other
            });
        } else if name.eq_ignore_ascii_case(b"expect") {
            info.expect_continue = trim(h.value).eq_ignore_ascii_case(b"100-continue");
        }
    }
    if info.chunked {
        info.content_length = None;
    }
    Ok(info)
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let e = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(s, |p| p + 1);
    &v[s..e.max(s)]
}

/// Decimal Content-Length; a list of equal values ("5, 5") is accepted.
fn parse_content_length(v: &[u8]) -> Option<u64> {
    let mut out: Option<u64> = None;
    for part in v.split(|&b| b == b',') {
        let p = trim(part);
        if p.is_empty() || p.len() > 19 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = p.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        if out.is_some_and(|o| o != n) {
            return None;
        }
        out = Some(n);
    }
    out
}

/// A chunk-size line (`1a;ext=1\r\n`). `Complete(n)` with the size in `size`.
pub fn parse_chunk_line(buf: &[u8], size: &mut u64) -> Status {
    match httparse::parse_chunk_size(buf) {
        Ok(httparse::Status::Complete((n, s))) => {
            *size = s;
            Status::Complete(n)
        }
        Ok(httparse::Status::Partial) => Status::Partial,
        Err(_) => Status::Error(ParseError::BadChunk),
    }
}

/// The CRLF after a chunk's data (a bare LF is tolerated).
pub fn parse_chunk_end(buf: &[u8]) -> Status {
    match buf {
        [] | [b'\r'] => Status::Partial,
        [b'\r', b'\n', ..] => Status::Complete(2),
        [b'\n', ..] => Status::Complete(1),
        _ => Status::Error(ParseError::BadChunk),
    }
}

/// The trailer section after the last chunk, up to and including its empty line.
pub fn parse_trailers(buf: &[u8]) -> Status {
    match buf {
        [] | [b'\r'] => return Status::Partial,
        [b'\r', b'\n', ..] => return Status::Complete(2),
        [b'\n', ..] => return Status::Complete(1),
        _ => {}
    }
    let mut i = 0;
    while let Some(p) = memchr(b'\n', &buf[i..]) {
        let nl = i + p;
        match &buf[nl + 1..] {
            [b'\n', ..] => return Status::Complete(nl + 2),
            [b'\r', b'\n', ..] => return Status::Complete(nl + 3),
            _ => i = nl + 1,
        }
    }
    Status::Partial
}

#[inline]
pub fn memchr(b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&x| x == b)
}

/// Whether `buf` ends a head: contains an empty line. Used to avoid re-parsing a
/// partial head on every small chunk.
pub fn has_head_end(buf: &[u8]) -> bool {
    buf.windows(2).any(|w| w == b"\n\n") || buf.windows(3).any(|w| w == b"\n\r\n")
}

/// Request methods accepted as a message start: [`super::methods::METHODS`].
pub(crate) const METHODS: &[&[u8]] = &super::methods::METHOD_BYTES;

/// How well `buf` (starting at a candidate message start) matches a start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMatch {
    Yes,
    /// `buf` is a proper prefix of something that could match.
    Maybe,
    No,
}

/// Request line start: a known method, a space, then `/`, `*` or an absolute URI.
pub fn request_start(buf: &[u8]) -> StartMatch {
    let mut maybe = false;
    for m in METHODS {
        let need = m.len() + 2;
        if buf.len() >= need {
            if &buf[..m.len()] == *m && buf[m.len()] == b' ' {
                let c = buf[m.len() + 1];
                if c == b'/' || c == b'*' || c.is_ascii_alphanumeric() {
                    return StartMatch::Yes;
                }
            }
        } else if m.starts_with(&buf[..buf.len().min(m.len())])
            && (buf.len() <= m.len() || buf[m.len()] == b' ')
        {
            maybe = true;
        }
    }
    if maybe {
        StartMatch::Maybe
    } else {
        StartMatch::No
    }
}

/// Status line start: `HTTP/1.x ` and a digit (the name `HTTP` in any case: some
/// servers write `http/1.1`).
pub fn response_start(buf: &[u8]) -> StartMatch {
    const P: &[u8] = b"HTTP/1.";
    let n = buf.len().min(P.len());
    if !buf[..n].eq_ignore_ascii_case(&P[..n]) {
        return StartMatch::No;
    }
    if buf.len() < P.len() + 3 {
        return match buf.get(P.len()) {
            Some(b'0' | b'1') | None => StartMatch::Maybe,
            Some(_) => StartMatch::No,
        };
    }
    let ok = matches!(buf[7], b'0' | b'1') && buf[8] == b' ' && buf[9].is_ascii_digit();
    if ok {
        StartMatch::Yes
    } else {
        StartMatch::No
    }
}

/// Offset of the first occurrence of `needle` in `hay`.
pub fn find_sub(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut i = 0;
    while let Some(p) = memchr(first, &hay[i..]) {
        let at = i + p;
        if hay[at + 1..].starts_with(rest) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Given `HTTP/1.` at `p`, the start of the request line that ends with it, if the
/// bytes before it are `METHOD SP target SP`.
fn request_line_before(buf: &[u8], p: usize) -> Option<usize> {
    let after = buf.get(p + 8..)?;
    if !matches!(after.first(), Some(b'\r' | b'\n')) || p < 2 || buf[p - 1] != b' ' {
        return None;
    }
    let sp = buf[..p - 1].iter().rposition(|&b| b == b' ' || b == b'\n')?;
    if buf[sp] != b' ' {
        return None;
    }
    let ms = buf[..sp]
        .iter()
        .rposition(|b| !b.is_ascii_uppercase())
        .map_or(0, |x| x + 1)
        .max(sp.saturating_sub(16));
    (request_start(&buf[ms..]) == StartMatch::Yes).then_some(ms)
}

/// Finds the first plausible message start in `buf`: a start line at a line start, a
/// status line anywhere, or a request line ending in `HTTP/1.x` anywhere (messages
/// often follow a body directly). A start cut by the end of `buf` also counts, so it
/// can be buffered.
pub fn find_start(buf: &[u8], is_request: bool) -> Option<usize> {
    let probe = |b: &[u8]| if is_request { request_start(b) } else { response_start(b) };
    let mut anywhere = None;
    let mut i = 0;
    while let Some(p) = find_sub(&buf[i..], b"HTTP/1.") {
        let at = i + p;
        let hit = if is_request {
            request_line_before(buf, at)
        } else {
            (response_start(&buf[at..]) == StartMatch::Yes).then_some(at)
        };
        if hit.is_some() {
            anywhere = hit;
            break;
        }
        i = at + 1;
    }
    let limit = anywhere.unwrap_or(buf.len());
    let mut j = 0;
    while j < limit {
        if probe(&buf[j..]) != StartMatch::No {
            return Some(j);
        }
        j += memchr(b'\n', &buf[j..limit]).map_or(limit, |p| p + 1);
    }
    anywhere
}
