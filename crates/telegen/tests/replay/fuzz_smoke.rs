//! Stable-toolchain smoke run of the `pcap_reader` fuzz target body
//! (`telegen::pcap::fuzzing::pcap`): deterministic pseudo-random mutations of
//! synthesized captures for about three seconds (`TELEGEN_FUZZ_SECS` changes that). The body panics when a parser panics or
//! the stream contract breaks (an event after `Close`, a connection without `Close`).

use etherparse::PacketBuilder;
use std::time::{Duration, Instant};
use telegen::model::Payload;
use telegen::pcap::fuzzing;
use telegen::pcap::writer::{PcapNgWriter, PcapWriter};
use telegen::pcap::PcapReplaySource;

const T0: u64 = 1_700_000_000_000_000_000;

#[allow(clippy::too_many_arguments)]
fn tcp(
    c: [u8; 4],
    s: [u8; 4],
    cp: u16,
    sp: u16,
    seq: u32,
    ack: u32,
    syn: bool,
    fin: bool,
    d: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(c, s, 64).tcp(cp, sp, seq, 1000);
    if syn {
        b = b.syn();
    } else {
        b = b.ack(ack);
    }
    if fin {
        b = b.fin();
    }
    let mut v = Vec::new();
    b.write(&mut v, d).unwrap();
    v
}

fn eth(ip: &[u8]) -> Vec<u8> {
    let et = if ip[0] >> 4 == 6 { [0x86, 0xDD] } else { [0x08, 0x00] };
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0, 5];
    f.extend_from_slice(&et);
    f.extend_from_slice(ip);
    f
}

/// A short HTTP exchange in both directions, one segment out of order, plus DNS and
/// IPv4/IPv6 fragments.
fn packets() -> Vec<Vec<u8>> {
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut p = vec![
        tcp(c, s, 40000, 80, 99, 0, true, false, b""),
        tcp(s, c, 80, 40000, 499, 100, true, false, b""),
        tcp(c, s, 40000, 80, 100, 500, false, false, b"GET / HTTP/1.1\r\n"),
        tcp(c, s, 40000, 80, 118, 500, false, false, b"\r\n"),
        tcp(c, s, 40000, 80, 116, 500, false, false, b"H:"),
        tcp(s, c, 80, 40000, 500, 120, false, false, b"HTTP/1.1 200 OK\r\n\r\n"),
        tcp(c, s, 40000, 80, 120, 519, false, true, b""),
        tcp(s, c, 80, 40000, 519, 121, false, true, b""),
    ];
    let mut dns = Vec::new();
    PacketBuilder::ipv4(c, [10, 0, 0, 53], 64).udp(5353, 53).write(&mut dns, &[7u8; 40]).unwrap();
    // split the DNS datagram in two IPv4 fragments
    let (h, body) = dns.split_at(20);
    let mut f1 = h.to_vec();
    f1[2..4].copy_from_slice(&(20u16 + 24).to_be_bytes());
    f1[6] = 0x20;
    f1.extend_from_slice(&body[..24]);
    let mut f2 = h.to_vec();
    f2[2..4].copy_from_slice(&(20 + body.len() as u16 - 24).to_be_bytes());
    f2[6..8].copy_from_slice(&3u16.to_be_bytes());
    f2.extend_from_slice(&body[24..]);
    p.push(dns);
    p.push(f2);
    p.push(f1);
    let mut v6 = Vec::new();
    PacketBuilder::ipv6(
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        64,
    )
    .udp(40000, 53)
    .write(&mut v6, b"v6 query")
    .unwrap();
    p.push(v6);
    p
}

fn seeds() -> Vec<Vec<u8>> {
    let pk = packets();
    let mut out = Vec::new();
    for (big, nanos) in [(false, false), (true, true)] {
        let mut w = PcapWriter::new(Vec::new(), 1, big, nanos).unwrap();
        for (i, p) in pk.iter().enumerate() {
            w.packet(T0 + i as u64 * 1000, &eth(p), None).unwrap();
        }
        out.push(w.into_inner());
    }
    let mut w = PcapWriter::new(Vec::new(), 101, false, false).unwrap();
    for p in &pk {
        w.packet(T0, p, None).unwrap();
    }
    out.push(w.into_inner());
    for big in [false, true] {
        let mut w = PcapNgWriter::new(Vec::new(), big).unwrap();
        let a = w.interface(1, 6).unwrap();
        let b = w.interface(101, 9).unwrap();
        for (i, p) in pk.iter().enumerate() {
            if i % 2 == 0 {
                w.packet(a, T0 + i as u64, &eth(p), None).unwrap();
            } else {
                w.packet(b, T0 + i as u64, p, None).unwrap();
            }
        }
        out.push(w.into_inner());
    }
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = d.len().max(1);
        match rng.below(7) {
            0 => {
                let i = rng.below(len);
                if let Some(b) = d.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(len);
                let v = [0u8, 0xFF, 0x7F, 0x80, 0x01][rng.below(5)];
                for k in 0..1 + rng.below(4) {
                    if let Some(b) = d.get_mut(i + k) {
                        *b = v;
                    }
                }
            }
            2 => d.truncate(rng.below(len)),
            3 => {
                let i = rng.below(len).min(d.len());
                let n = rng.below(64).min(d.len() - i);
                d.drain(i..i + n);
            }
            4 => {
                let i = rng.below(len).min(d.len());
                let j = rng.below(other.len().max(1)).min(other.len());
                let n = rng.below(128).min(other.len() - j);
                d.splice(i..i, other[j..j + n].iter().copied());
            }
            5 => {
                // duplicate a range (repeated packets / retransmissions)
                let i = rng.below(len).min(d.len());
                let n = rng.below(200).min(d.len() - i);
                let chunk = d[i..i + n].to_vec();
                d.splice(i..i, chunk);
            }
            _ => {
                let i = rng.below(len);
                let v = rng.next().to_le_bytes();
                for (k, x) in v.iter().take(4).enumerate() {
                    if let Some(b) = d.get_mut(i + k) {
                        *b = *x;
                    }
                }
            }
        }
    }
    d
}

#[test]
fn seeds_exercise_the_whole_path() {
    for seed in seeds() {
        let mut src = PcapReplaySource::new(&seed[..], fuzzing::small_config()).unwrap();
        let events: Vec<_> = src.by_ref().map(|e| e.unwrap()).collect();
        let data = events.iter().filter(|e| matches!(e.payload, Payload::Data(_))).count();
        let st = src.stats();
        assert!(data >= 4, "only {data} data events");
        assert_eq!(st.packet.fragments.reassembled, 1);
        assert!(st.packet.flows.reassembly.ooo_segments >= 1);
        fuzzing::pcap(&seed);
    }
}

#[test]
fn mutated_captures_never_break_the_contract() {
    let seeds = seeds();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let secs = std::env::var("TELEGEN_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, a, b);
        fuzzing::pcap(&input);
        runs += 1;
    }
    println!("{runs} mutated captures replayed");
    assert!(runs > 100 * secs, "only {runs} runs in {secs} s");
}
