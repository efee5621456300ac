//! Live fan-out of committed events to stream clients.
//!
//! A broadcast channel: publishing never waits for a receiver, and each receiver has its own
//! position in a bounded ring. A client that falls more than [`CAPACITY`] events behind loses the
//! oldest ones and is told how many (`Lagged`), without slowing ingest or other clients.

use std::sync::Arc;

use domain::Event;
use tokio::sync::broadcast;

pub const CAPACITY: usize = 4096;

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(CAPACITY)
    }
}

impl Hub {
    pub fn new(capacity: usize) -> Hub {
        let (sender, _) = broadcast::channel(capacity);
        Hub { sender }
    }

    pub fn publish(&self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            // An error only means nobody is listening.
            let _ = self.sender.send(Arc::new(e));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}
