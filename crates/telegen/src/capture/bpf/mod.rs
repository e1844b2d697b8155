//! What both captures (and the kernel probe) use to run a kernel object, apart from
//! either capture:
//!
//! - [`loader`]: object loading settings shared by both objects (kernel BTF, mounts,
//!   admission: port filters and sampling) and per-hook attach, tp_btf with a classic
//!   tracepoint fallback; the hook report ([`loader::HookReport`]).
//! - [`programs`]: a running capture's object, per-CPU counters and reader task.
//! - [`ringbuf`]: the ring-buffer consumer and the reader loop.
//! - [`channel`]: the bounded, batched event channel from a reader task to its consumer.
//! - [`abi`]: what both sections of bpf/telegen.h share (address families, roles, comm,
//!   record reading, layout asserts); each capture mirrors its own section beside it.

pub mod abi;
pub mod channel;
pub mod loader;
pub mod programs;
pub mod ringbuf;
