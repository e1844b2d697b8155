//! Process attribution in user space: a bounded cache of [`ProcessInfo`] by (pid, comm)
//! with the executable path from `/proc/<pid>/exe`, and socket-inode -> pid lookup by
//! scanning /proc/*/fd (used for connections found at start-up, whose owner the kernel
//! cannot know).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::bpf::abi::COMM_LEN as COMM;
use crate::model::ProcessInfo;

/// Bounded cache of process facts. When full it is emptied (cheap, and the working set
/// refills it); the number of such resets is kept for statistics.
#[derive(Debug)]
pub struct ProcessCache {
    cap: usize,
    map: crate::util::FastMap<(u32, [u8; COMM]), Arc<ProcessInfo>>,
    pub resets: u64,
}

impl ProcessCache {
    pub fn new(cap: usize) -> Self {
        ProcessCache { cap: cap.max(1), map: Default::default(), resets: 0 }
    }

    /// The process `pid` (thread name `comm`, raw bytes as the kernel reports them, NUL
    /// padded or not); None for pid 0 (unknown owner). A hit allocates nothing.
    pub fn get(&mut self, pid: u32, comm: &[u8]) -> Option<Arc<ProcessInfo>> {
        if pid == 0 {
            return None;
        }
        let comm = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len()).min(COMM)];
        let mut raw = [0u8; COMM];
        raw[..comm.len()].copy_from_slice(comm);
        let key = (pid, raw);
        if let Some(p) = self.map.get(&key) {
            return Some(p.clone());
        }
        let comm = String::from_utf8_lossy(comm);
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let info = Arc::new(ProcessInfo { pid, comm: comm.into_owned(), exe });
        if self.map.len() >= self.cap {
            self.map.clear();
            self.resets += 1;
        }
        self.map.insert(key, info.clone());
        Some(info)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Owner pid of each wanted socket inode, from /proc/*/fd links `socket:[ino]`.
/// Stops early once every inode is found; inodes without an owner are absent.
pub fn socket_owners(wanted: &HashSet<u64>) -> HashMap<u64, u32> {
    let mut out = HashMap::new();
    if wanted.is_empty() {
        return out;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let t = target.to_string_lossy();
            if let Some(ino) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                if let Ok(ino) = ino.parse::<u64>() {
                    if wanted.contains(&ino) {
                        out.entry(ino).or_insert(pid);
                    }
                }
            }
        }
        if out.len() == wanted.len() {
            break;
        }
    }
    out
}

/// The command name of a process (`/proc/<pid>/comm`), for owners found by inode.
pub fn proc_comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_knows_self() {
        let mut c = ProcessCache::new(2);
        assert!(c.get(0, b"x").is_none());
        let me = std::process::id();
        let p = c.get(me, b"a\0\0\0").unwrap();
        assert_eq!(p.pid, me);
        assert_eq!(p.comm, "a");
        assert!(Arc::ptr_eq(&p, &c.get(me, b"a").unwrap()), "NUL padding is not part of the name");
        assert!(p.exe.as_deref().unwrap_or("").len() > 1, "own exe is readable");
        c.get(me, b"b");
        c.get(me, b"c");
        assert!(c.len() <= 2);
        assert_eq!(c.resets, 1);
    }

    #[test]
    fn finds_own_socket_inode() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).unwrap();
        let s = link.to_string_lossy();
        let ino: u64 = s["socket:[".len()..s.len() - 1].parse().unwrap();
        let owners = socket_owners(&HashSet::from([ino]));
        assert_eq!(owners.get(&ino), Some(&std::process::id()));
    }
}
