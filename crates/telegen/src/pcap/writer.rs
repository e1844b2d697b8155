//! writer: minimal pcap and pcapng writers, for tests, fuzz seeds and the benchmark
//! capture generator. Both byte orders; pcap with micro- or nanosecond timestamps; pcapng
//! with several interfaces, each with its own link type and `if_tsresol`.

use std::io::{self, Write};

/// Legacy pcap writer.
pub struct PcapWriter<W: Write> {
    w: W,
    big: bool,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut w: W, linktype: u32, big_endian: bool, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = Vec::with_capacity(24);
        let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let u16b = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        h.extend_from_slice(&u32b(magic));
        h.extend_from_slice(&u16b(2));
        h.extend_from_slice(&u16b(4));
        h.extend_from_slice(&[0; 8]); // thiszone, sigfigs
        h.extend_from_slice(&u32b(262_144));
        h.extend_from_slice(&u32b(linktype));
        w.write_all(&h)?;
        Ok(PcapWriter { w, big: big_endian, nanos })
    }

    /// Writes one record; `orig_len` defaults to the captured length.
    pub fn packet(&mut self, ts_ns: u64, data: &[u8], orig_len: Option<u32>) -> io::Result<()> {
        let sec = (ts_ns / 1_000_000_000) as u32;
        let frac = (ts_ns % 1_000_000_000) as u32;
        let frac = if self.nanos { frac } else { frac / 1000 };
        let mut h = [0u8; 16];
        let vals = [sec, frac, data.len() as u32, orig_len.unwrap_or(data.len() as u32)];
        for (i, v) in vals.iter().enumerate() {
            let b = if self.big { v.to_be_bytes() } else { v.to_le_bytes() };
            h[i * 4..i * 4 + 4].copy_from_slice(&b);
        }
        self.w.write_all(&h)?;
        self.w.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

/// pcapng writer (one section).
pub struct PcapNgWriter<W: Write> {
    w: W,
    big: bool,
    /// Units per second of each interface.
    resolutions: Vec<u64>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the Section Header Block.
    pub fn new(mut w: W, big_endian: bool) -> io::Result<Self> {
        let mut b = Block::new(0x0A0D_0D0A, big_endian);
        b.u32(0x1A2B_3C4D);
        b.u16(1);
        b.u16(0);
        b.bytes(&(-1i64).to_le_bytes()); // section length unknown (same in both orders)
        w.write_all(&b.finish())?;
        Ok(PcapNgWriter { w, big: big_endian, resolutions: Vec::new() })
    }

    /// Adds an Interface Description Block; `tsresol` is the `if_tsresol` option value
    /// (6 = microseconds, 9 = nanoseconds). Returns the interface id.
    pub fn interface(&mut self, linktype: u16, tsresol: u8) -> io::Result<u32> {
        let mut b = Block::new(1, self.big);
        b.u16(linktype);
        b.u16(0);
        b.u32(262_144);
        b.u16(9); // if_tsresol
        b.u16(1);
        b.bytes(&[tsresol, 0, 0, 0]);
        b.u32(0); // opt_endofopt
        self.w.write_all(&b.finish())?;
        let res = if tsresol & 0x80 == 0 {
            10u64.pow(tsresol.min(19) as u32)
        } else {
            1u64 << (tsresol & 0x7f).min(63)
        };
        self.resolutions.push(res);
        Ok(self.resolutions.len() as u32 - 1)
    }

    /// Writes an Enhanced Packet Block on interface `if_id` (which may be undeclared,
    /// for tests of broken files; microseconds are assumed then).
    pub fn packet(
        &mut self,
        if_id: u32,
        ts_ns: u64,
        data: &[u8],
        orig_len: Option<u32>,
    ) -> io::Result<()> {
        let res = self.resolutions.get(if_id as usize).copied().unwrap_or(1_000_000);
        let ts = ((ts_ns as u128) * res as u128 / 1_000_000_000) as u64;
        let mut b = Block::new(6, self.big);
        b.u32(if_id);
        b.u32((ts >> 32) as u32);
        b.u32(ts as u32);
        b.u32(data.len() as u32);
        b.u32(orig_len.unwrap_or(data.len() as u32));
        b.bytes(data);
        b.pad();
        self.w.write_all(&b.finish())
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

struct Block {
    buf: Vec<u8>,
    big: bool,
}

impl Block {
    fn new(ty: u32, big: bool) -> Self {
        let mut b = Block { buf: Vec::with_capacity(64), big };
        b.u32(ty);
        b.u32(0); // length, patched in finish
        b
    }
    fn u32(&mut self, v: u32) {
        let x = if self.big { v.to_be_bytes() } else { v.to_le_bytes() };
        self.buf.extend_from_slice(&x);
    }
    fn u16(&mut self, v: u16) {
        let x = if self.big { v.to_be_bytes() } else { v.to_le_bytes() };
        self.buf.extend_from_slice(&x);
    }
    fn bytes(&mut self, d: &[u8]) {
        self.buf.extend_from_slice(d);
    }
    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
    fn finish(mut self) -> Vec<u8> {
        self.pad();
        let len = self.buf.len() as u32 + 4;
        self.u32(len);
        let x = if self.big { len.to_be_bytes() } else { len.to_le_bytes() };
        self.buf[4..8].copy_from_slice(&x);
        self.buf
    }
}
