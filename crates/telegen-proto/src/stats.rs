//! Counters every parser keeps: nothing is given up silently.

use serde::Serialize;

/// Counts of parse outcomes, summed over connections by the agent and exported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParseStats {
    /// Messages parsed, by protocol.
    pub http_messages: u64,
    pub dns_messages: u64,
    /// Give-ups, by reason (malformed input, buffer cap hit, resync skipped bytes...).
    pub errors_malformed: u64,
    pub errors_buffer_full: u64,
    pub resync_bytes_skipped: u64,
    pub gaps: u64,
    pub requests_expired: u64,
    pub pending_overflow: u64,
    pub unmatched_responses: u64,
    /// Headers seen beyond `Limits::max_headers` (counted, not kept).
    pub headers_dropped: u64,
    /// Gaps that lost message framing (the parser had to resynchronise).
    pub gaps_desync: u64,
    /// Records emitted incomplete because the connection closed mid-exchange.
    pub closed_incomplete: u64,
    /// Connections (or UDP flows) whose protocol could not be recognised.
    pub unrecognised: u64,
    /// Bytes not parsed because the protocol was not (yet) recognised or was left
    /// (after an HTTP/1 upgrade to a protocol not parsed).
    pub bytes_unparsed: u64,
    /// HTTP/1 connections upgraded (101 Switching Protocols or CONNECT tunnel).
    pub upgrades: u64,
    /// HTTP/2 header blocks that could not be decoded (or were lost): the HPACK
    /// decoder of that direction restarted, fields after the error are unknown.
    pub hpack_resets: u64,
    /// HTTP/2 header fields that could not be resolved (they index dynamic-table
    /// entries inserted before the agent joined the connection); skipped, never guessed.
    pub hpack_fields_unknown: u64,
    /// DNS questions after the first of a message (validated and counted; the record
    /// carries the first question only).
    pub dns_extra_questions: u64,
}

impl ParseStats {
    pub fn add(&mut self, o: &ParseStats) {
        self.http_messages += o.http_messages;
        self.dns_messages += o.dns_messages;
        self.errors_malformed += o.errors_malformed;
        self.errors_buffer_full += o.errors_buffer_full;
        self.resync_bytes_skipped += o.resync_bytes_skipped;
        self.gaps += o.gaps;
        self.requests_expired += o.requests_expired;
        self.pending_overflow += o.pending_overflow;
        self.unmatched_responses += o.unmatched_responses;
        self.headers_dropped += o.headers_dropped;
        self.gaps_desync += o.gaps_desync;
        self.closed_incomplete += o.closed_incomplete;
        self.unrecognised += o.unrecognised;
        self.bytes_unparsed += o.bytes_unparsed;
        self.upgrades += o.upgrades;
        self.hpack_resets += o.hpack_resets;
        self.hpack_fields_unknown += o.hpack_fields_unknown;
        self.dns_extra_questions += o.dns_extra_questions;
    }
}
