//! What both sections of bpf/telegen.h (the kernel/user event ABI) share, mirrored for
//! both captures: address families, `enum tg_role`, the comm field, decoding address
//! fields, reading one record, and the compile-time layout check of a `#[repr(C)]`
//! mirror.
//!
//! The sections themselves are mirrored beside their capture: the connection section in
//! [`crate::capture::tcp::abi`], the payload section in [`crate::capture::payload::abi`];
//! both re-export the constants defined here. Change telegen.h and the mirrors together.

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `TG_AF_INET` / `TG_AF_INET6`.
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
/// `TG_COMM_LEN`.
pub const COMM_LEN: usize = 16;

/// `enum tg_role` (connection events and payload events).
pub mod role {
    pub const UNKNOWN: u8 = 0;
    pub const CLIENT: u8 = 1;
    pub const SERVER: u8 = 2;
}

/// Compile-time layout check of a `#[repr(C)]` mirror: `assert_layout!(T, size, field =
/// offset, ...)`.
macro_rules! assert_layout {
    ($t:ty, $size:expr, $($field:ident = $off:expr),* $(,)?) => {
        const _: () = {
            assert!(::std::mem::size_of::<$t>() == $size);
            $(assert!(::std::mem::offset_of!($t, $field) == $off);)*
        };
    };
}
pub(crate) use assert_layout;

/// Reads one `T` from the start of a ring-buffer (or iterator) record; None when the
/// record is too short.
pub fn read_record<T: aya::Pod>(buf: &[u8]) -> Option<T> {
    if buf.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: length checked; T is POD, so any bytes are a valid value; read_unaligned
    // copes with any alignment of the record.
    Some(unsafe { std::ptr::read_unaligned(buf.as_ptr() as *const T) })
}

/// A `char comm[TG_COMM_LEN]` field up to its NUL.
pub fn comm_to_string(comm: &[u8; COMM_LEN]) -> String {
    String::from_utf8_lossy(comm_bytes(comm)).into_owned()
}

/// A task name's bytes up to its first NUL.
pub fn comm_bytes(comm: &[u8; COMM_LEN]) -> &[u8] {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    &comm[..end]
}

/// A `__u8 addr[TG_ADDR_LEN]` field (network order; IPv4 in the first 4 bytes).
/// IPv4-mapped IPv6 addresses are returned as IPv4; None for an unknown family.
pub fn ip_addr(family: u16, b: &[u8; 16]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*b)).to_canonical()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_record_is_rejected() {
        assert_eq!(read_record::<u64>(&[0u8; 7]), None);
        assert_eq!(read_record::<u64>(&[1, 0, 0, 0, 0, 0, 0, 0, 9]), Some(1));
    }

    #[test]
    fn comm_stops_at_nul() {
        let mut c = [0u8; COMM_LEN];
        c[..4].copy_from_slice(b"curl");
        assert_eq!(comm_to_string(&c), "curl");
        assert_eq!(comm_to_string(&[b'a'; COMM_LEN]).len(), 16);
    }

    #[test]
    fn addresses_decode_and_mapped_v4_is_canonical() {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(ip_addr(AF_INET, &b), Some("10.0.0.1".parse().unwrap()));
        let mapped = Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0x0a00, 2]).octets();
        assert_eq!(ip_addr(AF_INET6, &mapped), Some("10.0.0.2".parse().unwrap()));
        let v6 = Ipv6Addr::LOCALHOST.octets();
        assert_eq!(ip_addr(AF_INET6, &v6), Some("::1".parse().unwrap()));
        assert_eq!(ip_addr(99, &b), None);
    }
}
