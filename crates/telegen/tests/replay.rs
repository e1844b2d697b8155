//! Replay, without root: capture files through the stream layer and through the agent's
//! whole pipeline (`telegen replay`).
//! - `pcap`: synthesized captures through the pcap/pcapng reader, link layers,
//!   defragmentation and TCP/UDP reassembly;
//! - `fuzz_smoke`: the `pcap_reader` fuzz target body over mutated synthesized captures;
//! - `own`: our own captures (tests/captures) to records, with insta snapshots;
//! - `corpus`: the shared capture corpus (opt-in, `--ignored`): snapshots, packet counts
//!   and the expected facts of tests/corpus_facts/, checked by `facts`.

mod common;

#[path = "replay/corpus.rs"]
mod corpus;
#[path = "replay/facts.rs"]
mod facts;
#[path = "replay/fuzz_smoke.rs"]
mod fuzz_smoke;
#[path = "replay/own.rs"]
mod own;
#[path = "replay/pcap.rs"]
mod pcap;
