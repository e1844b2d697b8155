//! capture: loads the kernel programs (bpf/*.bpf.c, committed objects in bpf/obj/) with
//! aya, attaches them, reads their ring buffers and turns raw events into typed ones.
//!
//! Its outputs are seam types of [`crate::model`]: [`crate::model::ConnEvent`] (TCP
//! connection facts) and [`crate::model::StreamEvent`] (socket payload chunks).
//!
//! The two captures have the same shape: `mod.rs` is the public API (start, hook report,
//! stats, shutdown), `kernel.rs` loads and attaches their object, `abi.rs` mirrors their
//! section of bpf/telegen.h, `decode.rs` turns raw records into seam types.
//!
//! - [`tcp`]: [`TcpCapture`], TCP connection capture (bpf/conn.bpf.c); also the
//!   connections open before start ([`tcp::existing`], iter/tcp).
//! - [`payload`]: [`PayloadCapture`], socket payload capture (bpf/payload.bpf.c).
//! - [`bpf`]: what both use: object loading and per-hook attach, the running object,
//!   the ring-buffer reader, the event channel, the ABI parts both sections share.
//! - [`process`]: process attribution both decoders use (bounded cache of pid -> comm and
//!   executable, socket inode -> pid).
//! - [`check`]: what this kernel allows, for `telegen check` (loads bpf/probe.bpf.c's
//!   test programs one hook type at a time).

#[cfg(test)]
mod abi_check;
pub mod bpf;
pub mod check;
pub mod payload;
pub mod process;
pub mod tcp;

pub use bpf::channel::EventRx;
pub use bpf::loader::{HookReport, HookStatus};
pub use payload::{PayloadCapture, PayloadCaptureOptions, PayloadError, PayloadStats};
pub use tcp::{TcpCapture, TcpCaptureError, TcpCaptureOptions, TcpCaptureStats};
