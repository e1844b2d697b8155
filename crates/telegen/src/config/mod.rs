//! config: the YAML configuration (top-level `agent:`), its defaults, validation and the
//! effective settings that the rest of the agent reads.
//!
//! Both `agent.network.*` and `agent.ebpf.network.*` are accepted for the keys the
//! product documentation places under both; see [`model::Config::effective`].

pub mod model;

pub use model::*;
