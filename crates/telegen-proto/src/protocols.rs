//! The protocols telegen parses: one line each, in probe order.
//!
//! From this list, `conn::protocols!` generates [`Protocol`] (with the probe order
//! [`Protocol::PROBE_ORDER`] and the metric label values [`Protocol::LABELS`]), the
//! dispatch enum [`Parser`] that the session drives, [`Limits`] (one field per
//! protocol plus detection's) and [`ProtocolStats`] (one field per protocol, inside
//! [`ParseStats`](crate::stats::ParseStats)). `session.rs` and `detect.rs` iterate these;
//! they name no protocol. What is HTTP-specific between two protocols (the h2c upgrade)
//! is a [`Switch`], below the list.
//!
//! # Adding a protocol
//!
//! For a protocol `foo` (records of a new kind; a protocol emitting an existing record
//! kind, as HTTP/2 emits [`HttpRecord`](crate::record::HttpRecord), skips step 4):
//!
//! 1. Create the folder `src/foo/` with `mod.rs` (module docs: what the protocol is,
//!    which RFCs, one line per submodule), and in it:
//!    - `pub struct Limits` (`Debug + Clone + Default`): every bound the parser keeps
//!      (buffer bytes per direction, requests in flight, timeouts), each field documented
//!      with its default;
//!    - `Stats`, declared with `crate::stats::counters!`: the protocol's own counters;
//!      a counter exported as `telegen_parse_errors_total{reason=...}` gets
//!      `=> "reason"`. Common outcomes (malformed, buffer full, gaps, expired, ...) are
//!      fields of [`ParseStats`](crate::stats::ParseStats) itself: use those;
//!    - `pub fn probe(dir: Direction, buf: &[u8], hints: Hints) -> Confidence`: `Certain`
//!      only on a signature that other protocols cannot produce, `Unsure` while more bytes
//!      could decide, else `NotForUs` (check `hints.transport` first);
//!    - the connection parser `FooConn`, implementing [`ProtocolConn`](crate::conn::ProtocolConn)
//!      with `type Limits = Limits`: `new`, `probe` (calling `probe` above), `on_data`,
//!      `on_gap`, `on_close`, `expire`, `pending`, and where they apply `expects_port`
//!      (server ports configured for the protocol, a detection hint), `find_start`
//!      (resync on bytes joined mid-stream), `expect_no_replies`, `take_switch`.
//!      Large parts go to submodules (framing, message parsing, matching).
//!    - unit tests in `src/foo/tests.rs` through `crate::testutil` (any-split runs).
//! 2. Add `pub mod foo;` to `lib.rs` (with a word in the crate docs' layout line).
//! 3. Add one line to the list below, at its place in probe order (more specific
//!    signatures first): `Foo = foo::FooConn, "foo";` where `"foo"` is the value of the
//!    `protocol` metric label.
//! 4. A new record kind: the record type goes in `src/foo/record.rs`; add a variant
//!    `Foo(FooRecord)` to [`Record`](crate::record::Record) (`record.rs`, re-exporting the
//!    type beside the others).
//! 5. Fuzzing: a target body `pub fn foo(data: &[u8])` in `fuzzing.rs` (small limits in
//!    `small_limits`, record bounds in `check_record`), a seed in `seeds`, a file
//!    `fuzz/fuzz_targets/foo.rs` with its `[[bin]]` in `fuzz/Cargo.toml`, and a test in
//!    `tests/fuzz_smoke.rs` and `tests/never_panics.rs`; a criterion bench
//!    `benches/foo.rs` (with its `[[bench]]` in `Cargo.toml`) when throughput matters.
//!
//! Steps 1 to 3 are the protocol (a folder plus one line, and `lib.rs`); step 4 only for
//! a new record kind; step 5 is its tests outside the folder. The agent then sets
//! `Limits::foo` from its configuration and maps the new [`Record`](crate::record::Record)
//! variant; its parse-error metrics follow from [`Protocol::LABELS`] and
//! [`ParseStats::reasons`](crate::stats::ParseStats::reasons) without a change.

use crate::conn::ProtocolConn;
use crate::record::{HttpRecord, Record};
use crate::stats::ParseStats;
use crate::{dns, http1, http2, Direction};

crate::conn::protocols! {
    Http1 = http1::Http1Conn, "http1";
    Dns = dns::DnsConn, "dns";
    /// HTTP/2 (prior knowledge, an h2c upgrade, or joined mid-connection) and gRPC.
    Http2 = http2::Http2Conn, "http2";
}

/// A connection leaving its protocol for another one that is parsed too, returned by
/// [`ProtocolConn::take_switch`](crate::conn::ProtocolConn::take_switch).
pub enum Switch {
    /// HTTP/1.1 `Upgrade: h2c` was accepted (RFC 7540 section 3.2): HTTP/2 takes over.
    H2c(Box<H2cHandover>),
}

/// What HTTP/1 hands HTTP/2 after an accepted `Upgrade: h2c`.
pub struct H2cHandover {
    /// The request that asked for the upgrade: it continues as HTTP/2 stream 1.
    pub request: Option<HttpRecord>,
    /// Bytes seen after the switch, by direction (bounded by `http1::Limits::max_buffer`).
    pub client: Vec<u8>,
    pub server: Vec<u8>,
}

impl Switch {
    /// The parser that takes over, already fed with the bytes seen after the switch.
    pub(crate) fn into_parser(
        self,
        limits: &Limits,
        ts_ns: u64,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    ) -> Parser {
        match self {
            Switch::H2c(h) => {
                let h = *h;
                let mut h2 = http2::Http2Conn::upgraded(&limits.http2, h.request);
                h2.on_data(Direction::ServerToClient, ts_ns, &h.server, stats, out);
                h2.on_data(Direction::ClientToServer, ts_ns, &h.client, stats, out);
                Parser::Http2(Box::new(h2))
            }
        }
    }
}
