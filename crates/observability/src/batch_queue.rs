//! A bounded in-memory queue drained in batches by one writer task, shared by the log writer
//! (`logs::sink`) and the time-series writer (`timeseries`). Pushing never blocks on I/O:
//! beyond capacity the oldest items are dropped and counted, and a batch the writer could not
//! store goes back in front.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use prometheus::{IntCounter, IntGauge};
use tokio::sync::Notify;

/// How long a writer keeps writing what is queued once the application stops (the database
/// may be what is failing, so not long).
pub const FINAL_FLUSH: Duration = Duration::from_secs(2);

pub struct BatchQueue<T> {
    items: Mutex<VecDeque<T>>,
    /// Items the writer has taken and not yet stored (for `flush`).
    in_flight: Mutex<usize>,
    /// Wakes the writer: a full batch is waiting, or a flush was asked for.
    wake: Notify,
    capacity: usize,
    batch_size: usize,
    dropped: IntCounter,
    /// Items waiting, when the owner exports it.
    queued: Option<IntGauge>,
}

/// The slots the buffer keeps once drained. A burst grows it up to `capacity` slots (for log
/// records, ~450 bytes each: megabytes at the 10,000-record cap), which would otherwise stay
/// allocated for the life of the process. The ring's head moves through every slot it keeps,
/// so all of them end up resident: 256 log records are 115 KB (1,024 were 460 KB, about 3 %
/// of the idle server's memory). A busier spell grows it again by doubling.
const RESTING_SLOTS: usize = 256;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a queue that is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T> BatchQueue<T> {
    /// A queue of at most `capacity` items, handed out `batch_size` at a time; drops are
    /// counted in `dropped`, the length kept in `queued`.
    pub fn new(
        capacity: usize,
        batch_size: usize,
        dropped: IntCounter,
        queued: Option<IntGauge>,
    ) -> Self {
        BatchQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity.min(RESTING_SLOTS))),
            in_flight: Mutex::new(0),
            wake: Notify::new(),
            capacity: capacity.max(1),
            batch_size: batch_size.max(1),
            dropped,
            queued,
        }
    }

    fn set_queued(&self, len: usize) {
        if let Some(g) = &self.queued {
            g.set(len as i64);
        }
    }

    /// Queues `items`, keeping the newest `capacity`; wakes the writer once a batch is full.
    pub fn push(&self, items: impl IntoIterator<Item = T>) {
        let (len, over) = {
            let mut q = lock(&self.items);
            q.extend(items);
            let over = q.len().saturating_sub(self.capacity);
            q.drain(..over);
            (q.len(), over)
        };
        if over > 0 {
            self.dropped.inc_by(over as u64);
        }
        self.set_queued(len);
        if len >= self.batch_size {
            self.wake.notify_one();
        }
    }

    /// Items waiting to be taken.
    pub fn len(&self) -> usize {
        lock(&self.items).len()
    }

    /// Whether no item is waiting to be taken.
    pub fn is_empty(&self) -> bool {
        lock(&self.items).is_empty()
    }

    /// The counter of dropped items (also for drops the owner counts itself).
    pub fn dropped(&self) -> &IntCounter {
        &self.dropped
    }

    /// Up to one batch from the front; the writer calls [`BatchQueue::stored`] or
    /// [`BatchQueue::requeue`] with it.
    pub fn take_batch(&self) -> Vec<T> {
        let mut q = lock(&self.items);
        let n = q.len().min(self.batch_size);
        let batch: Vec<T> = q.drain(..n).collect();
        if q.len() <= RESTING_SLOTS / 2 && q.capacity() > RESTING_SLOTS {
            q.shrink_to(RESTING_SLOTS);
        }
        *lock(&self.in_flight) = batch.len();
        self.set_queued(q.len());
        batch
    }

    /// The batch taken last was stored.
    pub fn stored(&self) {
        *lock(&self.in_flight) = 0;
    }

    /// Puts a batch that could not be stored back at the front, keeping within capacity by
    /// dropping its oldest items.
    pub fn requeue(&self, batch: Vec<T>) {
        let mut q = lock(&self.items);
        let room = self.capacity.saturating_sub(q.len());
        let skip = batch.len().saturating_sub(room);
        for item in batch.into_iter().skip(skip).rev() {
            q.push_front(item);
        }
        *lock(&self.in_flight) = 0;
        self.set_queued(q.len());
        drop(q);
        if skip > 0 {
            self.dropped.inc_by(skip as u64);
        }
    }

    /// Resolves when a full batch is waiting or a flush asks for a write.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Waits until everything queued so far is stored, or `timeout` passes; returns whether
    /// the queue is empty.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if lock(&self.items).is_empty() && *lock(&self.in_flight) == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            self.wake.notify_one();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_drops_the_oldest_and_a_failed_batch_goes_back_in_front() {
        let dropped =
            IntCounter::new("dropped_total", "dropped").unwrap_or_else(|_| unreachable!());
        let queued = IntGauge::new("queued", "queued").unwrap_or_else(|_| unreachable!());
        let q = BatchQueue::new(10, 10, dropped.clone(), Some(queued.clone()));
        q.push(0..25);
        assert_eq!((q.len(), dropped.get(), queued.get()), (10, 15, 10));
        let batch = q.take_batch();
        assert_eq!((batch[0], batch[9]), (15, 24), "the newest are kept");
        assert_eq!(queued.get(), 0);
        q.push([25]);
        q.requeue(batch);
        assert_eq!((q.len(), dropped.get()), (10, 16));
        let again = q.take_batch();
        assert_eq!((again[0], again[9]), (16, 25));
    }

    #[test]
    fn a_drained_queue_gives_back_what_a_burst_grew() {
        let dropped =
            IntCounter::new("dropped_total", "dropped").unwrap_or_else(|_| unreachable!());
        let q = BatchQueue::new(20_000, 500, dropped, None);
        q.push(0..20_000);
        assert!(lock(&q.items).capacity() >= 20_000);
        let mut taken = 0;
        while !q.is_empty() {
            taken += q.take_batch().len();
        }
        assert_eq!(taken, 20_000, "shrinking loses nothing");
        assert!(lock(&q.items).capacity() <= 2 * RESTING_SLOTS);
    }
}
