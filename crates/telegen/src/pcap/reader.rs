//! reader: streaming reader for capture files, on top of `pcap-parser`.
//!
//! Formats: legacy pcap (both byte orders, micro- and nanosecond timestamps, the
//! "modified" Kuznetsov format that pcap-parser reads) and pcapng (both byte orders,
//! several sections, several interfaces each with its own link type, timestamp
//! resolution and offset), as the libpcap file format and the pcapng draft
//! (draft-ietf-opsawg-pcapng) describe them.
//!
//! Memory is constant: a fixed read buffer (default 256 KiB) that only grows, up to a
//! bound, when one block is bigger than the buffer. The whole file is never held.
//! Packets whose pcapng interface is unknown (no IDB) are counted and skipped.

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError as ParseError, PcapNGReader};
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Why a capture could not be read. Only the container fails a replay: packet-level
/// problems are counted, never errors.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("cannot open capture file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read error at byte {offset} of the capture: {source}")]
    Read {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("the capture file is empty")]
    Empty,
    #[error("not a pcap or pcapng file (first four bytes {magic:#010x})")]
    UnknownFormat { magic: u32 },
    #[error("malformed {format} file header: {reason}")]
    BadHeader { format: &'static str, reason: String },
    #[error("corrupt {format} block at byte {offset}: {reason}")]
    Corrupt { format: &'static str, offset: u64, reason: String },
    #[error("capture block at byte {offset} is larger than the {limit}-byte limit")]
    BlockTooLarge { offset: u64, limit: usize },
}

/// Bytes read up front to recognise the format (and to hold the pcapng section header).
const PREFIX_LEN: usize = 64 * 1024;

/// One captured frame, borrowed from the read buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture time, Unix-epoch nanoseconds.
    pub ts_ns: u64,
    /// Link type (LINKTYPE_* value, FCS bits masked off).
    pub linktype: u32,
    /// Captured bytes (may be shorter than `orig_len`).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
}

/// Which container the file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

/// Counters of the container layer.
#[derive(Debug, Clone, Default)]
pub struct ReaderCounters {
    /// pcapng packets that name an interface with no Interface Description Block.
    pub no_interface: u64,
    /// pcapng blocks that are neither packets nor interface/section headers.
    pub other_blocks: u64,
    /// The file ended in the middle of a block.
    pub truncated_file: bool,
}

#[derive(Clone, Copy)]
struct Iface {
    linktype: u32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset_s: i64,
}

/// `Read` adapter that keeps the last I/O error (pcap-parser drops it) and retries EINTR.
struct ErrKeeper<R> {
    inner: R,
    last: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for ErrKeeper<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kept = io::Error::new(e.kind(), e.to_string());
                    if let Ok(mut last) = self.last.lock() {
                        *last = Some(kept);
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

type Input<R> = ErrKeeper<io::Chain<Cursor<Vec<u8>>, R>>;

enum Inner<R: Read> {
    Legacy(LegacyPcapReader<Input<R>>),
    Ng(PcapNGReader<Input<R>>),
}

/// Streaming packet reader over any `Read`.
pub struct PacketReader<R: Read> {
    inner: Inner<R>,
    format: CaptureFormat,
    /// Legacy pcap: link type and whether timestamps are nanoseconds.
    legacy: Option<(u32, bool)>,
    ifaces: Vec<Iface>,
    capacity: usize,
    max_block: usize,
    last_io: Arc<Mutex<Option<io::Error>>>,
    counters: ReaderCounters,
    /// Timestamp of the previous packet (Simple Packet Blocks carry none).
    last_ts: u64,
    done: bool,
}

fn fill_prefix<R: Read>(r: &mut R) -> Result<Vec<u8>, PcapError> {
    let mut buf = vec![0u8; PREFIX_LEN];
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(PcapError::Read { offset: n as u64, source }),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

fn header_error(format: &'static str, e: ParseError<&[u8]>) -> PcapError {
    let reason = match e {
        ParseError::Incomplete(_) | ParseError::UnexpectedEof | ParseError::Eof => {
            "file header is truncated".to_string()
        }
        ParseError::NomError(_, k) | ParseError::OwnedNomError(_, k) => {
            format!("invalid header ({k:?})")
        }
        other => other.to_string(),
    };
    PcapError::BadHeader { format, reason }
}

impl<R: Read> PacketReader<R> {
    /// Recognises the format from the first bytes and reads the file header.
    /// `capacity` is the initial read buffer, `max_block` the largest block accepted.
    pub fn new(mut reader: R, capacity: usize, max_block: usize) -> Result<Self, PcapError> {
        let prefix = fill_prefix(&mut reader)?;
        if prefix.is_empty() {
            return Err(PcapError::Empty);
        }
        if prefix.len() < 4 {
            return Err(PcapError::BadHeader {
                format: "capture",
                reason: format!("only {} bytes", prefix.len()),
            });
        }
        let magic = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let capacity = capacity.max(PREFIX_LEN * 2).max(prefix.len());
        let max_block = max_block.max(capacity);
        let last_io = Arc::new(Mutex::new(None));
        let input =
            ErrKeeper { inner: Cursor::new(prefix).chain(reader), last: Arc::clone(&last_io) };
        let (inner, format) = match magic {
            0x0A0D_0D0A => {
                let r =
                    PcapNGReader::new(capacity, input).map_err(|e| header_error("pcapng", e))?;
                (Inner::Ng(r), CaptureFormat::Pcapng)
            }
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => {
                let r =
                    LegacyPcapReader::new(capacity, input).map_err(|e| header_error("pcap", e))?;
                (Inner::Legacy(r), CaptureFormat::Pcap)
            }
            _ => return Err(PcapError::UnknownFormat { magic }),
        };
        Ok(PacketReader {
            inner,
            format,
            legacy: None,
            ifaces: Vec::new(),
            capacity,
            max_block,
            last_io,
            counters: ReaderCounters::default(),
            last_ts: 0,
            done: false,
        })
    }

    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Bytes of the file consumed so far.
    pub fn consumed(&self) -> u64 {
        let it: &dyn PcapReaderIterator = match &self.inner {
            Inner::Legacy(r) => r,
            Inner::Ng(r) => r,
        };
        it.consumed() as u64
    }

    pub fn counters(&self) -> &ReaderCounters {
        &self.counters
    }

    /// Reads blocks until one packet is found and hands it to `f`. Returns `Ok(None)` at
    /// the end of the file (a truncated last block counts as the end, see
    /// [`ReaderCounters::truncated_file`]).
    pub fn next_packet<T>(
        &mut self,
        f: impl FnOnce(RawPacket<'_>) -> T,
    ) -> Result<Option<T>, PcapError> {
        if self.done {
            return Ok(None);
        }
        let fmt = match self.format {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::Pcapng => "pcapng",
        };
        let mut f = Some(f);
        let it: &mut dyn PcapReaderIterator = match &mut self.inner {
            Inner::Legacy(r) => r,
            Inner::Ng(r) => r,
        };
        let mut stalled = 0u32;
        loop {
            let offset = it.consumed() as u64;
            let (used, result) = match it.next() {
                Ok((used, block)) => {
                    let pkt = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            let lt = (h.network.0 as u32) & 0xFFFF;
                            self.legacy = Some((lt, h.is_nanosecond_precision()));
                            None
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let (lt, nanos) = self.legacy.unwrap_or((1, false));
                            let frac =
                                if nanos { b.ts_usec as u64 } else { b.ts_usec as u64 * 1000 };
                            Some(RawPacket {
                                ts_ns: (b.ts_sec as u64) * 1_000_000_000 + frac,
                                linktype: lt,
                                data: b.data,
                                orig_len: b.origlen,
                            })
                        }
                        PcapBlockOwned::NG(block) => {
                            ng_packet(block, &mut self.ifaces, &mut self.counters, self.last_ts)
                        }
                    };
                    let out = match (pkt, f.take()) {
                        (Some(p), Some(func)) => {
                            self.last_ts = p.ts_ns;
                            Some(func(p))
                        }
                        (_, func) => {
                            f = func;
                            None
                        }
                    };
                    (used, Ok(out))
                }
                Err(ParseError::Eof) => (0, Err(None)),
                Err(ParseError::UnexpectedEof) => {
                    self.counters.truncated_file = true;
                    tracing::warn!(offset, "capture file ends in the middle of a block");
                    (0, Err(None))
                }
                Err(ParseError::Incomplete(_)) => {
                    let before = it.data().len();
                    let refill = it.refill().is_ok();
                    if !refill {
                        (0, Err(Some(io_error(&self.last_io, offset))))
                    } else if it.data().len() == before && !it.reader_exhausted() {
                        stalled += 1;
                        if stalled > 2 && !grow(it, &mut self.capacity, self.max_block) {
                            (
                                0,
                                Err(Some(PcapError::BlockTooLarge {
                                    offset,
                                    limit: self.max_block,
                                })),
                            )
                        } else {
                            continue;
                        }
                    } else {
                        continue;
                    }
                }
                Err(ParseError::BufferTooSmall) => {
                    if grow(it, &mut self.capacity, self.max_block) {
                        if it.refill().is_err() {
                            (0, Err(Some(io_error(&self.last_io, offset))))
                        } else {
                            continue;
                        }
                    } else {
                        (0, Err(Some(PcapError::BlockTooLarge { offset, limit: self.max_block })))
                    }
                }
                Err(ParseError::ReadError) => (0, Err(Some(io_error(&self.last_io, offset)))),
                Err(e) => {
                    let reason = match e {
                        ParseError::NomError(_, k) | ParseError::OwnedNomError(_, k) => {
                            format!("invalid block ({k:?})")
                        }
                        other => other.to_string(),
                    };
                    (0, Err(Some(PcapError::Corrupt { format: fmt, offset, reason })))
                }
            };
            match result {
                Ok(Some(out)) => {
                    it.consume(used);
                    return Ok(Some(out));
                }
                Ok(None) => {
                    it.consume(used);
                    stalled = 0;
                }
                Err(None) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(Some(e)) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }
}

fn io_error(last_io: &Mutex<Option<io::Error>>, offset: u64) -> PcapError {
    {
        let source = last_io
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .unwrap_or_else(|| io::Error::other("read failed"));
        PcapError::Read { offset, source }
    }
}

fn grow(it: &mut dyn PcapReaderIterator, capacity: &mut usize, max: usize) -> bool {
    if *capacity >= max {
        return false;
    }
    let new = (*capacity * 2).min(max);
    if it.grow(new) {
        *capacity = new;
        true
    } else {
        false
    }
}

fn ng_packet<'a>(
    block: Block<'a>,
    ifaces: &mut Vec<Iface>,
    counters: &mut ReaderCounters,
    last_ts: u64,
) -> Option<RawPacket<'a>> {
    match block {
        Block::SectionHeader(_) => {
            ifaces.clear();
            None
        }
        Block::InterfaceDescription(idb) => {
            ifaces.push(Iface {
                linktype: (idb.linktype.0 as u32) & 0xFFFF,
                resolution: idb.ts_resolution().filter(|r| *r > 0).unwrap_or(1_000_000),
                offset_s: idb.ts_offset(),
            });
            None
        }
        Block::EnhancedPacket(epb) => {
            let Some(iface) = ifaces.get(epb.if_id as usize).copied() else {
                counters.no_interface += 1;
                return None;
            };
            let ts = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
            Some(RawPacket {
                ts_ns: ng_ts_ns(ts, iface),
                linktype: iface.linktype,
                data: &epb.data[..(epb.caplen as usize).min(epb.data.len())],
                orig_len: epb.origlen,
            })
        }
        Block::SimplePacket(spb) => {
            let Some(iface) = ifaces.first().copied() else {
                counters.no_interface += 1;
                return None;
            };
            Some(RawPacket {
                ts_ns: last_ts,
                linktype: iface.linktype,
                data: &spb.data[..(spb.origlen as usize).min(spb.data.len())],
                orig_len: spb.origlen,
            })
        }
        _ => {
            counters.other_blocks += 1;
            None
        }
    }
}

/// Converts a pcapng timestamp in interface units to Unix nanoseconds (saturating).
fn ng_ts_ns(ts: u64, iface: Iface) -> u64 {
    let ns = (ts as u128) * 1_000_000_000 / iface.resolution as u128;
    let ns = ns as i128 + iface.offset_s as i128 * 1_000_000_000;
    ns.clamp(0, u64::MAX as i128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ng_timestamps_use_interface_resolution() {
        let us = Iface { linktype: 1, resolution: 1_000_000, offset_s: 0 };
        assert_eq!(ng_ts_ns(1_500_000, us), 1_500_000_000);
        let ns = Iface { resolution: 1_000_000_000, ..us };
        assert_eq!(ng_ts_ns(7, ns), 7);
        let off = Iface { offset_s: 10, ..us };
        assert_eq!(ng_ts_ns(1, off), 10_000_001_000);
    }

    #[test]
    fn rejects_unknown_and_empty() {
        assert!(matches!(
            PacketReader::new(&b"hello world"[..], 0, 0),
            Err(PcapError::UnknownFormat { .. })
        ));
        assert!(matches!(PacketReader::new(&b""[..], 0, 0), Err(PcapError::Empty)));
        assert!(matches!(
            PacketReader::new(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0][..], 0, 0),
            Err(PcapError::BadHeader { .. })
        ));
    }
}
