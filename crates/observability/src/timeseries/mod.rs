//! Time series: metric events (`tracker/metrics/<name>`, kinds `metric.gauge` and
//! `metric.counter`) become samples, written in batches to VictoriaMetrics when
//! `VICTORIA_METRICS_URL` is set (its JSON-lines import API, plus the app's own metrics every
//! push interval), else to the local `metric_samples` table (with retention). Charts read them
//! back through `api`'s `GET /api/v1/metrics/query_range`: proxied to VictoriaMetrics (full
//! PromQL), or answered locally by [`local_range`] for the subset in [`promql`].

pub mod promql;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone as _, Utc};
use domain::{Event, JsonObject};
use prometheus::{IntCounter, Registry};
use serde_json::Value;
use storage::{MetricSample, MetricSampleStore, Store};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch_queue::{BatchQueue, FINAL_FLUSH};
use crate::outbound::{self, BaseUrl};

/// A feeder task, boxed so the feeders share one spawn helper.
type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The app's own metrics also kept in the local table (no VictoriaMetrics), every push
/// interval: the series the dashboard charts read.
/// The HTTP latency histogram is kept summed over routes and methods (one series per bucket).
pub const LOCAL_OWN_METRICS: &[&str] = &["taylor_ingest_total", "taylor_dlq_total", HTTP_BUCKETS];
const HTTP_BUCKETS: &str = "http_request_duration_seconds_bucket";

/// The locally kept subset of the own metrics: [`LOCAL_OWN_METRICS`], with the HTTP latency
/// buckets summed by `le` across routes and methods.
pub fn local_own_samples(samples: Vec<MetricSample>) -> Vec<MetricSample> {
    let mut out = Vec::new();
    let mut buckets: BTreeMap<String, MetricSample> = BTreeMap::new();
    for mut s in samples {
        if !LOCAL_OWN_METRICS.contains(&s.name.as_str()) {
            continue;
        }
        if s.name != HTTP_BUCKETS {
            out.push(s);
            continue;
        }
        s.labels.remove("method");
        s.labels.remove("route");
        let le = s
            .labels
            .get("le")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match buckets.entry(le) {
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().value += s.value,
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(s);
            }
        }
    }
    out.extend(buckets.into_values());
    out
}

#[derive(Debug, Clone)]
pub struct TimeSeriesSettings {
    /// VictoriaMetrics base URL; `None` keeps samples in the local table.
    pub victoria_metrics: Option<String>,
    /// Samples held in memory at most while the target is slow; beyond it the oldest go.
    pub capacity: usize,
    /// Samples sent in one write at most.
    pub batch_size: usize,
    /// Longest a sample waits before its batch is written.
    pub flush_interval: Duration,
    /// How often the app's own metrics are pushed to VictoriaMetrics; zero: never (when
    /// Prometheus already remote-writes them there).
    pub push_interval: Duration,
    /// How long local samples are kept.
    pub local_retention: Duration,
    /// The `instance` label of the app's own metrics.
    pub instance: String,
}

impl Default for TimeSeriesSettings {
    fn default() -> Self {
        TimeSeriesSettings {
            victoria_metrics: None,
            capacity: 200_000,
            batch_size: 5_000,
            flush_interval: Duration::from_millis(500),
            push_interval: Duration::from_secs(15),
            local_retention: Duration::from_secs(30 * 86_400),
            instance: "local".into(),
        }
    }
}

/// Handle to the running time-series writer; cheap to clone.
#[derive(Clone)]
pub struct TimeSeries(Arc<Inner>);

struct Inner {
    settings: TimeSeriesSettings,
    vm: Option<BaseUrl>,
    queue: BatchQueue<MetricSample>,
    received: IntCounter,
    written: IntCounter,
    rejected: IntCounter,
    failures: IntCounter,
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).unwrap_or_else(|_| unreachable!("valid metric name"))
}

impl TimeSeries {
    /// The writer's handle and queue; nothing runs until [`TimeSeries::start`]. An invalid
    /// VictoriaMetrics URL was refused when the configuration was read; here it falls back to
    /// the local table.
    pub fn new(settings: TimeSeriesSettings) -> TimeSeries {
        let vm = settings
            .victoria_metrics
            .as_deref()
            .and_then(|u| BaseUrl::parse(u).ok());
        TimeSeries(Arc::new(Inner {
            vm,
            queue: BatchQueue::new(
                settings.capacity,
                settings.batch_size,
                counter(
                    "taylordash_timeseries_samples_dropped_total",
                    "Samples lost: the queue was full, or the event stream lagged",
                ),
                None,
            ),
            received: counter(
                "taylordash_timeseries_samples_received_total",
                "Samples taken from metric events (tracker/metrics/...)",
            ),
            written: counter(
                "taylordash_timeseries_samples_written_total",
                "Samples written to VictoriaMetrics or the local table",
            ),
            rejected: counter(
                "taylordash_timeseries_samples_rejected_total",
                "Metric events whose name, labels or value cannot form a sample",
            ),
            failures: counter(
                "taylordash_timeseries_write_failures_total",
                "Sample batches the target did not accept (retried)",
            ),
            settings,
        }))
    }

    /// Adds the writer's metrics to `registry` (a metric already there is warned about).
    pub fn register(&self, registry: &Registry) {
        for c in [
            &self.0.received,
            &self.0.written,
            self.0.queue.dropped(),
            &self.0.rejected,
            &self.0.failures,
        ] {
            if let Err(e) = registry.register(Box::new(c.clone())) {
                tracing::warn!(error = %e, "time-series metrics not registered");
            }
        }
    }

    /// Starts the writer and its feeders as tasks on `tasks`: metric events from `bus`, the
    /// app's own metrics from `registry` and project progress, to VictoriaMetrics or `store`
    /// (with local retention). Once `cancel` is cancelled the writer writes what is queued
    /// (for at most [`FINAL_FLUSH`]) and stops; the others stop at once.
    pub fn start(
        &self,
        store: Arc<dyn Store>,
        bus: &bus::EventBus,
        registry: &Registry,
        tasks: &TaskTracker,
        cancel: &CancellationToken,
    ) {
        let spawn = |task: Task| {
            tasks.spawn(cancel.clone().run_until_cancelled_owned(task));
        };
        spawn(Box::pin(self.clone().project_progress(store.clone())));
        let events = bus.hub().subscribe();
        spawn(Box::pin(self.clone().forward(events)));
        let ts = self.clone();
        crate::spawn_writer(
            tasks,
            cancel,
            self.clone().write_loop(store.clone()),
            async move {
                ts.flush(FINAL_FLUSH).await;
            },
        );
        if self.0.vm.is_some() {
            spawn(Box::pin(
                self.clone().push_own_metrics(registry.clone(), false),
            ));
        } else {
            // Locally only the few own metrics the dashboard charts read are kept.
            spawn(Box::pin(
                self.clone().push_own_metrics(registry.clone(), true),
            ));
            spawn(Box::pin(self.clone().local_retention(store)));
        }
    }

    /// `victoriametrics` or `local`.
    pub fn target(&self) -> &'static str {
        if self.0.vm.is_some() {
            "victoriametrics"
        } else {
            "local"
        }
    }

    /// The VictoriaMetrics server samples go to; `None`: the local table.
    pub fn victoria_metrics(&self) -> Option<&BaseUrl> {
        self.0.vm.as_ref()
    }

    /// Queues samples, dropping the oldest beyond capacity.
    pub fn push(&self, samples: impl IntoIterator<Item = MetricSample>) {
        self.0.queue.push(samples);
    }

    /// Waits until everything queued is written (or `timeout` passes); true when empty.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.0.queue.flush(timeout).await
    }

    async fn forward(self, mut events: tokio::sync::broadcast::Receiver<Arc<bus::LiveEvent>>) {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if !is_metric_event(&event) {
                        continue;
                    }
                    match sample_from_event(&event) {
                        Ok(s) => {
                            self.0.received.inc();
                            self.push([s]);
                        }
                        Err(reason) => {
                            self.0.rejected.inc();
                            tracing::debug!(event_id = event.id, %reason, "metric event skipped");
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => self.0.queue.dropped().inc_by(n),
                Err(RecvError::Closed) => return,
            }
        }
    }

    async fn write(
        &self,
        store: &dyn MetricSampleStore,
        batch: &[MetricSample],
    ) -> Result<(), String> {
        match &self.0.vm {
            Some(vm) => {
                let body = import_lines(batch);
                let reply = outbound::send(
                    vm,
                    http::Method::POST,
                    "/api/v1/import",
                    Some("application/json"),
                    Bytes::from(body),
                    Duration::from_secs(10),
                )
                .await?;
                if reply.status.is_success() {
                    Ok(())
                } else {
                    Err(format!(
                        "VictoriaMetrics answered HTTP {}: {}",
                        reply.status.as_u16(),
                        String::from_utf8_lossy(&reply.body)
                    ))
                }
            }
            None => store
                .insert_samples(batch)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    async fn write_loop(self, store: Arc<dyn MetricSampleStore>) {
        let mut backoff = Duration::ZERO;
        loop {
            tokio::time::sleep(backoff).await;
            tokio::select! {
                () = self.0.queue.woken() => {}
                () = tokio::time::sleep(self.0.settings.flush_interval) => {}
            }
            loop {
                let batch = self.0.queue.take_batch();
                if batch.is_empty() {
                    break;
                }
                match self.write(&*store, &batch).await {
                    Ok(()) => {
                        self.0.written.inc_by(batch.len() as u64);
                        self.0.queue.stored();
                        backoff = Duration::ZERO;
                    }
                    Err(e) => {
                        self.0.failures.inc();
                        self.0.queue.requeue(batch);
                        backoff = (backoff * 2)
                            .clamp(Duration::from_millis(250), Duration::from_secs(30));
                        tracing::warn!(
                            target: "taylordash::timeseries",
                            error = %e,
                            retry_in_ms = backoff.as_millis() as u64,
                            "cannot write metric samples; keeping them queued"
                        );
                        break;
                    }
                }
            }
        }
    }

    /// How often samples are taken: the push interval, or 15 s when the push is off.
    fn sample_interval(&self) -> Duration {
        match self.0.settings.push_interval {
            d if d.is_zero() => Duration::from_secs(15),
            d => d,
        }
    }

    async fn push_own_metrics(self, registry: Registry, local: bool) {
        // Zero turns the push to VictoriaMetrics off (Prometheus remote-writes the same series
        // there); the local table still gets what the charts read.
        if self.0.settings.push_interval.is_zero() && !local {
            return;
        }
        let mut tick = tokio::time::interval(self.sample_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let mut samples = own_samples(&registry, &self.0.settings.instance, domain::now());
            if local {
                samples = local_own_samples(samples);
            }
            self.push(samples);
        }
    }

    /// Every push interval, each open project's progress (`domain::component_progress`
    /// averaged over its components; a project without components has none and is not sampled)
    /// as `taylordash_project_progress{project, project_id}`, for the dashboard chart; to
    /// VictoriaMetrics or the local table.
    async fn project_progress(self, store: Arc<dyn Store>) {
        let mut tick = tokio::time::interval(self.sample_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            match project_progress_samples(&*store, &self.0.settings.instance).await {
                Ok(samples) => self.push(samples),
                Err(e) => tracing::warn!(error = %e, "project progress not sampled"),
            }
        }
    }

    async fn local_retention(self, store: Arc<dyn MetricSampleStore>) {
        let age = chrono::Duration::from_std(self.0.settings.local_retention)
            .unwrap_or(chrono::Duration::days(30));
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            loop {
                match store.prune_samples(Utc::now() - age, 10_000).await {
                    Ok(10_000) => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "metric sample retention failed");
                        break;
                    }
                }
            }
        }
    }
}

/// Projects sampled for the progress chart at most (the newest that are not archived).
const PROGRESS_PROJECTS: i64 = 100;

async fn project_progress_samples(
    store: &dyn Store,
    instance: &str,
) -> storage::Result<Vec<MetricSample>> {
    let ts = domain::now();
    let report = store.project_progress(PROGRESS_PROJECTS).await?;
    Ok(report
        .projects
        .into_iter()
        .filter_map(|p| Some((p.progress?, p)))
        .map(|(progress, p)| {
            let mut labels = JsonObject::new();
            labels.insert("job".into(), "taylordash".into());
            labels.insert("instance".into(), instance.into());
            labels.insert("project".into(), p.name.into());
            labels.insert("project_id".into(), p.id.to_string().into());
            MetricSample {
                name: "taylordash_project_progress".into(),
                labels,
                value: progress,
                ts,
            }
        })
        .collect())
}

fn is_metric_event(e: &Event) -> bool {
    domain::topics::is_metric(&e.topic)
        && matches!(e.kind.as_str(), "metric.gauge" | "metric.counter")
}

fn valid_name(name: &str, colon: bool) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
        && name.len() <= 200
}

/// The sample a metric event carries: payload `metric_name`, `value`, optional `labels`
/// (string, number or boolean values) and `timestamp` (RFC 3339, or Unix seconds or
/// milliseconds; default: the event's `ts`).
pub fn sample_from_event(e: &Event) -> Result<MetricSample, String> {
    let p = &e.payload;
    let name = p
        .get("metric_name")
        .and_then(Value::as_str)
        .ok_or("payload.metric_name missing")?;
    if !valid_name(name, true) {
        return Err(format!(
            "'{name}' is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        ));
    }
    let value = p
        .get("value")
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
        .ok_or("payload.value must be a finite number")?;
    let mut labels = JsonObject::new();
    if let Some(Value::Object(given)) = p.get("labels") {
        if given.len() > 30 {
            return Err("at most 30 labels".into());
        }
        for (k, v) in given {
            if !valid_name(k, false) || k.starts_with("__") {
                return Err(format!("'{k}' is not a label name"));
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(format!("label {k} must be a string, number or boolean")),
            };
            if text.len() > 1024 {
                return Err(format!("label {k} is longer than 1024 bytes"));
            }
            labels.insert(k.clone(), Value::String(text));
        }
    }
    let ts = match p.get("timestamp") {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| format!("timestamp '{s}' is not RFC 3339"))?,
        Some(Value::Number(n)) => {
            let n = n.as_f64().unwrap_or_default();
            let ms = if n < 1e11 { n * 1000.0 } else { n };
            Utc.timestamp_millis_opt(ms as i64)
                .single()
                .ok_or("timestamp out of range")?
        }
        _ => e.ts,
    };
    Ok(MetricSample {
        name: name.to_owned(),
        labels,
        value,
        ts: domain::truncate_to_micros(ts),
    })
}

/// VictoriaMetrics' JSON-lines import format, one line per sample.
fn import_lines(batch: &[MetricSample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.len() * 96);
    for s in batch {
        let mut metric = serde_json::Map::with_capacity(s.labels.len() + 1);
        metric.insert("__name__".into(), Value::String(s.name.clone()));
        for (k, v) in &s.labels {
            metric.insert(k.clone(), v.clone());
        }
        let line = serde_json::json!({
            "metric": metric,
            "values": [s.value],
            "timestamps": [s.ts.timestamp_millis()],
        });
        let _ = serde_json::to_writer(&mut out, &line);
        out.push(b'\n');
    }
    out
}

/// The registry's current values as samples (histograms as `_bucket`/`_sum`/`_count`), labelled
/// `job="taylordash"` and `instance`.
pub fn own_samples(registry: &Registry, instance: &str, now: DateTime<Utc>) -> Vec<MetricSample> {
    use prometheus::proto::MetricType;
    let mut out = Vec::new();
    for family in registry.gather() {
        let name = family.name();
        for m in family.get_metric() {
            let mut labels = JsonObject::new();
            labels.insert("job".into(), "taylordash".into());
            labels.insert("instance".into(), instance.into());
            for l in m.get_label() {
                labels.insert(l.name().to_owned(), l.value().into());
            }
            let mut add = |suffix: &str, extra: Option<(&str, String)>, value: f64| {
                let mut labels = labels.clone();
                if let Some((k, v)) = extra {
                    labels.insert(k.to_owned(), v.into());
                }
                out.push(MetricSample {
                    name: format!("{name}{suffix}"),
                    labels,
                    value,
                    ts: now,
                });
            };
            match family.get_field_type() {
                MetricType::COUNTER => add("", None, m.get_counter().get_value()),
                MetricType::GAUGE => add("", None, m.get_gauge().get_value()),
                MetricType::HISTOGRAM => {
                    let h = m.get_histogram();
                    for b in h.get_bucket() {
                        let le = if b.upper_bound().is_infinite() {
                            "+Inf".to_owned()
                        } else {
                            b.upper_bound().to_string()
                        };
                        add("_bucket", Some(("le", le)), b.cumulative_count() as f64);
                    }
                    add(
                        "_bucket",
                        Some(("le", "+Inf".into())),
                        h.get_sample_count() as f64,
                    );
                    add("_sum", None, h.get_sample_sum());
                    add("_count", None, h.get_sample_count() as f64);
                }
                _ => {}
            }
        }
    }
    out
}

/// Most samples the local evaluator reads for one query.
pub const MAX_LOCAL_SAMPLES: i64 = 500_000;

/// Why a query cannot be answered from the local samples.
#[derive(Debug, thiserror::Error)]
pub enum LocalQueryError {
    /// Outside the PromQL subset [`promql`] evaluates.
    #[error("{0}")]
    Unsupported(String),
    #[error("start: out of range")]
    OutOfRange,
    #[error("more than {MAX_LOCAL_SAMPLES} samples in the range: narrow the range or the selector")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] storage::StoreError),
}

/// Evaluates `query` over the local samples from `start` to `end` (Unix seconds) every `step`
/// seconds: (labels, [(unix ms, value)]) per output series.
pub async fn local_range(
    store: &dyn MetricSampleStore,
    query: &str,
    start: f64,
    end: f64,
    step: f64,
) -> Result<Vec<(BTreeMap<String, String>, promql::Points)>, LocalQueryError> {
    let expr = promql::parse(query).map_err(LocalQueryError::Unsupported)?;
    let (start_ms, end_ms, step_ms) = (
        (start * 1000.0) as i64,
        (end * 1000.0) as i64,
        ((step * 1000.0) as i64).max(1),
    );
    let since_ms = start_ms - expr.reach().as_millis() as i64;
    let at = |ms: i64| {
        Utc.timestamp_millis_opt(ms)
            .single()
            .ok_or(LocalQueryError::OutOfRange)
    };
    let rows = store
        .samples(
            &expr.selector().name,
            at(since_ms)?,
            at(end_ms)?,
            MAX_LOCAL_SAMPLES,
        )
        .await?;
    if rows.len() as i64 > MAX_LOCAL_SAMPLES {
        return Err(LocalQueryError::TooLarge);
    }
    let mut series: BTreeMap<BTreeMap<String, String>, promql::Points> = BTreeMap::new();
    for s in rows {
        let mut labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        labels.insert("__name__".into(), s.name);
        series
            .entry(labels)
            .or_default()
            .push((s.ts.timestamp_millis(), s.value));
    }
    Ok(promql::evaluate(&expr, &series, start_ms, end_ms, step_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, payload: Value) -> Event {
        Event {
            id: 1,
            topic: "tracker/metrics/cpu".into(),
            kind: kind.into(),
            trace_id: uuid::Uuid::new_v4(),
            idempotency_key: "k".into(),
            source: "mqtt".into(),
            payload: payload.as_object().cloned().unwrap_or_default(),
            ts: domain::now(),
            received_at: domain::now(),
        }
    }

    #[test]
    fn samples_from_metric_events() {
        let e = event(
            "metric.gauge",
            serde_json::json!({"metric_name": "cpu_load", "value": 0.5,
                "labels": {"host": "a", "core": 2, "hot": true},
                "timestamp": "2026-11-29T05:00:00Z"}),
        );
        assert!(is_metric_event(&e));
        let s = sample_from_event(&e).unwrap();
        assert_eq!(s.name, "cpu_load");
        assert_eq!(s.value, 0.5);
        assert_eq!(s.labels["core"], "2");
        assert_eq!(s.labels["hot"], "true");
        assert_eq!(s.ts.to_rfc3339(), "2026-11-29T05:00:00+00:00");
        let secs = sample_from_event(&event(
            "metric.counter",
            serde_json::json!({"metric_name": "x", "value": 1, "timestamp": 1_800_000_000}),
        ))
        .unwrap();
        assert_eq!(secs.ts.timestamp(), 1_800_000_000);
        let ms = sample_from_event(&event(
            "metric.counter",
            serde_json::json!({"metric_name": "x", "value": 1, "timestamp": 1_800_000_000_123u64}),
        ))
        .unwrap();
        assert_eq!(ms.ts.timestamp_millis(), 1_800_000_000_123);
        for bad in [
            serde_json::json!({"metric_name": "bad name", "value": 1}),
            serde_json::json!({"metric_name": "x", "value": 1, "labels": {"__name__": "y"}}),
            serde_json::json!({"metric_name": "x", "value": 1, "labels": {"a": {"b": 1}}}),
            serde_json::json!({"metric_name": "x", "value": 1, "timestamp": "yesterday"}),
        ] {
            assert!(
                sample_from_event(&event("metric.gauge", bad.clone())).is_err(),
                "{bad}"
            );
        }
        assert!(!is_metric_event(&event(
            "metric.histogram",
            serde_json::json!({})
        )));
    }

    #[test]
    fn import_lines_are_victoriametrics_json() {
        let s = MetricSample {
            name: "n".into(),
            labels: serde_json::json!({"a": "b"}).as_object().cloned().unwrap(),
            value: 2.5,
            ts: Utc.timestamp_millis_opt(1_000).unwrap(),
        };
        let text = String::from_utf8(import_lines(&[s.clone(), s])).unwrap();
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"metric": {"__name__": "n", "a": "b"}, "values": [2.5],
                               "timestamps": [1000]})
        );
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn own_metrics_become_samples() {
        let registry = Registry::new();
        let c = IntCounter::new("things_total", "t").unwrap();
        registry.register(Box::new(c.clone())).unwrap();
        let h = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new("lat_seconds", "l").buckets(vec![0.1, 1.0]),
        )
        .unwrap();
        registry.register(Box::new(h.clone())).unwrap();
        c.inc_by(3);
        h.observe(0.5);
        let samples = own_samples(&registry, "host1", Utc::now());
        let find = |name: &str, le: Option<&str>| {
            samples
                .iter()
                .find(|s| s.name == name && le.is_none_or(|le| s.labels["le"] == le))
                .unwrap()
                .value
        };
        assert_eq!(find("things_total", None), 3.0);
        assert_eq!(find("lat_seconds_bucket", Some("0.1")), 0.0);
        assert_eq!(find("lat_seconds_bucket", Some("1")), 1.0);
        assert_eq!(find("lat_seconds_bucket", Some("+Inf")), 1.0);
        assert_eq!(find("lat_seconds_count", None), 1.0);
        assert!(samples.iter().all(|s| s.labels["instance"] == "host1"));
    }
}
