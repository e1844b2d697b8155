//! The record of one DNS exchange (query and response, or a timeout, or a response
//! seen alone).

use serde::Serialize;

/// One DNS query and its response (or its timeout).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DnsRecord {
    /// Timestamp (ns) of the query.
    pub query_ns: u64,
    /// Timestamp (ns) of the response; None on timeout.
    pub response_ns: Option<u64>,
    pub id: u16,
    pub question_name: String,
    /// Record type mnemonic ("A", "AAAA", ...) or "`TYPE<n>`" for unknown types.
    pub question_type: String,
    /// "NOERROR", "NXDOMAIN", ..., or "TIMEOUT".
    pub response_code: String,
    pub answers: Vec<DnsAnswer>,
    /// Counts from the response header.
    pub answer_count: u16,
    pub authority_count: u16,
    pub additional_count: u16,
    /// True when the response was seen without its query (capture started late).
    pub response_only: bool,
}

/// One answer record, with its data as text: "93.184.216.34", "alias.example.com" (names
/// without the trailing dot; the root is "."), "10 mail.example.com" (MX),
/// "1 2 443 target.example.com" (SRV), quoted strings for TXT, "mname rname serial
/// refresh retry expire minimum" (SOA), and RFC 3597 `\# <len> <hex>` for other types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsAnswer {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: u32,
    pub data: String,
}
