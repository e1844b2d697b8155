//! export: where records and metrics leave the agent.
//!
//! - [`prometheus`]: the scrape endpoint (OpenMetrics text) over the shared registry.
//! - [`otlp`]: OTLP metrics, traces and logs (gRPC or HTTP/protobuf), each with a bounded
//!   queue, retries with backoff, and counted drops; the agent keeps running while the
//!   collector is down.
//! - [`json`]: JSON lines on stdout, written by one thread behind a bounded queue.

pub mod json;
pub mod otlp;
pub mod prometheus;

use crate::model::Signal;

/// Anything that accepts finished records. Implementations never block the caller for
/// long: they queue (bounded) and count what they drop.
pub trait SignalSink: Send + Sync {
    fn send(&self, s: &Signal);
}

/// Fans records out to every configured sink.
#[derive(Default)]
pub struct Fanout {
    sinks: Vec<Box<dyn SignalSink>>,
}

impl Fanout {
    pub fn push(&mut self, s: Box<dyn SignalSink>) {
        self.sinks.push(s);
    }
    pub fn send(&self, s: &Signal) {
        for k in &self.sinks {
            k.send(s);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}
