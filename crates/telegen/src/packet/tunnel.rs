//! tunnel: UDP overlay decapsulation, so the packets inside a tunnel become their own
//! flows instead of one opaque UDP flow between the tunnel endpoints.
//!
//! - VXLAN (RFC 7348), UDP destination port 4789: 8-byte header (flags with the I bit
//!   0x08 set, 24 reserved bits, 24-bit VNI, 8 reserved bits), then an Ethernet frame.
//! - Geneve (RFC 8926), UDP destination port 6081: 8-byte base header (version 0 in the
//!   top two bits, option length in 4-byte words in the low six, flags, 16-bit protocol
//!   type, VNI), then the options, then the payload named by the protocol type (an
//!   ethertype; 0x6558 Transparent Ethernet Bridging = an Ethernet frame).
//!
//! Only the destination port decides (as Wireshark and the RFCs do: the source port is an
//! entropy hash). A datagram on a tunnel port whose header is not valid is left as an
//! ordinary UDP datagram and counted. The nesting depth is bounded by the caller
//! ([`TunnelConfig::max_depth`]).

use super::link::{self, LinkOutcome};

/// Which UDP ports carry which tunnel, and how deep tunnels are unwrapped.
#[derive(Debug, Clone)]
pub struct TunnelConfig {
    /// Tunnels unwrapped inside one packet (0 disables decapsulation). A tunnel deeper
    /// than this stays an ordinary UDP datagram (counted in `tunnel_depth_exceeded`).
    pub max_depth: usize,
    /// UDP destination ports decoded as VXLAN.
    pub vxlan_ports: Vec<u16>,
    /// UDP destination ports decoded as Geneve.
    pub geneve_ports: Vec<u16>,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig { max_depth: 2, vxlan_ports: vec![4789], geneve_ports: vec![6081] }
    }
}

/// The tunnel protocol of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Vxlan,
    Geneve,
}

impl TunnelConfig {
    /// The tunnel a datagram to `dst_port` would carry, if any.
    pub fn kind(&self, dst_port: u16) -> Option<Kind> {
        if self.vxlan_ports.contains(&dst_port) {
            Some(Kind::Vxlan)
        } else if self.geneve_ports.contains(&dst_port) {
            Some(Kind::Geneve)
        } else {
            None
        }
    }
}

/// Why a tunnel header was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelError {
    /// Shorter than the tunnel header (with its options).
    Truncated,
    /// Not a valid header: VXLAN without the I flag, Geneve of an unknown version.
    Invalid,
}

/// Strips the tunnel header of `payload` (a UDP payload) and decodes the inner frame down
/// to its IP packet. Inner non-IP frames come back as [`LinkOutcome::NotIp`].
pub fn decapsulate(kind: Kind, payload: &[u8]) -> Result<LinkOutcome<'_>, TunnelError> {
    match kind {
        Kind::Vxlan => {
            if payload.len() < 8 {
                return Err(TunnelError::Truncated);
            }
            if payload[0] & 0x08 == 0 {
                return Err(TunnelError::Invalid);
            }
            Ok(link::decode(link::LINKTYPE_ETHERNET, &payload[8..]))
        }
        Kind::Geneve => {
            if payload.len() < 8 {
                return Err(TunnelError::Truncated);
            }
            if payload[0] >> 6 != 0 {
                return Err(TunnelError::Invalid);
            }
            let hlen = 8 + (payload[0] & 0x3F) as usize * 4;
            if payload.len() < hlen {
                return Err(TunnelError::Truncated);
            }
            let proto = u16::from_be_bytes([payload[2], payload[3]]);
            Ok(link::ethertype_payload(proto, &payload[hlen..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::link::L3;

    const V4: [u8; 2] = [0x45, 0];

    fn eth_v4() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&V4);
        f
    }

    #[test]
    fn vxlan_header_rules() {
        let mut p = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        p.extend_from_slice(&eth_v4());
        assert_eq!(decapsulate(Kind::Vxlan, &p), Ok(LinkOutcome::Ip(L3::V4(&V4))));
        assert_eq!(decapsulate(Kind::Vxlan, &p[..7]), Err(TunnelError::Truncated));
        assert_eq!(decapsulate(Kind::Vxlan, &p[..10]), Ok(LinkOutcome::Truncated));
        p[0] = 0;
        assert_eq!(decapsulate(Kind::Vxlan, &p), Err(TunnelError::Invalid));
    }

    #[test]
    fn geneve_options_and_protocol_types() {
        // two words of options, Ethernet inside
        let mut p = vec![0x02, 0, 0x65, 0x58, 0, 0x10, 0x92, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        p.extend_from_slice(&eth_v4());
        assert_eq!(decapsulate(Kind::Geneve, &p), Ok(LinkOutcome::Ip(L3::V4(&V4))));
        assert_eq!(decapsulate(Kind::Geneve, &p[..12]), Err(TunnelError::Truncated));
        // no options, IPv4 directly
        let q = [0x00, 0, 0x08, 0x00, 0, 0, 1, 0, 0x45, 0];
        assert_eq!(decapsulate(Kind::Geneve, &q), Ok(LinkOutcome::Ip(L3::V4(&V4))));
        // version 1 is not Geneve as we know it; an unknown protocol is not IP
        assert_eq!(
            decapsulate(Kind::Geneve, &[0x40, 0, 8, 0, 0, 0, 0, 0]),
            Err(TunnelError::Invalid)
        );
        assert_eq!(
            decapsulate(Kind::Geneve, &[0, 0, 0x88, 0xCC, 0, 0, 0, 0]),
            Ok(LinkOutcome::NotIp)
        );
    }

    #[test]
    fn ports_decide() {
        let c = TunnelConfig::default();
        assert_eq!(c.kind(4789), Some(Kind::Vxlan));
        assert_eq!(c.kind(6081), Some(Kind::Geneve));
        assert_eq!(c.kind(53), None);
    }
}
