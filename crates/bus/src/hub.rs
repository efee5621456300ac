//! Live fan-out of committed events to stream clients.
//!
//! A broadcast channel: publishing never waits for a receiver, and each receiver has its own
//! position in a bounded ring. A client that falls more than [`CAPACITY`] events behind loses the
//! oldest ones and is told how many (`Lagged`), without slowing ingest or other clients.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use domain::Event;
use tokio::sync::broadcast;

pub const CAPACITY: usize = 4096;

/// An event as shared by every stream client, with its JSON rendered once for all of them
/// (with 100 clients, rendering per client would multiply the serialization work by 100).
pub struct LiveEvent {
    event: Event,
    frame: OnceLock<String>,
}

impl LiveEvent {
    /// The event's JSON, rendered by the first client that asks (all clients must pass the same
    /// `render`).
    pub fn frame(&self, render: impl FnOnce(&Event) -> String) -> &str {
        self.frame.get_or_init(|| render(&self.event))
    }
}

impl Deref for LiveEvent {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<LiveEvent>>,
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
            let _ = self.sender.send(Arc::new(LiveEvent {
                event: e,
                frame: OnceLock::new(),
            }));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }
}
