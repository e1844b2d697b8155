//! ip: IPv4 (RFC 791) and IPv6 (RFC 8200) headers down to the transport payload, and the
//! TCP (RFC 9293) / UDP (RFC 768) headers on top.
//!
//! The IP total length trims link-layer padding; when the capture holds fewer bytes than
//! the header claims (snaplen), the missing tail is reported as `missing` so the flow
//! table can emit a gap instead of silently shortening the byte stream. IPv6 extension
//! headers are walked (bounded); a Fragment header hands the rest to [`super::defrag`].

use etherparse::TcpHeaderSlice;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// Longest IPv6 extension-header chain followed.
const MAX_EXT_HEADERS: usize = 16;

/// Fragment facts of one IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragInfo {
    /// IPv4: the 16-bit identification; IPv6: the 32-bit one.
    pub id: u32,
    /// Byte offset of this fragment in the original payload.
    pub offset: u32,
    pub more: bool,
}

/// An IP packet reduced to what the transport layer needs.
#[derive(Debug, Clone, Copy)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Transport protocol number (for a fragment: the protocol of the whole datagram).
    pub proto: u8,
    /// Transport header + payload (for a fragment: this fragment's bytes).
    pub payload: &'a [u8],
    /// Bytes the header claims that the capture does not hold.
    pub missing: u32,
    pub frag: Option<FragInfo>,
}

/// Why a packet was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpError {
    /// Shorter than its own header.
    Truncated,
    /// Inconsistent header fields.
    Malformed,
}

pub fn parse_v4(d: &[u8]) -> Result<IpPacket<'_>, IpError> {
    if d.len() < 20 {
        return Err(IpError::Truncated);
    }
    if d[0] >> 4 != 4 {
        return Err(IpError::Malformed);
    }
    let ihl = (d[0] & 0x0F) as usize * 4;
    if ihl < 20 {
        return Err(IpError::Malformed);
    }
    if d.len() < ihl {
        return Err(IpError::Truncated);
    }
    let total = u16::from_be_bytes([d[2], d[3]]) as usize;
    // A zero total length appears in captures of TSO/GSO super-packets: use what is there.
    let (end, missing) = if total == 0 {
        (d.len(), 0)
    } else if total < ihl {
        return Err(IpError::Malformed);
    } else if total > d.len() {
        (d.len(), (total - d.len()) as u32)
    } else {
        (total, 0)
    };
    let flags_off = u16::from_be_bytes([d[6], d[7]]);
    let more = flags_off & 0x2000 != 0;
    let offset = (flags_off & 0x1FFF) as u32 * 8;
    let frag = (more || offset > 0).then_some(FragInfo {
        id: u16::from_be_bytes([d[4], d[5]]) as u32,
        offset,
        more,
    });
    Ok(IpPacket {
        src: IpAddr::V4(Ipv4Addr::new(d[12], d[13], d[14], d[15])),
        dst: IpAddr::V4(Ipv4Addr::new(d[16], d[17], d[18], d[19])),
        proto: d[9],
        payload: &d[ihl..end],
        missing,
        frag,
    })
}

pub fn parse_v6(d: &[u8]) -> Result<IpPacket<'_>, IpError> {
    if d.len() < 40 {
        return Err(IpError::Truncated);
    }
    if d[0] >> 4 != 6 {
        return Err(IpError::Malformed);
    }
    let plen = u16::from_be_bytes([d[4], d[5]]) as usize;
    let avail = d.len() - 40;
    // Zero payload length: jumbogram or TSO capture; use what is there.
    let (end, missing) = if plen == 0 {
        (d.len(), 0)
    } else if plen > avail {
        (d.len(), (plen - avail) as u32)
    } else {
        (40 + plen, 0)
    };
    let src: [u8; 16] = d[8..24].try_into().map_err(|_| IpError::Truncated)?;
    let dst: [u8; 16] = d[24..40].try_into().map_err(|_| IpError::Truncated)?;
    let (proto, off, frag) = walk_v6_exts(d[6], &d[40..end])?;
    Ok(IpPacket {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto,
        payload: &d[40 + off..end],
        missing,
        frag,
    })
}

/// Walks IPv6 extension headers starting with `next` over `d`. Returns the protocol, the
/// offset of its header in `d`, and the fragment facts when a (non-atomic) Fragment header
/// was met (then the protocol is the fragment header's next header and the offset points
/// at the fragmentable part).
pub fn walk_v6_exts(mut next: u8, d: &[u8]) -> Result<(u8, usize, Option<FragInfo>), IpError> {
    let mut off = 0usize;
    for _ in 0..MAX_EXT_HEADERS {
        let rest = &d[off..];
        match next {
            // hop-by-hop, routing, destination options, mobility, HIP, shim6
            0 | 43 | 60 | 135 | 139 | 140 => {
                if rest.len() < 2 {
                    return Err(IpError::Truncated);
                }
                let len = (rest[1] as usize + 1) * 8;
                if rest.len() < len {
                    return Err(IpError::Truncated);
                }
                next = rest[0];
                off += len;
            }
            // authentication header
            51 => {
                if rest.len() < 2 {
                    return Err(IpError::Truncated);
                }
                let len = (rest[1] as usize + 2) * 4;
                if rest.len() < len {
                    return Err(IpError::Truncated);
                }
                next = rest[0];
                off += len;
            }
            44 => {
                if rest.len() < 8 {
                    return Err(IpError::Truncated);
                }
                let fo = u16::from_be_bytes([rest[2], rest[3]]);
                let offset = (fo & 0xFFF8) as u32;
                let more = fo & 1 == 1;
                next = rest[0];
                off += 8;
                if offset > 0 || more {
                    let id = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
                    return Ok((next, off, Some(FragInfo { id, offset, more })));
                }
                // An atomic fragment (RFC 6946): not really fragmented, keep walking.
            }
            _ => return Ok((next, off, None)),
        }
    }
    Err(IpError::Malformed)
}

/// TCP flags used by the flow table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
}

pub fn parse_tcp(d: &[u8]) -> Result<TcpSegment<'_>, IpError> {
    let h = TcpHeaderSlice::from_slice(d).map_err(|e| match e {
        etherparse::err::tcp::HeaderSliceError::Len(_) => IpError::Truncated,
        etherparse::err::tcp::HeaderSliceError::Content(_) => IpError::Malformed,
    })?;
    let hl = h.slice().len();
    Ok(TcpSegment {
        src_port: h.source_port(),
        dst_port: h.destination_port(),
        seq: h.sequence_number(),
        ack: h.acknowledgment_number(),
        flags: TcpFlags { syn: h.syn(), ack: h.ack(), fin: h.fin(), rst: h.rst() },
        payload: &d[hl..],
    })
}

/// A UDP datagram: ports, captured payload, and payload bytes not captured.
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    pub missing: u32,
}

/// `ip_missing` is what the IP layer reported as not captured.
pub fn parse_udp(d: &[u8], ip_missing: u32) -> Result<UdpDatagram<'_>, IpError> {
    if d.len() < 8 {
        return Err(IpError::Truncated);
    }
    let len = u16::from_be_bytes([d[4], d[5]]) as usize;
    let avail = d.len() - 8;
    let (payload, missing) = if len == 0 {
        // Zero length: jumbogram (RFC 2675) or offloaded checksum; take what is there.
        (&d[8..], ip_missing)
    } else if len < 8 {
        return Err(IpError::Malformed);
    } else if len - 8 <= avail {
        (&d[8..len], 0)
    } else {
        (&d[8..], (len - 8 - avail) as u32)
    };
    Ok(UdpDatagram {
        src_port: u16::from_be_bytes([d[0], d[1]]),
        dst_port: u16::from_be_bytes([d[2], d[3]]),
        payload,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(total: u16, flags_off: u16, body: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[6..8].copy_from_slice(&flags_off.to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    #[test]
    fn v4_trims_padding_and_reports_missing() {
        let p = v4(22, 0, &[1, 2, 0, 0, 0]);
        let ip = parse_v4(&p).unwrap();
        assert_eq!(ip.payload, &[1, 2]);
        assert_eq!(ip.missing, 0);
        let p = v4(30, 0, &[1, 2]);
        assert_eq!(parse_v4(&p).unwrap().missing, 8);
        assert_eq!(parse_v4(&v4(10, 0, &[])).err(), Some(IpError::Malformed));
        assert_eq!(parse_v4(&p[..19]).err(), Some(IpError::Truncated));
    }

    #[test]
    fn v4_fragment_fields() {
        let p = v4(28, 0x2000 | 3, &[0; 8]);
        let f = parse_v4(&p).unwrap().frag.unwrap();
        assert_eq!(f, FragInfo { id: 0x1234, offset: 24, more: true });
    }

    #[test]
    fn v6_ext_chain_and_atomic_fragment() {
        // hop-by-hop (8 bytes) -> atomic fragment -> UDP
        let exts = [44, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 9];
        let (proto, off, frag) = walk_v6_exts(0, &exts).unwrap();
        assert_eq!((proto, off, frag), (17, 16, None));
        let real = [17, 0, 0, 1, 0, 0, 0, 7];
        let (proto, off, frag) = walk_v6_exts(44, &real).unwrap();
        assert_eq!((proto, off), (17, 8));
        assert_eq!(frag, Some(FragInfo { id: 7, offset: 0, more: true }));
        assert_eq!(walk_v6_exts(0, &[6]), Err(IpError::Truncated));
    }

    #[test]
    fn udp_length_rules() {
        let d = [0, 53, 0x30, 0x39, 0, 10, 0, 0, 0xAA, 0xBB, 0xCC];
        let u = parse_udp(&d, 0).unwrap();
        assert_eq!(
            (u.src_port, u.dst_port, u.payload, u.missing),
            (53, 12345, &[0xAA, 0xBB][..], 0)
        );
        let d = [0, 53, 0, 53, 0, 20, 0, 0, 1];
        assert_eq!(parse_udp(&d, 0).unwrap().missing, 11);
        assert_eq!(parse_udp(&[0, 53, 0, 53, 0, 4, 0, 0], 0).err(), Some(IpError::Malformed));
    }
}
