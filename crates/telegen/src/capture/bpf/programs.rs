//! A loaded kernel object while a capture runs, shared by
//! [`crate::capture::tcp::TcpCapture`] and [`crate::capture::payload::PayloadCapture`]:
//! the object (programs, links, maps), its per-CPU counter array and the reader task.
//!
//! Nothing is pinned: [`Running::shutdown`] (also run on drop) stops the reader, then
//! closes the counters and the object, which detaches every program and frees every map.

use std::sync::Mutex;

use aya::maps::{Map, MapData, MapError, PerCpuArray};
use aya::Ebpf;
use tokio::task::JoinHandle;
use tracing::debug;

use super::loader::{HookReport, LoadError};

/// Takes map `name` out of the object as a typed map (ring buffer, counter array...).
pub fn take_map<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, LoadError>
where
    T: TryFrom<Map, Error = MapError>,
{
    let map = ebpf.take_map(name).ok_or(LoadError::Map { name, source: None })?;
    T::try_from(map).map_err(|e| LoadError::Map { name, source: Some(e) })
}

/// Takes map `name` out of the object untyped (the ring buffers, read by
/// [`super::ringbuf::RingReader`]).
pub fn take_raw_map(ebpf: &mut Ebpf, name: &'static str) -> Result<Map, LoadError> {
    ebpf.take_map(name).ok_or(LoadError::Map { name, source: None })
}

/// Logs every hook's attach result (debug: the start-up summary shows them).
pub fn log_hooks(capture: &'static str, hooks: &[HookReport]) {
    for h in hooks {
        debug!(hook = h.hook, feature = h.feature, status = ?h.status, "{capture} capture hook");
    }
}

/// A running capture's kernel side and reader task.
pub struct Running {
    /// "tcp" or "payload", for logs.
    capture: &'static str,
    ebpf: Mutex<Option<Ebpf>>,
    counters: Mutex<Option<PerCpuArray<MapData, u64>>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    pub fn new(
        capture: &'static str,
        ebpf: Ebpf,
        counters: PerCpuArray<MapData, u64>,
        task: JoinHandle<()>,
    ) -> Self {
        Running {
            capture,
            ebpf: Mutex::new(Some(ebpf)),
            counters: Mutex::new(Some(counters)),
            task: Some(task),
        }
    }

    /// Kernel ids of the loaded programs (bpftool checks, bpf_stats); empty after
    /// shutdown.
    pub fn program_ids(&self) -> Vec<u32> {
        let guard = self.ebpf.lock().unwrap_or_else(|p| p.into_inner());
        let Some(ebpf) = guard.as_ref() else { return Vec::new() };
        ebpf.programs().filter_map(|(_, p)| p.info().ok()).map(|i| i.id()).collect()
    }

    /// The first `N` kernel counters, each summed over the CPUs (zeros after shutdown
    /// or for an index the kernel refuses).
    pub fn counters<const N: usize>(&self) -> [u64; N] {
        let mut k = [0u64; N];
        if let Some(c) = self.counters.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            for (i, slot) in k.iter_mut().enumerate() {
                if let Ok(v) = c.get(&(i as u32), 0) {
                    *slot = v.iter().sum();
                }
            }
        }
        k
    }

    /// Stops the reader and detaches every program, closing every map (idempotent).
    pub fn shutdown(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.counters.lock().unwrap_or_else(|p| p.into_inner()).take();
        if self.ebpf.lock().unwrap_or_else(|p| p.into_inner()).take().is_some() {
            debug!("{} capture detached", self.capture);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}
