//! Measures the pcap replay source alone (pcap reader + packet stack: link/IP + TCP/UDP
//! reassembly):
//! replays a capture, drops the events, prints MB/s and the replay stats.
//!
//! ```text
//! cargo run --release -p telegen --example pcap_throughput -- FILE
//! ```

use std::time::Instant;
use telegen::model::Payload;
use telegen::pcap::{PcapReplaySource, ReplayConfig};

fn main() {
    let path = std::env::args().nth(1).expect("usage: pcap_throughput FILE");
    let start = Instant::now();
    let mut src = PcapReplaySource::open(&path, ReplayConfig::default()).expect("open");
    let mut out = Vec::with_capacity(1024);
    let (mut events, mut data_bytes) = (0u64, 0u64);
    loop {
        out.clear();
        let more = src.next_events(&mut out).expect("replay");
        for e in &out {
            events += 1;
            if let Payload::Data(d) = &e.payload {
                data_bytes += d.len() as u64;
            }
        }
        if !more {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let (read, _) = src.progress();
    let stats = src.stats();
    println!(
        "{:.1} MB in {secs:.2} s: {:.0} MB/s, {:.2} M packets/s, {events} events, {:.1} MB payload",
        read as f64 / 1e6,
        read as f64 / 1e6 / secs,
        stats.packet.packets as f64 / 1e6 / secs,
        data_bytes as f64 / 1e6
    );
    println!("{}", serde_json::to_string_pretty(&stats).expect("json"));
}
