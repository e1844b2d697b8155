//! link: strips the link-layer header of a captured frame down to the IP packet.
//!
//! Link types (LINKTYPE_* numbers, as pcap files and libpcap name them):
//! - 1 Ethernet (802.1Q / 802.1ad / QinQ tags, 802.3 + LLC/SNAP, PPPoE session, MPLS)
//! - 113 Linux cooked capture (SLL) and 276 SLL2
//! - 0 NULL (BSD loopback; the 4-byte family is in the capturing host's byte order, so
//!   both orders are accepted; AF_INET6 is 24, 28 or 30 depending on the BSD) and 108 LOOP
//!   (family in network order)
//! - 101 RAW (also its platform aliases 12 and 14), 228 IPv4, 229 IPv6
//! - 239 NFLOG (TLVs in host byte order; the NFULA_PAYLOAD TLV, type 9, holds the packet)
//! - 10 FDDI (LLC/SNAP) and 9/50 PPP

/// An IP packet inside a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3<'a> {
    V4(&'a [u8]),
    V6(&'a [u8]),
}

/// What the link layer held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome<'a> {
    Ip(L3<'a>),
    /// A valid frame that does not carry IP (ARP, LLDP, ...).
    NotIp,
    /// The frame is shorter than its link header.
    Truncated,
    /// The link type is not supported.
    Unsupported,
}

/// Most VLAN / MPLS labels followed before giving up.
const MAX_TAGS: usize = 8;

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The payload named by an ethertype (as tunnels such as Geneve carry them): 0x6558
/// (Transparent Ethernet Bridging) is a whole Ethernet frame, the rest as in a frame.
pub fn ethertype_payload(et: u16, rest: &[u8]) -> LinkOutcome<'_> {
    match et {
        0x6558 => ethernet(rest),
        _ => ethertype(et, rest, 0),
    }
}

pub fn decode(linktype: u32, data: &[u8]) -> LinkOutcome<'_> {
    match linktype {
        1 => ethernet(data),
        113 => {
            if data.len() < 16 {
                return LinkOutcome::Truncated;
            }
            ethertype(be16(data, 14), &data[16..], 0)
        }
        276 => {
            if data.len() < 20 {
                return LinkOutcome::Truncated;
            }
            ethertype(be16(data, 0), &data[20..], 0)
        }
        0 => {
            if data.len() < 4 {
                return LinkOutcome::Truncated;
            }
            let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let family = if matches!(le, 2 | 24 | 28 | 30) { le } else { le.swap_bytes() };
            bsd_family(family, &data[4..])
        }
        108 => {
            if data.len() < 4 {
                return LinkOutcome::Truncated;
            }
            bsd_family(u32::from_be_bytes([data[0], data[1], data[2], data[3]]), &data[4..])
        }
        101 | 12 | 14 => by_version(data),
        228 => LinkOutcome::Ip(L3::V4(data)),
        229 => LinkOutcome::Ip(L3::V6(data)),
        239 => nflog(data),
        10 => {
            // frame control (1), destination (6), source (6), then 802.2 LLC.
            if data.len() < 13 {
                return LinkOutcome::Truncated;
            }
            llc(&data[13..], 0)
        }
        9 | 50 => ppp(data),
        _ => LinkOutcome::Unsupported,
    }
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn by_version(data: &[u8]) -> LinkOutcome<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4) => LinkOutcome::Ip(L3::V4(data)),
        Some(6) => LinkOutcome::Ip(L3::V6(data)),
        Some(_) => LinkOutcome::NotIp,
        None => LinkOutcome::Truncated,
    }
}

fn bsd_family(family: u32, rest: &[u8]) -> LinkOutcome<'_> {
    match family {
        2 => LinkOutcome::Ip(L3::V4(rest)),
        24 | 28 | 30 => LinkOutcome::Ip(L3::V6(rest)),
        _ => LinkOutcome::NotIp,
    }
}

fn ethernet(data: &[u8]) -> LinkOutcome<'_> {
    if data.len() < 14 {
        return LinkOutcome::Truncated;
    }
    let et = be16(data, 12);
    if et < 0x0600 {
        // 802.3 length field: LLC follows.
        return llc(&data[14..], 0);
    }
    ethertype(et, &data[14..], 0)
}

/// 802.2 LLC; only SNAP (AA AA 03, OUI, ethertype) carries IP in practice.
fn llc(data: &[u8], depth: usize) -> LinkOutcome<'_> {
    if data.len() < 3 {
        return LinkOutcome::Truncated;
    }
    if data[0] == 0xAA && data[1] == 0xAA && data[2] == 0x03 {
        if data.len() < 8 {
            return LinkOutcome::Truncated;
        }
        return ethertype(be16(data, 6), &data[8..], depth);
    }
    LinkOutcome::NotIp
}

fn ethertype(et: u16, rest: &[u8], depth: usize) -> LinkOutcome<'_> {
    if depth > MAX_TAGS {
        return LinkOutcome::NotIp;
    }
    match et {
        0x0800 => LinkOutcome::Ip(L3::V4(rest)),
        0x86DD => LinkOutcome::Ip(L3::V6(rest)),
        // 802.1Q, 802.1ad, and the pre-standard QinQ values.
        0x8100 | 0x88A8 | 0x9100 | 0x9200 => {
            if rest.len() < 4 {
                return LinkOutcome::Truncated;
            }
            ethertype(be16(rest, 2), &rest[4..], depth + 1)
        }
        // PPPoE session: 6-byte header, then the PPP protocol number.
        0x8864 => {
            if rest.len() < 8 {
                return LinkOutcome::Truncated;
            }
            ppp_proto(be16(rest, 6), &rest[8..])
        }
        // MPLS unicast / multicast: pop labels to the bottom of the stack, then guess.
        0x8847 | 0x8848 => {
            let mut r = rest;
            for _ in 0..MAX_TAGS {
                if r.len() < 4 {
                    return LinkOutcome::Truncated;
                }
                let bottom = r[2] & 1 == 1;
                r = &r[4..];
                if bottom {
                    return by_version(r);
                }
            }
            LinkOutcome::NotIp
        }
        _ => LinkOutcome::NotIp,
    }
}

fn ppp(data: &[u8]) -> LinkOutcome<'_> {
    let d = if data.len() >= 2 && data[0] == 0xFF && data[1] == 0x03 { &data[2..] } else { data };
    if d.len() < 2 {
        return LinkOutcome::Truncated;
    }
    ppp_proto(be16(d, 0), &d[2..])
}

fn ppp_proto(proto: u16, rest: &[u8]) -> LinkOutcome<'_> {
    match proto {
        0x0021 => LinkOutcome::Ip(L3::V4(rest)),
        0x0057 => LinkOutcome::Ip(L3::V6(rest)),
        _ => LinkOutcome::NotIp,
    }
}

/// NFLOG: 4-byte header (family, version, resource id), then TLVs whose length and type
/// are in the capturing host's byte order. Little-endian is tried first, then big-endian.
fn nflog(data: &[u8]) -> LinkOutcome<'_> {
    if data.len() < 4 {
        return LinkOutcome::Truncated;
    }
    let family = data[0];
    for big in [false, true] {
        if let Some(payload) = nflog_payload(&data[4..], big) {
            return match family {
                2 => LinkOutcome::Ip(L3::V4(payload)),
                10 => LinkOutcome::Ip(L3::V6(payload)),
                _ => by_version(payload),
            };
        }
    }
    LinkOutcome::Truncated
}

fn nflog_payload(mut tlvs: &[u8], big: bool) -> Option<&[u8]> {
    const NFULA_PAYLOAD: u16 = 9;
    while tlvs.len() >= 4 {
        let rd = |a: u8, b: u8| {
            if big {
                u16::from_be_bytes([a, b])
            } else {
                u16::from_le_bytes([a, b])
            }
        };
        let len = rd(tlvs[0], tlvs[1]) as usize;
        let ty = rd(tlvs[2], tlvs[3]) & 0x7FFF;
        if len < 4 || len > tlvs.len() {
            return None;
        }
        if ty == NFULA_PAYLOAD {
            return Some(&tlvs[4..len]);
        }
        let padded = (len + 3) & !3;
        tlvs = tlvs.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: [u8; 2] = [0x45, 0];

    #[test]
    fn ethernet_vlan_qinq() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xA8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00]);
        f.extend_from_slice(&V4);
        assert_eq!(decode(1, &f), LinkOutcome::Ip(L3::V4(&V4)));
        assert_eq!(decode(1, &f[..15]), LinkOutcome::Truncated);
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 0]);
        assert_eq!(decode(1, &arp), LinkOutcome::NotIp);
    }

    #[test]
    fn null_both_orders_and_v6_families() {
        for fam in [[2u8, 0, 0, 0], [0, 0, 0, 2]] {
            let f = [&fam[..], &V4].concat();
            assert_eq!(decode(0, &f), LinkOutcome::Ip(L3::V4(&V4)));
        }
        for v in [24u32, 28, 30] {
            let le = [&v.to_le_bytes()[..], &[0x60]].concat();
            let be = [&v.to_be_bytes()[..], &[0x60]].concat();
            assert_eq!(decode(0, &le), LinkOutcome::Ip(L3::V6(&[0x60])));
            assert_eq!(decode(0, &be), LinkOutcome::Ip(L3::V6(&[0x60])));
        }
    }

    #[test]
    fn nflog_finds_payload_tlv() {
        let mut f = vec![2, 0, 0, 0];
        f.extend_from_slice(&[5, 0, 1, 0, 0xAA, 0, 0, 0]); // 5-byte TLV padded to 8
        f.extend_from_slice(&[6, 0, 9, 0, 0x45, 0]);
        assert_eq!(decode(239, &f), LinkOutcome::Ip(L3::V4(&V4)));
        assert_eq!(decode(239, &f[..6]), LinkOutcome::Truncated);
    }

    #[test]
    fn sll_sll2_raw() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xDD, 0x60]);
        assert_eq!(decode(113, &sll), LinkOutcome::Ip(L3::V6(&[0x60])));
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&V4);
        assert_eq!(decode(276, &sll2), LinkOutcome::Ip(L3::V4(&V4)));
        assert_eq!(decode(101, &V4), LinkOutcome::Ip(L3::V4(&V4)));
        assert_eq!(decode(147, &V4), LinkOutcome::Unsupported);
    }
}
