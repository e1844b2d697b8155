//! Owned records that parsers emit: one per request/response exchange (or per DNS query).
//! They carry protocol facts only; the agent adds addresses, process and Kubernetes data.

use serde::Serialize;
use std::borrow::Cow;

/// `method` as a static string when it is one of [`crate::http1::METHODS`] or "PRI" (the
/// pseudo-method of the HTTP/2 connection preface), else owned.
pub fn method_name(method: &str) -> Cow<'static, str> {
    match crate::http1::METHODS.iter().chain(&["PRI"]).find(|k| **k == method) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(method.to_owned()),
    }
}

/// One finished (or expired) exchange.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum Record {
    Http(HttpRecord),
    Dns(DnsRecord),
}

/// One HTTP/1.x (later also HTTP/2) request and its response.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct HttpRecord {
    /// Timestamp (ns) of the first byte of the request.
    pub start_ns: u64,
    /// Timestamp (ns) of the last byte of the response (or of expiry).
    pub end_ns: u64,
    /// The request method; the registered methods are static strings (no allocation).
    pub method: Cow<'static, str>,
    /// Request target as sent (path and query).
    pub target: String,
    /// "0.9", "1.0", "1.1", "2".
    pub version: &'static str,
    /// Status code; None when the response was never seen (expired, connection closed).
    pub status: Option<u16>,
    /// Value of the Host header (or :authority).
    pub host: Option<String>,
    /// Request body length in bytes (declared or counted), if known.
    pub request_body_len: Option<u64>,
    /// Response body length in bytes (declared or counted), if known.
    pub response_body_len: Option<u64>,
    /// Captured request headers (lower-case name, value), filtered by `Limits`.
    pub request_headers: Vec<(String, String)>,
    /// Captured response headers.
    pub response_headers: Vec<(String, String)>,
    /// Up to `Limits::max_body_capture` bytes of the request body, lossy UTF-8.
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// Why the record is incomplete, if it is: "timeout" (no response within
    /// `Limits::request_timeout_ns`), "connection_closed", "gap" (bytes lost),
    /// "pending_overflow" (more than `Limits::max_pending` requests waited),
    /// "buffer_full", "malformed", and for HTTP/2 "reset" (RST_STREAM) or "goaway".
    pub incomplete: Option<&'static str>,
    /// HTTP/2: the stream id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u32>,
    /// gRPC: `grpc-status` from the trailers (or a trailers-only response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
    /// gRPC: length-prefixed messages sent by the client (a lower bound when DATA was
    /// lost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_messages: Option<u32>,
    /// gRPC: messages sent by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_messages: Option<u32>,
}

/// One DNS query and its response (or its timeout).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DnsRecord {
    /// Timestamp (ns) of the query.
    pub query_ns: u64,
    /// Timestamp (ns) of the response; None on timeout.
    pub response_ns: Option<u64>,
    pub id: u16,
    pub question_name: String,
    /// Record type mnemonic ("A", "AAAA", ...) or "TYPE<n>" for unknown types.
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
