//! The ring-buffer reader loop shared by the captures.
//!
//! The kernel submits with `BPF_RB_NO_WAKEUP` and wakes the reader only when the ring is
//! filled past a threshold (a wake-up costs about 12 µs, kernel-facts.md), so the reader
//! drains on readiness *and* on a timer (`poll`, 10 ms by default). If polling the ring
//! fails, the timer alone keeps draining.

use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tracing::warn;

/// A ring buffer registered with tokio.
pub type Ring = AsyncFd<RingBuf<MapData>>;

/// What a capture's reader does with the ring.
pub trait Drain {
    /// Consumes every record waiting in the ring.
    fn drain(&mut self, ring: &mut RingBuf<MapData>);
    /// Runs after every drain; false stops the reader (its receiver is gone).
    fn keep_going(&mut self) -> bool;
}

/// Registers the ring buffer with the runtime `rt`.
pub fn register(rt: &tokio::runtime::Handle, ring: RingBuf<MapData>) -> std::io::Result<Ring> {
    let _guard = rt.enter();
    // SAFETY: the ring buffer owns its fd and moves into the AsyncFd, which keeps it open
    // until the AsyncFd is dropped.
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
