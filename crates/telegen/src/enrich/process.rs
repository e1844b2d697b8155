//! Process attributes (OpenTelemetry `process.*`) of the process that owns a socket.

use crate::model::{Attributes, ProcessInfo};

/// `process.pid`, `process.executable.name`, `process.command` and, when known,
/// `process.executable.path`.
pub fn put(a: &mut Attributes, p: &ProcessInfo) {
    a.put("process.pid", p.pid);
    a.put("process.executable.name", p.exe_name().to_string());
    a.put("process.command", p.comm.clone());
    a.put_opt("process.executable.path", p.exe.clone());
}
