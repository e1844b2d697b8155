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
    }
}
