//! Owned records that parsers emit: one per request/response exchange (or per DNS query).
//! They carry protocol facts only; the agent adds addresses, process and Kubernetes data.
//!
//! [`Record`] has one variant per record kind. A protocol's record type lives in its
//! folder ([`DnsRecord`] in `dns/record.rs`, re-exported here); the records shared by
//! several protocols live here: [`HttpRecord`], emitted by HTTP/1 and HTTP/2.

use serde::Serialize;
use std::borrow::Cow;

pub use crate::dns::record::{DnsAnswer, DnsRecord};

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

/// One HTTP request and its response: HTTP/1.x, or one HTTP/2 stream (gRPC included).
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
    /// Captured request headers (lower-case name, value): the protocol's
    /// `Limits::capture_headers`, at most `Limits::max_headers`.
    pub request_headers: Vec<(String, String)>,
    /// Captured response headers.
    pub response_headers: Vec<(String, String)>,
    /// HTTP/1: up to `http1::Limits::max_body_capture` bytes of the request body, lossy
    /// UTF-8.
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// Why the record is incomplete, if it is: "timeout" (no response within
    /// the protocol's `Limits::request_timeout_ns`), "connection_closed", "gap" (bytes lost),
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
