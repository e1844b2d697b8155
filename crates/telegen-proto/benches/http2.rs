//! HTTP/2 throughput: gRPC unary calls on one connection (HEADERS + DATA each way,
//! trailers), HPACK with a warm dynamic table, one chunk per frame group.

mod cpu_time;

use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loona_hpack::Encoder;
use std::hint::black_box;
use telegen_proto::http2::frame::{self, PREFACE};
use telegen_proto::record::Record;
use telegen_proto::session::{ConnParser, Protocol};
use telegen_proto::{Direction, Limits, Transport};

const CALLS: u32 = 1000;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend([kind, flags]);
    v.extend(stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn conversation() -> Vec<(Direction, Vec<u8>)> {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let mut v = vec![(Direction::ClientToServer, PREFACE.to_vec())];
    let msg = |n: usize| [&[0u8][..], &(n as u32).to_be_bytes(), &vec![7u8; n]].concat();
    for i in 0..CALLS {
        let id = 2 * i + 1;
        let req: [(&[u8], &[u8]); 6] = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", b"/shop.v1.Orders/Get"),
            (b":authority", b"orders.shop.svc:50051"),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ];
        let h = ce.encode(req);
        let c = [frame(frame::HEADERS, 4, id, &h), frame(frame::DATA, 1, id, &msg(40))].concat();
        let rh =
            se.encode([(&b":status"[..], &b"200"[..]), (b"content-type", b"application/grpc")]);
        let tr = se.encode([(&b"grpc-status"[..], &b"0"[..])]);
        let s = [
            frame(frame::HEADERS, 4, id, &rh),
            frame(frame::DATA, 0, id, &msg(120)),
            frame(frame::HEADERS, 5, id, &tr),
        ]
        .concat();
        v.push((Direction::ClientToServer, c));
        v.push((Direction::ServerToClient, s));
    }
    v
}

fn bench<M: Measurement>(c: &mut Criterion<M>, clock: &str) {
    let conv = conversation();
    let bytes: usize = conv.iter().map(|(_, b)| b.len()).sum();
    let mut g = c.benchmark_group(format!("http2_{clock}"));
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut out: Vec<Record> = Vec::new();
    g.bench_function("grpc_unary_calls", |b| {
        b.iter(|| {
            let mut p =
                ConnParser::with_protocol(Transport::Tcp, Protocol::Http2, &Limits::default());
            let mut n = 0;
            for (i, (d, bytes)) in black_box(&conv).iter().enumerate() {
                p.on_data(*d, i as u64, bytes, &mut out);
                n += out.len();
                out.clear();
            }
            assert_eq!(n, CALLS as usize);
        })
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
