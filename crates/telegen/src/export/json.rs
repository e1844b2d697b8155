//! JSON lines: one object per record on stdout (or any writer), written by a dedicated
//! thread behind a bounded queue. Live mode drops (and counts) when the queue is full so
//! a slow terminal never stalls capture; replay mode blocks instead, losing nothing.
//!
//! Shapes (stable, documented in docs/output.md):
//! - span:  `{"type":"span","timestamp":RFC3339,"name","kind","trace_id","span_id",
//!           "start_time_unix_nano","end_time_unix_nano","duration_ms","status",
//!           "service.name","attributes":{...}}`
//! - event: `{"type":"event","timestamp":RFC3339,"name","time_unix_nano","severity",
//!           "attributes":{...}}`

use super::telemetry::SelfTelemetry;
use super::SignalSink;
use crate::signals::{Attributes, Event, Severity, Signal, Span, SpanKind, SpanStatus};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, UNIX_EPOCH};

pub fn rfc3339(ns: u64) -> String {
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

pub fn span_json(s: &Span) -> Value {
    json!({
        "type": "span",
        "timestamp": rfc3339(s.start_time_unix_nano),
        "name": s.name,
        "kind": s.kind,
        "trace_id": format!("{:032x}", s.trace_id),
        "span_id": format!("{:016x}", s.span_id),
        "start_time_unix_nano": s.start_time_unix_nano,
        "end_time_unix_nano": s.end_time_unix_nano,
        "duration_ms": s.duration_ms(),
        "status": s.status,
        "service.name": s.service_name,
        "attributes": s.attributes,
    })
}

pub fn event_json(e: &Event) -> Value {
    json!({
        "type": "event",
        "timestamp": rfc3339(e.time_unix_nano),
        "name": e.name,
        "time_unix_nano": e.time_unix_nano,
        "severity": e.severity,
        "attributes": e.attributes,
    })
}

pub fn signal_json(s: &Signal) -> Value {
    match s {
        Signal::Span(s) => span_json(s),
        Signal::Event(e) => event_json(e),
    }
}

/// Serializes `s` as one JSON line (with its newline) onto `out`: the same object as
/// [`signal_json`], with keys in documentation order, written straight from the record
/// (no intermediate `Value`, no per-field allocation).
pub fn write_signal_line(s: &Signal, out: &mut Vec<u8>) {
    let r = match s {
        Signal::Span(s) => serde_json::to_writer(&mut *out, &SpanLine::from(s)),
        Signal::Event(e) => serde_json::to_writer(&mut *out, &EventLine::from(e)),
    };
    // Writing into a Vec cannot fail, and every field serializes (non-finite floats
    // become null).
    debug_assert!(r.is_ok());
    out.push(b'\n');
}

struct Rfc3339(u64);
impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(self.0)))
    }
}
struct Hex<const W: usize>(u128);
impl<const W: usize> Serialize for Hex<W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:0w$x}", self.0, w = W))
    }
}

#[derive(Serialize)]
struct SpanLine<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    timestamp: Rfc3339,
    name: &'a str,
    kind: SpanKind,
    trace_id: Hex<32>,
    span_id: Hex<16>,
    start_time_unix_nano: u64,
    end_time_unix_nano: u64,
    duration_ms: f64,
    status: SpanStatus,
    #[serde(rename = "service.name")]
    service_name: &'a str,
    attributes: &'a Attributes,
}

impl<'a> From<&'a Span> for SpanLine<'a> {
    fn from(s: &'a Span) -> Self {
        SpanLine {
            ty: "span",
            timestamp: Rfc3339(s.start_time_unix_nano),
            name: &s.name,
            kind: s.kind,
            trace_id: Hex(s.trace_id),
            span_id: Hex(s.span_id.into()),
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
            duration_ms: s.duration_ms(),
            status: s.status,
            service_name: &s.service_name,
            attributes: &s.attributes,
        }
    }
}

#[derive(Serialize)]
struct EventLine<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    timestamp: Rfc3339,
    name: &'a str,
    time_unix_nano: u64,
    severity: Severity,
    attributes: &'a Attributes,
}

impl<'a> From<&'a Event> for EventLine<'a> {
    fn from(e: &'a Event) -> Self {
        EventLine {
            ty: "event",
            timestamp: Rfc3339(e.time_unix_nano),
            name: e.name,
            time_unix_nano: e.time_unix_nano,
            severity: e.severity,
            attributes: &e.attributes,
        }
    }
}

/// Bytes of JSON lines handed to the writer thread at once in replay mode.
const BATCH_BYTES: usize = 256 * 1024;

/// A sink writing JSON lines from a background thread.
pub struct JsonSink {
    /// Items are one line, or (replay) a batch of lines; each ends with a newline.
    tx: Mutex<Option<SyncSender<Vec<u8>>>>,
    blocking: bool,
    /// Replay mode: lines gathered here and handed over in batches, so the writer thread
    /// is woken once per `BATCH_BYTES`, not once per record.
    batch: Mutex<Vec<u8>>,
    telemetry: SelfTelemetry,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl JsonSink {
    /// `capacity` lines may wait; past that, live mode (`blocking == false`) drops.
    pub fn new(
        mut out: Box<dyn Write + Send>,
        capacity: usize,
        blocking: bool,
        telemetry: SelfTelemetry,
    ) -> Self {
        let (tx, rx) = sync_channel::<Vec<u8>>(capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("telegen-json".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut out);
                while let Ok(first) = rx.recv() {
                    let mut ok = w.write_all(&first).is_ok();
                    while let Ok(more) = rx.try_recv() {
                        ok &= w.write_all(&more).is_ok();
                    }
                    ok &= w.flush().is_ok();
                    if !ok {
                        // stdout closed (e.g. piped into `head`): stop writing, keep running.
                        tracing::warn!("JSON output closed; further records are dropped");
                        break;
                    }
                }
            })
            .expect("spawning the JSON writer thread");
        JsonSink {
            tx: Mutex::new(Some(tx)),
            blocking,
            batch: Mutex::new(Vec::new()),
            telemetry,
            thread: Mutex::new(Some(thread)),
        }
    }

    pub fn stdout(capacity: usize, blocking: bool, telemetry: SelfTelemetry) -> Self {
        Self::new(Box::new(std::io::stdout()), capacity, blocking, telemetry)
    }

    /// Writes out everything queued and stops the writer thread.
    pub fn close(&self) {
        let rest = std::mem::take(&mut *self.batch.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
            if !rest.is_empty() && tx.send(rest).is_err() {
                self.telemetry.drop("json", "output_closed", 1);
            }
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl SignalSink for JsonSink {
    fn send(&self, s: &Signal) {
        if self.blocking {
            let full = {
                let mut b = self.batch.lock().unwrap_or_else(|e| e.into_inner());
                if b.capacity() == 0 {
                    b.reserve(BATCH_BYTES + 4096);
                }
                write_signal_line(s, &mut b);
                (b.len() >= BATCH_BYTES).then(|| std::mem::take(&mut *b))
            };
            let Some(full) = full else { return };
            let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            if guard.as_ref().is_none_or(|tx| tx.send(full).is_err()) {
                self.telemetry.drop("json", "output_closed", 1);
            }
            return;
        }
        let mut line = Vec::with_capacity(512);
        write_signal_line(s, &mut line);
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else { return };
        {
            match tx.try_send(line) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => self.telemetry.drop("json", "queue_full", 1),
                Err(TrySendError::Disconnected(_)) => {
                    self.telemetry.drop("json", "output_closed", 1)
                }
            }
        }
    }
}

impl Drop for JsonSink {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::AttrValue;

    #[test]
    fn direct_lines_equal_the_value_form_and_keep_attribute_order() {
        let mut a = Attributes::default();
        a.put("z.last", "x\"y\n");
        a.put("a.first", 7u64);
        a.put("f", 1.5f64);
        a.put("list", AttrValue::StrArray(vec!["1.2.3.4".into()]));
        let span = Signal::Span(Span {
            name: "GET /users/{id}".into(),
            kind: SpanKind::Server,
            trace_id: 0xabc,
            span_id: 0x12,
            start_time_unix_nano: 1_700_000_000_123_456_789,
            end_time_unix_nano: 1_700_000_000_223_456_789,
            status: SpanStatus::Error,
            service_name: "nginx".into(),
            attributes: a.clone(),
        });
        let event = Signal::Event(Event {
            name: "dns.query",
            time_unix_nano: 5,
            severity: Severity::Warn,
            attributes: a,
        });
        for s in [span, event] {
            let mut out = Vec::new();
            write_signal_line(&s, &mut out);
            assert_eq!(out.last(), Some(&b'\n'));
            let text = std::str::from_utf8(&out).unwrap();
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(v, signal_json(&s), "{text}");
            assert!(text.find("z.last").unwrap() < text.find("a.first").unwrap(), "{text}");
        }
    }
}
