//! Deviations from RFC 9112 that real peers send and that recipients like Zeek and
//! Suricata accept, kept apart from the strict parsing in `parser.rs`: the version name
//! in lower case (`http/1.1`), HTTP/0.9 simple requests (RFC 1945 section 4.1: a
//! request line without version, no headers), and the first line of such requests
//! while it is still arriving. Pure functions only.

use super::parser::{memchr, METHODS};

/// Offset just past the empty line that ends the head at the start of `buf`.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = memchr(b'\n', &buf[i..]) {
        let nl = i + p;
        match &buf[nl + 1..] {
            [b'\n', ..] => return Some(nl + 2),
            [b'\r', b'\n', ..] => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// What [`fix_version`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum VersionFix {
    /// The version token is upper-case (or absent): parse `buf` as it is.
    AsIs,
    /// A non-upper-case `http/1.x` whose head is not complete yet.
    Partial,
    /// A copy of the head with the version token upper-cased.
    Fixed(Vec<u8>),
}

/// httparse wants `HTTP/1.x`; servers and clients writing `http/1.1` exist. The name is
/// case-sensitive per RFC 9112 section 2.3, but recipients like Zeek and Suricata accept
/// it: for a head whose version token is not upper-case, a copy of the head alone (up
/// to its empty line) with the token upper-cased is parsed instead.
pub fn fix_version(buf: &[u8], is_request: bool) -> VersionFix {
    let at = if is_request {
        let Some(nl) = memchr(b'\n', buf) else { return VersionFix::AsIs };
        let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
        match line.len().checked_sub(8) {
            Some(at) if at > 0 && line[at - 1] == b' ' => at,
            _ => return VersionFix::AsIs,
        }
    } else {
        let n = buf.len().min(5);
        if n < 5 && buf.eq_ignore_ascii_case(&b"HTTP/"[..n]) && buf != &b"HTTP/"[..n] {
            return VersionFix::Partial;
        }
        0
    };
    let tok = &buf[at..buf.len().min(at + 5)];
    if tok.len() < 5 || tok == b"HTTP/" || !tok.eq_ignore_ascii_case(b"HTTP/") {
        return VersionFix::AsIs;
    }
    let Some(end) = head_end(buf) else { return VersionFix::Partial };
    let mut v = buf[..end].to_vec();
    v[at..at + 4].make_ascii_uppercase();
    VersionFix::Fixed(v)
}

/// Whether `buf`, whose first line is not complete, may still become a request line
/// that httparse rejects but [`request09`] or [`fix_version`] accept: `METHOD SP target`
/// and optionally `SP` and the start of `HTTP/1.x` in any case.
pub fn request_line_partial(buf: &[u8]) -> bool {
    if memchr(b'\n', buf).is_some() {
        return false;
    }
    let line = buf.strip_suffix(b"\r").unwrap_or(buf);
    let Some(sp) = memchr(b' ', line) else { return false };
    if !METHODS.contains(&&line[..sp]) {
        return false;
    }
    let rest = &line[sp + 1..];
    let (target, version) = match memchr(b' ', rest) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let version_ok = |v: &[u8]| {
        let n = v.len().min(7);
        v.len() <= 8
            && v[..n].eq_ignore_ascii_case(&b"HTTP/1."[..n])
            && v.get(7).is_none_or(u8::is_ascii_digit)
    };
    let target_ok = target.iter().all(u8::is_ascii_graphic)
        && (target.len() < 4 && b"http".starts_with(target)
            || target.starts_with(b"/")
            || target.starts_with(b"http"));
    target_ok && version.is_none_or(version_ok)
}

/// An HTTP/0.9 simple request (RFC 1945 section 4.1): `METHOD SP target` and a line
/// end, no version and no headers. To keep random bytes from looking like one, the
/// method must be known and the target must start with `/` or `http` and hold no
/// space or control byte. Returns (method, target, bytes of the line).
pub fn request09(buf: &[u8]) -> Option<(&str, &str, usize)> {
    let nl = memchr(b'\n', buf)?;
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let sp = memchr(b' ', line)?;
    let (method, target) = (&line[..sp], &line[sp + 1..]);
    if !METHODS.contains(&method) {
        return None;
    }
    let plausible = (target.starts_with(b"/") || target.starts_with(b"http"))
        && target.iter().all(|b| b.is_ascii_graphic());
    if !plausible {
        return None;
    }
    // Both are ASCII: checked above.
    let method = std::str::from_utf8(method).ok()?;
    let target = std::str::from_utf8(target).ok()?;
    Some((method, target, nl + 1))
}
