//! capture: loads the kernel programs (bpf/*.bpf.c, committed objects in bpf/obj/) with
//! aya, attaches them, reads their ring buffers and turns raw events into typed ones.
//!
//! Owned by the capture work. The seam to the rest of the agent is [`ConnEvent`] (TCP
//! connection facts) and, later, payload chunks that become [`crate::stream::StreamEvent`].

pub mod event;

pub use event::{ConnError, ConnEvent, ConnEventKind, ConnRole, ProcessInfo};
