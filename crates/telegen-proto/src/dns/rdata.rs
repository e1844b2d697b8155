//! Record types, RCODEs and RDATA as text (RFC 1035 3.3, RFC 3596 AAAA, RFC 2782 SRV,
//! RFC 3403 NAPTR, RFC 4034 RRSIG, RFC 6895 registry). Types not rendered are kept as `TYPE<n>` with RFC 3597 generic
//! data (`\# <len> <hex>`), the hex cut at `MAX_HEX_BYTES`.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::message::Rr;
use super::name::read_name;

/// RDATA bytes shown as hex for unrendered types (the length is always complete).
pub const MAX_HEX_BYTES: usize = 64;

/// The mnemonic of a record type, or `TYPE<n>`.
pub fn type_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return format!("TYPE{t}"),
    };
    s.to_owned()
}

/// The mnemonic of a (possibly EDNS-extended) RCODE, or `RCODE<n>`.
pub fn rcode_name(r: u16) -> String {
    let s = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return format!("RCODE{r}"),
    };
    s.to_owned()
}

fn name_at(msg: &[u8], off: usize, out: &mut String) -> Option<usize> {
    read_name(msg, off, Some(out)).ok()
}

fn u16_at(d: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(o..o + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(o..o + 4)?.try_into().ok()?))
}

/// RDATA of `rr` (in message `msg`) as text. Malformed RDATA of a known type falls back
/// to the generic form.
pub fn rdata_text(msg: &[u8], rr: &Rr<'_>) -> String {
    render(msg, rr).unwrap_or_else(|| generic(rr.rdata))
}

fn render(msg: &[u8], rr: &Rr<'_>) -> Option<String> {
    let d = rr.rdata;
    let mut s = String::new();
    match rr.rtype {
        1 => s = Ipv4Addr::from(<[u8; 4]>::try_from(d).ok()?).to_string(),
        28 => s = Ipv6Addr::from(<[u8; 16]>::try_from(d).ok()?).to_string(),
        2 | 5 | 12 | 39 => {
            let end = name_at(msg, rr.rdata_off, &mut s)?;
            (end == rr.rdata_off + d.len()).then_some(())?;
        }
        15 => {
            write!(s, "{} ", u16_at(d, 0)?).ok()?;
            name_at(msg, rr.rdata_off + 2, &mut s)?;
        }
        33 => {
            let (p, w, port) = (u16_at(d, 0)?, u16_at(d, 2)?, u16_at(d, 4)?);
            write!(s, "{p} {w} {port} ").ok()?;
            name_at(msg, rr.rdata_off + 6, &mut s)?;
        }
        6 => {
            let e1 = name_at(msg, rr.rdata_off, &mut s)?;
            s.push(' ');
            let e2 = name_at(msg, e1, &mut s)?;
            let nums = msg.get(e2..e2 + 20)?;
            (e2 + 20 <= rr.rdata_off + d.len()).then_some(())?;
            for i in 0..5 {
                write!(s, " {}", u32_at(nums, i * 4)?).ok()?;
            }
        }
        16 | 99 => {
            let mut p = 0;
            while p < d.len() {
                if p > 0 {
                    s.push(' ');
                }
                p = char_string(d, p, &mut s)?;
            }
        }
        35 => naptr(msg, rr, &mut s)?,
        46 => rrsig(msg, rr, &mut s)?,
        _ => return None,
    }
    Some(s)
}

/// The <character-string> at `p` in `d`, quoted (`"` and `\\` escaped); returns the
/// offset after it.
fn char_string(d: &[u8], p: usize, s: &mut String) -> Option<usize> {
    let l = usize::from(*d.get(p)?);
    let t = d.get(p + 1..p + 1 + l)?;
    s.push('"');
    for c in String::from_utf8_lossy(t).chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    Some(p + 1 + l)
}

/// NAPTR (RFC 3403 section 4.1) in zone-file form:
/// `order preference "flags" "services" "regexp" replacement`.
fn naptr(msg: &[u8], rr: &Rr<'_>, s: &mut String) -> Option<()> {
    let d = rr.rdata;
    write!(s, "{} {}", u16_at(d, 0)?, u16_at(d, 2)?).ok()?;
    let mut p = 4;
    for _ in 0..3 {
        s.push(' ');
        p = char_string(d, p, s)?;
    }
    s.push(' ');
    let end = name_at(msg, rr.rdata_off + p, s)?;
    (end == rr.rdata_off + d.len()).then_some(())
}

/// RRSIG (RFC 4034 section 3.2) in zone-file form without the signature itself:
/// `type-covered algorithm labels original-ttl expiration inception key-tag signer`,
/// the times as `YYYYMMDDHHmmSS` (UTC).
fn rrsig(msg: &[u8], rr: &Rr<'_>, s: &mut String) -> Option<()> {
    let d = rr.rdata;
    let fixed = d.get(..18)?;
    let (alg, labels) = (fixed[2], fixed[3]);
    write!(s, "{} {alg} {labels} {} ", type_name(u16_at(d, 0)?), u32_at(d, 4)?).ok()?;
    push_time(s, u32_at(d, 8)?);
    s.push(' ');
    push_time(s, u32_at(d, 12)?);
    write!(s, " {} ", u16_at(d, 16)?).ok()?;
    let end = name_at(msg, rr.rdata_off + 18, s)?;
    (end <= rr.rdata_off + d.len()).then_some(())
}

/// Seconds since the Unix epoch as `YYYYMMDDHHmmSS` (UTC), by the days-to-civil
/// algorithm (proleptic Gregorian calendar).
fn push_time(s: &mut String, secs: u32) {
    let days = i64::from(secs / 86_400);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, sec) = (rem / 3600, rem / 60 % 60, rem % 60);
    let _ = write!(s, "{year:04}{month:02}{day:02}{h:02}{m:02}{sec:02}");
}

/// RFC 3597 generic RDATA: `\# <len> <hex>` (hex cut at `MAX_HEX_BYTES`, then `...`).
pub fn generic(d: &[u8]) -> String {
    let mut s = format!("\\# {}", d.len());
    if !d.is_empty() {
        s.push(' ');
    }
    for b in d.iter().take(MAX_HEX_BYTES) {
        let _ = write!(s, "{b:02x}");
    }
    if d.len() > MAX_HEX_BYTES {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::message::{parse, tests::*};
    use super::*;

    fn text(rtype: u16, rdata: &[u8]) -> String {
        let m = build(1, 0x8180, "ex.org", 1, &[rr(rtype, 1, rdata)]);
        let msg = parse(&m).unwrap();
        let a = msg.answers().next().unwrap();
        rdata_text(&m, &a)
    }

    #[test]
    fn renders_known_types() {
        assert_eq!(text(1, &[10, 0, 0, 1]), "10.0.0.1");
        assert_eq!(
            text(28, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "2001:db8::1"
        );
        assert_eq!(text(5, &encode_name("alias.ex.org")), "alias.ex.org");
        assert_eq!(text(5, &[0xc0, 12]), "ex.org");
        let mut mx = vec![0, 10];
        mx.extend(encode_name("mail.ex.org"));
        assert_eq!(text(15, &mx), "10 mail.ex.org");
        let mut srv = vec![0, 1, 0, 2, 0x01, 0xbb];
        srv.extend(encode_name("s.ex.org"));
        assert_eq!(text(33, &srv), "1 2 443 s.ex.org");
        assert_eq!(text(16, b"\x05hello\x02a\""), "\"hello\" \"a\\\"\"");
        let mut soa = encode_name("ns.ex.org");
        soa.extend(encode_name("admin.ex.org"));
        for n in [1u32, 2, 3, 4, 5] {
            soa.extend(n.to_be_bytes());
        }
        assert_eq!(text(6, &soa), "ns.ex.org admin.ex.org 1 2 3 4 5");
    }

    #[test]
    fn renders_naptr() {
        let mut n = vec![0, 100, 0, 100, 1, b's', 8];
        n.extend_from_slice(b"SIPS+D2T");
        n.push(0);
        n.extend(encode_name("_sips._tcp.ex.org"));
        assert_eq!(text(35, &n), "100 100 \"s\" \"SIPS+D2T\" \"\" _sips._tcp.ex.org");
        let mut regexp = vec![0, 10, 0, 5, 1, b'u', 7];
        regexp.extend_from_slice(b"E2U+sip");
        regexp.push(5);
        regexp.extend_from_slice(b"!^.*!");
        regexp.push(0);
        assert_eq!(text(35, &regexp), "10 5 \"u\" \"E2U+sip\" \"!^.*!\" .");
        // A string running past the RDATA, or bytes after the replacement: generic.
        assert_eq!(text(35, &[0, 1, 0, 1, 9, b'x']), "\\# 6 000100010978");
        let mut extra = regexp.clone();
        extra.push(0);
        assert!(text(35, &extra).starts_with("\\# "));
    }

    #[test]
    fn renders_rrsig_without_signature() {
        let mut r = vec![0, 5, 5, 3];
        r.extend(86_400u32.to_be_bytes());
        r.extend(1_262_304_000u32.to_be_bytes()); // 2010-01-01 00:00:00
        r.extend(951_782_400u32.to_be_bytes()); // 2000-02-29 00:00:00
        r.extend(4242u16.to_be_bytes());
        r.extend(encode_name("cmu.edu"));
        r.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(text(46, &r), "CNAME 5 3 86400 20100101000000 20000229000000 4242 cmu.edu");
        let mut t = String::new();
        push_time(&mut t, u32::MAX);
        assert_eq!(t, "21060207062815");
        assert!(text(46, &r[..17]).starts_with("\\# 17 "));
    }

    #[test]
    fn unknown_and_malformed_are_generic() {
        assert_eq!(type_name(4242), "TYPE4242");
        assert_eq!(text(4242, &[0xab, 0xcd]), "\\# 2 abcd");
        assert_eq!(text(1, &[1, 2, 3]), "\\# 3 010203");
        assert_eq!(text(5, &[0xc0]), "\\# 1 c0");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(16), "BADVERS");
        assert_eq!(rcode_name(4000), "RCODE4000");
        assert!(generic(&[0u8; 100]).ends_with("..."));
    }
}
