//! enrich: what the agent knows about the ends of a connection beyond its bytes, put on
//! every signal the same way. Sources attach the local process to their events
//! ([`crate::model::ProcessInfo`]); this module turns it into resource attributes and the
//! `service.name`, and keeps the peer names learnt from DNS answers.
//!
//! - [`Enrichment`]: the one put-resource function every signal stage calls
//!   ([`Enrichment::put_local`]) and the service-name rule ([`Enrichment::service_name`]).
//!   Kubernetes metadata (pod, container, workload of a process; pod or service of a peer
//!   address) lands here as one more enricher, consulted by the same two functions.
//! - [`dns_names`]: IP -> names from DNS answers, fed by the pipeline with every DNS
//!   record and read by stages that name peers.
//! - [`process`]: the process attributes.

pub mod dns_names;
pub mod process;

use crate::model::{Attributes, ProcessInfo};
pub use dns_names::DnsNames;

/// Addresses remembered with the names DNS gave them.
pub const DNS_NAMES_MAX_IPS: usize = 16384;

/// The enrichers of one pipeline. Shared by its stages (cheap to clone handles inside).
#[derive(Debug, Clone)]
pub struct Enrichment {
    /// `service.name` when the process gives none (`OTEL_SERVICE_NAME`, configuration).
    default_service: String,
    /// Names learnt from DNS answers.
    pub dns_names: DnsNames,
}

impl Enrichment {
    pub fn new(default_service: impl Into<String>) -> Self {
        Enrichment {
            default_service: default_service.into(),
            dns_names: DnsNames::new(DNS_NAMES_MAX_IPS),
        }
    }

    /// The `service.name` of signals about `p`'s traffic: the executable's name, else the
    /// configured default.
    pub fn service_name<'a>(&'a self, p: Option<&'a ProcessInfo>) -> &'a str {
        match p {
            Some(p) if !p.exe_name().is_empty() => p.exe_name(),
            _ => &self.default_service,
        }
    }

    /// Puts the attributes of the local end (the process that owns the socket) on a
    /// signal. Every stage calls this, so every signal carries the same resource.
    pub fn put_local(&self, a: &mut Attributes, p: Option<&ProcessInfo>) {
        if let Some(p) = p {
            process::put(a, p);
        }
    }
}

impl Default for Enrichment {
    fn default() -> Self {
        Enrichment::new("unknown_service")
    }
}
