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

/// The keys of the `n` entries with the smallest age stamp (least recently used), for
/// evicting a batch at once: one O(len) pass per `n` evictions instead of a full scan per
/// eviction, which is what keeps a full table cheap under a connection flood.
pub fn oldest_keys<'a, K: Copy + 'a, V: 'a>(
    entries: impl Iterator<Item = (&'a K, &'a V)>,
    age: impl Fn(&V) -> u64,
    n: usize,
) -> Vec<K> {
    let mut ages: Vec<(u64, K)> = entries.map(|(k, v)| (age(v), *k)).collect();
    let n = n.min(ages.len());
    if n == 0 {
        return Vec::new();
    }
    if n < ages.len() {
        ages.select_nth_unstable_by_key(n - 1, |(a, _)| *a);
    }
    ages.truncate(n);
    ages.into_iter().map(|(_, k)| k).collect()
}

/// Hands the heap's free pages back to the kernel. Loading the kernel objects parses the
/// kernel's BTF (about 15 MB of short-lived allocations); glibc keeps freed memory in its
/// arenas, where it would stay resident for the agent's whole life.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn oldest_keys_picks_the_least_recent() {
        let m: std::collections::HashMap<u32, u64> =
            [(1, 50), (2, 10), (3, 40), (4, 20), (5, 30)].into_iter().collect();
        let mut got = super::oldest_keys(m.iter(), |v| *v, 2);
        got.sort();
        assert_eq!(got, [2, 4]);
        assert_eq!(super::oldest_keys(m.iter(), |v| *v, 9).len(), 5);
        assert!(super::oldest_keys(m.iter(), |v| *v, 0).is_empty());
    }
}
