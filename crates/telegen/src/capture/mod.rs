//! capture: loads the kernel programs (bpf/*.bpf.c, committed objects in bpf/obj/) with
//! aya, attaches them, reads their ring buffers and turns raw events into typed ones.
//!
//! Owned by the capture work. The seam to the rest of the agent is [`ConnEvent`] (TCP
//! connection facts) and, later, payload chunks that become [`crate::stream::StreamEvent`].
//!
//! - [`tcp`]: [`TcpCapture`], the running TCP connection capture (public API).
//! - [`loader`]: object loading and per-hook attach with tp_btf -> tracepoint fallback.
//! - [`abi`]: `#[repr(C)]` mirror of bpf/telegen.h.
//! - [`existing`]: connections that existed before start (iter/tcp per namespace).
//! - [`process`]: process attribution helpers (bounded cache, socket inode -> pid).
//! - [`programs`]: a running capture's object, counters and reader task (both captures).
//! - [`ringbuf`]: the ring-buffer reader loop (both captures).
//! - [`channel`]: the bounded, batched event channel from a reader task to its consumer.
//! - [`payload`]: [`payload::PayloadCapture`], socket payload capture (public API).

pub mod abi;
#[cfg(test)]
mod abi_check;
pub mod channel;
pub mod event;
pub mod existing;
pub mod loader;
pub mod payload;
pub mod probe;
pub mod process;
pub mod programs;
pub mod ringbuf;
pub mod tcp;

pub use event::{ConnError, ConnEvent, ConnEventKind, ConnRole, ProcessInfo};
pub use loader::{HookReport, HookStatus};
pub use tcp::{CaptureError, CaptureStats, TcpCapture, TcpCaptureOptions};
