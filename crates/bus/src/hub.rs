//! Live fan-out of committed events to stream clients.
//!
//! A broadcast channel: publishing never waits for a receiver, and each receiver has its own
//! position in a bounded ring. A client that falls more than [`CAPACITY`] events behind loses the
//! oldest ones and is told how many (`Lagged`), without slowing ingest or other clients.
//!
//! [`LiveStream`] is one client's view: its filter, the lag notice and a heartbeat. The HTTP
//! layer's WebSocket and Server-Sent Events endpoints only render its items.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use domain::{Event, topics};
use prometheus::IntGauge;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

pub const CAPACITY: usize = 4096;

/// An event as shared by every stream client, with its JSON rendered once for all of them
/// (with 100 clients, rendering per client would multiply the serialization work by 100).
/// The renderings are [`Bytes`], so each client sends the same buffer (a reference count, not
/// a copy).
pub struct LiveEvent {
    event: Event,
    json: OnceLock<Bytes>,
    frame: OnceLock<Bytes>,
}

impl LiveEvent {
    /// The event's JSON, rendered by the first client that asks (all clients must pass the same
    /// `render`).
    pub fn json(&self, render: impl FnOnce(&Event) -> String) -> &Bytes {
        self.json.get_or_init(|| Bytes::from(render(&self.event)))
    }

    /// A whole stream frame carrying the event (e.g. a WebSocket message), rendered once like
    /// [`LiveEvent::json`]; `render` gets the event's JSON.
    pub fn frame(
        &self,
        json: impl FnOnce(&Event) -> String,
        render: impl FnOnce(&str) -> String,
    ) -> &Bytes {
        self.frame.get_or_init(|| {
            let json = self.json(json);
            Bytes::from(render(std::str::from_utf8(json).unwrap_or_default()))
        })
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
                json: OnceLock::new(),
                frame: OnceLock::new(),
            }));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    /// A stream of the events matching the MQTT `filter`, with a heartbeat every `heartbeat`;
    /// `clients` counts it while it exists.
    pub fn stream(&self, filter: String, heartbeat: Duration, clients: IntGauge) -> LiveStream {
        clients.inc();
        let first = tokio::time::Instant::now() + heartbeat;
        LiveStream {
            events: self.sender.subscribe(),
            filter,
            heartbeat: tokio::time::interval_at(first, heartbeat),
            clients,
            hide_admin_only: false,
        }
    }
}

/// What a stream client is sent next.
#[derive(Clone)]
pub enum StreamItem {
    /// A committed event matching the client's filter.
    Event(Arc<LiveEvent>),
    /// The client fell behind and this many events were skipped; it should resync.
    Lagged(u64),
    /// Another heartbeat interval has passed.
    Heartbeat,
}

/// One stream client: the hub's events matching its filter, a notice when it lagged, and a
/// heartbeat at a fixed interval. Counted as a client until dropped.
pub struct LiveStream {
    events: broadcast::Receiver<Arc<LiveEvent>>,
    filter: String,
    heartbeat: tokio::time::Interval,
    clients: IntGauge,
    hide_admin_only: bool,
}

impl LiveStream {
    /// Leaves out the admin-only topic family (`domain::topics::admin_only`): for every client
    /// below admin.
    pub fn without_admin_only(mut self) -> LiveStream {
        self.hide_admin_only = true;
        self
    }

    /// The MQTT filter the events are matched against.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The next item if one is ready now, without waiting (events and lag notices only): lets
    /// a client write everything that is ready before it flushes its socket once.
    pub fn ready(&mut self) -> Option<StreamItem> {
        loop {
            match self.events.try_recv() {
                Ok(e) if self.wants(&e) => return Some(StreamItem::Event(e)),
                Ok(_) => continue,
                Err(broadcast::error::TryRecvError::Lagged(skipped)) => {
                    return Some(StreamItem::Lagged(skipped));
                }
                Err(_) => return None,
            }
        }
    }

    fn wants(&self, e: &LiveEvent) -> bool {
        topics::matches(&self.filter, &e.topic)
            && !(self.hide_admin_only && topics::admin_only(&e.topic))
    }

    /// The next item; `None` once the hub is gone. Cancel-safe: dropping the future loses
    /// nothing, so it can race other work (e.g. reading the client's socket).
    pub async fn next(&mut self) -> Option<StreamItem> {
        loop {
            tokio::select! {
                received = self.events.recv() => match received {
                    Ok(e) if self.wants(&e) => return Some(StreamItem::Event(e)),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(skipped)) => return Some(StreamItem::Lagged(skipped)),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => return Some(StreamItem::Heartbeat),
            }
        }
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.clients.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, topic: &str) -> Event {
        Event {
            id,
            topic: topic.into(),
            kind: "test.event".into(),
            trace_id: uuid::Uuid::new_v4(),
            idempotency_key: format!("key-{id}"),
            source: "local".into(),
            payload: domain::JsonObject::new(),
            ts: domain::now(),
            received_at: domain::now(),
        }
    }

    async fn next(stream: &mut LiveStream) -> StreamItem {
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("an item in time")
            .expect("hub open")
    }

    #[tokio::test]
    async fn a_stream_filters_reports_lag_and_beats() {
        let hub = Hub::new(4);
        let clients = IntGauge::new("clients", "test").expect("gauge");
        let mut stream = hub.stream("a/+".into(), Duration::from_secs(3600), clients.clone());
        assert_eq!(stream.filter(), "a/+");
        assert_eq!(clients.get(), 1);

        hub.publish([
            event(1, "a/x"),
            event(2, "b/x"),
            event(3, "a/x/y"),
            event(4, "a/z"),
        ]);
        for want in [1, 4] {
            match next(&mut stream).await {
                StreamItem::Event(e) => assert_eq!(e.id, want),
                _ => panic!("expected event {want}"),
            }
        }

        hub.publish((10..20).map(|i| event(i, "a/x")));
        match next(&mut stream).await {
            StreamItem::Lagged(skipped) => assert_eq!(skipped, 6),
            _ => panic!("expected a lag notice"),
        }
        match next(&mut stream).await {
            StreamItem::Event(e) => assert_eq!(e.id, 16, "resumes at the oldest kept"),
            _ => panic!("expected an event after the lag notice"),
        }
        drop(stream);
        assert_eq!(clients.get(), 0);

        let mut beating = hub.stream("#".into(), Duration::from_millis(20), clients.clone());
        assert!(matches!(next(&mut beating).await, StreamItem::Heartbeat));
        drop(hub);
        while let Some(item) = beating.next().await {
            assert!(matches!(item, StreamItem::Heartbeat));
        }
    }

    #[tokio::test]
    async fn ready_items_are_taken_without_waiting_and_share_their_rendering() {
        let hub = Hub::new(4);
        let clients = IntGauge::new("clients", "test").expect("gauge");
        let mut stream = hub.stream("a/#".into(), Duration::from_secs(3600), clients.clone());
        let mut other = hub.stream("#".into(), Duration::from_secs(3600), clients);
        assert!(stream.ready().is_none(), "nothing published yet");
        hub.publish([event(1, "a/x"), event(2, "b/x"), event(3, "a/y")]);
        let mut ids = Vec::new();
        while let Some(item) = stream.ready() {
            match item {
                StreamItem::Event(e) => ids.push(e.id),
                _ => panic!("expected events"),
            }
        }
        assert_eq!(ids, [1, 3], "matching events only, in order");
        let Some(StreamItem::Event(first)) = other.ready() else {
            panic!("expected an event");
        };
        let frame = first.frame(|e| format!("{{\"id\":{}}}", e.id), |j| format!("[{j}]"));
        assert_eq!(&frame[..], b"[{\"id\":1}]");
        // Rendered once: a second client gets the same buffer whatever it passes.
        let again = first.frame(|_| unreachable!(), |_| unreachable!());
        assert_eq!(again.as_ptr(), frame.as_ptr());
        assert_eq!(&first.json(|_| unreachable!())[..], b"{\"id\":1}");
        hub.publish((10..20).map(|i| event(i, "a/x")));
        assert!(matches!(stream.ready(), Some(StreamItem::Lagged(_))));
    }

    #[tokio::test]
    async fn streams_below_admin_leave_out_the_audit_trail() {
        let hub = Hub::new(16);
        let clients = IntGauge::new("c", "c").expect("gauge");
        let mut everyone = hub.stream("#".into(), Duration::from_secs(60), clients.clone());
        let mut viewer = hub
            .stream("#".into(), Duration::from_secs(60), clients)
            .without_admin_only();
        hub.publish(vec![
            event(1, "tracker/events/auth/login_success"),
            event(2, "tracker/events/projects/created"),
        ]);
        let first = |item: Option<StreamItem>| match item {
            Some(StreamItem::Event(e)) => e.topic.clone(),
            _ => panic!("expected an event"),
        };
        assert_eq!(
            first(everyone.next().await),
            "tracker/events/auth/login_success"
        );
        assert_eq!(
            first(viewer.next().await),
            "tracker/events/projects/created"
        );
    }
}
