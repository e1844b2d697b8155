//! Socket payload capture: what processes send and receive on their TCP and UDP sockets,
//! delivered as [`StreamEvent`]s (the seam shared with offline replay).
//!
//! Kernel side: bpf/payload.bpf.c (classic per-syscall tracepoints; in-kernel protocol
//! classification, DNS ports, port filters and sampling; see its header comment).
//! User side:
//! - [`kernel`]: loads and attaches the programs, one hook at a time.
//! - [`abi`]: `#[repr(C)]` mirror of the payload section of bpf/telegen.h.
//! - [`decode`]: raw records -> oriented stream events with gaps.
//!
//! Reading: [`crate::capture::bpf::ringbuf`] drains on readiness (past `wakeup_bytes`)
//! and on a timer (`poll_interval`, 10 ms by default).
//!
//! Every loss is counted: kernel counters (ring full, state map full, scratch busy,
//! classification misses, ...) and user-space drops (channel full, decode errors) are in
//! [`PayloadCapture::stats`].
//!
//! Lifetime: nothing is pinned; dropping [`PayloadCapture`] (or
//! [`PayloadCapture::shutdown`]) detaches every program and closes every map.

pub mod abi;
pub mod decode;
pub mod kernel;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::debug;

use self::abi::{cnt, RawPayloadEvent};
use self::decode::{DecodeCounters, Decoder, DecoderConfig};
use self::kernel::PayloadKernelSettings;
use crate::capture::bpf::channel::{self, EventRx, EventTx};
use crate::capture::bpf::loader::{self, HookReport, LoadError};
use crate::capture::bpf::programs::{self, take_map, Running};
use crate::capture::bpf::ringbuf::{self, Drain, Ring, RingReader};
use crate::model::StreamEvent;

/// What to capture and every bound, with defaults.
#[derive(Debug, Clone)]
pub struct PayloadCaptureOptions {
    /// Payload bytes copied per syscall (the rest is reported as a gap). Default 4096,
    /// at most 16384 (`abi::MAX_COPY`).
    pub max_payload_bytes: u32,
    /// A TCP connection whose chunks match no protocol within this many bytes (both
    /// directions) is given up: counted, never copied. Default 8192.
    pub classify_bytes: u32,
    /// Content classifiers: HTTP/1 (request methods, `HTTP/1.` responses). Default on.
    pub http1: bool,
    /// HTTP/2 preface and SETTINGS frames. Default on.
    pub http2: bool,
    /// Sockets whose local or remote port is listed are DNS: always copied (TCP and UDP).
    /// UDP sockets on other ports are not captured. Default 53, 5353.
    pub dns_ports: Vec<u16>,
    /// Keep only connections with a local or remote port in this list (empty = all).
    /// DNS ports are exempt.
    pub include_ports: Vec<u16>,
    /// Drop connections with a local or remote port in this list (DNS too).
    pub exclude_ports: Vec<u16>,
    /// Keep 1 in N connections (by connection id, as the TCP capture). 0 or 1 = all.
    pub sample_rate: u32,
    /// Do not capture this process's own sockets (the agent's exporters). Default true.
    pub ignore_self: bool,
    /// Ring-buffer bytes (rounded up to a power of two). Default 16 MiB.
    pub ring_buffer_size: u64,
    /// Wake the reader when this many bytes wait (default: a quarter of the ring).
    pub wakeup_bytes: Option<u64>,
    /// Reader timer. Default 10 ms.
    pub poll_interval: Duration,
    /// Sockets with kernel state (LRU). Default 65536.
    pub max_connections: u32,
    /// Max entries of each port-filter map. Default 1024.
    pub port_filter_max: u32,
    /// Capacity of the event channel. Default 65536.
    pub channel_capacity: usize,
    /// Process cache entries. Default 4096.
    pub process_cache_size: usize,
    /// Sockets whose stream offsets user space remembers. Default 65536.
    pub max_sockets: usize,
    /// Peers remembered per unconnected UDP socket. Default 256.
    pub max_flows_per_socket: usize,
}

impl Default for PayloadCaptureOptions {
    fn default() -> Self {
        PayloadCaptureOptions {
            max_payload_bytes: 4096,
            classify_bytes: 8192,
            http1: true,
            http2: true,
            dns_ports: vec![53, 5353],
            include_ports: Vec::new(),
            exclude_ports: Vec::new(),
            sample_rate: 1,
            ignore_self: true,
            ring_buffer_size: 16 << 20,
            wakeup_bytes: None,
            poll_interval: Duration::from_millis(10),
            max_connections: 65536,
            port_filter_max: 1024,
            channel_capacity: 65536,
            process_cache_size: 4096,
            max_sockets: 65536,
            max_flows_per_socket: 256,
        }
    }
}

/// Errors of [`PayloadCapture::start`].
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("loading the payload programs failed")]
    Load(#[from] LoadError),
    #[error("no payload syscall hook could be attached: {0}")]
    NoHooks(String),
    #[error("too many ports in {which}: {n} > {max}")]
    TooManyPorts { which: &'static str, n: usize, max: u32 },
    #[error("max_payload_bytes {0} is above the kernel's cap of {max}", max = abi::MAX_COPY)]
    PayloadTooLarge(u32),
    #[error("registering the ring buffer with tokio failed")]
    Ring(#[source] std::io::Error),
    #[error("PayloadCapture::start must run inside a tokio runtime")]
    NoRuntime,
}

/// Loss and volume counters, kernel and user space (totals since start).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PayloadStats {
    /// Events the kernel submitted.
    pub kernel_events: u64,
    /// Events lost: ring buffer full.
    pub ringbuf_full: u64,
    /// Sends timed at their exit: the thread slept or moved CPU inside the syscall, so its
    /// start time was not kept (a timing precision loss, no bytes lost).
    pub send_start_at_exit: u64,
    /// Chunks reported without bytes: the CPU's scratch buffer was in use.
    pub scratch_busy: u64,
    /// Sockets without kernel state: the state map refused the insertion.
    pub conn_map_full: u64,
    /// TCP connections classified (HTTP/1, HTTP/2) or on a DNS port.
    pub classified: u64,
    /// TCP connections given up: no protocol within `classify_bytes`.
    pub classify_miss: u64,
    /// Bytes not copied because their connection was unclassified or given up.
    pub skipped_bytes: u64,
    /// Connections dropped by include/exclude ports.
    pub filtered: u64,
    /// Connections dropped by sampling.
    pub sampled_out: u64,
    /// Chunks longer than `max_payload_bytes` (their tail is a gap).
    pub truncated: u64,
    /// Chunks with more iovec segments than the kernel walks (the rest is a gap).
    pub iov_truncated: u64,
    /// Failed reads of user memory (the rest of the chunk is a gap).
    pub read_faults: u64,
    /// Messages beyond the per-call limit of sendmmsg/recvmmsg (not reported).
    pub mmsg_truncated: u64,
    /// Submits that woke the reader.
    pub wakeups: u64,
    /// Sockets that had no cookie yet (id derived from the sock pointer).
    pub no_cookie: u64,
    /// UDP datagrams not on a DNS port (not captured, by design).
    pub udp_skipped: u64,
    /// HTTP/2 chunks whose header-frame bytes may not have been copied (frame tracking
    /// lost, or an untracked chunk cut): the HPACK state of that direction may break.
    pub h2_headers_cut: u64,
    /// Records read from the ring buffer.
    pub user_records: u64,
    /// Records that crossed the end of the ring's data pages (copied to be contiguous).
    pub user_records_wrapped: u64,
    /// Stream events sent into the channel.
    pub user_events: u64,
    /// Stream events dropped because the channel was full.
    pub user_channel_dropped: u64,
    /// Records that could not be decoded.
    pub user_decode_errors: u64,
    /// Bytes turned into gaps because chunks were missing (lost or not yet classified).
    pub user_offset_gap_bytes: u64,
    /// Bytes turned into gaps because the kernel did not copy them.
    pub user_uncopied_bytes: u64,
    /// User-space socket states evicted (bound `max_sockets`).
    pub user_sockets_evicted: u64,
    /// UDP flows not remembered for their close (bound `max_flows_per_socket`).
    pub user_flows_untracked: u64,
}

#[derive(Debug, Default)]
struct UserCounters {
    records: AtomicU64,
    wrapped: AtomicU64,
    events: AtomicU64,
    dropped: AtomicU64,
    decode_errors: AtomicU64,
    decoder: Mutex<DecodeCounters>,
}

/// A running payload capture. Dropping it detaches everything.
pub struct PayloadCapture {
    running: Running,
    user: Arc<UserCounters>,
    hooks: Vec<HookReport>,
}

impl PayloadCapture {
    /// Loads and attaches the kernel programs and starts the reader task (call inside a
    /// tokio runtime). Events arrive on the returned bounded channel.
    pub fn start(
        opts: PayloadCaptureOptions,
    ) -> Result<(PayloadCapture, EventRx<StreamEvent>), PayloadError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| PayloadError::NoRuntime)?;
        if opts.max_payload_bytes > abi::MAX_COPY {
            return Err(PayloadError::PayloadTooLarge(opts.max_payload_bytes));
        }
        let lists = [
            ("include_ports", &opts.include_ports[..]),
            ("exclude_ports", &opts.exclude_ports),
            ("dns_ports", &opts.dns_ports),
        ];
        if let Some((which, n)) = loader::too_many_ports(&lists, opts.port_filter_max) {
            return Err(PayloadError::TooManyPorts { which, n, max: opts.port_filter_max });
        }
        let ring_bytes = loader::ring_size(opts.ring_buffer_size);
        let protocols =
            (opts.http1 as u32 * abi::classify::HTTP1) | (opts.http2 as u32 * abi::classify::HTTP2);
        let settings = PayloadKernelSettings {
            max_payload: opts.max_payload_bytes,
            classify_bytes: opts.classify_bytes,
            protocols,
            sample_rate: opts.sample_rate.max(1),
            include_ports: opts.include_ports.clone(),
            exclude_ports: opts.exclude_ports.clone(),
            dns_ports: opts.dns_ports.clone(),
            ignore_tgid: if opts.ignore_self { std::process::id() } else { 0 },
            ring_bytes,
            wakeup_bytes: opts.wakeup_bytes.unwrap_or(ring_bytes as u64 / 4),
            max_connections: opts.max_connections,
            port_filter_max: opts.port_filter_max,
        };
        let mut progs = kernel::load(&settings)?;
        let hooks = progs.hooks.clone();
        if !hooks.iter().any(|h| h.status.is_attached() && h.hook.starts_with("syscalls/sys_exit"))
        {
            return Err(PayloadError::NoHooks(format!("{hooks:?}")));
        }
        let ring = programs::take_raw_map(&mut progs.ebpf, "tg_pl_events")?;
        let counters = take_map(&mut progs.ebpf, "tg_pl_counters")?;
        let ring = ringbuf::register(&rt, ring).map_err(PayloadError::Ring)?;

        let (tx, rx) = channel::channel(opts.channel_capacity);
        let user = Arc::new(UserCounters::default());
        let decoder = Decoder::new(
            DecoderConfig {
                dns_ports: opts.dns_ports.iter().copied().collect::<HashSet<u16>>(),
                max_sockets: opts.max_sockets,
                max_flows_per_socket: opts.max_flows_per_socket,
                process_cache_size: opts.process_cache_size,
            },
            crate::util::mono_to_unix_offset_ns(),
        );
        let reader =
            Reader { decoder, user: user.clone(), tx, out: Vec::new(), clock: Instant::now() };
        let task = rt.spawn(reader.run(ring, opts.poll_interval));
        programs::log_hooks("payload", &hooks);
        let running = Running::new("payload", progs.ebpf, counters, task);
        Ok((PayloadCapture { running, user, hooks }, rx))
    }

    /// What attached and what failed, hook by hook.
    pub fn attached(&self) -> &[HookReport] {
        &self.hooks
    }

    /// Kernel ids of the loaded programs (bpftool checks, bpf_stats).
    pub fn program_ids(&self) -> Vec<u32> {
        self.running.program_ids()
    }

    /// Kernel and user-space counters.
    pub fn stats(&self) -> PayloadStats {
        let k: [u64; cnt::MAX as usize] = self.running.counters();
        let u = &self.user;
        let d = u.decoder.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let k = |i: u32| k[i as usize];
        PayloadStats {
            kernel_events: k(cnt::EVENTS),
            ringbuf_full: k(cnt::RB_FAIL),
            send_start_at_exit: k(cnt::SEND_START_AT_EXIT),
            scratch_busy: k(cnt::SCRATCH_BUSY),
            conn_map_full: k(cnt::CONN_FULL),
            classified: k(cnt::CLASSIFIED),
            classify_miss: k(cnt::CLASSIFY_MISS),
            skipped_bytes: k(cnt::SKIPPED_BYTES),
            filtered: k(cnt::FILTERED),
            sampled_out: k(cnt::SAMPLED_OUT),
            truncated: k(cnt::TRUNCATED),
            iov_truncated: k(cnt::IOV_TRUNC),
            read_faults: k(cnt::READ_FAULT),
            mmsg_truncated: k(cnt::MMSG_TRUNC),
            wakeups: k(cnt::WAKEUPS),
            no_cookie: k(cnt::NO_COOKIE),
            udp_skipped: k(cnt::UDP_SKIPPED),
            h2_headers_cut: k(cnt::H2_HEADERS_CUT),
            user_records: u.records.load(Ordering::Relaxed),
            user_records_wrapped: u.wrapped.load(Ordering::Relaxed),
            user_events: u.events.load(Ordering::Relaxed),
            user_channel_dropped: u.dropped.load(Ordering::Relaxed),
            user_decode_errors: u.decode_errors.load(Ordering::Relaxed),
            user_offset_gap_bytes: d.offset_gap_bytes,
            user_uncopied_bytes: d.uncopied_bytes,
            user_sockets_evicted: d.sockets_evicted,
            user_flows_untracked: d.flows_untracked,
        }
    }

    /// Detaches every program and closes every map now (also done on drop).
    pub fn shutdown(&mut self) {
        self.running.shutdown();
    }
}

/// How often the monotonic -> Unix clock offset is refreshed.
const CLOCK_REFRESH: Duration = Duration::from_secs(10);

/// The reader task's state.
struct Reader {
    decoder: Decoder,
    user: Arc<UserCounters>,
    tx: EventTx<StreamEvent>,
    /// Events of the current drain, sent as one batch.
    out: Vec<StreamEvent>,
    /// When the clock offset was last refreshed.
    clock: Instant,
}

impl Reader {
    async fn run(mut self, ring: Ring, poll: Duration) {
        ringbuf::read(&mut self, ring, poll).await;
    }
}

impl Reader {
    fn flush(&mut self) {
        let n = self.out.len() as u64;
        if n == 0 {
            return;
        }
        let lost = self.tx.send_batch(channel::take_batch(&mut self.out)) as u64;
        self.user.events.fetch_add(n - lost, Ordering::Relaxed);
        if lost > 0 {
            self.user.dropped.fetch_add(lost, Ordering::Relaxed);
        }
    }
}

impl Drain for Reader {
    fn keep_going(&mut self) -> bool {
        if self.clock.elapsed() >= CLOCK_REFRESH {
            self.clock = Instant::now();
            self.decoder.set_offset(crate::util::mono_to_unix_offset_ns());
        }
        if self.tx.is_closed() {
            debug!("payload receiver dropped; reader stops");
            return false;
        }
        true
    }

    fn drain(&mut self, ring: &mut RingReader) {
        let mut n = 0u64;
        while let Some(item) = ring.next_record() {
            n += 1;
            match RawPayloadEvent::parse(item) {
                Some((hdr, data)) => self.decoder.decode(&hdr, data, &mut self.out),
                None => {
                    self.user.decode_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            if self.out.len() >= channel::MAX_BATCH {
                self.flush();
            }
        }
        self.flush();
        if n > 0 {
            self.user.records.fetch_add(n, Ordering::Relaxed);
            self.user.wrapped.store(ring.wrapped(), Ordering::Relaxed);
            *self.user.decoder.lock().unwrap_or_else(|p| p.into_inner()) =
                self.decoder.counters.clone();
        }
    }
}
