//! Helpers shared by the integration test binaries (each binary compiles all of them).

pub mod agent;
pub mod bpftool;
pub mod corpus;
pub mod netns;
pub mod nginx;
pub mod otlp;
pub mod ports;
pub mod prom;
pub mod py;
pub mod replay;
pub mod root;
