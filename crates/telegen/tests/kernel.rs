//! The capture against the real kernel, without the agent binary: connection events
//! (`tcp_capture`), socket payloads (`payload_capture`) and the in-kernel HTTP/2 frame
//! walk (`payload_h2`), and the kernel probe behind `telegen check` (`check`).
//!
//! Needs root (the tests load BPF programs and create network namespaces); fails loudly
//! without it. Tests of different modules never run at the same time
//! (`common::root::root_test`).

mod common;

#[path = "kernel/check.rs"]
mod check;
#[path = "kernel/payload_capture.rs"]
mod payload_capture;
#[path = "kernel/payload_h2.rs"]
mod payload_h2;
#[path = "kernel/tcp_capture.rs"]
mod tcp_capture;
