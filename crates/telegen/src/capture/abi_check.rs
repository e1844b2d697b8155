//! Test-only check that the hand-written Rust mirrors of bpf/telegen.h
//! ([`crate::capture::tcp::abi`], [`crate::capture::payload::abi`]) agree with the header:
//! every enum constant and numeric `#define` has a Rust mirror with the same value (or is
//! listed as kernel-only below), and every struct has a mirror with the same fields in
//! the same order at the same offsets and sizes.
//!
//! The header is read at test time by a tiny C scanner: comments, `#define NAME expr`,
//! `enum` (explicit and implicit values) and `struct` of fixed-width fields and arrays;
//! expressions of numbers (decimal, hex, `U`/`L` suffixes), earlier constants, `( )`,
//! unary `-` `~` and binary `* + - << >> & ^ |`. Anything else is an error, never skipped,
//! so a header construct the scanner does not know fails the test instead of hiding a
//! constant.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};

use crate::capture::payload::abi as pl;
use crate::capture::tcp::abi as conn;

/// Header constants with no Rust mirror, on purpose: only the kernel programs use them.
const KERNEL_ONLY: &[&str] = &[
    // Flags of struct tg_conn_state that user space never tests (it reads OPEN_EMITTED
    // and EXISTING only).
    "TG_F_RST_RX",
    "TG_F_RST_TX",
    // Bytes the kernel reads from a chunk's start to classify it.
    "TG_PL_CLASSIFY_LEN",
    // struct tg_pl_conn.verdict and .flags: the kernel's per-socket payload state, which
    // user space never reads.
    "TG_PL_V_NEW",
    "TG_PL_V_PENDING",
    "TG_PL_V_COPY",
    "TG_PL_V_SKIP",
    "TG_PL_V_FILTERED",
    "TG_PL_CF_EMITTED",
    "TG_PL_CF_NO_COOKIE",
];

/// Constants the header is known to hold (mirrored plus kernel-only); the scan must find
/// at least this many.
const MIN_CONSTANTS: usize = 95;

/// Every mirrored header constant and the Rust value that mirrors it.
fn mirrors() -> Vec<(&'static str, i128)> {
    macro_rules! m {
        ($($name:literal => $v:expr),* $(,)?) => { vec![$(($name, $v as i128)),*] };
    }
    m![
        "TG_EV_OPEN" => conn::ev::OPEN, "TG_EV_ESTABLISHED" => conn::ev::ESTABLISHED,
        "TG_EV_EXISTING" => conn::ev::EXISTING, "TG_EV_RTT" => conn::ev::RTT,
        "TG_EV_STATS" => conn::ev::STATS, "TG_EV_RETRANSMIT" => conn::ev::RETRANSMIT,
        "TG_EV_ERROR" => conn::ev::ERROR, "TG_EV_CLOSE" => conn::ev::CLOSE,
        "TG_ROLE_UNKNOWN" => conn::role::UNKNOWN, "TG_ROLE_CLIENT" => conn::role::CLIENT,
        "TG_ROLE_SERVER" => conn::role::SERVER, "TG_ERR_NONE" => conn::err::NONE,
        "TG_ERR_REFUSED" => conn::err::REFUSED, "TG_ERR_RESET" => conn::err::RESET,
        "TG_ERR_TIMEOUT" => conn::err::TIMEOUT, "TG_ERR_OTHER" => conn::err::OTHER,
        "TG_CNT_EVENTS" => conn::cnt::EVENTS,
        "TG_CNT_RB_RESERVE_FAIL" => conn::cnt::RB_RESERVE_FAIL,
        "TG_CNT_MAP_FULL" => conn::cnt::MAP_FULL, "TG_CNT_FILTERED" => conn::cnt::FILTERED,
        "TG_CNT_SAMPLED_OUT" => conn::cnt::SAMPLED_OUT,
        "TG_CNT_UNTRACKED_CLOSE" => conn::cnt::UNTRACKED_CLOSE,
        "TG_CNT_WAKEUPS" => conn::cnt::WAKEUPS, "TG_CNT_LAZY_TRACKED" => conn::cnt::LAZY_TRACKED,
        "TG_CNT_ACCEPT_UNTRACKED" => conn::cnt::ACCEPT_UNTRACKED, "TG_CNT_MAX" => conn::cnt::MAX,
        "TG_F_OPEN_EMITTED" => conn::F_OPEN_EMITTED, "TG_F_EXISTING" => conn::F_EXISTING,
        "TG_COMM_LEN" => conn::COMM_LEN,
        // No named Rust constant: the address fields are `[u8; 16]` arrays.
        "TG_ADDR_LEN" => field_size(|e: &conn::RawConnEvent| &e.saddr),
        "TG_AF_INET" => conn::AF_INET, "TG_AF_INET6" => conn::AF_INET6,
        // Payload section.
        "TG_PL_MAX_COPY" => pl::MAX_COPY, "TG_PL_MAX_IOV" => pl::MAX_IOV,
        "TG_PL_MAX_MMSG" => pl::MAX_MMSG, "TG_PL_EV_DATA" => pl::ev::DATA,
        "TG_PL_EV_CLOSE" => pl::ev::CLOSE, "TG_PL_DIR_EGRESS" => pl::dir::EGRESS,
        "TG_PL_DIR_INGRESS" => pl::dir::INGRESS, "TG_PL_L4_TCP" => pl::l4::TCP,
        "TG_PL_L4_UDP" => pl::l4::UDP, "TG_PL_PROTO_UNKNOWN" => pl::proto::UNKNOWN,
        "TG_PL_PROTO_HTTP1" => pl::proto::HTTP1, "TG_PL_PROTO_HTTP2" => pl::proto::HTTP2,
        "TG_PL_PROTO_DNS" => pl::proto::DNS, "TG_PL_CLASSIFY_HTTP1" => pl::classify::HTTP1,
        "TG_PL_CLASSIFY_HTTP2" => pl::classify::HTTP2, "TG_PL_OP_WRITE" => pl::op::WRITE,
        "TG_PL_OP_WRITEV" => pl::op::WRITEV, "TG_PL_OP_SENDTO" => pl::op::SENDTO,
        "TG_PL_OP_SENDMSG" => pl::op::SENDMSG, "TG_PL_OP_SENDMMSG" => pl::op::SENDMMSG,
        "TG_PL_OP_READ" => pl::op::READ, "TG_PL_OP_READV" => pl::op::READV,
        "TG_PL_OP_RECVFROM" => pl::op::RECVFROM, "TG_PL_OP_RECVMSG" => pl::op::RECVMSG,
        "TG_PL_OP_RECVMMSG" => pl::op::RECVMMSG, "TG_PL_OP_SENDFILE" => pl::op::SENDFILE,
        "TG_PL_OP_SPLICE" => pl::op::SPLICE, "TG_PL_OP_CLOSE" => pl::op::CLOSE,
        "TG_PL_OP_STATE" => pl::op::STATE, "TG_PL_F_IOV_TRUNC" => pl::flag::IOV_TRUNC,
        "TG_PL_F_FAULT" => pl::flag::FAULT, "TG_PL_F_UNCONNECTED" => pl::flag::UNCONNECTED,
        "TG_PL_F_NO_COOKIE" => pl::flag::NO_COOKIE,
        "TG_PL_F_SCRATCH_BUSY" => pl::flag::SCRATCH_BUSY, "TG_PL_CNT_EVENTS" => pl::cnt::EVENTS,
        "TG_PL_CNT_RB_FAIL" => pl::cnt::RB_FAIL,
        "TG_PL_CNT_SEND_START_AT_EXIT" => pl::cnt::SEND_START_AT_EXIT,
        "TG_PL_CNT_SCRATCH_BUSY" => pl::cnt::SCRATCH_BUSY,
        "TG_PL_CNT_CONN_FULL" => pl::cnt::CONN_FULL,
        "TG_PL_CNT_CLASSIFY_MISS" => pl::cnt::CLASSIFY_MISS,
        "TG_PL_CNT_SKIPPED_BYTES" => pl::cnt::SKIPPED_BYTES,
        "TG_PL_CNT_FILTERED" => pl::cnt::FILTERED, "TG_PL_CNT_SAMPLED_OUT" => pl::cnt::SAMPLED_OUT,
        "TG_PL_CNT_TRUNCATED" => pl::cnt::TRUNCATED, "TG_PL_CNT_IOV_TRUNC" => pl::cnt::IOV_TRUNC,
        "TG_PL_CNT_READ_FAULT" => pl::cnt::READ_FAULT,
        "TG_PL_CNT_MMSG_TRUNC" => pl::cnt::MMSG_TRUNC, "TG_PL_CNT_WAKEUPS" => pl::cnt::WAKEUPS,
        "TG_PL_CNT_NO_COOKIE" => pl::cnt::NO_COOKIE,
        "TG_PL_CNT_UDP_SKIPPED" => pl::cnt::UDP_SKIPPED,
        "TG_PL_CNT_CLASSIFIED" => pl::cnt::CLASSIFIED,
        "TG_PL_CNT_H2_HEADERS_CUT" => pl::cnt::H2_HEADERS_CUT, "TG_PL_CNT_MAX" => pl::cnt::MAX,
    ]
}

/// One Rust mirror struct: its size and (name, offset, size) of every field in order.
struct RustStruct {
    size: usize,
    fields: Vec<(&'static str, usize, usize)>,
}

fn field_size<T, F>(_: impl Fn(&T) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! rust_struct {
    ($c:literal => $t:ty: $($f:ident),* $(,)?) => {
        ($c, RustStruct {
            size: size_of::<$t>(),
            fields: vec![$((stringify!($f), offset_of!($t, $f), field_size(|s: &$t| &s.$f))),*],
        })
    };
}

/// Every header struct and its Rust mirror (fields listed in declaration order).
fn struct_mirrors() -> Vec<(&'static str, RustStruct)> {
    vec![
        rust_struct!("tg_conn_event" => conn::RawConnEvent: ts_ns, conn_id, sock_ino,
            bytes_sent, bytes_received, segs_in, segs_out, retransmits, srtt_us, netns, pid,
            saddr, daddr, sport, dport, family, kind, role, error, old_state, new_state,
            _pad0, _pad1, comm),
        rust_struct!("tg_conn_state" => conn::RawConnState: conn_id, start_ns,
            established_ns, last_rtt_ns, last_stats_ns, pid, retrans, role, flags, _pad0,
            _pad1, comm),
        rust_struct!("tg_pl_event" => pl::RawPayloadEvent: enter_ns, exit_ns, conn_id, bytes,
            total_tx, total_rx, pid, tid, copied, netns, saddr, daddr, sport, dport, family,
            kind, dir, l4, role, proto, op, flags, _pad0, _pad1, comm),
        rust_struct!("tg_pl_conn" => pl::RawPayloadConn: conn_id, total_tx, total_rx, pid,
            role, verdict, proto, flags, peer_addr, peer_port, peer_family, netns, laddr,
            raddr, lport, rport, family, addr_cached),
    ]
}

/// A C field's name in the Rust mirror (`type` is a Rust keyword).
fn rust_field_name(c: &str) -> &str {
    match c {
        "type" => "kind",
        other => other,
    }
}

// ---- the scanner ----

#[derive(Debug, Default)]
struct Header {
    /// Enum constants and numeric defines, in header order.
    consts: Vec<(String, i128)>,
    structs: Vec<CStruct>,
}

#[derive(Debug)]
struct CStruct {
    name: String,
    /// (name, offset, size) with C's natural alignment.
    fields: Vec<(String, usize, usize)>,
    size: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(i128),
    /// Punctuation; `<<` and `>>` are one token.
    P(&'static str),
}

fn strip_comments(src: &str) -> Result<String, String> {
    let (mut out, mut rest) = (String::with_capacity(src.len()), src);
    while let Some(i) = rest.find('/') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if after.starts_with("/*") {
            let end = after.find("*/").ok_or("unterminated /* comment")?;
            // Keep the line structure: directives are line-based.
            out.extend(after[..end].chars().filter(|&c| c == '\n'));
            out.push(' ');
            rest = &after[end + 2..];
        } else if after.starts_with("//") {
            rest = &after[after.find('\n').unwrap_or(after.len())..];
        } else {
            out.push('/');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    const PUNCT: [&str; 18] = [
        "<<", ">>", "{", "}", "[", "]", "(", ")", ";", ",", "=", "-", "~", "|", "&", "+", "*", "^",
    ];
    let mut toks = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let n = b[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            toks.push(Tok::Ident(s[i..i + n].to_string()));
            i += n;
        } else if c.is_ascii_digit() {
            let n = b[i..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
            toks.push(Tok::Num(number(&s[i..i + n])?));
            i += n;
        } else if let Some(p) = PUNCT.iter().find(|p| s[i..].starts_with(**p)) {
            toks.push(Tok::P(p));
            i += p.len();
        } else {
            return Err(format!("unexpected character {:?} in {s:?}", c as char));
        }
    }
    Ok(toks)
}

/// A C integer literal: decimal or hex, optional `U`/`L` suffixes; octal is refused.
fn number(lit: &str) -> Result<i128, String> {
    let digits = lit.trim_end_matches(['u', 'U', 'l', 'L']);
    let v = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16)
    } else if digits.len() > 1 && digits.starts_with('0') {
        return Err(format!("octal literal {lit} not supported"));
    } else {
        digits.parse()
    };
    v.map_err(|e| format!("bad number {lit}: {e}"))
}

/// A token cursor; expressions look names up in the constants defined so far.
struct Cursor<'a> {
    toks: &'a [Tok],
    pos: usize,
}

type Consts = BTreeMap<String, i128>;

impl Cursor<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Result<Tok, String> {
        let t = self.peek().cloned().ok_or("unexpected end of input")?;
        self.pos += 1;
        Ok(t)
    }
    fn at(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::P(q)) if *q == p)
    }
    fn eat(&mut self, p: &str) -> bool {
        let hit = self.at(p);
        self.pos += hit as usize;
        hit
    }
    fn expect(&mut self, p: &str) -> Result<(), String> {
        match self.eat(p) {
            true => Ok(()),
            false => Err(format!("expected {p:?}, found {:?}", self.peek())),
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.next()? {
            Tok::Ident(s) => Ok(s),
            t => Err(format!("expected a name, found {t:?}")),
        }
    }

    /// Binary operators by C precedence (`|` lowest, then `^`, `&`, shifts, `+ -`, `*`)
    /// over [`Cursor::unary`].
    fn expr(&mut self, k: &Consts) -> Result<i128, String> {
        self.binary(0, k)
    }
    fn binary(&mut self, level: usize, k: &Consts) -> Result<i128, String> {
        const LEVELS: [&[&str]; 6] = [&["|"], &["^"], &["&"], &["<<", ">>"], &["+", "-"], &["*"]];
        let Some(ops) = LEVELS.get(level) else { return self.unary(k) };
        let mut v = self.binary(level + 1, k)?;
        while let Some(op) = ops.iter().find(|op| self.at(op)) {
            self.pos += 1;
            let r = self.binary(level + 1, k)?;
            v = match *op {
                "|" => v | r,
                "^" => v ^ r,
                "&" => v & r,
                "<<" | ">>" if !(0..64).contains(&r) => return Err(format!("shift by {r}")),
                "<<" => v << r,
                ">>" => v >> r,
                "+" => v + r,
                "-" => v - r,
                _ => v * r,
            };
        }
        Ok(v)
    }
    /// Unary `-` `~`, numbers, known constants and `( expr )`.
    fn unary(&mut self, k: &Consts) -> Result<i128, String> {
        match self.next()? {
            Tok::P("-") => Ok(-self.unary(k)?),
            Tok::P("~") => Ok(!self.unary(k)?),
            Tok::P("(") => {
                let v = self.expr(k)?;
                self.expect(")")?;
                Ok(v)
            }
            Tok::Num(v) => Ok(v),
            Tok::Ident(name) => k.get(&name).copied().ok_or(format!("unknown name {name}")),
            t => Err(format!("unexpected {t:?} in expression")),
        }
    }
}

/// Size (= alignment) of a fixed-width C type.
fn c_type_size(ty: &str) -> Option<usize> {
    Some(match ty {
        "__u8" | "__s8" | "char" => 1,
        "__u16" | "__s16" => 2,
        "__u32" | "__s32" => 4,
        "__u64" | "__s64" => 8,
        _ => return None,
    })
}

fn add_const(h: &mut Header, k: &mut Consts, name: String, v: i128) -> Result<(), String> {
    if k.insert(name.clone(), v).is_some() {
        return Err(format!("{name} defined twice"));
    }
    h.consts.push((name, v));
    Ok(())
}

fn scan(src: &str) -> Result<Header, String> {
    let src = strip_comments(src)?.replace("\\\n", " ");
    let (mut h, mut k) = (Header::default(), Consts::new());
    let mut code = String::new();
    for line in src.lines() {
        let Some(directive) = line.trim_start().strip_prefix('#') else {
            code.push_str(line);
            code.push('\n');
            continue;
        };
        let toks = tokenize(directive)?;
        let mut c = Cursor { toks: &toks, pos: 0 };
        match c.ident()?.as_str() {
            "define" => {
                let name = c.ident()?;
                let after = directive.trim_start()["define".len()..].trim_start();
                if after[name.len()..].starts_with('(') {
                    return Err(format!("function-like macro {name} not supported"));
                }
                if c.peek().is_none() {
                    continue; // an include guard (a define without a value)
                }
                let v = c.expr(&k)?;
                if let Some(t) = c.peek() {
                    return Err(format!("#define {name}: trailing {t:?}"));
                }
                add_const(&mut h, &mut k, name, v)?;
            }
            "ifndef" | "ifdef" | "endif" | "include" | "pragma" => {}
            d => return Err(format!("preprocessor directive #{d} not supported")),
        }
    }
    let toks = tokenize(&code)?;
    let mut c = Cursor { toks: &toks, pos: 0 };
    while c.peek().is_some() {
        match c.ident()?.as_str() {
            "enum" => {
                c.ident()?;
                c.expect("{")?;
                let mut next = 0;
                while !c.eat("}") {
                    let name = c.ident()?;
                    let v = if c.eat("=") { c.expr(&k)? } else { next };
                    next = v + 1;
                    add_const(&mut h, &mut k, name.clone(), v)?;
                    if !c.eat(",") && !c.at("}") {
                        return Err(format!("enum: expected , or }} after {name}"));
                    }
                }
            }
            "struct" => {
                let name = c.ident()?;
                c.expect("{")?;
                let (mut fields, mut off, mut align) = (Vec::new(), 0usize, 1usize);
                while !c.eat("}") {
                    let ty = c.ident()?;
                    let size = c_type_size(&ty).ok_or(format!("struct {name}: type {ty}"))?;
                    loop {
                        let field = c.ident()?;
                        let mut n = 1;
                        if c.eat("[") {
                            let len = c.expr(&k)?;
                            n = usize::try_from(len).map_err(|_| format!("{field}[{len}]"))?;
                            c.expect("]")?;
                        }
                        off = off.next_multiple_of(size);
                        fields.push((field, off, size * n));
                        off += size * n;
                        align = align.max(size);
                        if !c.eat(",") {
                            break;
                        }
                    }
                    c.expect(";")?;
                }
                h.structs.push(CStruct { name, fields, size: off.next_multiple_of(align) });
            }
            other => return Err(format!("top-level {other:?} not supported")),
        }
        c.expect(";")?;
    }
    Ok(h)
}

// ---- the comparison ----

/// Every disagreement between the scanned header and the Rust mirrors (empty = agree).
fn problems(
    h: &Header,
    mirrors: &[(&str, i128)],
    kernel_only: &[&str],
    structs: &[(&str, RustStruct)],
) -> Vec<String> {
    let mut out = Vec::new();
    let header: BTreeMap<&str, i128> = h.consts.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let mut listed = BTreeMap::new();
    for (name, rust) in mirrors {
        if listed.insert(*name, "mirrored").is_some() {
            out.push(format!("{name}: mirrored twice"));
        }
        match header.get(name) {
            None => out.push(format!("{name}: mirrored in Rust but not in the header")),
            Some(c) if c != rust => out.push(format!("{name}: header {c}, Rust {rust}")),
            Some(_) => {}
        }
    }
    for name in kernel_only {
        if !header.contains_key(name) {
            out.push(format!("{name}: listed as kernel-only but not in the header"));
        }
        if let Some(was) = listed.insert(name, "kernel-only") {
            out.push(format!("{name}: kernel-only and {was}"));
        }
    }
    for (name, _) in &h.consts {
        if !listed.contains_key(name.as_str()) {
            out.push(format!("{name}: no Rust mirror (add one, or list it as kernel-only)"));
        }
    }
    for s in &h.structs {
        let name = &s.name;
        let mut end = 0;
        for (f, off, size) in &s.fields {
            if *off != end {
                out.push(format!("struct {name}: implicit padding before {f} (make it explicit)"));
            }
            end = off + size;
        }
        if end != s.size {
            out.push(format!("struct {name}: implicit tail padding ({end} -> {})", s.size));
        }
        let Some((_, r)) = structs.iter().find(|(n, _)| n == name) else {
            out.push(format!("struct {name}: no Rust mirror"));
            continue;
        };
        if s.size != r.size {
            out.push(format!("struct {name}: {} bytes in C, {} in Rust", s.size, r.size));
        }
        if s.fields.len() != r.fields.len() {
            let (c, rl) = (s.fields.len(), r.fields.len());
            out.push(format!("struct {name}: {c} fields in C, {rl} listed in Rust"));
        }
        for ((cf, coff, csize), (rf, roff, rsize)) in s.fields.iter().zip(&r.fields) {
            if rust_field_name(cf) != *rf || coff != roff || csize != rsize {
                let in_c = format!("C {cf} at {coff} ({csize} bytes)");
                let in_rust = format!("Rust {rf} at {roff} ({rsize} bytes)");
                out.push(format!("struct {name}: {in_c}, {in_rust}"));
            }
        }
    }
    for (name, _) in structs {
        if !h.structs.iter().any(|s| s.name == *name) {
            out.push(format!("struct {name}: mirrored in Rust but not in the header"));
        }
    }
    out
}

fn telegen_h() -> Header {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bpf/telegen.h");
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    scan(&src).unwrap_or_else(|e| panic!("scanning {path}: {e}"))
}

#[test]
fn telegen_h_and_its_rust_mirrors_agree() {
    let h = telegen_h();
    assert!(h.consts.len() >= MIN_CONSTANTS, "found {} constants: {:?}", h.consts.len(), h.consts);
    assert!(h.structs.len() >= 4, "found {} structs", h.structs.len());
    let p = problems(&h, &mirrors(), KERNEL_ONLY, &struct_mirrors());
    assert!(p.is_empty(), "bpf/telegen.h and its Rust mirrors disagree:\n{}", p.join("\n"));
}

#[test]
fn a_wrong_or_missing_mirror_is_reported() {
    let h = telegen_h();
    let mut m = mirrors();
    m.iter_mut().find(|(n, _)| *n == "TG_PL_OP_SPLICE").unwrap().1 += 1;
    m.retain(|(n, _)| *n != "TG_CNT_MAX");
    m.push(("TG_NOT_IN_HEADER", 1));
    let mut s = struct_mirrors();
    s[0].1.fields.swap(1, 2);
    s[3].1.size += 8;
    let p = problems(&h, &m, &KERNEL_ONLY[1..], &s);
    for want in [
        "TG_PL_OP_SPLICE: header 12, Rust 13",
        "TG_CNT_MAX: no Rust mirror (add one, or list it as kernel-only)",
        "TG_NOT_IN_HEADER: mirrored in Rust but not in the header",
        "TG_F_RST_RX: no Rust mirror (add one, or list it as kernel-only)",
        "struct tg_conn_event: C conn_id at 8 (8 bytes), Rust sock_ino at 16 (8 bytes)",
        "struct tg_conn_event: C sock_ino at 16 (8 bytes), Rust conn_id at 8 (8 bytes)",
        "struct tg_pl_conn: 96 bytes in C, 104 in Rust",
    ] {
        assert!(p.iter().any(|x| x == want), "{want:?} not in {p:#?}");
    }
    assert_eq!(p.len(), 7, "{p:#?}");
}

#[test]
fn scanner_reads_the_c_forms_a_header_may_use() {
    let src = "/* not code: #define FAKE 1, enum x { Y }; */
#ifndef G
#define G
#define A 0x10 // comment
#define B (1 << 3)
#define C (A | B) + 1U
#define D 1 << 2 | 1
#define M -1
#define LONG \\
    42
enum e { E0, E1, E5 = 5, E6, EB = B, EC = EB * 2 };
struct s { __u8 a; __u32 b; __u16 c[LONG]; __u64 d, e; };
#endif
";
    let h = scan(src).unwrap();
    let got: Vec<(&str, i128)> = h.consts.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let want = [
        ("A", 16),
        ("B", 8),
        ("C", 25),
        ("D", 5),
        ("M", -1),
        ("LONG", 42),
        ("E0", 0),
        ("E1", 1),
        ("E5", 5),
        ("E6", 6),
        ("EB", 8),
        ("EC", 16),
    ];
    assert_eq!(got, want);
    let s = &h.structs[0];
    let fields: Vec<(&str, usize, usize)> =
        s.fields.iter().map(|(n, o, z)| (n.as_str(), *o, *z)).collect();
    assert_eq!(fields, [("a", 0, 1), ("b", 4, 4), ("c", 8, 84), ("d", 96, 8), ("e", 104, 8)]);
    assert_eq!((s.name.as_str(), s.size), ("s", 112));
    let p = problems(&h, &[], &[], &[]);
    assert!(p.contains(&"struct s: implicit padding before b (make it explicit)".to_string()));
    assert!(p.contains(&"E6: no Rust mirror (add one, or list it as kernel-only)".to_string()));
}

#[test]
fn scanner_refuses_what_it_does_not_know() {
    for bad in [
        "typedef __u32 x;",
        "#define F(x) x",
        "#define N 010",
        "#define U NOPE",
        "#define T 1 2",
        "#if 1",
        "struct s { int x; };",
        "enum e { A B };",
        "enum e { A, A };",
        "/* open",
        "#define Q 'q'",
    ] {
        assert!(scan(bad).is_err(), "accepted {bad:?}");
    }
}
