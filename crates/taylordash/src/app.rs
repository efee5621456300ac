//! The application, assembled in one place. [`AppBuilder::build`] builds every part from its
//! settings, starts the parts' background tasks on one [`Tasks`] (a task tracker and a
//! cancellation token), and bundles the handles into the HTTP state. `serve` (through
//! `startup::build`) and the test harness use it, so tests run the production wiring.
//! Maintenance commands (`migrate`, `backup`, `artifacts reconcile`) build none of it: they
//! open the store and the object store only.
//!
//! Background tasks, all on [`Tasks`], and where their code lives:
//! - the event bus: transport (MQTT connection and acknowledgements), ingest pipeline, replica
//!   relay, outbox relay and event retention — `bus` (`EventBus::start_tracked`);
//! - the log writer and log retention — `observability::logs::sink`;
//! - the time-series writer, the metric-event feed, own-metrics and project-progress sampling
//!   and local sample retention — `observability::timeseries`;
//! - the object collector — `backup::collector`; the backup schedule — `backup::schedule`;
//! - the service-check scheduler (and its result writer) — `services::checks`
//!   (`Checks::run_scheduler`), the status page counts (`Checks::run_status_page_warmer`),
//!   and the heartbeat feed that hands every stored event's topic to
//!   the MQTT heartbeat checks (`feed_heartbeats` below);
//! - the alert evaluator and the notification sender — `services::alerts`
//!   (`Alerts::run_evaluator`, `Alerts::run_sender`), woken by check, component and backup
//!   events (`wake_alerts` below);
//! - returning freed heap memory after busy spells — `crate::memory::trim_after_busy_spells`.
//!
//! Outside them: the HTTP server's per-connection tasks (`api::server`, awaited by the server
//! itself in step 1 below), per-request work (a hyper connection of `observability::outbound`,
//! blocking password hashing) that ends with its request, and the OTLP exporter thread, which
//! lives as long as the global `tracing` subscriber that feeds it (the process).
//!
//! Shutdown, in this order ([`App::serve`], [`App::shutdown`]):
//! 1. stop accepting connections; in-flight requests finish (at most the grace period);
//! 2. cancel the token: every task stops at its next await point, except the log writer and
//!    the time-series writer, which first write what is queued (at most 2 s each, concurrently);
//! 3. wait for every task on the tracker (at most the grace period);
//! 4. close the database pool (the tasks' connections are back by then).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use api::{ApiKey, AppContext, AppState, AuthConfig, AuthState, Metrics, StackEndpoints};
use observability::logs::{LogSettings, LogSink};
use observability::timeseries::{TimeSeries, TimeSeriesSettings};
use storage::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Every background task of the application: started on one tracker, stopped by one token.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Tasks {
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    pub fn token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Runs `task` on the tracker until it ends or the token is cancelled (then it is dropped at
    /// its next await point).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tracker
            .spawn(self.cancel.clone().run_until_cancelled_owned(task));
    }

    /// Cancels every task and waits for all of them to finish, at most `grace`; returns whether
    /// they did.
    pub async fn stop(&self, grace: Duration) -> bool {
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// Object storage for artifacts and backups, and the jobs that look after it.
pub struct FilesSettings {
    pub objects: objects::Objects,
    pub max_upload_bytes: u64,
    /// How often the object collector runs when nothing wakes it; `None`: no collector (tests
    /// run `backup::collector::collect` themselves).
    pub collect_interval: Option<Duration>,
    /// Take a backup every so often (`None`: only on demand).
    pub backup_interval: Option<Duration>,
    /// How many of the server's backups to keep, scheduled and on-demand alike.
    pub backup_keep: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("metrics registry: {0}")]
    Metrics(String),
}

/// The application's parts and their settings; see the module documentation.
pub struct AppBuilder {
    store: Arc<dyn Store>,
    api_key: ApiKey,
    auth: AuthConfig,
    bus: bus::BusConfig,
    log_sink: LogSink,
    timeseries: TimeSeriesSettings,
    stack: StackEndpoints,
    files: Option<FilesSettings>,
    http: api::server::ServerLimits,
    checks: services::checks::Settings,
    alerts: services::alerts::Settings,
}

impl AppBuilder {
    /// An application on `store` with default settings and no object storage.
    pub fn new(store: Arc<dyn Store>, api_key: ApiKey) -> AppBuilder {
        AppBuilder {
            store,
            api_key,
            auth: AuthConfig::default(),
            bus: bus::BusConfig::default(),
            log_sink: LogSink::new(LogSettings::default()),
            timeseries: TimeSeriesSettings::default(),
            stack: StackEndpoints::default(),
            files: None,
            http: api::server::ServerLimits::default(),
            checks: services::checks::Settings::default(),
            alerts: services::alerts::Settings::default(),
        }
    }

    /// Service checks: interval floor, clock, retention, concurrency.
    pub fn checks(mut self, settings: services::checks::Settings) -> Self {
        self.checks = settings;
        self
    }

    /// Alerts: evaluation and sending intervals, retries, the clock. The live sources (broker,
    /// metrics) are the application's own.
    pub fn alerts(mut self, settings: services::alerts::Settings) -> Self {
        self.alerts = settings;
        self
    }

    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }

    pub fn bus(mut self, bus: bus::BusConfig) -> Self {
        self.bus = bus;
        self
    }

    /// The log writer (the subscriber's layer may already hold it: records queue until the
    /// writer starts).
    pub fn log_sink(mut self, sink: LogSink) -> Self {
        self.log_sink = sink;
        self
    }

    pub fn timeseries(mut self, settings: TimeSeriesSettings) -> Self {
        self.timeseries = settings;
        self
    }

    pub fn stack(mut self, stack: StackEndpoints) -> Self {
        self.stack = stack;
        self
    }

    pub fn files(mut self, files: FilesSettings) -> Self {
        self.files = Some(files);
        self
    }

    /// Connection limits of the HTTP server ([`App::serve`]).
    pub fn http_limits(mut self, limits: api::server::ServerLimits) -> Self {
        self.http = limits;
        self
    }

    /// Builds the parts, starts their tasks on one [`Tasks`], and bundles the handles.
    pub fn build(self) -> Result<App, BuildError> {
        let tasks = Tasks::default();
        let metrics = Metrics::new().map_err(|e| BuildError::Metrics(e.to_string()))?;
        let registry = metrics.registry();
        let store = self.store;
        let bus = bus::EventBus::start_tracked(
            store.clone(),
            registry,
            self.bus,
            tasks.tracker(),
            tasks.token(),
        )
        .map_err(|e| BuildError::Metrics(e.to_string()))?;
        tracing::info!(transport = bus.transport().kind(), "event bus started");
        let bus = Arc::new(bus);
        let sink = self.log_sink;
        if let Err(e) = sink.register(registry) {
            tracing::warn!(error = %e, "log writer metrics not registered");
        }
        sink.start(store.clone(), tasks.tracker(), tasks.token());
        let timeseries = TimeSeries::new(self.timeseries);
        timeseries.register(registry);
        timeseries.start(
            store.clone(),
            &bus,
            registry,
            tasks.tracker(),
            tasks.token(),
        );
        let files = self.files.map(|files| {
            let collector = Arc::new(tokio::sync::Notify::new());
            let target = backup::Target::store(files.objects.clone());
            let backups = backup::schedule::BackupService::new(target, files.backup_keep, registry)
                .map_err(|e| tracing::error!(error = %e, "backup metrics; backups disabled"))
                .ok()
                .map(Arc::new);
            if let Some(interval) = files.collect_interval {
                tasks.spawn(backup::collector::run_collector(
                    store.clone(),
                    files.objects.clone(),
                    collector.clone(),
                    interval,
                    std::future::pending(),
                ));
            }
            if let (Some(service), Some(interval)) = (&backups, files.backup_interval) {
                tracing::info!(
                    every_s = interval.as_secs(),
                    keep = files.backup_keep,
                    "scheduled backups enabled"
                );
                tasks.spawn(backup::schedule::run_schedule(
                    service.clone(),
                    store.clone(),
                    bus.clone(),
                    interval,
                ));
            }
            api::artifacts::Files {
                objects: files.objects,
                max_upload_bytes: files.max_upload_bytes,
                collector,
                backups,
            }
        });
        let mut check_settings = self.checks;
        let samples = timeseries.clone();
        check_settings.samples = Some(Arc::new(move |s| samples.push(s)));
        // Locally, one sample per check and hour (the hourly counts hold the rest): one per
        // run would grow the table by gigabytes a day with thousands of checks.
        if timeseries.victoria_metrics().is_none() && check_settings.sample_step.is_none() {
            check_settings.sample_step = Some(services::checks::LOCAL_SAMPLE_STEP);
        }
        let checks = services::checks::Checks::new(store.clone(), check_settings);
        checks.register(registry);
        tasks.spawn(checks.clone().run_scheduler());
        tasks.spawn(checks.clone().run_status_page_warmer());
        tasks.spawn(feed_heartbeats(bus.hub().subscribe(), checks.clone()));
        let mut alert_settings = self.alerts;
        alert_settings.live = Arc::new(crate::alerting::AppSources {
            bus: bus.clone(),
            timeseries: timeseries.clone(),
            store: store.clone(),
        });
        let alerts = services::alerts::Alerts::new(store.clone(), alert_settings);
        alerts.register(registry);
        tasks.spawn(alerts.clone().run_evaluator());
        tasks.spawn(alerts.clone().run_sender());
        tasks.spawn(wake_alerts(bus.hub().subscribe(), alerts.clone()));
        tasks.spawn(crate::memory::trim_after_busy_spells(
            tasks.tracker().clone(),
        ));
        let state = AppState::from_parts(AppContext {
            auth: AuthState::new(self.auth, store.clone()),
            store,
            api_key: self.api_key,
            metrics,
            bus,
            files,
            logs: api::logs::Logs::new(sink),
            stack: self.stack,
            timeseries,
            checks,
            alerts,
            project_lists: Default::default(),
        });
        Ok(App {
            state,
            tasks,
            http: self.http,
        })
    }
}

/// Hands the topic of every stored event to the MQTT heartbeat checks. A lag (the hub moved
/// on) skips what was missed: a heartbeat that regular misses one message, not its check.
async fn feed_heartbeats(
    mut events: tokio::sync::broadcast::Receiver<Arc<bus::LiveEvent>>,
    checks: services::checks::Checks,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Err(e) = checks.heartbeat(&event.topic).await {
                    tracing::warn!(error = %e, "checks: recording a heartbeat failed");
                }
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// Wakes the alert evaluator when a stored event may change what a rule sees (a check's state,
/// a component, a dead letter, a backup), so the first notification does not wait for the next
/// evaluation round.
async fn wake_alerts(
    mut events: tokio::sync::broadcast::Receiver<Arc<bus::LiveEvent>>,
    alerts: services::alerts::Alerts,
) {
    use tokio::sync::broadcast::error::RecvError;
    const WAKING: [&str; 4] = [
        "tracker/events/checks/down",
        "tracker/events/checks/up",
        "tracker/events/components/",
        "tracker/events/backups/",
    ];
    loop {
        match events.recv().await {
            Ok(event) => {
                if WAKING.iter().any(|p| event.topic.starts_with(p)) {
                    alerts.wake();
                }
            }
            Err(RecvError::Lagged(_)) => alerts.wake(),
            Err(RecvError::Closed) => return,
        }
    }
}

/// The built application: the HTTP state and the tasks running behind it.
pub struct App {
    pub state: AppState,
    pub tasks: Tasks,
    /// Connection limits of the HTTP server.
    pub http: api::server::ServerLimits,
}

impl App {
    /// The complete router over this application's state.
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// Serves until `shutdown` resolves, then shuts down in the documented order, giving
    /// in-flight requests and then the background tasks at most `grace` each.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<()> {
        let router = self.router();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server_metrics = self.state.metrics.server();
        let server = api::server::serve(listener, router, self.http, server_metrics, async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => result?,
            _ = stopping_rx => {
                let drain = self.http.shutdown_delay;
                tracing::info!(drain_s = drain.as_secs_f32(), grace_s = grace.as_secs(),
                    "shutting down: draining, then finishing in-flight requests");
                // The grace period starts when the drain ends and the listener closes.
                if tokio::time::timeout(drain + grace, &mut server).await.is_err() {
                    tracing::warn!("in-flight requests did not finish in time; closing anyway");
                }
            }
        }
        self.shutdown(grace).await;
        Ok(())
    }

    /// Steps 2-4 of the shutdown: stops every background task (the writers write what is
    /// queued first), waits for them at most `grace`, and closes the database pool.
    pub async fn shutdown(self, grace: Duration) {
        if !self.tasks.stop(grace).await {
            tracing::warn!("background tasks did not stop in time; closing anyway");
        }
        self.state.store.close().await;
        tracing::info!("stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stopping cancels every task and waits for them: the log writer, which would otherwise
    /// wait an hour for its next batch, writes what is queued before it stops.
    #[tokio::test]
    async fn stopping_drains_the_writers_and_waits_for_every_task() {
        let db = testsupport::TestDb::sqlite().await;
        let sink = LogSink::new(LogSettings {
            flush_interval: Duration::from_secs(3600),
            ..LogSettings::default()
        });
        let app = AppBuilder::new(db.store.clone(), ApiKey::new("test-key-0123456789abcdef"))
            .log_sink(sink.clone())
            .build()
            .expect("app");
        sink.push(domain::NewLogRecord {
            timestamp: domain::now(),
            level: "INFO".into(),
            service: observability::SERVICE.into(),
            category: "SYSTEM".into(),
            severity: "INFO".into(),
            message: "queued at shutdown".into(),
            environment: "test".into(),
            version: "0".into(),
            host_name: "local".into(),
            ..domain::NewLogRecord::default()
        });
        assert!(
            app.tasks.stop(Duration::from_secs(10)).await,
            "tasks stopped"
        );
        assert!(app.tasks.tracker().is_empty(), "no task left running");
        let page = db
            .store
            .list_logs(&domain::LogFilter::default(), 10, 0)
            .await
            .expect("logs");
        assert_eq!(page.total, 1);
        assert_eq!(page.logs[0].record.message, "queued at shutdown");
    }
}
