//! Stable stand-in for the cargo-fuzz targets (which need nightly): runs the same target
//! functions over a deterministic pseudo-random corpus (seeds, their mutations and
//! random bytes) for a bounded number of inputs and at most a few seconds per target.

use std::time::{Duration, Instant};

use telegen_proto::fuzzing;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn corpus_input(rng: &mut XorShift, seeds: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(3) {
        0 => (0..rng.below(1024)).map(|_| rng.next() as u8).collect(),
        _ => {
            let mut s = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(8) {
                let i = rng.below(s.len());
                match rng.below(4) {
                    0 => s[i] = rng.next() as u8,
                    1 => s.insert(i, rng.next() as u8),
                    2 if s.len() > 1 => {
                        s.remove(i);
                    }
                    _ => {
                        let j = rng.below(s.len());
                        let (a, b) = (i.min(j), i.max(j));
                        let dup = s[a..b].to_vec();
                        s.splice(b..b, dup);
                    }
                }
            }
            s
        }
    }
}

fn smoke(target: fn(&[u8]), seed: u64) {
    let seeds = fuzzing::seeds();
    for s in &seeds {
        target(s);
    }
    let mut rng = XorShift(seed);
    let start = Instant::now();
    let mut n = 0;
    while n < 50_000 && start.elapsed() < Duration::from_secs(3) {
        target(&corpus_input(&mut rng, &seeds));
        n += 1;
    }
    assert!(n >= 100, "ran only {n} inputs");
}

#[test]
fn fuzz_smoke_http1() {
    smoke(fuzzing::http1, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn fuzz_smoke_dns() {
    smoke(fuzzing::dns, 0xd1b5_4a32_d192_ed03);
}

#[test]
fn fuzz_smoke_conn_parser() {
    smoke(fuzzing::conn_parser, 0x2545_f491_4f6c_dd1d);
}

#[test]
fn fuzz_smoke_http2() {
    smoke(fuzzing::http2, 0x6a09_e667_f3bc_c908);
}
