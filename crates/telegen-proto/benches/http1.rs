//! HTTP/1 throughput on keep-alive traffic: many small requests and responses, each
//! message in its own chunk (as a socket read delivers them), and pipelined in large
//! chunks. Measures the full `ConnParser` path including record building.

mod cpu_time;

use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use telegen_proto::record::Record;
use telegen_proto::session::{ConnParser, Protocol};
use telegen_proto::{Direction, Limits, Transport};

const EXCHANGES: usize = 1000;

fn conversation() -> Vec<(Direction, Vec<u8>)> {
    let mut v = Vec::new();
    for i in 0..EXCHANGES {
        let req = format!(
            "GET /api/v1/users/{i}/orders?page=2 HTTP/1.1\r\nHost: shop.internal:8080\r\n\
User-Agent: curl/8.5.0\r\nAccept: application/json\r\nX-Request-Id: 4bf92f35-77b3-4da6-a3ce-929d0e0e{i:04}\r\n\r\n"
        );
        let body = "{\"orders\":[1,2,3],\"next\":null,\"total\":3,\"ok\":true}";
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
Date: Wed, 25 Nov 2026 12:00:00 GMT\r\nServer: nginx/1.27.0\r\n\r\n{body}",
            body.len()
        );
        v.push((Direction::ClientToServer, req.into_bytes()));
        v.push((Direction::ServerToClient, resp.into_bytes()));
    }
    v
}

fn run(conv: &[(Direction, Vec<u8>)], limits: &Limits, out: &mut Vec<Record>) -> usize {
    let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, limits);
    // Records are consumed after each call, as the agent does.
    let mut n = 0;
    for (i, (d, b)) in conv.iter().enumerate() {
        p.on_data(*d, i as u64, b, out);
        n += out.len();
        out.clear();
    }
    p.on_close(u64::MAX, out);
    n += out.len();
    out.clear();
    n
}

fn bench<M: Measurement>(c: &mut Criterion<M>, clock: &str) {
    let limits = Limits::default();
    let conv = conversation();
    let bytes: usize = conv.iter().map(|(_, b)| b.len()).sum();
    let mut g = c.benchmark_group(format!("http1_{clock}"));
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut out = Vec::with_capacity(EXCHANGES);
    g.bench_function(BenchmarkId::new("keepalive_chunk_per_message", EXCHANGES), |b| {
        b.iter(|| assert_eq!(run(black_box(&conv), &limits, &mut out), EXCHANGES))
    });
    // Pipelined: all requests, then all responses, in 64 KiB chunks.
    let mut pipelined = Vec::new();
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        let all: Vec<u8> =
            conv.iter().filter(|(d, _)| *d == dir).flat_map(|(_, b)| b.iter().copied()).collect();
        for c in all.chunks(64 * 1024) {
            pipelined.push((dir, c.to_vec()));
        }
    }
    let mut limits_deep = Limits::default();
    limits_deep.http1.max_pending = EXCHANGES;
    g.bench_function(BenchmarkId::new("pipelined_64k_chunks", EXCHANGES), |b| {
        b.iter(|| assert_eq!(run(black_box(&pipelined), &limits_deep, &mut out), EXCHANGES))
    });
    let mut capture = Limits::default();
    capture.http1.capture_headers = vec!["content-type".into(), "x-request-id".into()];
    capture.http1.max_body_capture = 64;
    g.bench_function(BenchmarkId::new("keepalive_capture_headers_body", EXCHANGES), |b| {
        b.iter(|| assert_eq!(run(black_box(&conv), &capture, &mut out), EXCHANGES))
    });
    g.finish();
}

fn wall(c: &mut Criterion) {
    bench(c, "wall");
}

fn cpu(c: &mut Criterion<cpu_time::ThreadCpuTime>) {
    bench(c, "cpu");
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(cpu_time::ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
