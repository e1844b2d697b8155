//! The protocols telegen parses: one line each, in probe order.
//!
//! From this list, `conn::protocols!` generates [`Protocol`] (with the probe order
//! [`Protocol::PROBE_ORDER`] and the metric label values [`Protocol::LABELS`]), the
//! dispatch enum [`Parser`] that the session drives, [`Limits`] (one field per
//! protocol plus detection's) and [`ProtocolStats`] (one field per protocol, inside
//! [`ParseStats`]). `session.rs` and `detect.rs` iterate these;
//! they name no protocol. What is HTTP-specific between two protocols (the h2c upgrade)
//! is a [`Switch`], below the list.
//!
//! # Adding a protocol
//!
//! For a protocol `foo`, in this crate:
//!
//! 1. Create the folder `src/foo/`. Its `mod.rs` has the module docs (the protocol, its
//!    RFCs, one line per submodule) and the protocol's public face:
//!    - `pub struct Limits` (`Debug + Clone + Default`): every bound the parser keeps
//!      (bytes buffered per direction, requests in flight, timeouts), each field
//!      documented with its default;
//!    - `Stats`, declared with `crate::stats::counters!`: the protocol's own counters; one
//!      exported as `telegen_parse_errors_total{reason="..."}` is written
//!      `field => "reason"`. Common outcomes (malformed, buffer full, resync, gap,
//!      expired, pending overflow, unmatched, closed incomplete) are fields of
//!      [`ParseStats`] itself: count those there;
//!    - `pub fn probe(dir: Direction, buf: &[u8], hints: Hints) -> Confidence`:
//!      `Certain` only on a signature the other protocols cannot produce, `Unsure` while
//!      more bytes could decide, else `NotForUs` (check `hints.transport` first; a
//!      configured port is `hints.port_expected(Protocol::Foo)`).
//!
//!    The connection parser `FooConn` (in `mod.rs`, or in a submodule as `http2/conn.rs`)
//!    implements [`ProtocolConn`] with `type Limits = Limits`:
//!    `new`, `probe` (calling the `probe` above), `on_data`, `on_gap`, `on_close`,
//!    `expire`, `pending`, and where they apply `expects_port` (ports configured for the
//!    protocol), `find_start` (resync on bytes joined mid-stream), `expect_no_replies`
//!    (multicast peers), `take_switch` (hand over to another protocol: a new [`Switch`]
//!    variant). Framing, message parsing and matching go to submodules; unit tests to
//!    `src/foo/tests.rs` (`#[cfg(test)] mod tests;`), through `crate::testutil`
//!    (`same_records_any_split` checks that chunking does not change the records).
//! 2. `src/lib.rs`: `pub mod foo;` (and the protocol's name in the layout paragraph).
//! 3. This file: one line in the list below, at its place in probe order (more specific
//!    signatures first): `Foo = foo::FooConn, "foo";` where `"foo"` is the value of the
//!    `protocol` metric label. That generates `Protocol::Foo`, `Parser::Foo`,
//!    `Limits::foo` and `ProtocolStats::foo`.
//! 4. Only for a new kind of record (HTTP/2 emits HTTP/1's
//!    [`HttpRecord`], so it skipped this): the type in
//!    `src/foo/record.rs`, and in `src/record.rs` a variant `Foo(FooRecord)` of
//!    [`Record`] and a `pub use` of the type beside `DnsRecord`'s.
//! 5. Tests outside the folder: a fuzz target body `pub fn foo(data: &[u8])` in
//!    `src/fuzzing.rs` (its bounds in `small_limits`, its record in `check_record`, a
//!    seed conversation in `seeds`); `fuzz/fuzz_targets/foo.rs` with its `[[bin]]` in
//!    `fuzz/Cargo.toml` and a line in `fuzz/README.md`; a test each in
//!    `tests/fuzz_smoke.rs` and `tests/never_panics.rs`; where throughput matters a
//!    criterion bench `benches/foo.rs` with its `[[bench]]` in `Cargo.toml`.
//!
//! So the protocol itself is a folder plus one line here and one in `lib.rs` (two
//! existing files edited; three with a new record kind); its fuzzing and benches add
//! up to seven more. `session.rs`, `detect.rs`, `stats.rs` and `conn.rs` do not change.
//! In the agent: set `Limits::foo` from the configuration, map the new `Record` variant;
//! the parse-error series follow from [`Protocol::LABELS`] and
//! [`ParseStats::reasons`] unchanged.

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
/// [`ProtocolConn::take_switch`].
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
