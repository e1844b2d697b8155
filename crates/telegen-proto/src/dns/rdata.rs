//! Record types, RCODEs and RDATA as text (RFC 1035 3.3, RFC 3596 AAAA, RFC 2782 SRV,
//! RFC 6895 registry). Types not rendered are kept as `TYPE<n>` with RFC 3597 generic
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
                let l = usize::from(d[p]);
                let t = d.get(p + 1..p + 1 + l)?;
                if p > 0 {
                    s.push(' ');
                }
                s.push('"');
                for c in String::from_utf8_lossy(t).chars() {
                    if c == '"' || c == '\\' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
                p += 1 + l;
            }
        }
        _ => return None,
    }
    Some(s)
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
