//! Free loopback ports for the servers the tests start.

#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// A free loopback port (bound and released; racy but fine on a test machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A listener on a free loopback port below the ephemeral range, so that the server side
/// is also the lower port; kept bound so that nothing else can take the port. Tests run
/// in parallel: each call starts its search at another place.
pub fn low_listener() -> TcpListener {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let k = NEXT.fetch_add(1, Ordering::Relaxed);
    let start = std::process::id().wrapping_mul(7919).wrapping_add(k.wrapping_mul(997)) % 9000;
    (0..9000u32)
        .find_map(|i| TcpListener::bind(("127.0.0.1", 20000 + ((start + i) % 9000) as u16)).ok())
        .expect("a free port in 20000..29000")
}

/// The port of a [`low_listener`], released again (for a server in another process).
pub fn low_free_port() -> u16 {
    low_listener().local_addr().unwrap().port()
}
