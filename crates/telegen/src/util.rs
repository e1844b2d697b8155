//! Small helpers shared by several stages.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn unix_now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `bpf_ktime_get_ns` uses.
pub fn monotonic_now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Offset to add to a monotonic kernel timestamp to get Unix-epoch nanoseconds.
pub fn mono_to_unix_offset_ns() -> i128 {
    unix_now_ns() as i128 - monotonic_now_ns() as i128
}

/// True when the current process runs as root (euid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A hash map with a fast, randomly seeded hasher (foldhash): for the per-event lookups
/// (connection ids, flows, label sets), where SipHash showed up in profiles. The random
/// seed keeps keys that come off the network (addresses, paths) from being chosen to
/// collide.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
