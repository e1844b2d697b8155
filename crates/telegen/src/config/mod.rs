//! config: the YAML configuration (top-level `agent:`), its defaults, validation, the
//! OTEL_* environment overrides and the effective settings that the rest of the agent
//! reads.
//!
//! - [`Config::from_yaml_str`] / [`Config::load`]: parse + validate; every problem names
//!   the key path and the file line and column (`config.yaml:12:5: agent.network.tcp.
//!   sample_rate: must be >= 1 (got 0)`).
//! - [`Config::apply_env`]: OTEL_* variables, which win over the file.
//! - [`Config::resolve`]: file (or defaults) + environment + validation, for `telegen run`.
//! - [`Config::warnings`]: keys set in both `agent.network` and `agent.ebpf.network`
//!   (the latter wins), sensitive headers that will not be captured.
//! - [`Config::effective`]: the merged view ([`Effective`]).
//! - [`default_yaml`] (`telegen config default`), [`check_file`] (`telegen config check`).
//!
//! Every key is documented in docs/configuration.md and in [`docs::KEY_DOCS`].

pub mod docs;
pub mod effective;
pub mod env;
pub mod error;
pub mod keys;
mod load;
pub mod model;
pub mod validate;

pub use docs::default_yaml;
pub use effective::*;
pub use error::{ConfigError, Problem};
pub use load::check_file;
pub use model::*;
