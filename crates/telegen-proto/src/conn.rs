//! The interface every protocol implements ([`ProtocolConn`]), and the `protocols!`
//! macro that turns the one-line-per-protocol list in [`crate::protocols`] into the
//! [`Protocol`](crate::protocols::Protocol) enum, the [`Parser`](crate::protocols::Parser)
//! dispatch enum, the probe order, the per-protocol [`Limits`](crate::protocols::Limits)
//! and [`ProtocolStats`](crate::protocols::ProtocolStats), and the metric label values.

use crate::detect::{Confidence, Hints};
use crate::protocols::Switch;
use crate::record::Record;
use crate::stats::ParseStats;
use crate::{Direction, Transport};

/// One protocol's parser for one connection (TCP) or UDP flow: both directions,
/// request/response matching and records. Every method takes the same arguments for
/// every protocol; `ts_ns` is the time of the event, `stats` receives counts
/// (the common ones and the protocol's own in `stats.proto`), `out` the finished records.
pub trait ProtocolConn {
    /// This protocol's bounds; `Default` gives the built-in ones, the agent fills them
    /// from its configuration.
    type Limits;

    /// A parser for a new connection over `transport`.
    fn new(transport: Transport, limits: &Self::Limits) -> Self;

    /// Detection probe on the first bytes of `dir` (held bytes plus the new chunk): is
    /// this the protocol, might it be (more bytes needed), or not.
    fn probe(dir: Direction, buf: &[u8], hints: Hints) -> Confidence;

    /// Whether `port` is one of this protocol's configured server ports (a detection
    /// hint, see [`Hints::port_expected`]). None by default.
    fn expects_port(limits: &Self::Limits, port: u16) -> bool {
        let _ = (limits, port);
        false
    }

    /// For bytes no probe recognised (a stream joined mid-message): the offset of the
    /// first certain message start of this protocol in `buf`, if it can find one.
    /// Tried in probe order. None by default.
    fn find_start(transport: Transport, buf: &[u8]) -> Option<usize> {
        let _ = (transport, buf);
        None
    }

    /// Bytes of a TCP stream (in order, no overlap), or one UDP datagram; never empty.
    fn on_data(
        &mut self,
        dir: Direction,
        ts_ns: u64,
        data: &[u8],
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    );

    /// `len` (> 0) bytes in `dir` were not seen (lost, not copied, or cut by the capture).
    fn on_gap(
        &mut self,
        dir: Direction,
        ts_ns: u64,
        len: u64,
        stats: &mut ParseStats,
        out: &mut Vec<Record>,
    );

    /// The connection ended: flush what close delimits, report what is pending.
    fn on_close(&mut self, ts_ns: u64, stats: &mut ParseStats, out: &mut Vec<Record>);

    /// Report requests older than their timeout at `now_ns`.
    fn expire(&mut self, now_ns: u64, stats: &mut ParseStats, out: &mut Vec<Record>);

    /// Requests (or queries) waiting for their answer.
    fn pending(&self) -> usize;

    /// The peer does not answer on this flow (a multicast group): an unanswered request
    /// is expected. Ignored by default.
    fn expect_no_replies(&mut self) {}

    /// Asked after every [`ProtocolConn::on_data`]: `Some` once the connection switched
    /// to another parsed protocol (HTTP/1.1 `Upgrade: h2c`); the session then replaces
    /// this parser with the one [`Switch`] builds. Never by default.
    fn take_switch(&mut self) -> Option<Switch> {
        None
    }
}

/// Generates the per-protocol enums and structs from the list in `protocols.rs`. Each
/// line is `Variant = module::ConnType, "label";` where `module` exports `Limits` and
/// `Stats` and `ConnType` implements [`ProtocolConn`] with `Limits = module::Limits`.
macro_rules! protocols {
    ( $( $(#[$m:meta])* $name:ident = $module:ident :: $conn:ident, $label:literal; )+ ) => {
        /// What a connection has been recognised as. The parsed protocols come first,
        /// in probe order (their discriminant is their index).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Protocol {
            $( $(#[$m])* $name, )+
            /// Detection has not decided yet.
            Unknown,
            /// Detection gave up: bytes are counted, not parsed.
            Unrecognised,
        }

        impl Protocol {
            /// How many protocols are parsed.
            pub const COUNT: usize = [$( stringify!($name) ),+].len();

            /// The parsed protocols, in probe order (the most specific signatures first).
            pub const PROBE_ORDER: [Protocol; Protocol::COUNT] = [$( Protocol::$name ),+];

            /// Values of the `protocol` metric label, indexed by
            /// [`Protocol::label_index`]: each parsed protocol's, then `unknown`.
            pub const LABELS: [&'static str; Protocol::COUNT + 1] = [$( $label, )+ "unknown"];

            /// Index into [`Protocol::LABELS`] (`Unknown` and `Unrecognised` share
            /// `unknown`, the last).
            pub const fn label_index(self) -> usize {
                match self {
                    Protocol::Unknown | Protocol::Unrecognised => Protocol::COUNT,
                    p => p as usize,
                }
            }

            /// The `protocol` metric label value.
            pub const fn label(self) -> &'static str {
                Protocol::LABELS[self.label_index()]
            }

            /// This protocol's bit in [`Hints::expected_ports`](crate::detect::Hints)
            /// (none for `Unknown` and `Unrecognised`).
            pub const fn bit(self) -> u32 {
                match self {
                    Protocol::Unknown | Protocol::Unrecognised => 0,
                    p => 1 << (p as u32),
                }
            }
        }

        const _: () = assert!(Protocol::COUNT <= 32, "Protocol::bit needs a wider mask");

        /// Bounds for every protocol, and for detection. `Default` gives the built-in
        /// bounds; the agent fills them from its configuration.
        #[derive(Debug, Clone, Default)]
        pub struct Limits {
            /// Detection's own bounds.
            pub detect: $crate::detect::Limits,
            $( pub $module: $module::Limits, )+
        }

        /// Each protocol's own counters (the common ones are [`ParseStats`](crate::stats::ParseStats)'s).
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
        pub struct ProtocolStats {
            $( pub $module: $module::Stats, )+
        }

        impl ProtocolStats {
            pub fn add(&mut self, o: &ProtocolStats) {
                $( self.$module.add(&o.$module); )+
            }

            /// Every protocol's exported counters as `(reason label, value)`.
            pub fn reasons(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                std::iter::empty() $( .chain(self.$module.reasons()) )+
            }
        }

        /// A recognised connection's parser, one variant per protocol: enum dispatch
        /// (no `Box<dyn>`), this is the per-chunk hot path. The box keeps the session
        /// small while detection runs.
        pub enum Parser {
            $( $name(Box<$module::$conn>), )+
        }

        impl Parser {
            /// The parser of `p` for a new connection (`None` for `Unknown` and
            /// `Unrecognised`).
            pub fn new(p: Protocol, transport: $crate::Transport, limits: &Limits) -> Option<Parser> {
                use $crate::conn::ProtocolConn;
                match p {
                    $( Protocol::$name => Some(Parser::$name(Box::new(
                        <$module::$conn as ProtocolConn>::new(transport, &limits.$module),
                    ))), )+
                    Protocol::Unknown | Protocol::Unrecognised => None,
                }
            }

            pub fn protocol(&self) -> Protocol {
                match self {
                    $( Parser::$name(_) => Protocol::$name, )+
                }
            }

            /// [`ProtocolConn::on_data`](crate::conn::ProtocolConn::on_data), then
            /// [`ProtocolConn::take_switch`](crate::conn::ProtocolConn::take_switch).
            #[inline]
            pub(crate) fn on_data(
                &mut self,
                dir: $crate::Direction,
                ts_ns: u64,
                data: &[u8],
                stats: &mut $crate::stats::ParseStats,
                out: &mut Vec<$crate::record::Record>,
            ) -> Option<Switch> {
                use $crate::conn::ProtocolConn;
                match self {
                    $( Parser::$name(c) => {
                        ProtocolConn::on_data(&mut **c, dir, ts_ns, data, stats, out);
                        ProtocolConn::take_switch(&mut **c)
                    } )+
                }
            }

            #[inline]
            pub(crate) fn on_gap(
                &mut self,
                dir: $crate::Direction,
                ts_ns: u64,
                len: u64,
                stats: &mut $crate::stats::ParseStats,
                out: &mut Vec<$crate::record::Record>,
            ) {
                use $crate::conn::ProtocolConn;
                match self {
                    $( Parser::$name(c) => ProtocolConn::on_gap(&mut **c, dir, ts_ns, len, stats, out), )+
                }
            }

            pub(crate) fn on_close(
                &mut self,
                ts_ns: u64,
                stats: &mut $crate::stats::ParseStats,
                out: &mut Vec<$crate::record::Record>,
            ) {
                use $crate::conn::ProtocolConn;
                match self {
                    $( Parser::$name(c) => ProtocolConn::on_close(&mut **c, ts_ns, stats, out), )+
                }
            }

            pub(crate) fn expire(
                &mut self,
                now_ns: u64,
                stats: &mut $crate::stats::ParseStats,
                out: &mut Vec<$crate::record::Record>,
            ) {
                use $crate::conn::ProtocolConn;
                match self {
                    $( Parser::$name(c) => ProtocolConn::expire(&mut **c, now_ns, stats, out), )+
                }
            }

            pub fn pending(&self) -> usize {
                use $crate::conn::ProtocolConn;
                match self {
                    $( Parser::$name(c) => ProtocolConn::pending(&**c), )+
                }
            }

            pub(crate) fn expect_no_replies(&mut self) {
                use $crate::conn::ProtocolConn;
                match self {
                    $( Parser::$name(c) => ProtocolConn::expect_no_replies(&mut **c), )+
                }
            }
        }

        /// Probes protocol `p` (`NotForUs` for `Unknown` and `Unrecognised`).
        pub fn probe(
            p: Protocol,
            dir: $crate::Direction,
            buf: &[u8],
            hints: $crate::detect::Hints,
        ) -> $crate::detect::Confidence {
            use $crate::conn::ProtocolConn;
            match p {
                $( Protocol::$name => <$module::$conn as ProtocolConn>::probe(dir, buf, hints), )+
                Protocol::Unknown | Protocol::Unrecognised => $crate::detect::Confidence::NotForUs,
            }
        }

        /// The protocols whose configured server ports include `port`, as
        /// [`Protocol::bit`]s.
        pub fn expected_ports(limits: &Limits, port: u16) -> u32 {
            use $crate::conn::ProtocolConn;
            let mut bits = 0;
            $( if <$module::$conn as ProtocolConn>::expects_port(&limits.$module, port) {
                bits |= Protocol::$name.bit();
            } )+
            bits
        }

        /// The first protocol, in probe order, that finds a certain message start in
        /// `buf` (bytes no probe recognised), and its offset.
        pub fn find_start(transport: $crate::Transport, buf: &[u8]) -> Option<(Protocol, usize)> {
            use $crate::conn::ProtocolConn;
            $( if let Some(off) = <$module::$conn as ProtocolConn>::find_start(transport, buf) {
                return Some((Protocol::$name, off));
            } )+
            None
        }
    };
}
pub(crate) use protocols;
