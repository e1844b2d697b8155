//! Writes a large, deterministic pcap for benchmarks: HTTP/1.1 keep-alive traffic over a
//! few hundred TCP connections (handshakes, realistic request and response headers,
//! bodies segmented at an MSS of 1448, client ACKs, FINs at the end) interleaved with
//! DNS A queries and answers over UDP.
//!
//! ```text
//! cargo run --release -p telegen --example gen_pcap -- OUT.pcap SIZE_MB [CONNECTIONS] [SEED]
//! ```
//! The same arguments always give the same bytes. At the end it prints the number of
//! packets, HTTP exchanges and DNS queries written.

use etherparse::PacketBuilder;
use std::io::{BufWriter, Write};
use telegen::pcap::writer::PcapWriter;

const MSS: usize = 1448;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Conn {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    cseq: u32,
    sseq: u32,
}

struct Gen<W: Write> {
    w: PcapWriter<W>,
    ts: u64,
    rng: Rng,
    packets: u64,
    bytes: u64,
}

impl<W: Write> Gen<W> {
    fn frame(&mut self, ip_builder: impl FnOnce(&mut Vec<u8>)) {
        let mut f = Vec::with_capacity(1600);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
        ip_builder(&mut f);
        self.ts += 5_000 + self.rng.below(50_000);
        self.w.packet(self.ts, &f, None).expect("write");
        self.packets += 1;
        self.bytes += f.len() as u64 + 16;
    }

    fn tcp(
        &mut self,
        from: ([u8; 4], u16),
        to: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: &str,
        data: &[u8],
    ) {
        self.frame(|f| {
            let mut b = PacketBuilder::ipv4(from.0, to.0, 64).tcp(from.1, to.1, seq, 502);
            if flags.contains('S') {
                b = b.syn();
            }
            if flags.contains('A') {
                b = b.ack(ack);
            }
            if flags.contains('F') {
                b = b.fin();
            }
            if flags.contains('P') {
                b = b.psh();
            }
            b.write(f, data).expect("build");
        });
    }

    fn handshake(&mut self, c: &mut Conn) {
        self.tcp(c.client, c.server, c.cseq, 0, "S", b"");
        self.tcp(c.server, c.client, c.sseq, c.cseq + 1, "SA", b"");
        c.cseq += 1;
        c.sseq += 1;
        self.tcp(c.client, c.server, c.cseq, c.sseq, "A", b"");
    }

    /// Sends `data` from one side in MSS segments; the other side ACKs every second one.
    fn send(&mut self, c: &mut Conn, from_client: bool, data: &[u8]) {
        let chunks: Vec<&[u8]> = data.chunks(MSS).collect();
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let flags = if i + 1 == n { "AP" } else { "A" };
            if from_client {
                self.tcp(c.client, c.server, c.cseq, c.sseq, flags, chunk);
                c.cseq = c.cseq.wrapping_add(chunk.len() as u32);
            } else {
                self.tcp(c.server, c.client, c.sseq, c.cseq, flags, chunk);
                c.sseq = c.sseq.wrapping_add(chunk.len() as u32);
            }
            if i % 2 == 1 || i + 1 == n {
                if from_client {
                    self.tcp(c.server, c.client, c.sseq, c.cseq, "A", b"");
                } else {
                    self.tcp(c.client, c.server, c.cseq, c.sseq, "A", b"");
                }
            }
        }
    }

    fn close(&mut self, c: &mut Conn) {
        self.tcp(c.client, c.server, c.cseq, c.sseq, "AF", b"");
        c.cseq += 1;
        self.tcp(c.server, c.client, c.sseq, c.cseq, "AF", b"");
        c.sseq += 1;
        self.tcp(c.client, c.server, c.cseq, c.sseq, "A", b"");
    }

    fn dns(&mut self, id: u16, port: u16, name: &str, answers: u8) {
        let client = ([10, 1, 0, 7], port);
        let server = ([10, 1, 0, 53], 53);
        let mut q = Vec::new();
        q.extend_from_slice(&id.to_be_bytes());
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        self.frame(|f| {
            PacketBuilder::ipv4(client.0, server.0, 64)
                .udp(client.1, server.1)
                .write(f, &q)
                .expect("dns")
        });
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = answers;
        for i in 0..answers {
            r.extend_from_slice(&[
                0xC0,
                0x0C,
                0,
                1,
                0,
                1,
                0,
                0,
                0x0E,
                0x10,
                0,
                4,
                93,
                184,
                216,
                30 + i,
            ]);
        }
        self.frame(|f| {
            PacketBuilder::ipv4(server.0, client.0, 64)
                .udp(server.1, client.1)
                .write(f, &r)
                .expect("dns")
        });
    }
}

const PATHS: &[&str] = &[
    "/api/v1/users/{id}",
    "/api/v1/orders/{id}/items",
    "/static/js/app.{id}.js",
    "/health",
    "/api/v1/search?q=shoes&page={id}",
    "/api/v1/carts/{id}",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
];

fn request(rng: &mut Rng, host: &str) -> (Vec<u8>, bool) {
    let path = PATHS[rng.below(PATHS.len() as u64) as usize]
        .replace("{id}", &rng.below(100_000).to_string());
    let post = rng.below(5) == 0;
    let body = if post {
        format!(
            "{{\"item\":{},\"quantity\":{},\"note\":\"{}\"}}",
            rng.below(9999),
            rng.below(9) + 1,
            "x".repeat(rng.below(200) as usize)
        )
    } else {
        String::new()
    };
    let mut r = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\nAccept: application/json, text/plain, */*\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nConnection: keep-alive\r\nCookie: session={:016x}; theme=dark\r\nX-Request-Id: {:032x}\r\ntraceparent: 00-{:032x}-{:016x}-01\r\n",
        if post { "POST" } else { "GET" },
        path,
        AGENTS[rng.below(AGENTS.len() as u64) as usize],
        rng.next(),
        rng.next() as u128 * 3,
        rng.next() as u128 * 7,
        rng.next(),
    );
    if post {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("\r\n");
    r.push_str(&body);
    (r.into_bytes(), post)
}

fn response(rng: &mut Rng, post: bool) -> Vec<u8> {
    let (status, reason) = match rng.below(20) {
        0 => (404, "Not Found"),
        1 => (500, "Internal Server Error"),
        _ if post => (201, "Created"),
        _ => (200, "OK"),
    };
    let len = match rng.below(10) {
        0..=5 => 100 + rng.below(900),
        6..=8 => 1_000 + rng.below(7_000),
        _ => 8_000 + rng.below(24_000),
    } as usize;
    let mut body = Vec::with_capacity(len);
    while body.len() < len {
        body.extend_from_slice(b"{\"id\":12345,\"name\":\"example\",\"tags\":[\"a\",\"b\"]},");
    }
    body.truncate(len);
    let mut r = format!(
        "HTTP/1.1 {status} {reason}\r\nServer: nginx/1.22.1\r\nDate: Tue, 14 May 2024 10:{:02}:{:02} GMT\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {len}\r\nConnection: keep-alive\r\nCache-Control: no-store\r\nVary: Accept-Encoding\r\nX-Request-Id: {:032x}\r\n\r\n",
        rng.below(60),
        rng.below(60),
        rng.next() as u128 * 5,
    )
    .into_bytes();
    r.extend_from_slice(&body);
    r
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_pcap OUT.pcap SIZE_MB [CONNECTIONS=300] [SEED=1]");
        std::process::exit(2);
    }
    let size: u64 = args[2].parse::<u64>().expect("SIZE_MB") * 1_000_000;
    let nconn: usize = args.get(3).map(|s| s.parse().expect("CONNECTIONS")).unwrap_or(300);
    let seed: u64 = args.get(4).map(|s| s.parse().expect("SEED")).unwrap_or(1);
    let file = std::fs::File::create(&args[1]).expect("create output");
    let w =
        PcapWriter::new(BufWriter::with_capacity(1 << 20, file), 1, false, false).expect("header");
    let mut g = Gen {
        w,
        ts: 1_715_680_000_000_000_000,
        rng: Rng(seed.max(1) * 0x9E37_79B9_7F4A_7C15),
        packets: 0,
        bytes: 24,
    };
    let mut conns: Vec<Conn> = (0..nconn)
        .map(|i| Conn {
            client: ([10, 0, (i / 250) as u8, (i % 250) as u8 + 2], 32768 + (i as u16 % 28000)),
            server: ([10, 2, 0, (i % 8) as u8 + 10], if i % 3 == 0 { 8080 } else { 80 }),
            cseq: (i as u32).wrapping_mul(2_654_435_761),
            sseq: (i as u32).wrapping_mul(40_503).wrapping_add(0xFFFF_0000),
        })
        .collect();
    for c in conns.iter_mut() {
        g.handshake(c);
    }
    let (mut exchanges, mut queries) = (0u64, 0u64);
    while g.bytes < size {
        let i = g.rng.below(nconn as u64) as usize;
        let host = format!("shop-{}.example.com", i % 8);
        let (req, post) = request(&mut g.rng, &host);
        let resp = response(&mut g.rng, post);
        let c = &mut conns[i];
        g.send(c, true, &req);
        g.send(c, false, &resp);
        exchanges += 1;
        if exchanges % 20 == 0 {
            let id = (queries & 0xFFFF) as u16;
            let name = format!("svc-{}.internal.example.com", g.rng.below(50));
            let answers = 1 + g.rng.below(3) as u8;
            g.dns(id, 40000 + (queries % 20_000) as u16, &name, answers);
            queries += 1;
        }
    }
    for c in conns.iter_mut() {
        g.close(c);
    }
    let packets = g.packets;
    g.w.into_inner().flush().expect("flush");
    println!("{packets} packets, {exchanges} HTTP exchanges, {queries} DNS queries");
}
