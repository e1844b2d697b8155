//! The live sources: TCP connection capture and socket payload capture from the kernel,
//! started from the effective configuration, and the loop that feeds their batches to a
//! [`Pipeline`] until shutdown. Their kernel and reader counters are published to the
//! self-telemetry once per tick. A packet source (sampled XDP/TC frames through
//! [`crate::packet`]) is one more source here.

use super::sinks::Sinks;
use super::Pipeline;
use crate::capture::bpf::loader::HookReport;
use crate::capture::payload::{PayloadCapture, PayloadCaptureOptions};
use crate::capture::tcp::{TcpCapture, TcpCaptureOptions};
use crate::config::Effective;
use crate::telemetry::SelfTelemetry;
use anyhow::{Context, Result};
use std::future::Future;
use std::time::Duration;

/// The running kernel captures and their event channels.
pub struct LiveSources {
    tcp: Option<TcpCapture>,
    conn_rx: Option<crate::capture::bpf::channel::EventRx<crate::model::ConnEvent>>,
    payload: Option<PayloadCapture>,
    payload_rx: Option<crate::capture::bpf::channel::EventRx<crate::model::StreamEvent>>,
    /// Each ring buffer's share of `agent.network.ring_buffer_size`.
    pub ring_bytes: u64,
}

impl LiveSources {
    /// Loads and attaches the kernel programs the configuration asks for. Payload capture
    /// degrades on its own: TCP metrics keep running when it cannot start.
    pub fn start(eff: &Effective) -> Result<Self> {
        let tcp = &eff.tcp;
        let l7_on = eff.payload.enabled && (eff.http.enabled || eff.dns.enabled);
        // Both objects are relocated against one parse of the kernel's BTF, freed (and
        // the heap it grew handed back) once they are loaded.
        let btf = if tcp.enabled || l7_on {
            crate::capture::bpf::loader::kernel_btf().ok()
        } else {
            None
        };
        let ring_bytes = ring_share(eff.ring_buffer_size, tcp.enabled as u64 + l7_on as u64);
        let cap_opts = TcpCaptureOptions {
            ring_buffer_size: ring_bytes,
            sample_rate: tcp.sample_rate,
            include_ports: eff.include_ports.clone(),
            exclude_ports: eff.exclude_ports.clone(),
            rtt: tcp.rtt,
            retransmits: tcp.retransmits,
            stats: tcp.conn_stats,
            stats_interval: tcp.stats_interval,
            max_connections: tcp.max_connections,
            ..TcpCaptureOptions::default()
        };
        let (capture, conn_rx) = if tcp.enabled {
            let (c, rx) = TcpCapture::start(cap_opts).context("starting TCP capture")?;
            (Some(c), Some(rx))
        } else {
            (None, None)
        };
        // Socket payload capture: the input of HTTP and DNS tracing.
        let (payload, payload_rx) = if l7_on {
            let popts = PayloadCaptureOptions {
                max_payload_bytes: eff.payload.max_payload_bytes,
                http1: eff.http.enabled,
                http2: eff.http.grpc,
                dns_ports: if eff.dns.enabled { eff.dns.ports.clone() } else { Vec::new() },
                include_ports: eff.include_ports.clone(),
                exclude_ports: eff.exclude_ports.clone(),
                sample_rate: tcp.sample_rate,
                ring_buffer_size: ring_bytes,
                ..PayloadCaptureOptions::default()
            };
            match PayloadCapture::start(popts) {
                Ok((c, rx)) => (Some(c), Some(rx)),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "payload capture unavailable: HTTP and DNS tracing are off");
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        drop(btf);
        crate::util::release_free_heap();
        Ok(LiveSources { tcp: capture, conn_rx, payload, payload_rx, ring_bytes })
    }

    /// TCP capture runs.
    pub fn tcp_running(&self) -> bool {
        self.tcp.is_some()
    }

    /// Payload capture runs.
    pub fn payload_running(&self) -> bool {
        self.payload.is_some()
    }

    /// What each capture attached, in order (TCP, then payload).
    pub fn attached(&self) -> Vec<&HookReport> {
        self.tcp
            .iter()
            .flat_map(|c| c.attached())
            .chain(self.payload.iter().flat_map(|p| p.attached()))
            .collect()
    }

    /// Ring buffers in use.
    pub fn rings(&self) -> u64 {
        self.tcp.is_some() as u64 + self.payload.is_some() as u64
    }

    /// Feeds every batch to `pipeline` and what it emits to `sinks` until `shutdown`
    /// completes; ticks once a second. Then detaches the kernel programs (nothing more
    /// arrives) and closes every open exchange.
    pub async fn drive(
        &mut self,
        pipeline: &mut Pipeline,
        sinks: &Sinks,
        telemetry: &SelfTelemetry,
        shutdown: impl Future<Output = ()>,
    ) {
        let emit = &mut |sig| sinks.send(&sig);
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                evs = async { match self.conn_rx.as_mut() { Some(rx) => rx.recv_batch().await, None => std::future::pending().await } } => {
                    match evs {
                        Some(evs) => {
                            for ev in &evs {
                                pipeline.on_conn_event(ev, emit);
                            }
                        }
                        None => { tracing::error!("TCP capture stopped"); self.conn_rx = None; }
                    }
                }
                evs = async { match self.payload_rx.as_mut() { Some(rx) => rx.recv_batch().await, None => std::future::pending().await } } => {
                    match evs {
                        Some(evs) => {
                            for ev in evs {
                                pipeline.on_stream_event(ev, emit);
                            }
                        }
                        None => { tracing::error!("payload capture stopped"); self.payload_rx = None; }
                    }
                }
                _ = tick.tick() => {
                    self.publish_stats(telemetry);
                    pipeline.tick(crate::util::unix_now_ns(), emit);
                }
            }
        }
        self.shutdown(telemetry);
        pipeline.finish(crate::util::unix_now_ns(), emit);
    }

    /// Detaches every kernel program (counters published one last time).
    fn shutdown(&mut self, t: &SelfTelemetry) {
        if let Some(c) = self.tcp.as_mut() {
            publish_tcp_stats(c, t);
            c.shutdown();
        }
        if let Some(p) = self.payload.as_mut() {
            publish_payload_stats(p, t);
            p.shutdown();
        }
    }

    fn publish_stats(&self, t: &SelfTelemetry) {
        if let Some(c) = &self.tcp {
            publish_tcp_stats(c, t);
        }
        if let Some(p) = &self.payload {
            publish_payload_stats(p, t);
        }
    }
}

fn publish_tcp_stats(c: &TcpCapture, t: &SelfTelemetry) {
    let s = c.stats();
    t.drop_cumulative("kernel", "tcp_ringbuf_full", s.ringbuf_reserve_failed);
    t.drop_cumulative("kernel", "tcp_conn_map_full", s.map_full);
    t.drop_cumulative("user", "tcp_channel_full", s.user_channel_dropped);
    t.drop_cumulative("user", "tcp_decode_error", s.user_decode_errors);
    t.skip_cumulative("kernel", "tcp_sampled_out", s.sampled_out);
    t.skip_cumulative("kernel", "tcp_filtered", s.filtered);
}

fn publish_payload_stats(c: &PayloadCapture, t: &SelfTelemetry) {
    let s = c.stats();
    t.drop_cumulative("kernel", "payload_ringbuf_full", s.ringbuf_full);
    t.drop_cumulative("kernel", "payload_scratch_busy", s.scratch_busy);
    t.drop_cumulative("kernel", "payload_conn_map_full", s.conn_map_full);
    t.skip_cumulative("kernel", "payload_unclassified", s.classify_miss);
    t.drop_cumulative("kernel", "payload_read_fault", s.read_faults);
    // Bytes past max_payload_bytes become gaps the parsers skip: a decision, not a loss.
    t.skip_cumulative("kernel", "payload_cut_to_gap", s.truncated);
    t.drop_cumulative("kernel", "payload_iov_truncated", s.iov_truncated);
    t.drop_cumulative("kernel", "payload_mmsg_truncated", s.mmsg_truncated);
    t.skip_cumulative("kernel", "payload_filtered", s.filtered);
    t.drop_cumulative("kernel", "payload_h2_headers_cut", s.h2_headers_cut);
    t.skip_cumulative("kernel", "payload_sampled_out", s.sampled_out);
    // A send whose thread slept in the syscall is timed at its exit: precision, not bytes.
    t.skip_cumulative("kernel", "payload_send_start_at_exit", s.send_start_at_exit);
    t.drop_cumulative("user", "payload_channel_full", s.user_channel_dropped);
    t.drop_cumulative("user", "payload_decode_error", s.user_decode_errors);
}

/// Each ring's share of `agent.network.ring_buffer_size` (a power of two) when `rings`
/// rings run: an even split, at least one page.
fn ring_share(total: u64, rings: u64) -> u64 {
    (total / rings.max(1).next_power_of_two()).max(4096)
}

#[cfg(test)]
mod tests {
    use super::ring_share;

    #[test]
    fn rings_split_the_configured_memory() {
        assert_eq!(ring_share(16 << 20, 2), 8 << 20);
        assert_eq!(ring_share(16 << 20, 1), 16 << 20);
        assert_eq!(ring_share(16 << 20, 0), 16 << 20);
        // Never below one page, even when the total is one page.
        assert_eq!(ring_share(4096, 2), 4096);
    }
}
