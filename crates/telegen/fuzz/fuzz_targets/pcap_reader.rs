//! Replays arbitrary bytes as a pcap/pcapng file and checks the stream contract
//! (see `telegen::pcap::fuzzing::pcap`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    telegen::pcap::fuzzing::pcap(data);
});
