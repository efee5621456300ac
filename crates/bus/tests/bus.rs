//! The event bus against a real Mosquitto broker (started per test) and in process: the
//! transport contract, the pipeline's exactly-once storage and dead-lettering, the outbox, and
//! broker outages.

// Helpers here are plain fns called by tests; a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bus::{BusConfig, Delivery, EventBus, MqttConfig, Transport};
use bytes::Bytes;
use domain::{EventFilter, NewProject};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use serde_json::{Value, json};
use storage::Store;
use testsupport::{Broker, TestDb};
use tokio::sync::mpsc;
use uuid::Uuid;

fn mqtt_config(broker: &Broker, client_id: &str) -> MqttConfig {
    MqttConfig {
        host: "127.0.0.1".into(),
        port: broker.port,
        username: Some(broker.user.clone()),
        password: Some(broker.password.clone()),
        client_id: client_id.into(),
        shared_group: None,
        max_packet_bytes: 256 * 1024,
        tls: None,
    }
}

fn envelope(kind: &str, key: &str, payload: Value) -> Value {
    json!({
        "trace_id": Uuid::new_v4(),
        "ts": domain::now(),
        "kind": kind,
        "idempotency_key": key,
        "payload": payload,
    })
}

/// Polls `check` until it returns true or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn stored_count(store: &Arc<dyn Store>) -> usize {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = store
            .list_events(
                &EventFilter {
                    before_id: cursor,
                    ..Default::default()
                },
                500,
            )
            .await
            .unwrap();
        n += page.events.len();
        match page.next_cursor {
            Some(c) if !page.events.is_empty() => cursor = Some(c),
            _ => return n,
        }
    }
}

/// A separate MQTT client publishing QoS 1 messages, counting the broker's acknowledgements.
struct Publisher {
    client: AsyncClient,
    acked: Arc<AtomicUsize>,
}

impl Publisher {
    fn connect(broker: &Broker, id: &str, persistent: bool) -> Publisher {
        let mut options = MqttOptions::new(id, ("127.0.0.1", broker.port));
        options
            .set_credentials(broker.user.clone(), broker.password.clone())
            .set_clean_session(!persistent)
            .set_max_packet_size(4 << 20, 4 << 20)
            .set_inflight(500);
        let (client, mut eventloop) = AsyncClient::builder(options).capacity(50_000).build();
        let acked = Arc::new(AtomicUsize::new(0));
        let counter = acked.clone();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Publisher { client, acked }
    }

    async fn send(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, payload.into(), PublishOptions::new(QoS::AtLeastOnce))
            .await
            .unwrap();
    }

    async fn wait_acked(&self, n: usize) {
        let acked = self.acked.clone();
        eventually(
            Duration::from_secs(60),
            "publisher acknowledgements",
            || {
                let acked = acked.clone();
                async move { acked.load(Ordering::Relaxed) >= n }
            },
        )
        .await;
    }
}

/// The transport contract, run against both implementations.
async fn transport_contract(transport: Arc<dyn Transport>, mut rx: mpsc::Receiver<Delivery>) {
    assert!(transport.is_connected(), "{}", transport.describe());
    transport
        .publish("elsewhere/not/ingested", Bytes::from_static(b"ignored"))
        .await
        .unwrap();
    for i in 0..50 {
        let topic = if i % 2 == 0 {
            "tracker/events/contract/even".to_owned()
        } else {
            format!("tracker/metrics/contract{i}")
        };
        transport
            .publish(&topic, Bytes::from(format!("message {i}")))
            .await
            .unwrap();
    }
    for i in 0..50 {
        let d = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("delivery in time")
            .expect("open channel");
        assert_eq!(
            d.payload,
            Bytes::from(format!("message {i}")),
            "in order, intact"
        );
        assert!(
            d.topic.starts_with("tracker/"),
            "only subscribed topics: {}",
            d.topic
        );
        d.ack.send();
    }
    let extra = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(extra.is_err(), "nothing else was delivered");
}

#[tokio::test]
async fn contract_in_process() {
    let (transport, rx) = bus::InProcess::new(100);
    assert_eq!(transport.kind(), "in-process");
    transport_contract(transport, rx).await;
}

#[tokio::test]
async fn contract_mqtt() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(bus::BusMetrics::new(&registry).unwrap());
    let (transport, rx) = bus::Mqtt::start(mqtt_config(&broker, "contract"), metrics.clone(), 100);
    eventually(Duration::from_secs(10), "MQTT connection", || async {
        transport.is_connected()
    })
    .await;
    assert_eq!(metrics.mqtt_connected.get(), 1);
    transport_contract(transport, rx).await;
}

#[tokio::test]
async fn contract_mqtt_over_tls() {
    let Some(broker) = Broker::start_tls() else {
        return;
    };
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(bus::BusMetrics::new(&registry).unwrap());

    // A client that does not trust the broker's CA never connects.
    let untrusted = MqttConfig {
        tls: Some(bus::tls_config(None).unwrap()),
        ..mqtt_config(&broker, "tls-untrusted")
    };
    let (transport, _rx) = bus::Mqtt::start(untrusted, metrics.clone(), 100);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !transport.is_connected(),
        "connected without trusting the certificate"
    );

    let trusted = MqttConfig {
        tls: Some(bus::tls_config(Some(&broker.ca_pem())).unwrap()),
        ..mqtt_config(&broker, "tls-contract")
    };
    let (transport, rx) = bus::Mqtt::start(trusted, metrics, 100);
    eventually(Duration::from_secs(10), "MQTT over TLS", || async {
        transport.is_connected()
    })
    .await;
    transport_contract(transport, rx).await;
}

struct Running {
    bus: EventBus,
    store: Arc<dyn Store>,
}

fn start_bus(store: Arc<dyn Store>, mqtt: Option<MqttConfig>) -> Running {
    let registry = prometheus::Registry::new();
    let bus = EventBus::start(
        store.clone(),
        &registry,
        BusConfig {
            mqtt,
            ..BusConfig::default()
        },
    )
    .unwrap();
    Running { bus, store }
}

async fn connected(bus: &EventBus) {
    eventually(Duration::from_secs(10), "bus connected", || async {
        bus.transport().is_connected()
    })
    .await;
}

/// Valid, duplicate and invalid messages through the whole pipeline, on both transports.
async fn pipeline_stores_once_and_dead_letters(r: Running) {
    let mut live = r.bus.hub().subscribe();
    let valid = envelope("custom.hello", "hello-1", json!({"n": 1}));
    r.bus
        .publish("tracker/events/demo/hello", &valid)
        .await
        .unwrap();
    r.bus
        .publish("tracker/events/demo/hello", &valid)
        .await
        .unwrap();
    let invalid = json!({"kind": "x"});
    let err = r
        .bus
        .publish("tracker/events/demo/hello", &invalid)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing fields"), "{err}");
    r.bus
        .transport()
        .publish("tracker/events/demo/raw", Bytes::from_static(b"{not json"))
        .await
        .unwrap();

    let store = r.store.clone();
    eventually(Duration::from_secs(10), "dead letter stored", || {
        let store = store.clone();
        async move { !store.list_dead_letters(10, None).await.unwrap().is_empty() }
    })
    .await;
    eventually(Duration::from_secs(10), "duplicate counted", || async {
        r.bus.metrics().duplicates.get() >= 1
    })
    .await;
    assert_eq!(stored_count(&r.store).await, 1, "stored exactly once");
    let dead = r.store.list_dead_letters(10, None).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "invalid_json");
    assert_eq!(dead[0].original_topic, "tracker/events/demo/raw");
    let got = tokio::time::timeout(Duration::from_secs(5), live.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.idempotency_key, "hello-1");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), live.recv())
            .await
            .is_err(),
        "the duplicate is not streamed"
    );
}

#[tokio::test]
async fn pipeline_in_process() {
    let db = TestDb::sqlite().await;
    pipeline_stores_once_and_dead_letters(start_bus(db.store.clone(), None)).await;
}

#[tokio::test]
async fn pipeline_mqtt_sqlite() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let r = start_bus(
        db.store.clone(),
        Some(mqtt_config(&broker, "pipeline-sqlite")),
    );
    connected(&r.bus).await;
    pipeline_stores_once_and_dead_letters(r).await;
}

#[tokio::test]
async fn pipeline_mqtt_postgres() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let r = start_bus(db.store.clone(), Some(mqtt_config(&broker, "pipeline-pg")));
    connected(&r.bus).await;
    pipeline_stores_once_and_dead_letters(r).await;
}

/// A replayed dead letter takes the live path: counted, streamed, stored with source
/// `replay`; one still invalid is reported and not dead-lettered again.
#[tokio::test]
async fn replayed_dead_letters_go_through_the_pipeline() {
    let db = TestDb::sqlite().await;
    let r = start_bus(db.store.clone(), None);
    let mut live = r.bus.hub().subscribe();
    let dead_letter = |topic: &str, payload: Value| domain::NewDeadLetter {
        original_topic: topic.into(),
        reason: domain::DeadReason::StorageRejected,
        detail: "refused at the time".into(),
        payload,
        received_at: domain::now(),
        idempotency_key: None,
    };
    let ids = r
        .store
        .ingest(
            &[],
            &[
                dead_letter(
                    "tracker/events/replay/fixed",
                    envelope("custom.fixed", "fixed-1", json!({})),
                ),
                dead_letter(
                    "tracker/events/replay/again",
                    envelope("custom.fixed", "fixed-1", json!({})),
                ),
                dead_letter("tracker/events/replay/broken", json!("{broken")),
            ],
        )
        .await
        .unwrap()
        .dead_letters;

    let stored = match r.bus.replay(ids[0]).await.unwrap() {
        bus::Replayed::Stored(e) => e,
        other => panic!("expected a stored event, got {other:?}"),
    };
    assert_eq!(stored.source, "replay");
    assert_eq!(stored.topic, "tracker/events/replay/fixed");
    let streamed = tokio::time::timeout(Duration::from_secs(5), live.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(streamed.id, stored.id, "the live notice");
    assert_eq!(
        r.bus.metrics().ingested.with_label_values(&["other"]).get(),
        1,
        "counted like a live message"
    );
    assert_eq!(r.bus.metrics().latency.get_sample_count(), 1);
    let closed = r.store.get_dead_letter(ids[0]).await.unwrap();
    assert_eq!(closed.replayed_event_id, Some(stored.id));
    assert!(matches!(
        r.bus.replay(ids[0]).await,
        Err(bus::ReplayError::AlreadyReplayed(_))
    ));

    assert!(matches!(
        r.bus.replay(ids[1]).await.unwrap(),
        bus::Replayed::Duplicate
    ));
    assert_eq!(r.bus.metrics().duplicates.get(), 1);
    assert!(
        r.store
            .get_dead_letter(ids[1])
            .await
            .unwrap()
            .replayed_at
            .is_some()
    );

    let err = r.bus.replay(ids[2]).await.unwrap_err();
    assert!(
        matches!(&err, bus::ReplayError::StillInvalid(dl) if dl.reason == domain::DeadReason::InvalidJson),
        "{err}"
    );
    assert_eq!(
        r.store.list_dead_letters(10, None).await.unwrap().len(),
        3,
        "not dead-lettered again"
    );
    assert_eq!(r.store.dead_letter_backlog().await.unwrap(), 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), live.recv())
            .await
            .is_err(),
        "only the stored event was streamed"
    );
}

#[tokio::test]
async fn malformed_corpus_is_dead_lettered_and_ingest_continues() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let r = start_bus(db.store.clone(), Some(mqtt_config(&broker, "corpus")));
    connected(&r.bus).await;
    let publisher = Publisher::connect(&broker, "corpus-publisher", false);
    let mut wrong_types = envelope("x.y", "k", json!({}));
    wrong_types["ts"] = json!(12345);
    let mut bad_uuid = envelope("x.y", "k2", json!({}));
    bad_uuid["trace_id"] = json!("test-123");
    let corpus: Vec<(Vec<u8>, &str)> = vec![
        (vec![0xff, 0xfe, 0x00, 0x80], "not_utf8"),
        (b"\xc3\x28 not utf-8".to_vec(), "not_utf8"),
        (br#"{"trace_id": "#.to_vec(), "invalid_json"),
        (b"".to_vec(), "invalid_json"),
        (
            format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            "invalid_json",
        ),
        (b"[1, 2, 3]".to_vec(), "not_an_object"),
        (b"\"just a string\"".to_vec(), "not_an_object"),
        (br#"{"kind": "x"}"#.to_vec(), "missing_field"),
        (wrong_types.to_string().into_bytes(), "invalid_field"),
        (bad_uuid.to_string().into_bytes(), "invalid_field"),
        (
            envelope("x.y", "big", json!({"blob": "x".repeat(1 << 20)}))
                .to_string()
                .into_bytes(),
            "oversized",
        ),
        (
            envelope(
                "project.created",
                "p",
                json!({"project_id": "nope", "name": 1}),
            )
            .to_string()
            .into_bytes(),
            "schema_mismatch",
        ),
    ];
    for (bytes, _) in &corpus {
        publisher
            .send("tracker/events/corpus/bad", bytes.clone())
            .await;
    }
    // Five non-UTF-8 messages stopped v1's consumer for good.
    for _ in 0..5 {
        publisher
            .send("tracker/events/corpus/bad", vec![0xffu8; 16])
            .await;
    }
    let good = envelope("custom.after", "after-the-corpus", json!({}));
    publisher
        .send("tracker/events/corpus/good", good.to_string())
        .await;
    publisher.wait_acked(corpus.len() + 6).await;

    let store = r.store.clone();
    eventually(
        Duration::from_secs(20),
        "the valid event after the corpus",
        || {
            let store = store.clone();
            async move { stored_count(&store).await == 1 }
        },
    )
    .await;
    assert!(
        r.bus.transport().is_connected(),
        "the consumer is still connected"
    );
    let dead = r.store.list_dead_letters(100, None).await.unwrap();
    let mut got: HashMap<String, usize> = HashMap::new();
    for d in &dead {
        *got.entry(d.reason.clone()).or_default() += 1;
    }
    let mut want: HashMap<String, usize> = HashMap::new();
    for (_, reason) in &corpus {
        *want.entry((*reason).to_owned()).or_default() += 1;
    }
    *want.entry("not_utf8".into()).or_default() += 5;
    assert_eq!(got, want, "each message dead-lettered with its reason");
}

#[tokio::test]
async fn outbox_events_flow_through_the_broker_and_survive_an_outage() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let r = start_bus(db.store.clone(), Some(mqtt_config(&broker, "outbox")));
    connected(&r.bus).await;

    let p = r
        .store
        .create_project(NewProject {
            name: "through the broker".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let store = r.store.clone();
    eventually(Duration::from_secs(10), "project.created stored", || {
        let store = store.clone();
        async move {
            let page = store
                .list_events(
                    &EventFilter {
                        kind: Some("project.created".into()),
                        ..Default::default()
                    },
                    10,
                )
                .await
                .unwrap();
            page.events
                .iter()
                .any(|e| e.payload["project_id"] == json!(p.id))
        }
    })
    .await;
    let store = r.store.clone();
    eventually(Duration::from_secs(10), "outbox confirmed", || {
        let store = store.clone();
        async move { store.outbox_backlog().await.unwrap() == 0 }
    })
    .await;

    // Broker down: writes stay fast and their events wait in the outbox.
    broker.stop();
    eventually(
        Duration::from_secs(10),
        "bus notices the outage",
        || async { !r.bus.transport().is_connected() },
    )
    .await;
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        r.store
            .create_project(NewProject {
                name: format!("offline {i}"),
                ..Default::default()
            })
            .await
            .unwrap();
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(500),
        "a write took {slowest:?} with the broker down"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.store.outbox_backlog().await.unwrap(), 20);

    broker.restart();
    let store = r.store.clone();
    eventually(
        Duration::from_secs(60),
        "backlog drained after the broker returned",
        || {
            let store = store.clone();
            async move { store.outbox_backlog().await.unwrap() == 0 }
        },
    )
    .await;
    assert_eq!(
        stored_count(&r.store).await,
        21,
        "every event arrived exactly once"
    );
}

/// A backlog of many claims' worth (written while no relay ran) goes through the broker
/// promptly and exactly once: the relay claims again at once while claims come back full, and
/// does not wait for its tick between them. The tick here is a second, so a relay that
/// published one claim per tick (10 s for these rows at 1,000 a claim, 50 s at 200) fails.
async fn a_large_outbox_backlog_drains_promptly(store: Arc<dyn Store>, broker: &Broker) {
    const N: usize = 10_000;
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..N {
        let store = store.clone();
        creates.spawn(async move {
            store
                .create_project(NewProject {
                    name: format!("backlog {i}"),
                    ..Default::default()
                })
                .await
                .unwrap();
        });
    }
    creates.join_all().await;
    assert_eq!(store.outbox_backlog().await.unwrap(), N as i64);

    let started = Instant::now();
    let registry = prometheus::Registry::new();
    let bus = EventBus::start(
        store.clone(),
        &registry,
        BusConfig {
            mqtt: Some(mqtt_config(broker, "backlog")),
            relay_interval: Duration::from_secs(1),
            ..BusConfig::default()
        },
    )
    .unwrap();
    let gauge = store.clone();
    eventually(Duration::from_secs(60), "backlog drained", || {
        let store = gauge.clone();
        async move { store.outbox_backlog().await.unwrap() == 0 }
    })
    .await;
    let took = started.elapsed();
    eprintln!("{N} outbox rows relayed and settled in {took:?}");
    assert!(
        took < Duration::from_secs(8),
        "{N} outbox rows took {took:?}"
    );
    assert_eq!(stored_count(&store).await, N, "each event stored once");
    assert!(bus.transport().is_connected());
}

#[tokio::test]
async fn a_large_outbox_backlog_drains_promptly_sqlite() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let db = TestDb::sqlite().await;
    a_large_outbox_backlog_drains_promptly(db.store.clone(), &broker).await;
}

#[tokio::test]
async fn a_large_outbox_backlog_drains_promptly_postgres() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    a_large_outbox_backlog_drains_promptly(db.store.clone(), &broker).await;
}

#[tokio::test]
async fn broker_restart_during_ingest_loses_nothing() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let r = start_bus(db.store.clone(), Some(mqtt_config(&broker, "restart")));
    connected(&r.bus).await;
    let publisher = Publisher::connect(&broker, "restart-publisher", true);
    const N: usize = 2000;
    for i in 0..N / 2 {
        let e = envelope("custom.burst", &format!("burst-{i}"), json!({"i": i}));
        publisher
            .send("tracker/events/burst/x", e.to_string())
            .await;
    }
    publisher.wait_acked(N / 2).await;
    broker.restart();
    for i in N / 2..N {
        let e = envelope("custom.burst", &format!("burst-{i}"), json!({"i": i}));
        publisher
            .send("tracker/events/burst/x", e.to_string())
            .await;
    }
    publisher.wait_acked(N).await;
    let store = r.store.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored_count(&store).await < N {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} stored; broker log:\n{}",
            stored_count(&store).await,
            broker.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored_count(&r.store).await, N, "{}", broker.log());
}

/// Two replicas on one broker and one PostgreSQL database: every event stored exactly once, and
/// a stream client on either replica sees all of them.
#[tokio::test]
async fn two_replicas_store_once_and_stream_everything() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store_b = storage::connect(&db.config).await.unwrap();
    let a = start_bus(db.store.clone(), Some(mqtt_config(&broker, "replica-a")));
    let b = start_bus(store_b, Some(mqtt_config(&broker, "replica-b")));
    connected(&a.bus).await;
    connected(&b.bus).await;
    let mut on_a = a.bus.hub().subscribe();
    let mut on_b = b.bus.hub().subscribe();
    // Let both replicas' notification listeners start.
    tokio::time::sleep(Duration::from_millis(300)).await;

    const N: usize = 200;
    let publisher = Publisher::connect(&broker, "replicas-publisher", false);
    for i in 0..N {
        let e = envelope("custom.replicated", &format!("rep-{i}"), json!({"i": i}));
        publisher
            .send("tracker/events/replicas/x", e.to_string())
            .await;
    }
    publisher.wait_acked(N).await;

    let store = a.store.clone();
    eventually(Duration::from_secs(30), "all events stored", || {
        let store = store.clone();
        async move { stored_count(&store).await >= N }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored_count(&a.store).await,
        N,
        "each event stored exactly once"
    );
    let dups = a.bus.metrics().duplicates.get() + b.bus.metrics().duplicates.get();
    assert_eq!(
        dups as usize, N,
        "each replica received everything; the loser counted it"
    );

    for (name, hub) in [("A", &mut on_a), ("B", &mut on_b)] {
        let mut seen = std::collections::HashSet::new();
        while seen.len() < N {
            let e = tokio::time::timeout(Duration::from_secs(10), hub.recv())
                .await
                .unwrap_or_else(|_| panic!("replica {name} streamed only {} of {N}", seen.len()))
                .unwrap();
            seen.insert(e.idempotency_key.clone());
        }
    }
}

/// An outbox row whose event the bus refuses — here a NUL character in the payload, written
/// behind the application's back since the API refuses it — is settled by its dead letter:
/// one dead letter, linked from the row, counted and never published again.
#[tokio::test]
async fn a_poisoned_outbox_row_is_settled_once_not_republished() {
    let db = TestDb::sqlite().await;
    let storage::StoreConfig::Sqlite { path, .. } = &db.config else {
        unreachable!("TestDb::sqlite is SQLite")
    };
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO event_outbox (topic, kind, trace_id, idempotency_key, payload, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind("tracker/events/projects/created")
    .bind("project.created")
    .bind(Uuid::new_v4())
    .bind("poisoned-1")
    .bind(format!(
        r#"{{"project_id":"{}","name":"bad\u0000name"}}"#,
        Uuid::new_v4()
    ))
    .bind(domain::now())
    .execute(&raw)
    .await
    .unwrap();

    let r = start_bus(db.store.clone(), None);
    let store = r.store.clone();
    eventually(Duration::from_secs(10), "outbox row settled", || {
        let store = store.clone();
        async move { store.outbox_backlog().await.unwrap() == 0 }
    })
    .await;
    let dead = r.store.list_dead_letters(10, None).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].detail.contains("NUL"), "{}", dead[0].detail);
    let linked: Option<i64> = sqlx::query_scalar("SELECT dead_letter_id FROM event_outbox")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(linked, Some(dead[0].id));
    assert_eq!(r.bus.metrics().outbox_dead_lettered.get(), 1);

    // Past the relay's retry delay nothing is published again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(r.store.list_dead_letters(10, None).await.unwrap().len(), 1);
    assert_eq!(r.store.outbox_backlog().await.unwrap(), 0);
    assert_eq!(r.bus.metrics().outbox_dead_lettered.get(), 1);
}
