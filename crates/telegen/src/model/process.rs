//! Who owns a socket: the local process, attached to connection events and streams.

use serde::Serialize;

/// The process that owns a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub pid: u32,
    /// The kernel's 16-byte task name.
    pub comm: String,
    /// `/proc/<pid>/exe` when it could be read.
    pub exe: Option<String>,
}

impl ProcessInfo {
    /// The executable's file name (`/usr/bin/dig` -> `dig`), else the task name. The task
    /// name alone can be a thread's name (`isc-net-0000`), so the path wins.
    pub fn exe_name(&self) -> &str {
        self.exe
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .map(|n| n.strip_suffix(" (deleted)").unwrap_or(n))
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.comm)
    }
}
