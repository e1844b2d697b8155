//! source: [`PcapReplaySource`], the offline producer of [`StreamEvent`]s: a
//! [`PacketReader`] whose frames go through a [`PacketStack`].
//!
//! Pipeline per packet: [`reader`](super::reader) (pcap / pcapng container) ->
//! [`PacketStack::frame`] (link layer, IP + fragments, tunnels, TCP/UDP flows and
//! reassembly; see [`crate::packet`]). Malformed packets are counted in [`ReplayStats`]
//! and skipped; only an unreadable file header, an I/O error, or a corrupt container
//! block (after which nothing can be trusted) end the replay with an error.

use super::reader::{CaptureFormat, PacketReader, PcapError};
use crate::model::StreamEvent;
use crate::packet::defrag::DefragConfig;
use crate::packet::flows::FlowConfig;
use crate::packet::tunnel::TunnelConfig;
use crate::packet::{PacketConfig, PacketStack, PacketStats};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Bounds and timeouts of a replay; every field has a default.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Initial read buffer in bytes.
    pub read_buffer: usize,
    /// Largest container block accepted (the buffer grows up to this for one block).
    pub max_block: usize,
    /// Packets handled per [`PcapReplaySource::next_events`] call.
    pub batch_packets: usize,
    /// Flow table bounds; with `defrag` and `tunnels`, the [`PacketConfig`] of the stack.
    pub flows: FlowConfig,
    pub defrag: DefragConfig,
    /// VXLAN / Geneve decapsulation.
    pub tunnels: TunnelConfig,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        let PacketConfig { flows, defrag, tunnels } = PacketConfig::default();
        ReplayConfig {
            read_buffer: 256 * 1024,
            max_block: 64 * 1024 * 1024,
            batch_packets: 256,
            flows,
            defrag,
            tunnels,
        }
    }
}

/// What a replay saw and gave up on: the container's counters and the packet stack's
/// ([`PacketStats`], whose fields these are; see there).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplayStats {
    pub format: Option<CaptureFormat>,
    /// The packet stack's counters (packets, bytes, tunnels, malformed, fragments,
    /// flows, ...), flattened into the same JSON object.
    #[serde(flatten)]
    pub packet: PacketStats,
    /// pcapng packets naming an interface without an Interface Description Block.
    pub no_interface_packets: u64,
    /// The file ended in the middle of a block.
    pub truncated_file: bool,
}

/// Reads a capture and produces [`StreamEvent`]s in per-connection order, the same events
/// live capture produces (observer [`Wire`](crate::model::Observer::Wire), netns 0, no
/// process).
///
/// Push API: [`next_events`](Self::next_events). Pull API: the `Iterator` impl.
pub struct PcapReplaySource<R: Read> {
    reader: PacketReader<R>,
    stack: PacketStack,
    batch: usize,
    total: Option<u64>,
    finished: bool,
    queue: VecDeque<StreamEvent>,
    scratch: Vec<StreamEvent>,
    pending_err: Option<PcapError>,
}

impl PcapReplaySource<File> {
    /// Opens a file; its size is the progress total.
    pub fn open(path: impl AsRef<Path>, cfg: ReplayConfig) -> Result<Self, PcapError> {
        let path = path.as_ref();
        let open_err = |source| PcapError::Open { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(open_err)?;
        let total = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        let mut s = Self::new(file, cfg)?;
        s.total = total;
        Ok(s)
    }
}

impl<R: Read> PcapReplaySource<R> {
    /// Reads the file header from any reader (a pipe works; progress has no total then).
    pub fn new(reader: R, cfg: ReplayConfig) -> Result<Self, PcapError> {
        let reader = PacketReader::new(reader, cfg.read_buffer, cfg.max_block)?;
        let ReplayConfig { flows, defrag, tunnels, .. } = cfg;
        Ok(PcapReplaySource {
            reader,
            stack: PacketStack::new(PacketConfig { flows, defrag, tunnels }),
            batch: cfg.batch_packets.max(1),
            total: None,
            finished: false,
            queue: VecDeque::new(),
            scratch: Vec::new(),
            pending_err: None,
        })
    }

    /// Sets the size used by [`progress`](Self::progress).
    pub fn with_total_bytes(mut self, total: Option<u64>) -> Self {
        self.total = total;
        self
    }

    /// Handles up to `batch_packets` packets, appending their events to `out`. Returns
    /// `Ok(false)` once the input is exhausted (all flows then have been closed into
    /// `out`). On an error the open flows are closed into `out` too, and later calls
    /// return `Ok(false)`.
    pub fn next_events(&mut self, out: &mut Vec<StreamEvent>) -> Result<bool, PcapError> {
        if self.finished {
            return Ok(false);
        }
        for _ in 0..self.batch {
            let Self { reader, stack, .. } = self;
            let r = reader.next_packet(|p| stack.frame(p.ts_ns, p.linktype, p.data, out));
            match r {
                Ok(Some(())) => {}
                Ok(None) => {
                    self.end(out);
                    return Ok(false);
                }
                Err(e) => {
                    self.end(out);
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) {
        self.stack.finish(out);
        self.finished = true;
    }

    /// Counters so far.
    pub fn stats(&self) -> ReplayStats {
        let c = self.reader.counters();
        ReplayStats {
            format: Some(self.reader.format()),
            packet: self.stack.stats(),
            no_interface_packets: c.no_interface,
            truncated_file: c.truncated_file,
        }
    }

    /// (bytes of the file consumed, file size when known), for a progress bar.
    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.reader.consumed(), self.total)
    }
}

impl<R: Read> Iterator for PcapReplaySource<R> {
    type Item = Result<StreamEvent, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(Ok(e));
            }
            if let Some(e) = self.pending_err.take() {
                return Some(Err(e));
            }
            if self.finished {
                return None;
            }
            let mut buf = std::mem::take(&mut self.scratch);
            if let Err(e) = self.next_events(&mut buf) {
                self.pending_err = Some(e);
            }
            self.queue.extend(buf.drain(..));
            self.scratch = buf;
        }
    }
}
