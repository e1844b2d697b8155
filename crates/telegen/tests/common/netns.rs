//! Network-namespace pairs for root tests: two named namespaces (`ip netns add`) joined
//! by a veth pair with IPv4 and IPv6 addresses, removed on drop (also when the test
//! panics). Names are unique per process and call, so tests can run in parallel.
//!
//! Code runs inside a namespace with [`NetnsPair::run_in`] (a thread that `setns`es
//! into it) or [`NetnsPair::exec`] (`ip netns exec` for tools such as `nft`).

#![allow(dead_code)]

use super::root::require_root;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Which end of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

pub struct NetnsPair {
    pub ns_a: String,
    pub ns_b: String,
    pub veth_a: String,
    pub veth_b: String,
    pub ip4_a: Ipv4Addr,
    pub ip4_b: Ipv4Addr,
    pub ip6_a: Ipv6Addr,
    pub ip6_b: Ipv6Addr,
    /// Namespace inodes (what the kernel programs report as netns).
    pub ino_a: u32,
    pub ino_b: u32,
}

fn run(args: &[&str]) {
    let out =
        Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetnsPair {
    /// Creates the pair. `tag` (a few letters) makes names readable in `ip netns list`.
    pub fn new(tag: &str) -> NetnsPair {
        require_root();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let id = format!("{:x}{}", pid % 0xfffff, n);
        let tag: String = tag.chars().take(3).collect();
        let (x, y) = (((pid >> 8) % 200 + 20) as u8, ((pid as u32 * 7 + n * 13) % 250 + 1) as u8);
        let mut p = NetnsPair {
            ns_a: format!("tg-{tag}-{id}-a"),
            ns_b: format!("tg-{tag}-{id}-b"),
            veth_a: format!("tg{id}a"),
            veth_b: format!("tg{id}b"),
            ip4_a: Ipv4Addr::new(10, x, y, 1),
            ip4_b: Ipv4Addr::new(10, x, y, 2),
            ip6_a: format!("fd00:7467:{x:x}:{y:x}::1").parse().unwrap(),
            ip6_b: format!("fd00:7467:{x:x}:{y:x}::2").parse().unwrap(),
            ino_a: 0,
            ino_b: 0,
        };
        assert!(p.veth_a.len() <= 15, "interface name too long: {}", p.veth_a);
        run(&["ip", "netns", "add", &p.ns_a]);
        // From here on Drop cleans up, even if a later step panics.
        run(&["ip", "netns", "add", &p.ns_b]);
        run(&[
            "ip", "link", "add", &p.veth_a, "netns", &p.ns_a, "type", "veth", "peer", "name",
            &p.veth_b, "netns", &p.ns_b,
        ]);
        for (ns, dev, ip4, ip6) in
            [(&p.ns_a, &p.veth_a, p.ip4_a, p.ip6_a), (&p.ns_b, &p.veth_b, p.ip4_b, p.ip6_b)]
        {
            run(&["ip", "-n", ns, "addr", "add", &format!("{ip4}/24"), "dev", dev]);
            run(&["ip", "-n", ns, "addr", "add", &format!("{ip6}/64"), "dev", dev, "nodad"]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        p.ino_a = std::fs::metadata(format!("/run/netns/{}", p.ns_a)).unwrap().ino() as u32;
        p.ino_b = std::fs::metadata(format!("/run/netns/{}", p.ns_b)).unwrap().ino() as u32;
        p
    }

    pub fn name(&self, side: Side) -> &str {
        match side {
            Side::A => &self.ns_a,
            Side::B => &self.ns_b,
        }
    }

    pub fn ip4(&self, side: Side) -> IpAddr {
        IpAddr::V4(if side == Side::A { self.ip4_a } else { self.ip4_b })
    }

    pub fn ip6(&self, side: Side) -> IpAddr {
        IpAddr::V6(if side == Side::A { self.ip6_a } else { self.ip6_b })
    }

    pub fn ino(&self, side: Side) -> u32 {
        if side == Side::A {
            self.ino_a
        } else {
            self.ino_b
        }
    }

    /// Runs `f` on a new thread inside the namespace; returns its join handle.
    pub fn spawn_in<F, R>(&self, side: Side, f: F) -> std::thread::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.name(side));
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
    }

    /// Runs `f` inside the namespace and waits for it.
    pub fn run_in<F, R>(&self, side: Side, f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_in(side, f).join().expect("thread inside the namespace panicked")
    }

    /// `ip netns exec <ns> args...`, asserting success.
    pub fn exec(&self, side: Side, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", self.name(side)];
        full.extend_from_slice(args);
        run(&full);
    }
}

/// Moves the calling thread into the namespace at `path`.
pub fn enter(path: &str) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: setns with a namespace fd we own; only the calling thread changes.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
