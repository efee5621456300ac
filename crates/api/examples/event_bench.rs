//! Event-bus benchmark (see docs/benchmarks.md):
//!
//! 1. **Ingest rate**: a publisher sends N QoS 1 events to a private Mosquitto broker as fast as
//!    the broker acknowledges them; the time until all N are committed gives events/s persisted,
//!    for SQLite and for PostgreSQL. The baseline is the same publisher with a subscriber that
//!    only counts (the broker-only limit).
//! 2. **Stream latency**: 100 WebSocket clients on the real router; events published at
//!    1,000/s over MQTT; each client measures publish → receipt.
//!
//! The baseline of the stream latency is the broker's own: the same publisher at the same rate,
//! and one plain MQTT subscriber measuring publish → receipt.
//!
//! Run: `cargo run --release -p api --example event_bench` (PostgreSQL from
//! `TAYLORDASH_TEST_DATABASE_URL`, skipped without it; `EVENTS=n` sets N; `JSON=path` writes
//! the figures, the load average and the commit as JSON; `STREAM_ONLY=1` / `INGEST_ONLY=1` run
//! one half; `TAYLORDASH_EVENT_BATCH_SIZE` / `_DELAY_MS` set the ingest runs' batching).

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

/// The ingest runs' batching: the defaults, or `TAYLORDASH_EVENT_BATCH_SIZE` /
/// `TAYLORDASH_EVENT_BATCH_DELAY_MS` as the server reads them.
fn ingest_pipeline() -> bus::PipelineConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let default = bus::PipelineConfig::default();
    bus::PipelineConfig {
        batch_size: env("TAYLORDASH_EVENT_BATCH_SIZE").map_or(default.batch_size, |v| v as usize),
        batch_delay: env("TAYLORDASH_EVENT_BATCH_DELAY_MS")
            .map_or(default.batch_delay, Duration::from_millis),
        ..default
    }
}

/// Where an ingest run's time went: the store's `ingest` calls (one transaction per batch),
/// timed from the pipeline's side.
#[derive(Debug, Default, Clone, Copy)]
struct CommitTimes {
    commits: usize,
    events: usize,
    /// Time inside `ingest` (statements and commit).
    busy: Duration,
    /// From the end of one commit to the start of the next: acknowledging, fan-out, and
    /// whatever of gathering and decoding the next batch was not done meanwhile.
    between: Duration,
    first_start: Option<Instant>,
    last_end: Option<Instant>,
}

impl CommitTimes {
    fn json(&self) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
        let span = match (self.first_start, self.last_end) {
            (Some(a), Some(b)) => b.duration_since(a),
            _ => Duration::ZERO,
        };
        let per = |d: Duration, n: usize| ms(d / u32::try_from(n.max(1)).unwrap_or(u32::MAX));
        json!({
            "commits": self.commits,
            "mean_batch": (self.events as f64 / self.commits.max(1) as f64).round(),
            "commit_ms_mean": per(self.busy, self.commits),
            "between_commits_ms_mean": per(self.between, self.commits.saturating_sub(1)),
            "first_to_last_commit_ms": ms(span),
            "share_of_that_in_commits": (self.busy.as_secs_f64() / span.as_secs_f64().max(1e-9)
                * 1000.0).round() / 1000.0,
        })
    }
}

/// The real store, with its `ingest` calls timed.
struct Timed {
    inner: Arc<dyn storage::Store>,
    times: std::sync::Mutex<CommitTimes>,
}

#[async_trait::async_trait]
impl storage::EventStore for Timed {
    async fn ingest(
        &self,
        events: &[domain::NewEvent],
        dead: &[domain::NewDeadLetter],
    ) -> storage::Result<storage::IngestOutcome> {
        let start = Instant::now();
        let outcome = self.inner.ingest(events, dead).await;
        let end = Instant::now();
        let mut t = self.times.lock().expect("times");
        t.commits += 1;
        t.events += events.len();
        t.busy += end - start;
        if let Some(last) = t.last_end {
            t.between += start.saturating_duration_since(last);
        }
        t.first_start.get_or_insert(start);
        t.last_end = Some(end);
        outcome
    }
    async fn list_events(
        &self,
        filter: &domain::EventFilter,
        limit: i64,
    ) -> storage::Result<storage::EventPage> {
        self.inner.list_events(filter, limit).await
    }
    async fn get_event(&self, id: i64) -> storage::Result<domain::Event> {
        self.inner.get_event(id).await
    }
    async fn list_dead_letters(
        &self,
        limit: i64,
        before_id: Option<i64>,
    ) -> storage::Result<Vec<domain::DeadLetter>> {
        self.inner.list_dead_letters(limit, before_id).await
    }
    async fn get_dead_letter(&self, id: i64) -> storage::Result<domain::DeadLetter> {
        self.inner.get_dead_letter(id).await
    }
    async fn mark_replayed(
        &self,
        id: i64,
        event_id: Option<i64>,
        edit: Option<&domain::DeadLetterEdit>,
    ) -> storage::Result<()> {
        self.inner.mark_replayed(id, event_id, edit).await
    }
    async fn delete_dead_letter(&self, id: i64) -> storage::Result<()> {
        self.inner.delete_dead_letter(id).await
    }
    async fn dead_letter_backlog(&self) -> storage::Result<i64> {
        self.inner.dead_letter_backlog().await
    }
    async fn claim_outbox(
        &self,
        limit: i64,
        retry_before: chrono::DateTime<chrono::Utc>,
    ) -> storage::Result<Vec<domain::OutboxEntry>> {
        self.inner.claim_outbox(limit, retry_before).await
    }
    async fn confirm_outbox(&self) -> storage::Result<storage::OutboxConfirmation> {
        self.inner.confirm_outbox().await
    }
    async fn outbox_in_flight(&self, since: chrono::DateTime<chrono::Utc>) -> storage::Result<i64> {
        self.inner.outbox_in_flight(since).await
    }
    async fn outbox_backlog(&self) -> storage::Result<i64> {
        self.inner.outbox_backlog().await
    }
    async fn remote_events(
        &self,
    ) -> storage::Result<Option<tokio::sync::mpsc::Receiver<Vec<domain::Event>>>> {
        self.inner.remote_events().await
    }
    async fn prune_events(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        batch: i64,
    ) -> storage::Result<u64> {
        self.inner.prune_events(cutoff, batch).await
    }
}

/// Events/s from first publish until all N are committed through the real pipeline, and how
/// the commits spent that time.
async fn persisted(broker: &Broker, db: &TestDb, label: &str, n: usize) -> (f64, CommitTimes) {
    let metrics = api::Metrics::new().expect("metrics");
    let config = bus::BusConfig {
        mqtt: Some(bus_mqtt(broker, &format!("bench-{label}"))),
        pipeline: ingest_pipeline(),
        ..bus::BusConfig::default()
    };
    let store = Arc::new(Timed {
        inner: db.store.clone(),
        times: std::sync::Mutex::default(),
    });
    let bus = bus::EventBus::start(store.clone(), metrics.registry(), config).expect("bus");
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
    let times = *store.times.lock().expect("times");
    (rate, times)
}

/// The latency figures of one run, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    samples: usize,
}

impl Latency {
    fn of(mut all: Vec<f64>) -> Latency {
        all.sort_by(f64::total_cmp);
        Latency {
            p50: percentile(&all, 0.5),
            p90: percentile(&all, 0.9),
            p99: percentile(&all, 0.99),
            p999: percentile(&all, 0.999),
            max: all.last().copied().unwrap_or(f64::NAN),
            samples: all.len(),
        }
    }

    fn json(&self) -> serde_json::Value {
        let r = |v: f64| (v * 100.0).round() / 100.0;
        json!({"p50_ms": r(self.p50), "p90_ms": r(self.p90), "p99_ms": r(self.p99),
               "p999_ms": r(self.p999), "max_ms": r(self.max), "samples": self.samples})
    }
}

/// Publishes `STREAM_RATE` events a second for `STREAM_SECONDS` on `topic`, each carrying its
/// send time.
async fn publish_paced(broker: &Broker, id: &str, topic: &str) {
    let (client, mut eventloop) = AsyncClient::builder(options(broker, id))
        .capacity(5000)
        .build();
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / STREAM_RATE));
    for i in 0..(STREAM_RATE * STREAM_SECONDS) as usize {
        tick.tick().await;
        client
            .publish(
                topic.to_owned(),
                envelope(i, "stream"),
                PublishOptions::new(QoS::AtLeastOnce),
            )
            .await
            .expect("publish");
    }
}

/// The stream's baseline: the same paced publisher, and one plain QoS 1 MQTT subscriber
/// measuring publish → receipt (the broker's own latency on this machine, in this run).
async fn broker_latency(broker: &Broker) -> Latency {
    let mut o = options(broker, "bench-latency-subscriber");
    o.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::builder(o).capacity(100).build();
    client
        .subscribe("tracker/latency/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let expected = (STREAM_RATE * STREAM_SECONDS) as usize;
    let subscriber = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(expected);
        while latencies.len() < expected {
            match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    let received = now_us();
                    let frame: serde_json::Value =
                        serde_json::from_slice(&p.payload).unwrap_or_default();
                    if let Some(sent) = frame["payload"]["sent_us"].as_i64() {
                        latencies.push((received - sent) as f64 / 1000.0);
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("latency subscriber: {e}"),
                Err(_) => break,
            }
        }
        latencies
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish_paced(broker, "bench-latency-publisher", "tracker/latency/x").await;
    Latency::of(subscriber.await.expect("subscriber"))
}

/// The clients' WebSocket read buffer: `CLIENT_READ_BUFFER` bytes, default the library's own
/// (128 KiB). The library zero-fills its free part before every read, which costs the
/// clients, sharing the two cores with the server here, CPU that a browser elsewhere would not.
fn client_read_buffer() -> usize {
    std::env::var("CLIENT_READ_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128 * 1024)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// 100 WebSocket clients on the real router; events published over MQTT at 1,000/s.
async fn stream_latency(broker: &Broker) -> (Latency, Latency) {
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
    let server_metrics = metrics.server();
    let state = api::AppState::new(db.store.clone(), api::ApiKey::new(key), metrics, bus);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // The server's own accept loop (TCP_NODELAY, limits), as `taylordash serve` runs it.
    let router = api::router(state);
    tokio::spawn(async move {
        api::server::serve(
            listener,
            router,
            api::server::ServerLimits::default(),
            server_metrics,
            std::future::pending(),
        )
        .await
    });

    let expected = (STREAM_RATE * STREAM_SECONDS) as usize;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{addr}/api/v1/events/stream?topic=tracker/events/bench/%23")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("x-api-key", key.parse().expect("header"));
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(client_read_buffer());
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), false)
            .await
            .expect("connect");
        clients.push(tokio::spawn(async move {
            // Publish → receipt (clock read as the frame arrives), and publish → the client
            // has parsed it (what earlier runs reported): the client's own parsing shares
            // the two cores with the server here, which a browser elsewhere would not.
            let mut latencies = Vec::with_capacity(expected);
            let mut parsed = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let Ok(Some(Ok(msg))) =
                    tokio::time::timeout(Duration::from_secs(10), ws.next()).await
                else {
                    break;
                };
                let received = now_us();
                let tokio_tungstenite::tungstenite::Message::Text(text) = msg else {
                    continue;
                };
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(sent) = frame["event"]["payload"]["sent_us"].as_i64() {
                    latencies.push((received - sent) as f64 / 1000.0);
                    parsed.push((now_us() - sent) as f64 / 1000.0);
                }
            }
            (latencies, parsed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    publish_paced(
        broker,
        "bench-stream-publisher",
        "tracker/events/bench/stream",
    )
    .await;
    let (mut all, mut all_parsed) = (Vec::new(), Vec::new());
    for c in clients {
        let (latencies, parsed) = c.await.expect("client");
        all.extend(latencies);
        all_parsed.extend(parsed);
    }
    (Latency::of(all), Latency::of(all_parsed))
}

/// The broker-only limit, then the rates persisted to SQLite and (when configured) PostgreSQL,
/// with each run's commit times.
async fn ingest_rates(broker: &Broker, n: usize) -> (f64, f64, Option<f64>, serde_json::Value) {
    let limit = broker_only(broker, n).await;
    println!("broker-only limit (counting subscriber): {limit:>9.0} events/s");
    let (sqlite, sqlite_times) = persisted(broker, &TestDb::sqlite().await, "sqlite", n).await;
    println!(
        "persisted to SQLite:                     {sqlite:>9.0} events/s  ({:.0}% of the limit)\n  \
         commits: {}",
        100.0 * sqlite / limit,
        sqlite_times.json()
    );
    let mut times = json!({"sqlite": sqlite_times.json()});
    let pg = match TestDb::postgres().await {
        Some(db) => {
            let (pg, pg_times) = persisted(broker, &db, "postgres", n).await;
            println!(
                "persisted to PostgreSQL:                 {pg:>9.0} events/s  ({:.0}% of the limit)\n  \
                 commits: {}",
                100.0 * pg / limit,
                pg_times.json()
            );
            times["postgres"] = pg_times.json();
            Some(pg)
        }
        None => {
            println!("persisted to PostgreSQL: skipped (set TAYLORDASH_TEST_DATABASE_URL)");
            None
        }
    };
    (limit, sqlite, pg, times)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let load_before = load_average();
    let broker = Broker::start().expect("mosquitto is required for this benchmark");
    println!("event bus benchmark: {n} QoS 1 events per run, 2-core loopback (load {load_before})");

    // `STREAM_ONLY=1`: the stream latency (and its baseline) alone, e.g. under a profiler.
    let stream_only = std::env::var("STREAM_ONLY").is_ok_and(|v| v == "1");
    let (limit, sqlite, pg, commit_times) = if stream_only {
        (f64::NAN, f64::NAN, None, serde_json::Value::Null)
    } else {
        ingest_rates(&broker, n).await
    };
    // `INGEST_ONLY=1`: the ingest rates alone (no stream phase).
    let ingest_only = std::env::var("INGEST_ONLY").is_ok_and(|v| v == "1");
    let stream = if ingest_only {
        None
    } else {
        let baseline = broker_latency(&broker).await;
        println!(
            "broker-only latency, one MQTT subscriber at {STREAM_RATE} events/s: p50 {:.1} ms, \
             p99 {:.1} ms",
            baseline.p50, baseline.p99
        );
        let (stream, parsed) = stream_latency(&broker).await;
        println!(
            "stream latency, {CLIENTS} WebSocket clients at {STREAM_RATE} events/s: p50 {:.1} ms, \
             p99 {:.1} ms, p99.9 {:.1} ms ({} samples of {}); once parsed: p50 {:.1} ms, \
             p99 {:.1} ms",
            stream.p50,
            stream.p99,
            stream.p999,
            stream.samples,
            CLIENTS as u64 * STREAM_RATE * STREAM_SECONDS,
            parsed.p50,
            parsed.p99,
        );
        Some(json!({
            "clients": CLIENTS,
            "client_read_buffer_bytes": client_read_buffer(),
            "events_per_s": STREAM_RATE,
            "seconds": STREAM_SECONDS,
            "broker_only": baseline.json(),
            "websocket": stream.json(),
            "websocket_once_parsed": parsed.json(),
            "p99_over_broker_p99": (stream.p99 / baseline.p99 * 100.0).round() / 100.0,
        }))
    };
    let load_after = load_average();
    println!("load average before {load_before}, after {load_after}");
    if let Ok(path) = std::env::var("JSON") {
        let ratio = |v: f64| (v / limit * 1000.0).round() / 1000.0;
        // The ingest figures exist unless only the stream ran.
        let ingest = if stream_only { None } else { Some(()) };
        let report = json!({
            "commit": git_commit(),
            "events": n,
            "ingest_batch_size": ingest_pipeline().batch_size,
            "ingest_batch_delay_ms": ingest_pipeline().batch_delay.as_millis() as u64,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "broker_only_events_per_s": ingest.map(|_| limit.round()),
            "sqlite_events_per_s": ingest.map(|_| sqlite.round()),
            "sqlite_of_limit": ingest.map(|_| ratio(sqlite)),
            "postgres_events_per_s": pg.map(f64::round),
            "postgres_of_limit": pg.map(ratio),
            "ingest_commits": commit_times,
            "stream": stream,
        });
        std::fs::write(&path, format!("{report:#}\n")).expect("write the JSON report");
        println!("wrote {path}");
    }
}
