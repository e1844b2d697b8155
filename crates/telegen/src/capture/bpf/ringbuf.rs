//! The kernel ring buffers' consumer, and the reader loop the captures share.
//!
//! [`RingReader`] maps a `BPF_MAP_TYPE_RINGBUF` map's data pages **once**. The kernel
//! lays the data out twice in a row so that a record crossing the end reads as one slice;
//! consumers that map that double view (libbpf, aya) get every data page counted twice in
//! their resident set (a 16 MiB ring shows as 32 MiB of RSS). Here a record that crosses
//! the end (rare: at most one per lap of the ring) is copied into a scratch buffer
//! instead, and the ring costs its real size once.
//!
//! The kernel submits with `BPF_RB_NO_WAKEUP` and wakes the reader only when the ring is
//! filled past a threshold (a wake-up costs about 12 µs), so the reader drains on
//! readiness *and* on a timer (`poll`, 10 ms by default). If polling the ring
//! fails, the timer alone keeps draining.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use aya::maps::{Map, MapData};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tracing::warn;

/// Record header flag: the producer has reserved the record but not committed it.
const BUSY_BIT: u32 = 1 << 31;
/// Record header flag: the producer discarded the record.
const DISCARD_BIT: u32 = 1 << 30;
/// Record header: length (u32, with the flags above) and page offset (u32).
const HEADER: usize = 8;

/// One shared memory mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(fd: RawFd, len: usize, prot: libc::c_int, offset: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh mapping of `len` bytes of the map's fd; the kernel checks the
        // offset and length against the ring's layout.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, offset as libc::off_t)
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; nothing borrows it past `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Reads one ring-buffer map (see the module documentation).
pub struct RingReader {
    /// Page 0 of the map: the consumer position (read-write).
    consumer: Mapping,
    /// Page 1 of the map (the producer position) followed by the data pages, once.
    producer: Mapping,
    page: usize,
    size: usize,
    mask: u64,
    /// Consumer position after the last record handed out.
    pos: u64,
    /// Consumer position last published to the kernel.
    published: u64,
    /// A record that crossed the end of the data pages, made contiguous.
    scratch: Vec<u8>,
    wrapped: u64,
    /// A record header claimed more than the ring: reading stopped (warned once; the
    /// kernel's failed reserves count every later event as lost).
    stuck: bool,
    /// Keeps the map's fd open for as long as it is mapped and polled.
    map: MapData,
}

// SAFETY: the mappings are process-wide memory owned by the reader; they are read and
// written only through `&mut self`.
unsafe impl Send for RingReader {}

impl RingReader {
    /// Maps the ring-buffer `map` for reading.
    pub fn new(map: Map) -> io::Result<RingReader> {
        let Map::RingBuf(map) = map else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a ring-buffer map"));
        };
        let size = map.info().map_err(io::Error::other)?.max_entries() as usize;
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .map_err(|_| io::Error::other("no page size"))?;
        if !size.is_power_of_two() || size < page {
            return Err(io::Error::other(format!(
                "ring size {size} is not a power-of-two page multiple"
            )));
        }
        let fd = map.fd().as_fd().as_raw_fd();
        let consumer = Mapping::new(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = Mapping::new(fd, page + size, libc::PROT_READ, page)?;
        let mut reader = RingReader {
            consumer,
            producer,
            page,
            size,
            mask: size as u64 - 1,
            pos: 0,
            published: 0,
            scratch: Vec::new(),
            wrapped: 0,
            stuck: false,
            map,
        };
        reader.pos = reader.consumer_pos().load(Ordering::Acquire);
        reader.published = reader.pos;
        Ok(reader)
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the first 8 bytes of the consumer page, page-aligned, shared with the
        // kernel, which reads it atomically.
        unsafe { &*self.consumer.ptr.as_ptr().cast::<AtomicU64>() }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: as above, on the producer page, which the kernel writes atomically.
        unsafe { &*self.producer.ptr.as_ptr().cast::<AtomicU64>() }
    }

    fn data(&self) -> *const u8 {
        // SAFETY: the data pages follow the producer page inside the same mapping.
        unsafe { self.producer.ptr.as_ptr().add(self.page) }
    }

    /// The next committed record, or `None` when the ring is empty (or its next record is
    /// still being written). The record's space goes back to the kernel at the next call.
    pub fn next_record(&mut self) -> Option<&[u8]> {
        loop {
            if self.pos != self.published {
                self.consumer_pos().store(self.pos, Ordering::Release);
                self.published = self.pos;
            }
            if self.pos >= self.producer_pos().load(Ordering::Acquire) {
                return None;
            }
            let off = (self.pos & self.mask) as usize;
            // SAFETY: `off` is 8-aligned and below `size`, so the 4-byte header lies
            // inside the data pages (the size is a multiple of 8).
            let header = unsafe { &*self.data().add(off).cast::<AtomicU32>() };
            let word = header.load(Ordering::Acquire);
            if word & BUSY_BIT != 0 {
                return None;
            }
            let len = (word & !(BUSY_BIT | DISCARD_BIT)) as usize;
            if len + HEADER > self.size {
                if !self.stuck {
                    self.stuck = true;
                    warn!(
                        len,
                        size = self.size,
                        "ring-buffer record longer than the ring; reader stops (later events \
                         are counted as lost by the kernel)"
                    );
                }
                return None;
            }
            self.pos += ((len + HEADER + 7) & !7) as u64;
            if word & DISCARD_BIT != 0 {
                continue;
            }
            let start = (off + HEADER) & (self.size - 1);
            let data = self.data();
            if start + len <= self.size {
                // SAFETY: inside the data pages; the kernel leaves a committed record
                // alone until the consumer position passes it.
                return Some(unsafe { std::slice::from_raw_parts(data.add(start), len) });
            }
            let first = self.size - start;
            self.scratch.clear();
            // SAFETY: both pieces lie inside the data pages (start < size, len - first
            // < size), committed and stable as above.
            unsafe {
                self.scratch.extend_from_slice(std::slice::from_raw_parts(data.add(start), first));
                self.scratch.extend_from_slice(std::slice::from_raw_parts(data, len - first));
            }
            self.wrapped += 1;
            return Some(&self.scratch);
        }
    }

    /// Records so far that crossed the end of the data pages and were copied.
    pub fn wrapped(&self) -> u64 {
        self.wrapped
    }

    /// The ring's data size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl AsRawFd for RingReader {
    fn as_raw_fd(&self) -> RawFd {
        self.map.fd().as_fd().as_raw_fd()
    }
}

/// A ring buffer registered with tokio.
pub type Ring = AsyncFd<RingReader>;

/// What a capture's reader does with the ring.
pub trait Drain {
    /// Consumes every record waiting in the ring.
    fn drain(&mut self, ring: &mut RingReader);
    /// Runs after every drain; false stops the reader (its receiver is gone).
    fn keep_going(&mut self) -> bool;
}

/// Maps the ring-buffer `map` and registers it with the runtime `rt`.
pub fn register(rt: &tokio::runtime::Handle, map: Map) -> io::Result<Ring> {
    let ring = RingReader::new(map)?;
    let _guard = rt.enter();
    // SAFETY: the reader owns the map's fd and moves into the AsyncFd, which keeps it
    // open until the AsyncFd is dropped.
    unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }.map_err(Into::into)
}

/// Drains `ring` on readiness and every `poll` until [`Drain::keep_going`] says stop.
pub async fn read<D: Drain>(reader: &mut D, mut ring: Ring, poll: Duration) {
    let mut tick = tokio::time::interval(poll.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            guard = ring.readable_mut() => match guard {
                Ok(mut g) => {
                    reader.drain(g.get_inner_mut());
                    g.clear_ready();
                }
                Err(e) => {
                    warn!(%e, "ring buffer poll failed; timer only");
                    tick.tick().await;
                    reader.drain(ring.get_mut());
                }
            },
            _ = tick.tick() => reader.drain(ring.get_mut()),
        }
        if !reader.keep_going() {
            return;
        }
    }
}
