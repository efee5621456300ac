//! Event-bus benchmark (see docs/benchmarks.md):
//!
//! 1. **Ingest rate**: a publisher sends N QoS 1 events to a private Mosquitto broker as fast as
//!    the broker acknowledges them; the time until all N are committed gives events/s persisted,
//!    for SQLite and for PostgreSQL. The baseline is the same publisher with a subscriber that
//!    only counts (the broker-only limit).
//! 2. **Stream latency**: 100 WebSocket clients on the real router; events published at
//!    1,000/s over MQTT; each client measures publish → receipt.
//!
//! Run: `cargo run --release -p api --example event_bench` (PostgreSQL from
//! `TAYLORDASH_TEST_DATABASE_URL`, skipped without it; `EVENTS=n` sets N).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use serde_json::json;
use testsupport::{Broker, TestDb};

const CLIENTS: usize = 100;
const STREAM_RATE: u64 = 1000;
const STREAM_SECONDS: u64 = 10;

fn options(broker: &Broker, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, ("127.0.0.1", broker.port));
    o.set_credentials(broker.user.clone(), broker.password.clone())
        .set_inflight(1000)
        .set_max_packet_size(1 << 20, 1 << 20);
    o
}

/// The bus's connection to the benchmark broker.
fn bus_mqtt(broker: &Broker, client_id: &str) -> bus::MqttConfig {
    bus::MqttConfig {
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

fn envelope(i: usize, run: &str) -> String {
    json!({
        "trace_id": uuid::Uuid::new_v4(),
        "ts": domain::now(),
        "kind": "bench.event",
        "idempotency_key": format!("{run}-{i}"),
        "payload": {"i": i, "sent_us": now_us()},
    })
    .to_string()
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Publishes `n` events with at most `window` unacknowledged; returns when all are acked.
async fn publish(broker: &Broker, id: &str, run: &str, n: usize) -> Duration {
    let (client, mut eventloop) = AsyncClient::builder(options(broker, id))
        .capacity(2000)
        .build();
    let acked = Arc::new(AtomicUsize::new(0));
    let counter = acked.clone();
    let poller = tokio::spawn(async move {
        while counter.load(Ordering::Relaxed) < n {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("publisher: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    let started = Instant::now();
    for i in 0..n {
        while i - acked.load(Ordering::Relaxed) > 800 {
            tokio::task::yield_now().await;
        }
        client
            .publish(
                "tracker/events/bench/x",
                envelope(i, run),
                PublishOptions::new(QoS::AtLeastOnce),
            )
            .await
            .expect("publish");
    }
    poller.await.expect("poller");
    started.elapsed()
}

/// Broker-only limit: the same publisher, and a QoS 1 subscriber that only counts.
async fn broker_only(broker: &Broker, n: usize) -> f64 {
    let mut o = options(broker, "bench-counter");
    o.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::builder(o).capacity(100).build();
    client
        .subscribe("tracker/events/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let subscriber = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {}
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    if counter.fetch_add(1, Ordering::Relaxed) + 1 == n {
                        return Instant::now();
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("counter: {e}"),
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    publish(broker, "bench-publisher-baseline", "baseline", n).await;
    let done = subscriber.await.expect("subscriber");
    n as f64 / done.duration_since(started).as_secs_f64()
}

/// Events/s from first publish until all N are committed through the real pipeline.
async fn persisted(broker: &Broker, db: &TestDb, label: &str, n: usize) -> f64 {
    let metrics = api::Metrics::new().expect("metrics");
    let config = bus::BusConfig {
        mqtt: Some(bus_mqtt(broker, &format!("bench-{label}"))),
        ..bus::BusConfig::default()
    };
    let bus = bus::EventBus::start(db.store.clone(), metrics.registry(), config).expect("bus");
    while !bus.transport().is_connected() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    publish(broker, &format!("bench-publisher-{label}"), label, n).await;
    loop {
        let stored = bus.metrics().ingested.with_label_values(&["other"]).get() as usize;
        if stored >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    bus.stop();
    rate
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// 100 WebSocket clients on the real router; events published over MQTT at 1,000/s.
async fn stream_latency(broker: &Broker) -> (f64, f64, usize) {
    let db = TestDb::sqlite().await;
    let metrics = api::Metrics::new().expect("metrics");
    let config = bus::BusConfig {
        mqtt: Some(bus_mqtt(broker, "bench-stream")),
        pipeline: bus::PipelineConfig {
            batch_delay: Duration::from_millis(2),
            ..bus::PipelineConfig::default()
        },
        ..bus::BusConfig::default()
    };
    let bus =
        Arc::new(bus::EventBus::start(db.store.clone(), metrics.registry(), config).expect("bus"));
    while !bus.transport().is_connected() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let key = "bench-key-0123456789abcdef";
    let state = api::AppState::new(db.store.clone(), api::ApiKey::new(key), metrics, bus);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, api::router(state)).await });

    let expected = (STREAM_RATE * STREAM_SECONDS) as usize;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{addr}/api/v1/events/stream?topic=tracker/events/bench/%23")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("x-api-key", key.parse().expect("header"));
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("connect");
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let Ok(Some(Ok(msg))) =
                    tokio::time::timeout(Duration::from_secs(10), ws.next()).await
                else {
                    break;
                };
                let tokio_tungstenite::tungstenite::Message::Text(text) = msg else {
                    continue;
                };
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(sent) = frame["event"]["payload"]["sent_us"].as_i64() {
                    latencies.push((now_us() - sent) as f64 / 1000.0);
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (client, mut eventloop) = AsyncClient::builder(options(broker, "bench-stream-publisher"))
        .capacity(5000)
        .build();
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / STREAM_RATE));
    for i in 0..expected {
        tick.tick().await;
        client
            .publish(
                "tracker/events/bench/stream",
                envelope(i, "stream"),
                PublishOptions::new(QoS::AtLeastOnce),
            )
            .await
            .expect("publish");
    }
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.expect("client"));
    }
    all.sort_by(f64::total_cmp);
    (percentile(&all, 0.5), percentile(&all, 0.99), all.len())
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let broker = Broker::start().expect("mosquitto is required for this benchmark");
    println!("event bus benchmark: {n} QoS 1 events per run, 2-core loopback");

    let limit = broker_only(&broker, n).await;
    println!("broker-only limit (counting subscriber): {limit:>9.0} events/s");
    let sqlite = persisted(&broker, &TestDb::sqlite().await, "sqlite", n).await;
    println!(
        "persisted to SQLite:                     {sqlite:>9.0} events/s  ({:.0}% of the limit)",
        100.0 * sqlite / limit
    );
    match TestDb::postgres().await {
        Some(db) => {
            let pg = persisted(&broker, &db, "postgres", n).await;
            println!(
                "persisted to PostgreSQL:                 {pg:>9.0} events/s  ({:.0}% of the limit)",
                100.0 * pg / limit
            );
        }
        None => println!("persisted to PostgreSQL: skipped (set TAYLORDASH_TEST_DATABASE_URL)"),
    }
    let (p50, p99, samples) = stream_latency(&broker).await;
    println!(
        "stream latency, {CLIENTS} WebSocket clients at {STREAM_RATE} events/s: p50 {p50:.1} ms, \
         p99 {p99:.1} ms ({samples} samples of {})",
        CLIENTS as u64 * STREAM_RATE * STREAM_SECONDS
    );
}
