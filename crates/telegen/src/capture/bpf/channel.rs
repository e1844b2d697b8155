//! The bounded event channel between a capture's reader task and its consumer.
//!
//! Events travel in batches (one per ring-buffer drain, at most [`MAX_BATCH`] events), so
//! the consumer is woken once per drain instead of once per event: at tens of thousands
//! of events per second, per-event wake-ups were a visible share of the agent's CPU. The
//! bound is still counted in events: a batch that does not fit is cut to what fits and the
//! rest is reported to the sender as dropped (the captures count it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most events per batch.
pub const MAX_BATCH: usize = 256;

/// Takes the batch out of `v`, leaving an empty one with about its capacity: the next
/// batch does not grow from empty (each doubling moves every event already in it).
pub fn take_batch<T>(v: &mut Vec<T>) -> Vec<T> {
    let next = Vec::with_capacity(v.len().next_power_of_two().min(MAX_BATCH));
    std::mem::replace(v, next)
}

/// Creates a channel holding at most `capacity` events.
pub fn channel<T>(capacity: usize) -> (EventTx<T>, EventRx<T>) {
    let capacity = capacity.max(1);
    // Every batch holds at least one event, so `capacity` batches always suffice.
    let (tx, rx) = mpsc::channel(capacity);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        EventTx { tx, queued: queued.clone(), capacity },
        EventRx { rx, queued, buf: Vec::new().into_iter() },
    )
}

/// The sending half (one per reader task).
pub struct EventTx<T> {
    tx: mpsc::Sender<Vec<T>>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl<T> EventTx<T> {
    /// Sends `batch` without waiting; returns how many of its events were dropped
    /// because the channel was full or closed (0 when all went through).
    pub fn send_batch(&self, mut batch: Vec<T>) -> usize {
        let n = batch.len();
        if n == 0 {
            return 0;
        }
        let queued = self.queued.load(Ordering::Acquire);
        let room = self.capacity.saturating_sub(queued);
        if room == 0 {
            return n;
        }
        batch.truncate(room);
        let sent = batch.len();
        self.queued.fetch_add(sent, Ordering::AcqRel);
        match self.tx.try_send(batch) {
            Ok(()) => n - sent,
            Err(_) => {
                self.queued.fetch_sub(sent, Ordering::AcqRel);
                n
            }
        }
    }

    /// Waits for room and sends every event (start-up snapshots that must not be lost).
    pub async fn send_all(&self, batch: Vec<T>) -> Result<(), Closed> {
        if batch.is_empty() {
            return Ok(());
        }
        self.queued.fetch_add(batch.len(), Ordering::AcqRel);
        let n = batch.len();
        self.tx.send(batch).await.map_err(|_| {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            Closed
        })
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The receiver was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// The receiving half: events one at a time ([`EventRx::recv`]) or a batch at a time
/// ([`EventRx::recv_batch`]).
pub struct EventRx<T> {
    rx: mpsc::Receiver<Vec<T>>,
    queued: Arc<AtomicUsize>,
    buf: std::vec::IntoIter<T>,
}

impl<T> EventRx<T> {
    fn took(&self, b: &[T]) {
        self.queued.fetch_sub(b.len(), Ordering::AcqRel);
    }

    /// The next event; None once the sender is gone and everything was received.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(x) = self.buf.next() {
                return Some(x);
            }
            let b = self.rx.recv().await?;
            self.took(&b);
            self.buf = b.into_iter();
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        loop {
            if let Some(x) = self.buf.next() {
                return Some(x);
            }
            let b = self.rx.try_recv().ok()?;
            self.took(&b);
            self.buf = b.into_iter();
        }
    }

    /// Every event of the next batch (or what is left of a batch partly received).
    pub async fn recv_batch(&mut self) -> Option<Vec<T>> {
        let rest: Vec<T> = self.buf.by_ref().collect();
        if !rest.is_empty() {
            return Some(rest);
        }
        let b = self.rx.recv().await?;
        self.took(&b);
        Some(b)
    }

    /// Events waiting (for the queue-length gauge).
    pub fn len(&self) -> usize {
        self.queued.load(Ordering::Acquire) + self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bound_is_in_events_and_overflow_is_reported() {
        let (tx, mut rx) = channel::<u32>(5);
        assert_eq!(tx.send_batch(vec![1, 2, 3]), 0);
        assert_eq!(tx.send_batch(vec![4, 5, 6, 7]), 2, "two fit, two dropped");
        assert_eq!(tx.send_batch(vec![8]), 1, "full");
        assert_eq!(rx.len(), 5);
        assert_eq!(rx.recv().await, Some(1));
        // The rest of the first batch, then the next one.
        assert_eq!(rx.recv_batch().await, Some(vec![2, 3]));
        assert_eq!(tx.send_batch(vec![9, 10, 11]), 0, "room again");
        assert_eq!(rx.try_recv(), Some(4));
        assert_eq!(rx.try_recv(), Some(5));
        assert_eq!(rx.recv_batch().await, Some(vec![9, 10, 11]));
        assert!(rx.is_empty());
        drop(tx);
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_closed_receiver_drops_everything() {
        let (tx, rx) = channel::<u8>(4);
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send_batch(vec![1, 2]), 2);
        assert_eq!(tx.send_all(vec![1]).await, Err(Closed));
    }
}
