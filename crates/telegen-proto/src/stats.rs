//! Counters every parser keeps: nothing is given up silently.
//!
//! [`ParseStats`] holds the counters common to every protocol (and to detection), plus
//! each protocol's own counters in [`ParseStats::proto`] (a `Stats` type declared in the
//! protocol's folder with `counters!`). [`ParseStats::reasons`] lists the exported ones
//! as `(reason label, value)` pairs.

use serde::Serialize;

use crate::protocols::ProtocolStats;

/// Declares a protocol's counters: a struct of `u64` fields with `add` and `reasons`.
/// A field followed by `=> "label"` is exported under that reason label; the others
/// are kept (tests, summaries) but not exported.
///
/// ```text
/// crate::stats::counters! {
///     /// HTTP/1 counters.
///     pub struct Stats {
///         /// Messages parsed.
///         messages,
///         /// Headers seen beyond `Limits::max_headers`.
///         headers_dropped => "headers_dropped",
///     }
/// }
/// ```
macro_rules! counters {
    (
        $(#[$sm:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* $field:ident $(=> $label:literal)? ),* $(,)?
        }
    ) => {
        $(#[$sm])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
        pub struct $name {
            $( $(#[$fm])* pub $field: u64, )*
        }

        impl $name {
            /// Adds `o`'s counts to these.
            pub fn add(&mut self, o: &Self) {
                $( self.$field += o.$field; )*
            }

            /// The exported counters as `(reason label, value)`, zeros included.
            pub fn reasons(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                let all: [(&'static str, u64); _] = [$( $( ($label, self.$field), )? )*];
                all.into_iter()
            }
        }
    };
}
pub(crate) use counters;

/// Counts of parse outcomes, summed over connections by the agent and exported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParseStats {
    /// Give-ups, by reason (malformed input, buffer cap hit, resync skipped bytes...).
    pub errors_malformed: u64,
    pub errors_buffer_full: u64,
    pub resync_bytes_skipped: u64,
    pub gaps: u64,
    pub requests_expired: u64,
    pub pending_overflow: u64,
    pub unmatched_responses: u64,
    /// Gaps that lost message framing (the parser had to resynchronise).
    pub gaps_desync: u64,
    /// Records emitted incomplete because the connection closed mid-exchange.
    pub closed_incomplete: u64,
    /// Connections (or UDP flows) whose protocol could not be recognised.
    pub unrecognised: u64,
    /// Bytes not parsed because the protocol was not (yet) recognised or was left
    /// (after an HTTP/1 upgrade to a protocol not parsed).
    pub bytes_unparsed: u64,
    /// Each protocol's own counters (`http1::Stats`, `http2::Stats`, `dns::Stats`...).
    pub proto: ProtocolStats,
}

impl ParseStats {
    pub fn add(&mut self, o: &ParseStats) {
        self.errors_malformed += o.errors_malformed;
        self.errors_buffer_full += o.errors_buffer_full;
        self.resync_bytes_skipped += o.resync_bytes_skipped;
        self.gaps += o.gaps;
        self.requests_expired += o.requests_expired;
        self.pending_overflow += o.pending_overflow;
        self.unmatched_responses += o.unmatched_responses;
        self.gaps_desync += o.gaps_desync;
        self.closed_incomplete += o.closed_incomplete;
        self.unrecognised += o.unrecognised;
        self.bytes_unparsed += o.bytes_unparsed;
        self.proto.add(&o.proto);
    }

    /// The exported counters as `(reason label, value)`, zeros included: the common
    /// ones, then each protocol's. A label can occur more than once (`headers_dropped`
    /// is HTTP/1's and HTTP/2's): a consumer sums the values of one label.
    pub fn reasons(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        let common = [
            ("malformed", self.errors_malformed),
            ("buffer_full", self.errors_buffer_full),
            ("resync_bytes_skipped", self.resync_bytes_skipped),
            ("gap", self.gaps),
            ("request_expired", self.requests_expired),
            ("pending_overflow", self.pending_overflow),
            ("unmatched_response", self.unmatched_responses),
            ("gap_desync", self.gaps_desync),
            ("closed_incomplete", self.closed_incomplete),
            ("unrecognised_connection", self.unrecognised),
            ("bytes_unparsed", self.bytes_unparsed),
        ];
        common.into_iter().chain(self.proto.reasons())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exported_counter_has_its_reason_label() {
        let mut s = ParseStats { errors_malformed: 1, unrecognised: 2, ..Default::default() };
        s.proto.http1.headers_dropped = 3;
        s.proto.http2.headers_dropped = 4;
        s.proto.http2.hpack_resets = 5;
        s.proto.http2.hpack_fields_unknown = 6;
        s.proto.dns.extra_questions = 7;
        // Not exported: message counts and HTTP/1 upgrades.
        s.proto.http1.messages = 100;
        s.proto.http1.upgrades = 100;
        s.proto.http2.messages = 100;
        s.proto.dns.messages = 100;
        let mut got: Vec<_> = s.reasons().filter(|(_, v)| *v > 0).collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("extra_questions", 7),
                ("headers_dropped", 3),
                ("headers_dropped", 4),
                ("hpack_field_unknown", 6),
                ("hpack_reset", 5),
                ("malformed", 1),
                ("unrecognised_connection", 2),
            ]
        );
        let labels: Vec<_> = s.reasons().map(|(l, _)| l).collect();
        assert_eq!(labels.len(), 11 + 1 + 3 + 1);
        let mut t = s.clone();
        t.add(&s);
        assert_eq!((t.proto.http2.hpack_resets, t.errors_malformed), (10, 2));
    }
}
