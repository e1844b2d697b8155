//! A whole DNS message (RFC 1035 section 4.1), parsed zero-copy: the header, the first
//! question, and offsets into the sections. `parse` validates every name and record
//! boundary once; iterating records afterwards cannot fail.

use super::header::{Header, HEADER_LEN};
use super::name::read_name;
use crate::status::ParseError;

/// Resource record type of the EDNS OPT pseudo-record.
pub const TYPE_OPT: u16 = 41;

/// The first question of a message (further questions are validated, not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    pub name_off: usize,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rr<'a> {
    pub name_off: usize,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Offset of the RDATA in the message (names inside RDATA may point anywhere).
    pub rdata_off: usize,
    pub rdata: &'a [u8],
}

/// A validated message.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub buf: &'a [u8],
    pub header: Header,
    pub question: Option<Question>,
    /// Offset where the answer section starts.
    answers_off: usize,
    /// Upper 8 bits of the extended RCODE from an OPT record (RFC 6891 section 6.1.3).
    pub edns_rcode_hi: Option<u8>,
    /// Bytes of the message (a UDP datagram may carry trailing bytes after it).
    pub len: usize,
}

fn u16_at(b: &[u8], o: usize) -> Result<u16, ParseError> {
    let s = b.get(o..o + 2).ok_or(ParseError::Truncated)?;
    Ok(u16::from_be_bytes([s[0], s[1]]))
}

fn rr_at(b: &[u8], off: usize) -> Result<(Rr<'_>, usize), ParseError> {
    let p = read_name(b, off, None)?;
    let fixed = b.get(p..p + 10).ok_or(ParseError::Truncated)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata_off = p + 10;
    let rdata = b.get(rdata_off..rdata_off + rdlen).ok_or(ParseError::Truncated)?;
    Ok((Rr { name_off: off, rtype, class, ttl, rdata_off, rdata }, rdata_off + rdlen))
}

/// Parses and validates a message.
pub fn parse(buf: &[u8]) -> Result<Message<'_>, ParseError> {
    let header = Header::parse(buf).ok_or(ParseError::Truncated)?;
    let mut p = HEADER_LEN;
    let mut question = None;
    for _ in 0..header.qdcount {
        let e = read_name(buf, p, None)?;
        let q = Question { name_off: p, qtype: u16_at(buf, e)?, qclass: u16_at(buf, e + 2)? };
        question.get_or_insert(q);
        p = e + 4;
    }
    let answers_off = p;
    let mut edns_rcode_hi = None;
    let rrs = u32::from(header.ancount) + u32::from(header.nscount) + u32::from(header.arcount);
    for i in 0..rrs {
        let (rr, next) = rr_at(buf, p)?;
        let additional = i >= u32::from(header.ancount) + u32::from(header.nscount);
        if additional && rr.rtype == TYPE_OPT {
            edns_rcode_hi = Some((rr.ttl >> 24) as u8);
        }
        p = next;
    }
    Ok(Message { buf, header, question, answers_off, edns_rcode_hi, len: p })
}

impl<'a> Message<'a> {
    /// The full RCODE: 4 header bits, extended by EDNS.
    pub fn rcode(&self) -> u16 {
        u16::from(self.header.rcode()) | (u16::from(self.edns_rcode_hi.unwrap_or(0)) << 4)
    }

    /// The answer section's records (validated by `parse`).
    pub fn answers(&self) -> impl Iterator<Item = Rr<'a>> + 'a {
        let buf = self.buf;
        let mut p = self.answers_off;
        (0..self.header.ancount).map_while(move |_| {
            let (rr, next) = rr_at(buf, p).ok()?;
            p = next;
            Some(rr)
        })
    }

    /// The first question's name as text.
    pub fn question_name(&self) -> Option<String> {
        let q = self.question?;
        let mut s = String::new();
        read_name(self.buf, q.name_off, Some(&mut s)).ok()?;
        Some(s)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a message: header fields, one question, and raw answer bytes.
    pub fn build(id: u16, flags: u16, qname: &str, qtype: u16, answers: &[Vec<u8>]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&encode_name(qname));
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for a in answers {
            m.extend_from_slice(a);
        }
        m
    }

    pub fn encode_name(n: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in n.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    /// An answer record whose owner is a pointer to the question name (offset 12).
    pub fn rr(rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut v = vec![0xc0, 12];
        v.extend_from_slice(&rtype.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
        v
    }

    #[test]
    fn parses_query_and_response() {
        let q = build(7, 0x0100, "example.com", 1, &[]);
        let m = parse(&q).unwrap();
        assert_eq!(m.header.id, 7);
        assert_eq!(m.question_name().unwrap(), "example.com");
        assert_eq!(m.question.unwrap().qtype, 1);
        assert_eq!(m.len, q.len());
        let r = build(7, 0x8180, "example.com", 1, &[rr(1, 60, &[1, 2, 3, 4])]);
        let m = parse(&r).unwrap();
        let a: Vec<_> = m.answers().collect();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].rtype, a[0].ttl, a[0].rdata), (1, 60, &[1u8, 2, 3, 4][..]));
    }

    #[test]
    fn truncated_and_overlong_counts_fail() {
        let r = build(7, 0x8180, "example.com", 1, &[rr(1, 60, &[1, 2, 3, 4])]);
        for cut in 0..r.len() {
            assert!(parse(&r[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = r.clone();
        bad[7] = 200; // ancount 200 with one record present
        assert_eq!(parse(&bad).unwrap_err(), ParseError::Truncated);
    }

    #[test]
    fn edns_extended_rcode() {
        // BADVERS = 16: header rcode 0, OPT TTL high byte 1.
        let mut r = build(1, 0x8180, "a.b", 1, &[]);
        r[11] = 1; // arcount
        r.extend_from_slice(&[0, 0, 41, 0x10, 0, 1, 0, 0, 0, 0, 0]);
        let m = parse(&r).unwrap();
        assert_eq!(m.rcode(), 16);
    }

    #[test]
    fn zero_questions() {
        let mut r = build(1, 0x8180, "a.b", 1, &[]);
        r.truncate(12);
        r[5] = 0;
        let m = parse(&r).unwrap();
        assert!(m.question.is_none());
        assert_eq!(m.question_name(), None);
    }
}
