//! fuzzing: bodies of the fuzz targets in `crates/telegen/fuzz`, kept in the library so
//! a stable test (`tests/replay/fuzz_smoke.rs`) runs them too. Compiled only with the
//! `fuzzing` feature (the fuzz crate and this crate's tests turn it on), so release
//! builds of the agent do not carry it.
//!
//! Besides "never panic", [`pcap`] checks the event contract on whatever the input
//! produces: no event of a connection after its `Close`, exactly one `Close` per
//! connection, every connection closed at the end, and gap lengths above zero.

use super::source::{PcapReplaySource, ReplayConfig};
use crate::model::{Payload, StreamEvent};
use std::collections::HashMap;

/// Small bounds so that eviction, forced gaps and fragment limits are reached by fuzzing.
pub fn small_config() -> ReplayConfig {
    let mut cfg = ReplayConfig {
        read_buffer: 4096,
        max_block: 1 << 20,
        batch_packets: 7,
        ..Default::default()
    };
    cfg.flows.max_flows = 8;
    cfg.flows.half.max_ooo_segments = 4;
    cfg.flows.half.max_ooo_bytes = 4096;
    cfg.flows.tcp_idle_timeout_ns = 5_000_000_000;
    cfg.flows.udp_idle_timeout_ns = 1_000_000_000;
    cfg.defrag.max_datagrams = 4;
    cfg.defrag.max_fragments = 8;
    cfg
}

/// Replays `data` as a capture file and checks the event contract. Panics only when
/// the contract is broken (which is what the fuzzer should find).
pub fn pcap(data: &[u8]) {
    let Ok(mut src) = PcapReplaySource::new(data, small_config()) else { return };
    let mut open: HashMap<u64, bool> = HashMap::new();
    let mut out = Vec::new();
    loop {
        out.clear();
        let more = src.next_events(&mut out);
        check(&out, &mut open);
        match more {
            Ok(true) => continue,
            Ok(false) | Err(_) => break,
        }
    }
    assert!(open.values().all(|closed| *closed), "a connection ended without Close");
    let st = src.stats();
    assert!(st.packet.packets >= st.packet.tcp_packets + st.packet.udp_packets);
    let _ = src.progress();
}

fn check(events: &[StreamEvent], open: &mut HashMap<u64, bool>) {
    for ev in events {
        let closed = open.entry(ev.conn_id).or_insert(false);
        assert!(!*closed, "event after Close on connection {}", ev.conn_id);
        match &ev.payload {
            Payload::Close => *closed = true,
            Payload::Gap(n) => assert!(*n > 0, "empty gap"),
            Payload::Data(d) => assert!(!d.is_empty(), "empty data"),
        }
    }
}
