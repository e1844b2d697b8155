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

use super::SignalSink;
use crate::model::{Attributes, Event, Severity, Signal, Span, SpanKind, SpanStatus};
use crate::telemetry::SelfTelemetry;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, UNIX_EPOCH};

pub fn rfc3339(ns: u64) -> String {
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

/// The JSON object of a record as a `Value` (tests, snapshots): the same serialization
/// as [`write_signal_line`].
pub fn signal_json(s: &Signal) -> Value {
    let v = match s {
        Signal::Span(s) => serde_json::to_value(SpanLine::from(s)),
        Signal::Event(e) => serde_json::to_value(EventLine::from(e)),
    };
    // Every field serializes (non-finite floats become null).
    v.unwrap_or(Value::Null)
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

/// Bytes of JSON lines handed to the writer thread at once.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches waiting for the writer at most (each up to `BATCH_BYTES`).
const BATCHES_QUEUED: usize = 8;
/// The writer also takes whatever lines wait this often, so a quiet agent's lines show
/// up promptly.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Lines handed to the writer at once, and how many.
type Batch = (Vec<u8>, usize);

/// Lines serialized but not yet handed to the writer.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    lines: usize,
}

/// A sink writing JSON lines from a background thread. Lines are serialized straight
/// into a shared buffer and handed over in batches (one wake-up per `BATCH_BYTES` or per
/// `FLUSH_EVERY`, not per line). Live mode (`blocking == false`) drops, and counts, lines
/// past `capacity` waiting, so a slow terminal never stalls capture; replay mode blocks
/// instead, losing nothing.
pub struct JsonSink {
    tx: Mutex<Option<SyncSender<Batch>>>,
    blocking: bool,
    pending: Arc<Mutex<Pending>>,
    /// Lines that may wait (live mode), pending and queued together.
    capacity: usize,
    queued_lines: Arc<AtomicUsize>,
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
        let (tx, rx) = sync_channel::<Batch>(BATCHES_QUEUED);
        let pending = Arc::new(Mutex::new(Pending::default()));
        let queued_lines = Arc::new(AtomicUsize::new(0));
        let (shared, queued) = (pending.clone(), queued_lines.clone());
        let thread = std::thread::Builder::new()
            .name("telegen-json".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut out);
                loop {
                    let batch = match rx.recv_timeout(FLUSH_EVERY) {
                        Ok((b, n)) => {
                            queued.fetch_sub(n, Ordering::AcqRel);
                            b
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            let mut p = lock(&shared);
                            queued.fetch_sub(std::mem::take(&mut p.lines), Ordering::AcqRel);
                            std::mem::take(&mut p.buf)
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    if batch.is_empty() {
                        continue;
                    }
                    if w.write_all(&batch).and_then(|_| w.flush()).is_err() {
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
            pending,
            capacity: capacity.max(1),
            queued_lines,
            telemetry,
            thread: Mutex::new(Some(thread)),
        }
    }

    pub fn stdout(capacity: usize, blocking: bool, telemetry: SelfTelemetry) -> Self {
        Self::new(Box::new(std::io::stdout()), capacity, blocking, telemetry)
    }

    /// Hands the pending lines to the writer (called with the pending lock held, so
    /// batches keep their order against the writer's timed takes).
    fn hand_over(&self, p: &mut Pending) {
        let lines = std::mem::take(&mut p.lines);
        let batch = std::mem::take(&mut p.buf);
        let guard = lock(&self.tx);
        let Some(tx) = guard.as_ref() else {
            self.telemetry.drop("json", "output_closed", lines as u64);
            return;
        };
        let sent = if self.blocking {
            tx.send((batch, lines)).is_ok()
        } else {
            match tx.try_send((batch, lines)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.queued_lines.fetch_sub(lines, Ordering::AcqRel);
                    self.telemetry.drop("json", "queue_full", lines as u64);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        };
        if !sent {
            self.queued_lines.fetch_sub(lines, Ordering::AcqRel);
            self.telemetry.drop("json", "output_closed", lines as u64);
        }
    }

    /// Writes out everything queued and stops the writer thread.
    pub fn close(&self) {
        {
            let mut p = lock(&self.pending);
            if p.lines > 0 {
                self.hand_over(&mut p);
            }
        }
        drop(lock(&self.tx).take());
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SignalSink for JsonSink {
    fn send(&self, s: &Signal) {
        if !self.blocking && self.queued_lines.load(Ordering::Acquire) >= self.capacity {
            self.telemetry.drop("json", "queue_full", 1);
            return;
        }
        let mut p = lock(&self.pending);
        if p.buf.capacity() == 0 {
            p.buf.reserve(BATCH_BYTES + 4096);
        }
        write_signal_line(s, &mut p.buf);
        p.lines += 1;
        self.queued_lines.fetch_add(1, Ordering::AcqRel);
        if p.buf.len() >= BATCH_BYTES {
            self.hand_over(&mut p);
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
    use crate::model::AttrValue;

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

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn event(n: u64) -> Signal {
        let mut a = Attributes::default();
        a.put("n", n);
        Signal::Event(Event {
            name: "x",
            time_unix_nano: n,
            severity: Severity::Info,
            attributes: a,
        })
    }

    #[test]
    fn live_lines_arrive_without_a_full_batch_and_close_writes_the_rest() {
        let out = Shared::default();
        let t = SelfTelemetry::default();
        let sink = JsonSink::new(Box::new(out.clone()), 10_000, false, t.clone());
        for n in 0..3 {
            sink.send(&event(n));
        }
        let t0 = std::time::Instant::now();
        while out.0.lock().unwrap().iter().filter(|b| **b == b'\n').count() < 3 {
            assert!(t0.elapsed() < Duration::from_secs(2), "lines not flushed by the timer");
            std::thread::sleep(Duration::from_millis(5));
        }
        for n in 3..1000 {
            sink.send(&event(n));
        }
        sink.close();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let ns: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["attributes"]["n"].as_u64().unwrap())
            .collect();
        assert_eq!(ns, (0..1000).collect::<Vec<_>>(), "every line, in order");
        assert_eq!(t.dropped_value("json", "queue_full"), 0);
    }

    #[test]
    fn live_mode_drops_and_counts_past_capacity() {
        /// A writer that never returns until released.
        struct Stuck(std::sync::mpsc::Receiver<()>);
        impl Write for Stuck {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                let _ = self.0.recv();
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (release, rx) = std::sync::mpsc::channel();
        let t = SelfTelemetry::default();
        let sink = JsonSink::new(Box::new(Stuck(rx)), 50, false, t.clone());
        for n in 0..5000 {
            sink.send(&event(n));
        }
        let dropped = t.dropped_value("json", "queue_full");
        assert!(dropped >= 5000 - 50 - 1, "{dropped} dropped");
        drop(release);
        sink.close();
    }
}
