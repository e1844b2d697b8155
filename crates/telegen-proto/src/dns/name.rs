//! Domain names (RFC 1035 sections 3.1 and 4.1.4): labels with compression pointers.
//! Forward pointers are allowed; loops are rejected by bounding the number of jumps
//! and the total name length (255 bytes on the wire).

use crate::status::ParseError;

/// Longest name on the wire (RFC 1035 section 2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Most compression pointers followed for one name.
pub const MAX_JUMPS: usize = 64;

/// Walks the name at `off` in `msg`. Returns the offset right after the name as stored at
/// `off` (after the first pointer, if any). With `out`, the name is appended as text
/// (`www.example.com`, root = `.`; bytes outside printable ASCII and `.` `\` escaped
/// as in zone files).
pub fn read_name(
    msg: &[u8],
    off: usize,
    mut out: Option<&mut String>,
) -> Result<usize, ParseError> {
    let mut pos = off;
    let mut end: Option<usize> = None;
    let mut jumps = 0;
    let mut wire_len = 0usize;
    let mut first = true;
    loop {
        let len = *msg.get(pos).ok_or(ParseError::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                wire_len += usize::from(len) + 1;
                if wire_len > MAX_NAME_LEN {
                    return Err(ParseError::BadName);
                }
                if len == 0 {
                    if first {
                        if let Some(o) = out.as_deref_mut() {
                            o.push('.');
                        }
                    }
                    return Ok(end.unwrap_or(pos + 1));
                }
                let label =
                    msg.get(pos + 1..pos + 1 + usize::from(len)).ok_or(ParseError::Truncated)?;
                if let Some(o) = out.as_deref_mut() {
                    if !first {
                        o.push('.');
                    }
                    push_label(o, label);
                }
                first = false;
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(ParseError::Truncated)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                jumps += 1;
                if jumps > MAX_JUMPS || target >= msg.len() {
                    return Err(ParseError::BadName);
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            // 0x40 (extended label, RFC 6891 deprecated) and 0x80 are not valid.
            _ => return Err(ParseError::BadName),
        }
    }
}

fn push_label(o: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                o.push('\\');
                o.push(char::from(b));
            }
            0x21..=0x7e => o.push(char::from(b)),
            _ => {
                o.push('\\');
                o.push(char::from(b'0' + b / 100));
                o.push(char::from(b'0' + (b / 10) % 10));
                o.push(char::from(b'0' + b % 10));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(msg: &[u8], off: usize) -> Result<(String, usize), ParseError> {
        let mut s = String::new();
        let end = read_name(msg, off, Some(&mut s))?;
        Ok((s, end))
    }

    #[test]
    fn plain_and_root() {
        assert_eq!(
            name(b"\x03www\x07example\x03com\x00", 0).unwrap(),
            ("www.example.com".into(), 17)
        );
        assert_eq!(name(b"\x00", 0).unwrap(), (".".into(), 1));
    }

    #[test]
    fn backward_and_forward_pointers() {
        // "example.com" at 0, "www" + pointer to 0 at 13.
        let mut m = b"\x07example\x03com\x00".to_vec();
        m.extend_from_slice(b"\x03www\xc0\x00");
        assert_eq!(name(&m, 13).unwrap(), ("www.example.com".into(), 19));
        // Forward pointer: name at 0 points to offset 2.
        let f = b"\xc0\x02\x03abc\x00";
        assert_eq!(name(f, 0).unwrap(), ("abc".into(), 2));
    }

    #[test]
    fn loops_and_bad_pointers_rejected() {
        assert_eq!(name(b"\xc0\x00", 0), Err(ParseError::BadName));
        assert_eq!(name(b"\x01a\xc0\x00", 0), Err(ParseError::BadName));
        assert_eq!(name(b"\xc0\x05", 0), Err(ParseError::BadName));
        assert_eq!(name(b"\x80", 0), Err(ParseError::BadName));
        assert_eq!(name(b"\x03ab", 0), Err(ParseError::Truncated));
    }

    #[test]
    fn too_long_rejected() {
        let mut m = Vec::new();
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
        }
        m.push(0);
        assert_eq!(name(&m, 0), Err(ParseError::BadName));
    }

    #[test]
    fn escapes() {
        assert_eq!(name(b"\x03a.\x01\x00", 0).unwrap().0, "a\\.\\001");
    }
}
