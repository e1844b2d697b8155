//! Property tests: no input makes a parser panic or break its bounds, and the records
//! of a valid conversation do not depend on how its bytes are chunked.

use proptest::prelude::*;
use telegen_proto::record::Record;
use telegen_proto::session::{ConnParser, Protocol};
use telegen_proto::{fuzzing, Direction, Limits, Transport};

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn http1_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzzing::http1(&data);
    }

    #[test]
    fn dns_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        fuzzing::dns(&data);
    }

    #[test]
    fn conn_parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzzing::conn_parser(&data);
    }

    #[test]
    fn http2_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzzing::http2(&data);
    }

    #[test]
    fn mutated_seeds_never_panic(seed in 0usize..7, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut s = fuzzing::seeds()[seed].clone();
        for (at, b) in flips {
            let i = at % s.len();
            s[i] = b;
        }
        fuzzing::http1(&s);
        fuzzing::dns(&s);
        fuzzing::http2(&s);
        fuzzing::conn_parser(&s);
    }

    #[test]
    fn http1_records_do_not_depend_on_chunking(cuts in proptest::collection::vec(1usize..64, 0..40)) {
        let conv: &[(Direction, &[u8])] = &[
            (Direction::ClientToServer, b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            (Direction::ServerToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"),
        ];
        let run = |cuts: &[usize]| {
            let mut p = ConnParser::with_protocol(Transport::Tcp, Protocol::Http1, &Limits::default());
            let mut out: Vec<Record> = Vec::new();
            let mut k = 0;
            for (i, (d, b)) in conv.iter().enumerate() {
                let mut pos = 0;
                while pos < b.len() {
                    let n = if cuts.is_empty() { b.len() } else { cuts[k % cuts.len()] };
                    k += 1;
                    let end = (pos + n).min(b.len());
                    p.on_data(*d, i as u64, &b[pos..end], &mut out);
                    pos = end;
                }
            }
            p.on_close(9, &mut out);
            out
        };
        let want = run(&[]);
        prop_assert_eq!(want.len(), 2);
        prop_assert_eq!(run(&cuts), want);
    }
}
