//! The incremental parse contract shared by every protocol parser, in the manner of
//! httparse: `Complete(n)` = one unit parsed, `n` bytes consumed; `Partial` = not enough
//! bytes yet (not an error); `Error` = the bytes cannot be this protocol here.

use thiserror::Error;

/// Result of one incremental parse step. `#[must_use]`: dropping a result (the Suricata
/// gap-branch bug) is a compile-time warning.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// One unit (message head, chunk line, frame...) parsed; this many bytes consumed.
    Complete(usize),
    /// More bytes are needed; nothing was consumed.
    Partial,
    /// The bytes are malformed for this parser.
    Error(ParseError),
}

/// Why a parser rejected its input. Small and `Copy`: no allocation on the error path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("malformed message head")]
    BadHead,
    #[error("too many headers (more than {max})")]
    TooManyHeaders { max: usize },
    #[error("invalid Content-Length")]
    BadContentLength,
    #[error("invalid chunk size line")]
    BadChunk,
    #[error("message shorter than its header claims")]
    Truncated,
    #[error("DNS name invalid (pointer loop, bad label or longer than 255 bytes)")]
    BadName,
    #[error("length field out of bounds")]
    BadLength,
    #[error("implausible header values")]
    Implausible,
}
