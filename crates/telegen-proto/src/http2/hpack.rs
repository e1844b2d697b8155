//! HPACK (RFC 7541) header blocks, one decoder per direction for the life of the
//! connection, written for an observer that may have missed the connection's start.
//!
//! Never reports a wrong value, and reports every value it can be sure of:
//! - Static indexes (1..=61) and literal names and values are always right.
//! - The dynamic table is tracked newest-first. After a reset (the connection was joined
//!   late, or a header block was lost) it holds only entries inserted since, which are
//!   the newest entries of the peer's table; HPACK indexes newest-first, so an index
//!   within what we hold is right, and an index past it is *unknown*: that one field is
//!   skipped (counted in [`Fields::unknown`]) and decoding goes on. A reference does not
//!   change the table, so later fields stay aligned.
//! - A literal inserted under a name we could not resolve is tracked with an unknown
//!   name (its value is known), so indexes stay aligned.
//! - Entry sizes are a lower bound when a name is unknown, so we evict no earlier than
//!   the peer; entries the peer evicted and we kept are never referenced.
//! - A block we cannot parse (bad integer, bad Huffman, truncation) leaves the table in
//!   an unknown state: the decoder resets, the rest of that block is unknown.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::OnceLock;

use super::hpack_tables::{HUFFMAN_CODES, STATIC_TABLE};
use super::Limits;

/// Dynamic table bound (and the largest size update accepted). Larger than the
/// peer's table is harmless (see the module comment), smaller only loses entries.
pub const MAX_TABLE_SIZE: usize = 64 * 1024;

/// Per-entry overhead of RFC 7541 section 4.1.
const ENTRY_OVERHEAD: usize = 32;

struct Entry {
    /// None: inserted under a name index we could not resolve.
    name: Option<Box<[u8]>>,
    value: Box<[u8]>,
}

impl Entry {
    /// The entry's size as the peer counts it, or a lower bound when the name is unknown.
    fn size(&self) -> usize {
        self.name.as_ref().map_or(0, |n| n.len()) + self.value.len() + ENTRY_OVERHEAD
    }
}

pub struct Hpack {
    /// Newest first.
    table: VecDeque<Entry>,
    size: usize,
    max: usize,
}

impl Default for Hpack {
    fn default() -> Self {
        // The peer's current table size is unknown until it sends an update: assume the
        // largest (keeping more entries than the peer is harmless).
        Hpack { table: VecDeque::new(), size: 0, max: MAX_TABLE_SIZE }
    }
}

/// The fields of one header block that records use.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fields {
    /// Registered methods are static strings (no allocation).
    pub method: Option<Cow<'static, str>>,
    pub path: Option<String>,
    pub authority: Option<String>,
    pub status: Option<u16>,
    /// The content-type is `application/grpc*`.
    pub grpc: bool,
    pub grpc_status: Option<u32>,
    pub captured: Vec<(String, String)>,
    /// Regular headers beyond `Limits::max_headers`.
    pub dropped: u64,
    /// Fields whose name (or name and value) could not be resolved.
    pub unknown: u64,
    /// False when some field is unknown or decoding stopped at an error.
    pub complete: bool,
}

fn text(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(v).into_owned(),
    }
}

/// A malformed block: the table state is unknown from here.
struct Malformed;

/// Decodes an HPACK integer with an `n`-bit prefix at `b[*i]` (RFC 7541 5.1).
fn integer(b: &[u8], i: &mut usize, n: u8) -> Result<usize, Malformed> {
    let mask = (1u16 << n) as usize - 1;
    let first = *b.get(*i).ok_or(Malformed)? as usize & mask;
    *i += 1;
    if first < mask {
        return Ok(first);
    }
    let mut v = mask;
    let mut shift = 0u32;
    loop {
        let byte = *b.get(*i).ok_or(Malformed)?;
        *i += 1;
        // 4 continuation bytes (28 bits) exceed every sane length or index.
        if shift > 21 {
            return Err(Malformed);
        }
        v += ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
}

/// Decodes a string literal (RFC 7541 5.2), Huffman-coded or raw (borrowed).
fn string<'a>(b: &'a [u8], i: &mut usize) -> Result<Cow<'a, [u8]>, Malformed> {
    let huff = *b.get(*i).ok_or(Malformed)? & 0x80 != 0;
    let len = integer(b, i, 7)?;
    let end = i.checked_add(len).filter(|&e| e <= b.len()).ok_or(Malformed)?;
    let raw = &b[*i..end];
    *i = end;
    if huff {
        huffman_decode(raw).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(raw))
    }
}

/// The Huffman code as a binary tree in an array: node `k` has children
/// `TREE[k][0]` / `TREE[k][1]`; a child >= LEAF is the symbol `child - LEAF`.
const LEAF: u16 = 0x8000;

fn tree() -> &'static [[u16; 2]] {
    static TREE: OnceLock<Vec<[u16; 2]>> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut nodes: Vec<[u16; 2]> = vec![[0, 0]];
        for (sym, &(code, len)) in HUFFMAN_CODES.iter().enumerate() {
            let mut k = 0usize;
            for bit in (0..len).rev() {
                let b = ((code >> bit) & 1) as usize;
                if bit == 0 {
                    nodes[k][b] = LEAF + sym as u16;
                } else {
                    if nodes[k][b] == 0 {
                        nodes.push([0, 0]);
                        nodes[k][b] = (nodes.len() - 1) as u16;
                    }
                    k = nodes[k][b] as usize;
                }
            }
        }
        nodes
    })
}

/// One 4-bit step of the Huffman decoder from a tree node: the node reached, the symbol
/// completed on the way (at most one: codes are at least 5 bits long), or a failure.
#[derive(Clone, Copy, Default)]
struct Nibble {
    next: u16,
    /// `NO_SYMBOL`, a byte, or 256 (EOS).
    sym: u16,
    fail: bool,
}

const NO_SYMBOL: u16 = u16::MAX;

/// Per tree node, the 16 nibble steps; and whether ending the string at that node is
/// valid padding (a path of at most 7 one-bits from the root, RFC 7541 5.2).
struct Steps {
    steps: Vec<[Nibble; 16]>,
    accept: Vec<bool>,
}

fn steps() -> &'static Steps {
    static STEPS: OnceLock<Steps> = OnceLock::new();
    STEPS.get_or_init(|| {
        let t = tree();
        let mut steps = vec![[Nibble::default(); 16]; t.len()];
        for (k, row) in steps.iter_mut().enumerate() {
            for (nib, step) in row.iter_mut().enumerate() {
                let (mut cur, mut sym, mut fail) = (k, NO_SYMBOL, false);
                for bit in (0..4).rev() {
                    let next = t[cur][(nib >> bit) & 1];
                    if next >= LEAF {
                        sym = next - LEAF;
                        cur = 0;
                    } else if next == 0 {
                        fail = true;
                        break;
                    } else {
                        cur = next as usize;
                    }
                }
                *step = Nibble { next: cur as u16, sym, fail };
            }
        }
        let mut accept = vec![false; t.len()];
        accept[0] = true;
        let mut node = 0usize;
        for _ in 0..7 {
            let next = t[node][1];
            if next >= LEAF || next == 0 {
                break;
            }
            node = next as usize;
            accept[node] = true;
        }
        Steps { steps, accept }
    })
}

/// RFC 7541 5.2 / Appendix B, a nibble at a time: EOS inside the string, or padding
/// longer than 7 bits or not all ones, is an error.
fn huffman_decode(src: &[u8]) -> Result<Vec<u8>, Malformed> {
    let st = steps();
    let mut out = Vec::with_capacity(src.len() * 8 / 5 + 1);
    let mut k = 0usize;
    for &byte in src {
        for nib in [byte >> 4, byte & 0xf] {
            let s = st.steps[k][nib as usize];
            if s.fail || s.sym == 256 {
                return Err(Malformed);
            }
            if s.sym != NO_SYMBOL {
                out.push(s.sym as u8);
            }
            k = s.next as usize;
        }
    }
    if !st.accept[k] {
        return Err(Malformed);
    }
    Ok(out)
}

/// What a field's name or (name, value) resolves to.
enum Resolved<'a> {
    Known(&'a [u8], &'a [u8]),
    /// Only the value is known (an entry inserted under an unknown name).
    ValueOnly,
    Unknown,
}

impl Hpack {
    fn lookup(&self, idx: usize) -> Result<Resolved<'_>, Malformed> {
        match idx {
            0 => Err(Malformed),
            1..=61 => {
                let (n, v) = STATIC_TABLE[idx - 1];
                Ok(Resolved::Known(n.as_bytes(), v.as_bytes()))
            }
            _ => Ok(match self.table.get(idx - 62) {
                Some(Entry { name: Some(n), value }) => Resolved::Known(n, value),
                Some(Entry { name: None, .. }) => Resolved::ValueOnly,
                None => Resolved::Unknown,
            }),
        }
    }

    fn insert(&mut self, name: Option<Vec<u8>>, value: Vec<u8>) {
        let e = Entry { name: name.map(Into::into), value: value.into() };
        let size = e.size();
        if size > self.max {
            // RFC 7541 4.4: an entry larger than the table empties it.
            self.table.clear();
            self.size = 0;
            return;
        }
        self.size += size;
        self.table.push_front(e);
        self.evict();
    }

    fn evict(&mut self) {
        while self.size > self.max {
            match self.table.pop_back() {
                Some(e) => self.size -= e.size(),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }

    /// Decodes one complete header block into `f`. Returns false when the block could
    /// not be parsed (the decoder is reset; the rest of the block is unknown). Fields it
    /// could not resolve are skipped and counted; `f.complete` tells whether any were.
    pub fn decode(&mut self, block: &[u8], limits: &Limits, f: &mut Fields) -> bool {
        let mut regular = 0usize;
        let mut unknown = 0;
        let ok = self.decode_fields(
            block,
            &mut |n, v| emit(n, v, limits, f, &mut regular),
            &mut unknown,
        );
        f.unknown += unknown;
        if !ok {
            self.reset();
        }
        f.complete = ok && f.unknown == 0;
        ok
    }

    fn decode_fields(
        &mut self,
        b: &[u8],
        out: &mut dyn FnMut(&[u8], &[u8]),
        unknown: &mut u64,
    ) -> bool {
        let mut i = 0;
        while i < b.len() {
            if self.field(b, &mut i, out, unknown).is_err() {
                return false;
            }
        }
        true
    }

    fn field(
        &mut self,
        b: &[u8],
        i: &mut usize,
        out: &mut dyn FnMut(&[u8], &[u8]),
        unknown: &mut u64,
    ) -> Result<(), Malformed> {
        let first = b[*i];
        if first & 0x80 != 0 {
            // Indexed field.
            let idx = integer(b, i, 7)?;
            match self.lookup(idx)? {
                Resolved::Known(n, v) => out(n, v),
                Resolved::ValueOnly | Resolved::Unknown => *unknown += 1,
            }
            return Ok(());
        }
        if first & 0xe0 == 0x20 {
            // Dynamic table size update.
            let size = integer(b, i, 5)?;
            self.max = size.min(MAX_TABLE_SIZE);
            self.evict();
            return Ok(());
        }
        // Literals: with incremental indexing (01), without (0000) or never indexed (0001).
        let indexing = first & 0xc0 == 0x40;
        let idx = integer(b, i, if indexing { 6 } else { 4 })?;
        let literal = if idx == 0 { Some(string(b, i)?) } else { None };
        let name: Option<&[u8]> = match &literal {
            Some(n) => Some(n),
            None => match self.lookup(idx)? {
                Resolved::Known(n, _) => Some(n),
                Resolved::ValueOnly | Resolved::Unknown => None,
            },
        };
        let value = string(b, i)?;
        match name {
            Some(n) => out(n, &value),
            None => *unknown += 1,
        }
        if indexing {
            // Owned only here: a literal that is not indexed is never copied.
            let name = name.map(<[u8]>::to_vec);
            self.insert(name, value.into_owned());
        }
        Ok(())
    }

    /// The header state is unknown (a block was lost): start over.
    pub fn reset(&mut self) {
        *self = Hpack::default();
    }
}

fn emit(n: &[u8], v: &[u8], limits: &Limits, f: &mut Fields, regular: &mut usize) {
    match n {
        b":method" => f.method = Some(crate::record::method_name(&String::from_utf8_lossy(v))),
        b":path" => f.path = Some(text(v)),
        b":authority" => f.authority = Some(text(v)),
        b":status" => f.status = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()),
        n if n.first() == Some(&b':') => {}
        n => {
            *regular += 1;
            if *regular > limits.max_headers {
                f.dropped += 1;
                return;
            }
            if n.eq_ignore_ascii_case(b"content-type") {
                f.grpc = v.starts_with(b"application/grpc");
            } else if n.eq_ignore_ascii_case(b"grpc-status") {
                f.grpc_status = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
            } else if n.eq_ignore_ascii_case(b"host") && f.authority.is_none() {
                f.authority = Some(text(v));
            }
            if limits.capture_headers.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(n)) {
                f.captured.push((text(n).to_ascii_lowercase(), text(v)));
            }
        }
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
    fn rfc7541_c1_integers() {
        let mut i = 0;
        assert_eq!(integer(&[0x0a], &mut i, 5).ok(), Some(10));
        let mut i = 0;
        assert_eq!(integer(&[0x1f, 0x9a, 0x0a], &mut i, 5).ok(), Some(1337));
        assert_eq!(i, 3);
        let mut i = 0;
        assert_eq!(integer(&[0x2a], &mut i, 8).ok(), Some(42));
        let mut i = 0;
        assert!(integer(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut i, 5).is_err());
        let mut i = 0;
        assert!(integer(&[0x1f, 0x9a], &mut i, 5).is_err(), "truncated");
    }

    #[test]
    fn rfc7541_c2_single_fields() {
        // C.2.1 literal with indexing.
        let mut h = Hpack::default();
        let mut got = Vec::new();
        let mut unknown = 0;
        assert!(h.decode_fields(
            &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
            &mut |n, v| got.push((n.to_vec(), v.to_vec())),
            &mut unknown
        ));
        assert_eq!(got, vec![(b"custom-key".to_vec(), b"custom-header".to_vec())]);
        assert_eq!(h.size, 55);
        // C.2.2 literal without indexing: the table is unchanged.
        let f = decode(&mut h, "040c 2f73 616d 706c 652f 7061 7468");
        assert_eq!(f.path.as_deref(), Some("/sample/path"));
        assert_eq!(h.table.len(), 1);
        // C.2.3 never indexed; C.2.4 indexed.
        let f = decode(&mut h, "1008 7061 7373 776f 7264 0673 6563 7265 74 82");
        assert_eq!(f.method.as_deref(), Some("GET"));
        assert!(f.complete);
        assert_eq!(h.table.len(), 1);
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
        assert_eq!(h.size, 164, "C.3.3 table size");
    }

    #[test]
    fn rfc7541_c4_requests_with_huffman() {
        let mut h = Hpack::default();
        let f = decode(&mut h, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        let f = decode(&mut h, "8286 84be 5886 a8eb 1064 9cbf");
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        let f = decode(&mut h, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
        assert_eq!(f.path.as_deref(), Some("/index.html"));
        assert_eq!(h.table[0].name.as_deref(), Some(&b"custom-key"[..]));
        assert_eq!(&*h.table[0].value, b"custom-value");
        assert_eq!(h.size, 164);
    }

    #[test]
    fn rfc7541_c5_and_c6_responses_with_eviction() {
        for (blocks, huffman) in [
            (
                [
                    "3fe1 01 4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    "4803 3330 37c1 c0bf",
                ],
                false,
            ),
            (
                [
                    "3fe1 01 4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    "4883 640e ffc1 c0bf",
                ],
                true,
            ),
        ] {
            // The examples use a 256-byte table: signalled with a size update (3f e1 01).
            let mut h = Hpack::default();
            let f = decode(&mut h, blocks[0]);
            assert_eq!(f.status, Some(302), "huffman {huffman}");
            assert_eq!(h.size, 222);
            let f = decode(&mut h, blocks[1]);
            assert_eq!(f.status, Some(307));
            assert!(f.complete);
            assert_eq!(h.size, 222, "the 302 entry was evicted");
            assert_eq!(h.table.len(), 4);
        }
    }

    #[test]
    fn bad_huffman_and_truncation_reset() {
        let mut h = Hpack::default();
        // EOS-length padding of 8 ones: invalid.
        assert!(huffman_decode(&[0xff]).is_err());
        assert_eq!(
            huffman_decode(&hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff")).ok().as_deref(),
            Some(&b"www.example.com"[..])
        );
        let mut f = Fields::default();
        assert!(!h.decode(&hex("8286 4108 7777"), &Limits::default(), &mut f));
        assert_eq!(f.method.as_deref(), Some("GET"), "fields before the error are kept");
        assert!(!f.complete);
    }

    #[test]
    fn joined_mid_connection_skips_unknown_fields_and_keeps_the_rest() {
        // A block that indexes dynamic entries we never saw: the unknown field is
        // skipped, static and literal fields after it are reported.
        let mut h = Hpack::default();
        let f = decode(&mut h, "8286 be 84");
        assert_eq!(f.method.as_deref(), Some("GET"));
        assert_eq!(f.path.as_deref(), Some("/"), "static index after an unknown one");
        assert_eq!(f.unknown, 1);
        assert!(!f.complete);
        // A literal inserted under an unknown name keeps the indexes aligned: the next
        // literal (known name, index 62 afterwards) resolves, the unknown-named one not.
        let f = decode(&mut h, "7f20 0378 7878 4108 7777 772e 612e 6263");
        assert_eq!(f.authority.as_deref(), Some("www.a.bc"));
        assert_eq!(f.unknown, 1);
        let f = decode(&mut h, "be bf c0");
        assert_eq!(f.authority.as_deref(), Some("www.a.bc"), "62 = newest");
        assert_eq!(f.unknown, 2, "63 has an unknown name, 64 is past what we hold");
    }

    /// RFC 7541 Appendix B encoding, for round trips (padding: the EOS prefix, 1 bits).
    /// Returns the bytes and the number of padding bits.
    fn huffman_encode(src: &[u8]) -> (Vec<u8>, u32) {
        let (mut out, mut acc, mut n) = (Vec::new(), 0u64, 0u32);
        for &c in src {
            let (code, len) = HUFFMAN_CODES[c as usize];
            acc = (acc << len) | u64::from(code);
            n += u32::from(len);
            while n >= 8 {
                n -= 8;
                out.push((acc >> n) as u8);
            }
        }
        if n > 0 {
            out.push(((acc << (8 - n)) | ((1 << (8 - n)) - 1)) as u8);
        }
        (out, if n > 0 { 8 - n } else { 0 })
    }

    proptest::proptest! {
        #[test]
        fn huffman_round_trips_every_byte(src in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let (enc, pad) = huffman_encode(&src);
            proptest::prop_assert_eq!(huffman_decode(&enc).ok(), Some(src.clone()));
            // A zero bit in the padding is refused.
            if pad > 0 {
                let mut bad = enc.clone();
                *bad.last_mut().unwrap() &= 0xfe;
                proptest::prop_assert!(huffman_decode(&bad).is_err());
            }
            // So is a whole byte of padding (8 one-bits).
            let mut long = enc.clone();
            long.push(0xff);
            proptest::prop_assert!(huffman_decode(&long).is_err());
        }

        /// Blocks from an independent encoder (loona-hpack: dynamic table, evictions)
        /// decode to exactly the fields that went in, block after block.
        #[test]
        fn independent_encoder_round_trips(
            blocks in proptest::collection::vec(
                proptest::collection::vec(
                    ("[a-z][a-z-]{0,12}|:path|:method|content-type", "[ -~]{0,40}"),
                    0..12,
                ),
                1..8,
            )
        ) {
            let mut enc = loona_hpack::Encoder::new();
            let mut dec = Hpack::default();
            for fields in &blocks {
                let b = enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
                let mut got = Vec::new();
                let mut unknown = 0;
                proptest::prop_assert!(dec.decode_fields(
                    &b,
                    &mut |n, v| got.push((text(n), text(v))),
                    &mut unknown,
                ));
                proptest::prop_assert_eq!(unknown, 0);
                proptest::prop_assert_eq!(&got, fields);
            }
        }

        /// Arbitrary bytes never panic, and a decoder that joins late never reports a
        /// field the full decoder does not (nothing is guessed).
        #[test]
        fn late_joiner_reports_a_subset(
            blocks in proptest::collection::vec(
                proptest::collection::vec(("[a-c]{1,3}", "[x-z]{0,3}"), 1..6),
                2..8,
            ),
            skip in 1usize..4,
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let mut enc = loona_hpack::Encoder::new();
            let (mut full, mut late) = (Hpack::default(), Hpack::default());
            for (k, fields) in blocks.iter().enumerate() {
                let b = enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
                let mut all = Vec::new();
                let mut u = 0;
                full.decode_fields(&b, &mut |n, v| all.push((text(n), text(v))), &mut u);
                if k < skip.min(blocks.len() - 1) {
                    continue;
                }
                let mut some = Vec::new();
                late.decode_fields(&b, &mut |n, v| some.push((text(n), text(v))), &mut u);
                let mut rest = all.iter();
                for f in &some {
                    proptest::prop_assert!(rest.any(|a| a == f), "{:?} not in {:?}", f, all);
                }
            }
            let mut u = 0;
            Hpack::default().decode_fields(&junk, &mut |_, _| {}, &mut u);
        }
    }
}
