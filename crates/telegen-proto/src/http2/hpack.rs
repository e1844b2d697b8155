//! HPACK (RFC 7541) header blocks, one decoder per direction for the life of the
//! connection (loona-hpack). Never reports a wrong value: after any decoding error the
//! direction's decoder is replaced by a fresh one. A fresh table holds only entries
//! inserted since, which are the newest entries of the peer's table, and HPACK indexes
//! newest-first, so every index it resolves is right; indexes it cannot resolve fail
//! (and reset again). The same holds when the connection start was missed. Fields
//! decoded before an error in a block are kept; the rest of that block is unknown.

use std::borrow::Cow;

use loona_hpack::Decoder;

use crate::Limits;

/// Dynamic table bound (and the largest size update accepted). Larger than the
/// peer's table is harmless (see the module comment), smaller only loses entries.
pub const MAX_TABLE_SIZE: usize = 64 * 1024;

pub struct Hpack {
    dec: Decoder<'static>,
}

impl Default for Hpack {
    fn default() -> Self {
        let mut dec = Decoder::new();
        dec.set_max_allowed_table_size(MAX_TABLE_SIZE);
        dec.set_max_table_size(MAX_TABLE_SIZE);
        Hpack { dec }
    }
}

/// The fields of one header block that records use.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fields {
    pub method: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub grpc_status: Option<u32>,
    pub captured: Vec<(String, String)>,
    /// Regular headers beyond `Limits::max_headers`.
    pub dropped: u64,
    /// False when decoding stopped at an error (later fields are unknown).
    pub complete: bool,
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

impl Hpack {
    /// Decodes one complete header block. Returns false (and resets the decoder) on a
    /// decoding error.
    pub fn decode(&mut self, block: &[u8], limits: &Limits, f: &mut Fields) -> bool {
        let mut regular = 0usize;
        let res = self.dec.decode_with_cb(block, |n: Cow<'_, [u8]>, v: Cow<'_, [u8]>| match &*n {
            b":method" => f.method = Some(text(&v)),
            b":path" => f.path = Some(text(&v)),
            b":authority" => f.authority = Some(text(&v)),
            b":status" => f.status = std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok()),
            n if n.first() == Some(&b':') => {}
            n => {
                regular += 1;
                if regular > limits.max_headers {
                    f.dropped += 1;
                    return;
                }
                if n.eq_ignore_ascii_case(b"content-type") {
                    f.content_type = Some(text(&v));
                } else if n.eq_ignore_ascii_case(b"grpc-status") {
                    f.grpc_status = std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok());
                } else if n.eq_ignore_ascii_case(b"host") && f.authority.is_none() {
                    f.authority = Some(text(&v));
                }
                if limits.capture_headers.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(n)) {
                    f.captured.push((text(n).to_ascii_lowercase(), text(&v)));
                }
            }
        });
        f.complete = res.is_ok();
        if res.is_err() {
            self.reset();
        }
        f.complete
    }

    /// The header state is unknown (a block was lost): start over.
    pub fn reset(&mut self) {
        *self = Hpack::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn decode(h: &mut Hpack, block: &str) -> Fields {
        let mut f = Fields::default();
        h.decode(&hex(block), &Limits::default(), &mut f);
        f
    }

    #[test]
    fn rfc7541_c3_requests_without_huffman() {
        let mut h = Hpack::default();
        let f = decode(&mut h, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
        assert_eq!((f.method.as_deref(), f.path.as_deref()), (Some("GET"), Some("/")));
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        let f = decode(&mut h, "8286 84be 5808 6e6f 2d63 6163 6865");
        assert_eq!(f.authority.as_deref(), Some("www.example.com"), "dynamic index 62");
        let f = decode(
            &mut h,
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        );
        assert_eq!(
            (f.path.as_deref(), f.authority.as_deref()),
            (Some("/index.html"), Some("www.example.com"))
        );
        assert!(f.complete);
    }

    #[test]
    fn rfc7541_c4_requests_with_huffman() {
        let mut h = Hpack::default();
        let f = decode(&mut h, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        let f = decode(&mut h, "8286 84be 5886 a8eb 1064 9cbf");
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
    }

    #[test]
    fn rfc7541_c6_responses_with_huffman_and_eviction() {
        let mut h = Hpack::default();
        // The examples use a 256-byte table: signal it with a size update (0x3f e1 01).
        let f = decode(&mut h, "3fe1 01 4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3");
        assert_eq!(f.status, Some(302));
        let f = decode(&mut h, "4883 640e ffc1 c0bf");
        assert_eq!(f.status, Some(307));
        assert!(f.complete);
    }

    #[test]
    fn joined_mid_connection_never_guesses() {
        // A block that indexes dynamic entries we never saw: static fields before the
        // unknown index are kept, nothing after it is reported.
        let mut h = Hpack::default();
        let f = decode(&mut h, "8286 be 84");
        assert_eq!(f.method.as_deref(), Some("GET"));
        assert_eq!(f.path, None);
        assert!(!f.complete);
        // Entries inserted after a reset resolve correctly.
        let f = decode(&mut h, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
        assert!(f.complete);
        let f = decode(&mut h, "be bf");
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        assert!(!f.complete, "index 63 is unknown here");
    }
}
