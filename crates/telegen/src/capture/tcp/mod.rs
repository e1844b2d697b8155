//! The TCP connection capture: loads bpf/obj/conn.bpf.o ([`kernel`]), reports
//! connections that already exist ([`existing`]), then reads the ring buffer and sends
//! typed [`ConnEvent`]s into a bounded channel.
//!
//! - [`kernel`]: loads the object and attaches each hook (tp_btf, else classic).
//! - [`abi`]: `#[repr(C)]` mirror of the connection section of bpf/telegen.h.
//! - [`decode`]: raw records -> [`ConnEvent`]s (time, addresses, role, process).
//! - [`existing`]: connections open before start (iter/tcp per network namespace).
//!
//! Reading: [`crate::capture::bpf::ringbuf`] drains on readiness (past `wakeup_bytes`)
//! *and* every `poll_interval`.
//!
//! Every loss is counted: kernel counters (ring full, map full, filtered, sampled out,
//! ...) and user-space drops (channel full) are in [`TcpCapture::stats`].
//!
//! Lifetime: nothing is pinned; dropping [`TcpCapture`] (or [`TcpCapture::shutdown`])
//! closes every program, link and map, and so does the process dying.

pub mod abi;
pub mod decode;
pub mod existing;
pub mod kernel;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use self::abi::{cnt, RawConnEvent};
use self::decode::ConnDecoder;
use self::kernel::TcpKernelSettings;
use crate::capture::bpf::channel::{self, EventRx, EventTx};
use crate::capture::bpf::loader::{self, HookReport, HookStatus, LoadError};
use crate::capture::bpf::programs::{self, take_map, Running};
use crate::capture::bpf::ringbuf::{self, Drain, Ring, RingReader};
use crate::capture::process::socket_owners;
use crate::model::ConnEvent;

/// What to capture and every bound, with defaults.
#[derive(Debug, Clone)]
pub struct TcpCaptureOptions {
    /// RTT samples (Stats events at most every `rtt_interval` per connection).
    pub rtt: bool,
    pub rtt_interval: Duration,
    /// Retransmit events.
    pub retransmits: bool,
    /// Periodic Stats events for long-lived connections.
    pub stats: bool,
    pub stats_interval: Duration,
    /// Keep 1 in N connections (decided once per connection in the kernel). 0 or 1 = all.
    pub sample_rate: u32,
    /// Keep only connections with a local or remote port in this list (empty = all).
    pub include_ports: Vec<u16>,
    /// Drop connections with a local or remote port in this list.
    pub exclude_ports: Vec<u16>,
    /// Ring-buffer bytes (rounded up to a power of two). Default 16 MiB.
    pub ring_buffer_size: u64,
    /// Wake the reader when this many bytes are waiting (default: a quarter of the ring).
    pub wakeup_bytes: Option<u64>,
    /// Reader timer (default 10 ms).
    pub poll_interval: Duration,
    /// Connections tracked at once in the kernel (LRU). Default 65536.
    pub max_connections: u32,
    /// Capacity of the event channel. Default 65536.
    pub channel_capacity: usize,
    /// Process cache entries. Default 4096.
    pub process_cache_size: usize,
    /// Report connections that exist at start-up. Default true.
    pub existing: bool,
    /// Max entries of each port-filter map. Default 1024.
    pub port_filter_max: u32,
}

impl Default for TcpCaptureOptions {
    fn default() -> Self {
        TcpCaptureOptions {
            rtt: true,
            rtt_interval: Duration::from_secs(1),
            retransmits: true,
            stats: true,
            stats_interval: Duration::from_secs(15),
            sample_rate: 1,
            include_ports: Vec::new(),
            exclude_ports: Vec::new(),
            ring_buffer_size: 16 << 20,
            wakeup_bytes: None,
            poll_interval: Duration::from_millis(10),
            max_connections: 65536,
            channel_capacity: 65536,
            process_cache_size: 4096,
            existing: true,
            port_filter_max: 1024,
        }
    }
}

/// Errors of [`TcpCapture::start`].
#[derive(Debug, thiserror::Error)]
pub enum TcpCaptureError {
    #[error("loading the TCP programs failed")]
    Load(#[from] LoadError),
    #[error("too many ports in {which}: {n} > {max}")]
    TooManyPorts { which: &'static str, n: usize, max: u32 },
    #[error("registering the ring buffer with tokio failed")]
    Ring(#[source] std::io::Error),
    #[error("TcpCapture::start must run inside a tokio runtime")]
    NoRuntime,
}

/// Loss and volume counters, kernel and user space (totals since start).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TcpCaptureStats {
    /// Events the kernel submitted to the ring buffer.
    pub kernel_events: u64,
    /// Events lost because the ring buffer was full.
    pub ringbuf_reserve_failed: u64,
    /// Connections not tracked because the state map refused the insertion.
    pub map_full: u64,
    /// Connections dropped by include/exclude ports.
    pub filtered: u64,
    /// Connections dropped by sample_rate.
    pub sampled_out: u64,
    /// Closes of sockets without state (opened before start and not found, or evicted).
    pub untracked_closes: u64,
    /// Ring-buffer submits that woke the reader.
    pub wakeups: u64,
    /// Connections first seen on tcp_probe (state created late).
    pub lazily_tracked: u64,
    /// accept() returned a socket without state (filtered, sampled out or pre-existing).
    pub accept_untracked: u64,
    /// Events read from the ring buffer.
    pub user_received: u64,
    /// Events dropped because the channel was full.
    pub user_channel_dropped: u64,
    /// Records that could not be decoded.
    pub user_decode_errors: u64,
    /// Connections reported at start-up.
    pub existing_reported: u64,
}

#[derive(Debug, Default)]
struct UserCounters {
    received: AtomicU64,
    dropped: AtomicU64,
    decode_errors: AtomicU64,
    existing: AtomicU64,
}

/// A running TCP capture. Dropping it detaches everything.
pub struct TcpCapture {
    running: Running,
    user: Arc<UserCounters>,
    hooks: Vec<HookReport>,
}

impl TcpCapture {
    /// Loads and attaches the kernel programs and starts the reader task.
    pub fn start(
        opts: TcpCaptureOptions,
    ) -> Result<(TcpCapture, EventRx<ConnEvent>), TcpCaptureError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| TcpCaptureError::NoRuntime)?;
        let lists =
            [("include_ports", &opts.include_ports[..]), ("exclude_ports", &opts.exclude_ports)];
        if let Some((which, n)) = loader::too_many_ports(&lists, opts.port_filter_max) {
            return Err(TcpCaptureError::TooManyPorts { which, n, max: opts.port_filter_max });
        }
        let ring_bytes = loader::ring_size(opts.ring_buffer_size);
        let settings = TcpKernelSettings {
            sample_rate: opts.sample_rate.max(1),
            include_ports: opts.include_ports.clone(),
            exclude_ports: opts.exclude_ports.clone(),
            rtt: opts.rtt,
            retransmits: opts.retransmits,
            stats: opts.stats,
            rtt_interval_ns: opts.rtt_interval.as_nanos() as u64,
            stats_interval_ns: opts.stats_interval.as_nanos() as u64,
            ring_bytes,
            wakeup_bytes: opts.wakeup_bytes.unwrap_or(ring_bytes as u64 / 4),
            max_connections: opts.max_connections,
            port_filter_max: opts.port_filter_max,
        };
        let mut progs = kernel::load(&settings)?;
        let mut hooks = progs.hooks.clone();

        let mut existing = Vec::new();
        if opts.existing {
            match existing::enumerate(&mut progs.ebpf, &progs.btf) {
                Ok((recs, failed)) => {
                    for (ino, e) in &failed {
                        warn!(netns = ino, error = %e, "could not list the connections of a namespace");
                    }
                    let status = if failed.is_empty() {
                        HookStatus::TpBtf
                    } else {
                        HookStatus::Failed {
                            error: format!("{} namespaces failed: {:?}", failed.len(), failed),
                        }
                    };
                    hooks.push(HookReport {
                        hook: "iter/tcp",
                        feature: "pre-existing connections",
                        status,
                    });
                    existing = recs;
                }
                Err(error) => {
                    warn!(%error, "iter/tcp refused; pre-existing connections appear on their next tcp_probe");
                    hooks.push(HookReport {
                        hook: "iter/tcp",
                        feature: "pre-existing connections",
                        status: HookStatus::Failed { error },
                    });
                }
            }
        } else {
            hooks.push(HookReport {
                hook: "iter/tcp",
                feature: "pre-existing connections",
                status: HookStatus::Disabled,
            });
        }

        let ring = programs::take_raw_map(&mut progs.ebpf, "tg_events")?;
        let counters = take_map(&mut progs.ebpf, "tg_counters")?;
        let ring = ringbuf::register(&rt, ring).map_err(TcpCaptureError::Ring)?;

        let (tx, rx) = channel::channel(opts.channel_capacity);
        let user = Arc::new(UserCounters::default());
        let decoder = ConnDecoder::new(
            crate::util::mono_to_unix_offset_ns(),
            opts.process_cache_size,
            opts.max_connections as usize,
            opts.sample_rate.max(1),
        );
        let reader = Reader { batch: Vec::new(), decoder, user: user.clone(), tx };
        let task = rt.spawn(reader.run(ring, existing, opts.poll_interval));
        programs::log_hooks("tcp", &hooks);
        let running = Running::new("tcp", progs.ebpf, counters, task);
        Ok((TcpCapture { running, user, hooks }, rx))
    }

    /// What attached, what fell back to a classic tracepoint, what failed.
    pub fn attached(&self) -> &[HookReport] {
        &self.hooks
    }

    /// Kernel ids of the loaded programs (to check with bpftool that they are gone).
    pub fn program_ids(&self) -> Vec<u32> {
        self.running.program_ids()
    }

    /// Kernel and user-space counters.
    pub fn stats(&self) -> TcpCaptureStats {
        let k: [u64; cnt::MAX as usize] = self.running.counters();
        let u = &self.user;
        TcpCaptureStats {
            kernel_events: k[cnt::EVENTS as usize],
            ringbuf_reserve_failed: k[cnt::RB_RESERVE_FAIL as usize],
            map_full: k[cnt::MAP_FULL as usize],
            filtered: k[cnt::FILTERED as usize],
            sampled_out: k[cnt::SAMPLED_OUT as usize],
            untracked_closes: k[cnt::UNTRACKED_CLOSE as usize],
            wakeups: k[cnt::WAKEUPS as usize],
            lazily_tracked: k[cnt::LAZY_TRACKED as usize],
            accept_untracked: k[cnt::ACCEPT_UNTRACKED as usize],
            user_received: u.received.load(Ordering::Relaxed),
            user_channel_dropped: u.dropped.load(Ordering::Relaxed),
            user_decode_errors: u.decode_errors.load(Ordering::Relaxed),
            existing_reported: u.existing.load(Ordering::Relaxed),
        }
    }

    /// Detaches every program and closes every map now (also done on drop).
    pub fn shutdown(&mut self) {
        self.running.shutdown();
    }
}

/// The reader task's state.
struct Reader {
    decoder: ConnDecoder,
    user: Arc<UserCounters>,
    tx: EventTx<ConnEvent>,
    /// Events of the current drain, sent as one batch.
    batch: Vec<ConnEvent>,
}

impl Reader {
    async fn run(mut self, ring: Ring, existing: Vec<RawConnEvent>, poll: Duration) {
        self.report_existing(existing).await;
        ringbuf::read(&mut self, ring, poll).await;
    }

    async fn report_existing(&mut self, recs: Vec<RawConnEvent>) {
        let inodes: HashSet<u64> = recs.iter().map(|r| r.sock_ino).filter(|&i| i != 0).collect();
        let owners = socket_owners(&inodes);
        let mut batch = Vec::new();
        for r in recs {
            if let Some(&pid) = owners.get(&r.sock_ino) {
                self.decoder.remember_owner(r.conn_id, pid);
            }
            if let Some(ev) = self.decoder.decode(&r) {
                self.user.existing.fetch_add(1, Ordering::Relaxed);
                batch.push(ev);
                if batch.len() == channel::MAX_BATCH
                    && self.tx.send_all(std::mem::take(&mut batch)).await.is_err()
                {
                    return;
                }
            }
        }
        let _ = self.tx.send_all(batch).await;
    }
}

impl Reader {
    fn flush(&mut self) {
        let lost = self.tx.send_batch(channel::take_batch(&mut self.batch));
        if lost > 0 {
            self.user.dropped.fetch_add(lost as u64, Ordering::Relaxed);
        }
    }
}

impl Drain for Reader {
    fn drain(&mut self, ring: &mut RingReader) {
        while let Some(item) = ring.next_record() {
            self.user.received.fetch_add(1, Ordering::Relaxed);
            let Some(raw) = RawConnEvent::from_bytes(item) else {
                self.user.decode_errors.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if raw.kind == abi::ev::EXISTING && raw.sock_ino != 0 {
                // Found late by the kernel: look the owner up (one /proc scan).
                let owners = socket_owners(&HashSet::from([raw.sock_ino]));
                if let Some(&pid) = owners.get(&raw.sock_ino) {
                    self.decoder.remember_owner(raw.conn_id, pid);
                }
            }
            let Some(ev) = self.decoder.decode(&raw) else {
                self.user.decode_errors.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if raw.kind == abi::ev::CLOSE {
                self.decoder.forget_owner(raw.conn_id);
            }
            self.batch.push(ev);
            if self.batch.len() == channel::MAX_BATCH {
                self.flush();
            }
        }
        self.flush();
    }

    fn keep_going(&mut self) -> bool {
        if self.tx.is_closed() {
            debug!("event receiver dropped; reader stops");
            return false;
        }
        true
    }
}
