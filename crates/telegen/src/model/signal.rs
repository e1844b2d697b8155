//! The signal records the agent emits, independent of any exporter: spans (one per
//! request/response) and events (connection lifecycle, DNS queries, alerts). Exporters
//! render them as JSON lines, OTLP spans or OTLP log records.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// An attribute value, in the types OpenTelemetry supports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
    StrArray(Vec<String>),
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<u64> for AttrValue {
    fn from(v: u64) -> Self {
        AttrValue::Int(v.min(i64::MAX as u64) as i64)
    }
}
impl From<u32> for AttrValue {
    fn from(v: u32) -> Self {
        AttrValue::Int(v as i64)
    }
}
impl From<u16> for AttrValue {
    fn from(v: u16) -> Self {
        AttrValue::Int(v as i64)
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::F64(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
impl From<Vec<String>> for AttrValue {
    fn from(v: Vec<String>) -> Self {
        AttrValue::StrArray(v)
    }
}

/// An attribute name: static for the fixed names (no allocation per record), owned for
/// the few built at run time (captured header names).
pub type AttrKey = std::borrow::Cow<'static, str>;

/// Ordered attributes (insertion order is kept in JSON output).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes(pub Vec<(AttrKey, AttrValue)>);

impl Attributes {
    /// Appends an attribute. Keys are unique by construction in this crate (checked in
    /// debug builds); use [`Attributes::set`] to replace one.
    pub fn put(&mut self, key: impl Into<AttrKey>, v: impl Into<AttrValue>) {
        let key = key.into();
        debug_assert!(self.get(&key).is_none(), "attribute {key} put twice");
        self.0.push((key, v.into()));
    }

    /// Sets an attribute, replacing an existing value.
    pub fn set(&mut self, key: impl Into<AttrKey>, v: impl Into<AttrValue>) {
        let key = key.into();
        let v = v.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key, v)),
        }
    }
    pub fn put_opt<V: Into<AttrValue>>(&mut self, key: &'static str, v: Option<V>) {
        if let Some(v) = v {
            self.put(key, v);
        }
    }
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(AttrValue::Str(s)) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpanKind {
    Server,
    Client,
    /// Seen on the wire (replay) or by neither end's process.
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpanStatus {
    Unset,
    Ok,
    Error,
}

/// One request/response exchange.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub name: String,
    pub kind: SpanKind,
    #[serde(serialize_with = "hex16")]
    pub trace_id: u128,
    #[serde(serialize_with = "hex8")]
    pub span_id: u64,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub status: SpanStatus,
    /// `service.name` of the process the span belongs to.
    pub service_name: String,
    pub attributes: Attributes,
}

impl Span {
    pub fn duration_ms(&self) -> f64 {
        self.end_time_unix_nano.saturating_sub(self.start_time_unix_nano) as f64 / 1e6
    }
}

/// A point-in-time record: connection lifecycle, DNS query, alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Dotted event name, e.g. `tcp.connection.close`, `dns.query`.
    pub name: &'static str,
    pub time_unix_nano: u64,
    pub severity: Severity,
    pub attributes: Attributes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Info,
    Warn,
    Error,
}

/// What flows from signals to exporters.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Span(Span),
    Event(Event),
}

fn hex16<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:032x}"))
}
fn hex8<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:016x}"))
}

/// Random ids for spans: trace ids are 128-bit, span ids 64-bit, never zero.
pub fn new_ids() -> (u128, u64) {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    fn seed() -> u64 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let a = &t as *const u64 as u64;
        t ^ a.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15
    }
    fn next(s: &Cell<u64>) -> u64 {
        // splitmix64
        let mut z = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    STATE.with(|s| {
        let hi = next(s) as u128;
        let lo = next(s) as u128;
        let trace = ((hi << 64) | lo).max(1);
        (trace, next(s).max(1))
    })
}
