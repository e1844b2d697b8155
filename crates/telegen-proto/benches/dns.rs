//! DNS throughput: query/response pairs over UDP (one datagram per message) and TCP
//! (length-prefixed, several per chunk) through `ConnParser`, and message parsing alone.

mod cpu_time;

use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use telegen_proto::record::Record;
use telegen_proto::session::{ConnParser, Protocol};
use telegen_proto::{dns, Direction, Limits, Transport};

const PAIRS: usize = 1000;

fn name(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.') {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

fn pair(i: usize) -> (Vec<u8>, Vec<u8>) {
    let id = (i as u16).to_be_bytes();
    let mut q = vec![id[0], id[1], 1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    q.extend(name(&format!("svc{i}.default.svc.cluster.local")));
    q.extend([0, 1, 0, 1]);
    q.extend([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]); // EDNS OPT
    let mut r = q[..q.len() - 11].to_vec();
    r[2] = 0x81;
    r[3] = 0x80;
    r[7] = 2;
    r[11] = 0;
    // CNAME to a compressed name, then an A record.
    r.extend([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 7, 4, b'p', b'o', b'd', b'1', 0xc0, 12]);
    r.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, (i >> 8) as u8, i as u8]);
    (q, r)
}

fn run(t: Transport, msgs: &[(Direction, Vec<u8>)], out: &mut Vec<Record>) -> usize {
    let mut p = ConnParser::with_protocol(t, Protocol::Dns, &Limits::default());
    // Records are consumed after each call, as the agent does.
    let mut n = 0;
    for (i, (d, b)) in msgs.iter().enumerate() {
        p.on_data(*d, i as u64, b, out);
        n += out.len();
        out.clear();
    }
    n
}

fn bench<M: Measurement>(c: &mut Criterion<M>, clock: &str) {
    let pairs: Vec<_> = (0..PAIRS).map(pair).collect();
    let udp: Vec<_> = pairs
        .iter()
        .flat_map(|(q, r)| {
            [(Direction::ClientToServer, q.clone()), (Direction::ServerToClient, r.clone())]
        })
        .collect();
    let bytes: usize = udp.iter().map(|(_, b)| b.len()).sum();
    let framed = |m: &Vec<u8>| [&(m.len() as u16).to_be_bytes()[..], m].concat();
    let mut tcp = Vec::new();
    for chunk in pairs.chunks(16) {
        tcp.push((Direction::ClientToServer, chunk.iter().flat_map(|(q, _)| framed(q)).collect()));
        tcp.push((Direction::ServerToClient, chunk.iter().flat_map(|(_, r)| framed(r)).collect()));
    }
    let mut g = c.benchmark_group(format!("dns_{clock}"));
    let mut out = Vec::with_capacity(PAIRS);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("udp_query_response_pairs", |b| {
        b.iter(|| assert_eq!(run(Transport::Udp, black_box(&udp), &mut out), PAIRS))
    });
    g.throughput(Throughput::Bytes((bytes + 4 * PAIRS) as u64));
    g.bench_function("tcp_16_messages_per_chunk", |b| {
        b.iter(|| assert_eq!(run(Transport::Tcp, black_box(&tcp), &mut out), PAIRS))
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("message_parse_only", |b| {
        b.iter(|| udp.iter().filter(|(_, m)| dns::message::parse(black_box(m)).is_ok()).count())
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
