//! Configuration, without root or network: YAML parsing and validation with key paths and
//! lines (`parse`), the general and eBPF keys merged into the effective settings
//! (`merge`), the OTEL_* environment over the file (`env`), and the command line's errors
//! and help (`cli`).

#[path = "config/cli.rs"]
mod cli;
#[path = "config/env.rs"]
mod env;
#[path = "config/merge.rs"]
mod merge;
#[path = "config/parse.rs"]
mod parse;
