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
use crate::signals::{Event, Signal, Span};
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

/// Bytes of JSON lines handed to the writer thread at once in replay mode.
const BATCH_BYTES: usize = 256 * 1024;

/// A sink writing JSON lines from a background thread.
pub struct JsonSink {
    /// Items are one line, or (replay) a batch of lines; each ends with a newline.
    tx: Mutex<Option<SyncSender<String>>>,
    blocking: bool,
    /// Replay mode: lines gathered here and handed over in batches, so the writer thread
    /// is woken once per `BATCH_BYTES`, not once per record.
    batch: Mutex<String>,
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
        let (tx, rx) = sync_channel::<String>(capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("telegen-json".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut out);
                while let Ok(first) = rx.recv() {
                    let mut ok = w.write_all(first.as_bytes()).is_ok();
                    while let Ok(more) = rx.try_recv() {
                        ok &= w.write_all(more.as_bytes()).is_ok();
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
            batch: Mutex::new(String::new()),
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
        let mut line = signal_json(s).to_string();
        line.push('\n');
        if self.blocking {
            let full = {
                let mut b = self.batch.lock().unwrap_or_else(|e| e.into_inner());
                b.push_str(&line);
                (b.len() >= BATCH_BYTES).then(|| std::mem::take(&mut *b))
            };
            let Some(full) = full else { return };
            let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            if guard.as_ref().is_none_or(|tx| tx.send(full).is_err()) {
                self.telemetry.drop("json", "output_closed", 1);
            }
            return;
        }
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
