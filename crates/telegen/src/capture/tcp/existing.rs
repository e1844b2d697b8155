//! Connections that existed before the capture started: the `tg_iter_tcp` iterator
//! (iter/tcp) walks the TCP sockets of one network namespace, creates kernel state for
//! each established one (so its RTT, stats and close are tracked from then on) and
//! writes one `tg_conn_event` record (type EXISTING, with the socket inode) per socket.
//!
//! An iterator sees only the namespace of the thread that opens it, so it is opened once
//! per namespace from a short-lived thread that `setns`es into it. Namespaces come from
//! /proc/*/ns/net and /run/netns/* (named namespaces without a process).
//! Sockets missed here (namespace not found, iterator refused) are still picked up by
//! the kernel on their next tcp_probe (an EXISTING event without the start-up batch).

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use aya::programs::Iter;
use aya::{Btf, Ebpf};
use tracing::debug;

use super::abi::RawConnEvent;
use crate::capture::bpf::loader::chain;

/// Every network namespace: inode -> a path that opens it.
pub fn namespaces() -> HashMap<u64, PathBuf> {
    let mut out = HashMap::new();
    let mut add = |path: PathBuf| {
        if let Ok(md) = std::fs::metadata(&path) {
            out.entry(md.ino()).or_insert(path);
        }
    };
    add(PathBuf::from("/proc/self/ns/net"));
    if let Ok(rd) = std::fs::read_dir("/run/netns") {
        for e in rd.flatten() {
            add(e.path());
        }
    }
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if e.file_name().to_str().is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit())) {
                add(e.path().join("ns/net"));
            }
        }
    }
    out
}

/// Records found, and the namespaces that failed (inode, error).
pub type Enumerated = (Vec<RawConnEvent>, Vec<(u64, String)>);

/// Loads the iterator and runs it once per namespace. Returns the records and the
/// namespaces that failed (inode, error).
pub fn enumerate(ebpf: &mut Ebpf, btf: &Btf) -> Result<Enumerated, String> {
    let prog: &mut Iter = ebpf
        .program_mut("tg_iter_tcp")
        .ok_or("program tg_iter_tcp missing")?
        .try_into()
        .map_err(|e| chain(&e))?;
    prog.load("tcp", btf).map_err(|e| chain(&e))?;
    let mut records = Vec::new();
    let mut failed = Vec::new();
    for (ino, path) in namespaces() {
        let res = std::thread::scope(|s| {
            s.spawn(|| -> Result<Vec<u8>, String> {
                let f = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    // The namespace (or its last process) went away since it was listed.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(format!("{path:?}: {e}")),
                };
                // SAFETY: setns on a namespace fd we opened; affects only this thread,
                // which ends right after.
                if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(format!("setns {path:?}: {}", std::io::Error::last_os_error()));
                }
                let link_id = prog.attach().map_err(|e| chain(&e))?;
                let link = prog.take_link(link_id).map_err(|e| chain(&e))?;
                let mut file = link.into_file().map_err(|e| chain(&e))?;
                let mut buf = Vec::new();
                file.read_to_end(&mut buf).map_err(|e| e.to_string())?;
                Ok(buf)
            })
            .join()
            .unwrap_or_else(|_| Err("iterator thread panicked".into()))
        });
        match res {
            Ok(buf) => {
                let n = buf.len() / std::mem::size_of::<RawConnEvent>();
                debug!(netns = ino, sockets = n, "iter/tcp");
                records.extend(buf.chunks_exact(128).filter_map(RawConnEvent::from_bytes));
            }
            Err(e) => failed.push((ino, e)),
        }
    }
    let _ = prog.unload();
    Ok((records, failed))
}
