//! Configuration errors. Every problem names the full key path and, when it comes from a
//! file, the line and column: `config.yaml:12:5: agent.network.tcp.sample_rate: must be
//! >= 1 (got 0)`.

use std::fmt;

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File name (or the origin given to `from_yaml_str`); empty when not from a file.
    pub origin: String,
    /// 1-based line, when the key is in the file.
    pub line: Option<u64>,
    /// 1-based column, when the key is in the file.
    pub column: Option<u64>,
    /// Full key path, e.g. `agent.network.tcp.sample_rate` or `agent.network.include_ports[2]`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.origin.is_empty(), self.line, self.column) {
            (false, Some(l), Some(c)) => write!(f, "{}:{l}:{c}: ", self.origin)?,
            (false, Some(l), None) => write!(f, "{}:{l}: ", self.origin)?,
            (false, None, _) => write!(f, "{}: ", self.origin)?,
            (true, _, _) => {}
        }
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the configuration: {source}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// Not valid YAML at all.
    #[error("{origin}:{line}:{column}: YAML syntax error: {message}")]
    Syntax { origin: String, line: u64, column: u64, message: String },
    /// Unknown keys, wrong types, out-of-range values; one line per problem.
    #[error("{}", join_lines(problems))]
    Invalid { problems: Vec<Problem> },
    /// An environment variable has a value that cannot be used.
    #[error("{var}={value:?}: {message}")]
    Env { var: String, value: String, message: String },
}

impl ConfigError {
    /// The individual problems (empty for read, syntax and environment errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            _ => &[],
        }
    }

    /// The first problem's key path, if any.
    pub fn path(&self) -> Option<&str> {
        self.problems().first().map(|p| p.path.as_str())
    }

    /// The first problem's (or the syntax error's) line.
    pub fn line(&self) -> Option<u64> {
        match self {
            ConfigError::Syntax { line, .. } => Some(*line),
            _ => self.problems().first().and_then(|p| p.line),
        }
    }
}

fn join_lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(origin: &str, line: Option<u64>, column: Option<u64>) -> Problem {
        Problem {
            origin: origin.into(),
            line,
            column,
            path: "agent.network.tcp.sample_rate".into(),
            message: "must be >= 1 (got 0)".into(),
        }
    }

    #[test]
    fn display_forms() {
        let p = problem("config.yaml", Some(12), Some(5));
        assert_eq!(
            p.to_string(),
            "config.yaml:12:5: agent.network.tcp.sample_rate: must be >= 1 (got 0)"
        );
        let p = problem("config.yaml", None, None);
        assert_eq!(
            p.to_string(),
            "config.yaml: agent.network.tcp.sample_rate: must be >= 1 (got 0)"
        );
        let p = problem("", None, None);
        assert_eq!(p.to_string(), "agent.network.tcp.sample_rate: must be >= 1 (got 0)");
        let e = ConfigError::Invalid {
            problems: vec![
                problem("a.yaml", Some(1), Some(2)),
                problem("a.yaml", Some(3), Some(4)),
            ],
        };
        assert_eq!(e.to_string().lines().count(), 2);
        assert_eq!(e.line(), Some(1));
        assert_eq!(e.path(), Some("agent.network.tcp.sample_rate"));
    }
}
