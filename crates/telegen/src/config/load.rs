//! Loading: YAML text -> [`Config`] with serde-saphyr, then validation; every problem is
//! reported with its key path and file position.
//!
//! Type errors come from serde-saphyr with a line and column; the key path is found by
//! looking the position up in a [`KeyIndex`] of the same text. Validation errors come
//! with a key path; the position is looked up the other way.

use super::error::{ConfigError, Problem};
use super::keys::{KeyIndex, Pos};
use super::model::Config;
use std::path::Path;

impl Config {
    /// Parse and validate a configuration. `origin` names the text in messages (usually
    /// the file name). An empty document gives the defaults.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let index = KeyIndex::build(text).map_err(|e| syntax_error(&e, origin))?;
        let config: Config = match serde_saphyr::from_str::<Option<Config>>(text) {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => return Err(type_error(&e, origin, &index)),
        };
        let problems: Vec<Problem> = config
            .violations()
            .into_iter()
            .map(|v| {
                let pos = position_for(&index, &v.path);
                Problem {
                    origin: origin.to_string(),
                    line: pos.map(|p| p.line),
                    column: pos.map(|p| p.column),
                    path: v.path,
                    message: v.message,
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    /// Read, parse and validate a configuration file. Environment variables are not
    /// applied (see [`Config::apply_env`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { origin: origin.clone(), source })?;
        Config::from_yaml_str(&text, &origin)
    }

    /// What `telegen run` uses: the file (or the defaults when `path` is `None`), then the
    /// OTEL_* variables from `env`, then validation again (values from the environment
    /// have no file position).
    pub fn resolve(
        path: Option<&Path>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }
}

/// `telegen config check FILE`: load and validate the file alone (no environment), and
/// return the warnings to print.
pub fn check_file(path: impl AsRef<Path>) -> Result<Vec<String>, ConfigError> {
    Ok(Config::load(path)?.warnings())
}

/// The position for a violation's path; for an entry that is not written in the file
/// (a default), the nearest written ancestor (`a.b[2]` -> `a.b` -> `a`).
fn position_for(index: &KeyIndex, path: &str) -> Option<Pos> {
    let mut p = path;
    loop {
        if let Some(pos) = index.position_of(p) {
            return Some(pos);
        }
        let cut = p.rfind(['.', '['])?;
        p = &p[..cut];
    }
}

fn location(e: &serde_saphyr::Error) -> Option<Pos> {
    e.location().filter(|l| l.line() > 0).map(|l| Pos { line: l.line(), column: l.column() })
}

/// serde-saphyr's message without its snippet and its " at line L, column C" suffix.
fn bare_message(e: &serde_saphyr::Error, pos: Option<Pos>) -> String {
    let msg = e.without_snippet().to_string();
    let msg = match pos {
        Some(p) => {
            let suffix = format!(" at line {}, column {}", p.line, p.column);
            msg.strip_suffix(&suffix).map(str::to_string).unwrap_or(msg)
        }
        None => msg,
    };
    friendlier(&msg)
}

/// Rephrase the terse messages a configuration user would otherwise see.
fn friendlier(msg: &str) -> String {
    let range = |ty: &str| match ty {
        "u8" => Some("an integer in 0..=255"),
        "u16" => Some("an integer in 0..=65535"),
        "u32" => Some("an integer in 0..=4294967295"),
        "u64" | "usize" => Some("a non-negative integer"),
        "bool" => Some("true or false"),
        _ => None,
    };
    if let Some(ty) = msg.strip_prefix("invalid ") {
        if let Some(want) = range(ty) {
            return format!("expected {want}");
        }
    }
    match msg {
        "expected mapping start" => "expected a mapping of keys to values".into(),
        "expected sequence start" => "expected a list".into(),
        "invalid boolean" => "expected true or false".into(),
        _ => msg
            .replace("unknown field", "unknown key")
            .replace("unknown variant", "unknown value")
            .replace(", set DuplicateKeyPolicy in Options if acceptable", ""),
    }
}

fn syntax_error(e: &serde_saphyr::Error, origin: &str) -> ConfigError {
    let pos = location(e).unwrap_or(Pos { line: 1, column: 1 });
    ConfigError::Syntax {
        origin: origin.to_string(),
        line: pos.line,
        column: pos.column,
        message: bare_message(e, Some(pos)),
    }
}

fn type_error(e: &serde_saphyr::Error, origin: &str, index: &KeyIndex) -> ConfigError {
    let pos = location(e);
    let path = pos.and_then(|p| index.path_at(p)).unwrap_or("(top level)").to_string();
    ConfigError::Invalid {
        problems: vec![Problem {
            origin: origin.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            path,
            message: bare_message(e, pos),
        }],
    }
}
