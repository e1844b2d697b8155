//! Test helpers: run a scripted conversation through a `ConnParser`, and check that
//! splitting any step at any offset (and into single bytes) yields the same records.

use crate::record::Record;
use crate::session::{ConnParser, Protocol};
use crate::stats::ParseStats;
use crate::{Direction, Limits, Transport};

pub use Direction::{ClientToServer as C2S, ServerToClient as S2C};

/// One step of a conversation: bytes of one direction at step time `i * 1000`.
pub type Step<'a> = (Direction, &'a [u8]);

fn parser(t: Transport, proto: Option<Protocol>, port: u16, l: &Limits) -> ConnParser {
    match proto {
        Some(p) => ConnParser::with_protocol(t, p, l),
        None => ConnParser::new(t, port, l),
    }
}

/// Feeds each step as chunks produced by `split(step_index, bytes)`, then closes.
pub fn run_with(
    t: Transport,
    proto: Option<Protocol>,
    port: u16,
    l: &Limits,
    steps: &[Step<'_>],
    split: &dyn Fn(usize, &[u8]) -> Vec<usize>,
) -> (Vec<Record>, ParseStats) {
    let mut p = parser(t, proto, port, l);
    let mut out = Vec::new();
    for (i, (d, b)) in steps.iter().enumerate() {
        let ts = (i as u64 + 1) * 1000;
        let mut last = 0;
        for cut in split(i, b).into_iter().chain([b.len()]) {
            p.on_data(*d, ts, &b[last..cut], &mut out);
            last = cut;
        }
    }
    p.on_close((steps.len() as u64 + 1) * 1000, &mut out);
    (out, p.take_stats())
}

/// Asserts that every split of every step, and byte-by-byte feeding, give the records
/// of the unsplit run. Returns those records.
pub fn same_records_any_split(
    t: Transport,
    port: u16,
    l: &Limits,
    steps: &[Step<'_>],
) -> Vec<Record> {
    let (want, _) = run_with(t, None, port, l, steps, &|_, _| vec![]);
    for k in 0..steps.len() {
        for off in 1..steps[k].1.len() {
            let (got, _) =
                run_with(t, None, port, l, steps, &|i, _| if i == k { vec![off] } else { vec![] });
            assert_eq!(got, want, "step {k} split at {off}");
        }
    }
    let (got, _) = run_with(t, None, port, l, steps, &|_, b| (1..b.len()).collect());
    assert_eq!(got, want, "byte-by-byte");
    want
}

/// The HTTP records of `recs`, panicking on any other kind.
pub fn http(recs: &[Record]) -> Vec<&crate::record::HttpRecord> {
    recs.iter()
        .map(|r| match r {
            Record::Http(h) => h,
            other => panic!("not HTTP: {other:?}"),
        })
        .collect()
}

/// The DNS records of `recs`, panicking on any other kind.
pub fn dns(recs: &[Record]) -> Vec<&crate::record::DnsRecord> {
    recs.iter()
        .map(|r| match r {
            Record::Dns(d) => d,
            other => panic!("not DNS: {other:?}"),
        })
        .collect()
}
