//! Service checks: the [`Checks`] service over [`storage::CheckStore`] — definitions (with
//! secret header values and push tokens), "test now", pushes and MQTT heartbeats, history and
//! uptime — and its scheduler ([`Checks::run_scheduler`]), one background task of the
//! application.
//!
//! - `probe.rs`: running a check once (HTTP(S), TCP, ping, DNS; heartbeat kinds are "late"
//!   when due); `tls.rs`, `dns.rs`, `ping.rs`: what the probes need.
//! - The scheduler leases due checks from the store (so several replicas never run one check
//!   at once), runs them concurrently (at most `max_concurrent`), and records their results in
//!   batches: the store moves each check's state, keeps the raw result and the hourly/daily
//!   counts, and writes an event per transition through the outbox. After a restart it first
//!   spreads overdue checks over their interval, so they resume without a burst.
//!
//! Time comes from a [`Clock`], so tests move it to make retries and late pushes happen.

mod dns;
mod ping;
pub mod probe;
pub mod status_page;
mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{
    Check, CheckKind, CheckPatch, CheckResult, CheckRules, CheckStatus, CheckTarget, NewCheck,
    Outcome, ValidationError, topics,
};
use storage::{
    CheckOverview, CheckRetention, CheckStore, MetricSample, RecordedTransition, Resolution,
    StoreError, StoredCheck, StoredResult, UptimeBucket,
};
use tokio::sync::{Notify, Semaphore, mpsc};
use uuid::Uuid;

use crate::Clock;
use crate::identity::token;

/// How long raw results and hourly and daily counts are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub raw: chrono::Duration,
    pub hourly: chrono::Duration,
    pub daily: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: chrono::Duration::days(2),
            hourly: chrono::Duration::days(90),
            daily: chrono::Duration::days(800),
        }
    }
}

/// Where check results go besides the store (the time-series writer).
pub type SampleSink = Arc<dyn Fn(Vec<MetricSample>) + Send + Sync>;

/// How the checks service is tuned.
#[derive(Clone)]
pub struct Settings {
    pub rules: CheckRules,
    pub clock: Clock,
    pub retention: Retention,
    /// Checks run at once at most.
    pub max_concurrent: usize,
    /// How often the scheduler looks for due checks.
    pub poll: Duration,
    /// Results recorded in one transaction at most.
    pub batch_size: usize,
    /// `up` and latency samples per result.
    pub samples: Option<SampleSink>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rules: CheckRules::default(),
            clock: Clock::system(),
            retention: Retention::default(),
            max_concurrent: 256,
            poll: Duration::from_millis(250),
            batch_size: 500,
            samples: None,
        }
    }
}

/// Why a checks operation did not happen; the `Display` text is the API's `detail`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("this is not a push check")]
    NotPush,
    #[error("{0}")]
    Internal(String),
}

/// A new check, with what is shown only now: the push URL's token.
#[derive(Debug, Clone)]
pub struct Created {
    pub check: StoredCheck,
    /// The push token (push checks), shown once; only its hash is stored.
    pub push_token: Option<String>,
}

/// Uptime over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Uptime {
    pub window_hours: i64,
    /// Share of conclusive results that were up or degraded; `None` without any.
    pub ratio: Option<f64>,
    pub up: i64,
    pub degraded: i64,
    pub down: i64,
    pub avg_latency_ms: Option<f64>,
}

/// The windows uptime is reported for: 24 hours, 7, 30 and 365 days.
pub const UPTIME_WINDOWS_HOURS: [i64; 4] = [24, 7 * 24, 30 * 24, 365 * 24];

/// The scheduler's own metrics, on `/metrics` once [`Checks::register`]ed.
struct CheckMetrics {
    /// From when a check was due to when its run started.
    lateness: prometheus::Histogram,
    /// Runs by outcome (`up`, `degraded`, `down`).
    runs: prometheus::IntCounterVec,
    /// Runs in progress.
    running: prometheus::IntGauge,
}

impl CheckMetrics {
    fn new() -> CheckMetrics {
        let lateness = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "taylor_check_lateness_seconds",
                "From when a check was due to when its run started",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0]),
        )
        .unwrap_or_else(|_| unreachable!("valid histogram"));
        let runs = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "taylor_check_runs_total",
                "Scheduled check runs, by outcome",
            ),
            &["outcome"],
        )
        .unwrap_or_else(|_| unreachable!("valid counter"));
        for outcome in ["up", "degraded", "down"] {
            runs.with_label_values(&[outcome]);
        }
        let running = prometheus::IntGauge::new("taylor_checks_running", "Check runs in progress")
            .unwrap_or_else(|_| unreachable!("valid gauge"));
        CheckMetrics {
            lateness,
            runs,
            running,
        }
    }
}

/// The checks service; cheap to clone.
#[derive(Clone)]
pub struct Checks(Arc<Inner>);

struct Inner {
    store: Arc<dyn CheckStore>,
    settings: Settings,
    metrics: CheckMetrics,
    /// Wakes the scheduler (a check became due now).
    wake: Notify,
    /// MQTT heartbeat checks by id (filter, and when a message was last recorded).
    heartbeats: Mutex<HeartbeatIndex>,
    /// Public status pages computed lately, by project.
    status_cache: Mutex<status_page::StatusCache>,
    /// How many times the counts behind status pages were read (the expensive part).
    status_history_reads: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct HeartbeatIndex {
    /// When the filters were read from the store; `None`: read them again (a check of this
    /// instance changed). Read again after [`HEARTBEAT_RELOAD`] anyway, for changes made
    /// through another replica.
    loaded: Option<DateTime<Utc>>,
    /// (check, topic filter, interval in seconds).
    filters: Vec<(Uuid, String, i32)>,
    /// When a matching message last arrived, per check.
    seen: HashMap<Uuid, DateTime<Utc>>,
    /// When an arrival was last recorded as a result, per check.
    recorded: HashMap<Uuid, DateTime<Utc>>,
}

/// A message on a heartbeat topic is recorded as a result at most every half interval (and at
/// most once a second) per check, so a chatty topic does not flood the history; the arrivals
/// in between are remembered, and a check due meanwhile counts them (see `heartbeat_due`).
const HEARTBEAT_THROTTLE: chrono::Duration = chrono::Duration::seconds(1);
/// How long the heartbeat filters are trusted without reading them again.
const HEARTBEAT_RELOAD: chrono::Duration = chrono::Duration::seconds(60);

impl Checks {
    pub fn new(store: Arc<dyn CheckStore>, settings: Settings) -> Checks {
        Checks(Arc::new(Inner {
            store,
            settings,
            metrics: CheckMetrics::new(),
            wake: Notify::new(),
            heartbeats: Mutex::new(HeartbeatIndex::default()),
            status_cache: Mutex::new(Default::default()),
            status_history_reads: Default::default(),
        }))
    }

    /// Exports the scheduler's metrics (lateness, runs by outcome, runs in progress).
    pub fn register(&self, registry: &prometheus::Registry) {
        let m = &self.0.metrics;
        let all: [Box<dyn prometheus::core::Collector>; 3] = [
            Box::new(m.lateness.clone()),
            Box::new(m.runs.clone()),
            Box::new(m.running.clone()),
        ];
        for c in all {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "check metrics not registered");
            }
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    fn now(&self) -> DateTime<Utc> {
        self.0.settings.clock.now()
    }

    fn heartbeats_changed(&self) {
        if let Ok(mut h) = self.0.heartbeats.lock() {
            h.loaded = None;
        }
    }

    /// When a new (or resumed) check first runs: soon, spread by its id over ten seconds so a
    /// batch created at once does not run at once; heartbeat kinds wait a whole interval.
    fn first_due(&self, check: &Check) -> DateTime<Utc> {
        let now = self.now();
        if check.kind().is_heartbeat() {
            return now
                + chrono::Duration::seconds(i64::from(
                    check.interval_secs + check.target.grace_secs(),
                ));
        }
        let window = i64::from(check.interval_secs.min(10)) * 1000;
        now + chrono::Duration::milliseconds((check.id.as_u128() % window as u128) as i64)
    }

    /// Validates and stores a new check of `component_id`.
    pub async fn create(&self, component_id: Uuid, new: NewCheck) -> Result<Created, Error> {
        let (check, secrets) = Check::create(component_id, new, &self.0.settings.rules)?;
        let push_token = match check.kind() {
            CheckKind::Push => {
                Some(token::random_token().map_err(|e| Error::Internal(e.to_string()))?)
            }
            _ => None,
        };
        let hash = push_token.as_deref().map(token::hash_token);
        self.0
            .store
            .create_check(&check, &secrets, hash.as_deref(), self.first_due(&check))
            .await?;
        self.heartbeats_changed();
        self.0.wake.notify_one();
        let check = self.0.store.get_check(check.id).await?;
        Ok(Created { check, push_token })
    }

    pub async fn get(&self, id: Uuid) -> Result<StoredCheck, Error> {
        Ok(self.0.store.get_check(id).await?)
    }

    pub async fn list(&self, component_id: Uuid) -> Result<Vec<StoredCheck>, Error> {
        Ok(self.0.store.list_checks(component_id).await?)
    }

    /// Applies a partial update; pausing stops the runs, resuming schedules the next soon.
    pub async fn update(
        &self,
        id: Uuid,
        expected: Option<i64>,
        patch: CheckPatch,
    ) -> Result<StoredCheck, Error> {
        let stored = self.0.store.get_check(id).await?;
        let mut check = stored.check.clone();
        let (changed, secrets) = check.apply(patch, &stored.secrets, &self.0.settings.rules)?;
        let next_due = if changed.contains(&"paused") {
            Some((!check.paused).then(|| self.first_due(&check)))
        } else if changed.contains(&"interval_secs") && !check.paused {
            Some(Some(self.first_due(&check)))
        } else {
            None
        };
        self.0
            .store
            .update_check(&check, &secrets, expected, &changed, next_due)
            .await?;
        self.heartbeats_changed();
        self.0.wake.notify_one();
        Ok(self.0.store.get_check(id).await?)
    }

    pub async fn delete(&self, id: Uuid) -> Result<(), Error> {
        self.0.store.delete_check(id).await?;
        self.heartbeats_changed();
        Ok(())
    }

    /// A new push token for a push check (the old one stops working); shown once.
    pub async fn rotate_push_token(&self, id: Uuid) -> Result<String, Error> {
        let stored = self.0.store.get_check(id).await?;
        if stored.check.kind() != CheckKind::Push {
            return Err(Error::NotPush);
        }
        let token = token::random_token().map_err(|e| Error::Internal(e.to_string()))?;
        self.0
            .store
            .set_push_token(id, &token::hash_token(&token))
            .await?;
        Ok(token)
    }

    /// A push arrived with `token`: the check is up now. `NotFound` for an unknown token; a
    /// paused check ignores it. Returns the check's state afterwards.
    pub async fn push(&self, token: &str) -> Result<StoredCheck, Error> {
        let stored = self
            .0
            .store
            .check_by_push_token(&token::hash_token(token))
            .await?;
        if !stored.check.paused {
            let result = CheckResult {
                check_id: stored.check.id,
                at: self.now(),
                outcome: Outcome {
                    status: CheckStatus::Up,
                    latency_ms: None,
                    error: None,
                    cert_expires_at: None,
                },
            };
            self.record(vec![result]).await?;
        }
        Ok(self.0.store.get_check(stored.check.id).await?)
    }

    /// A stored event arrived on `topic`: every MQTT heartbeat check whose filter matches is
    /// up (recorded at most every half interval per check; every arrival is remembered).
    pub async fn heartbeat(&self, topic: &str) -> Result<usize, Error> {
        let now = self.now();
        let fresh = self
            .0
            .heartbeats
            .lock()
            .map(|h| h.loaded.is_some_and(|at| now - at < HEARTBEAT_RELOAD))
            .unwrap_or(false);
        if !fresh {
            let checks = self.0.store.heartbeat_checks().await?;
            if let Ok(mut h) = self.0.heartbeats.lock() {
                h.filters = checks
                    .into_iter()
                    .filter_map(|c| match c.target {
                        CheckTarget::Mqtt(t) => Some((c.id, t.topic_filter, c.interval_secs)),
                        _ => None,
                    })
                    .collect();
                h.loaded = Some(now);
            }
        }
        let due: Vec<Uuid> = match self.0.heartbeats.lock() {
            Ok(mut h) => {
                let matching: Vec<(Uuid, i32)> = h
                    .filters
                    .iter()
                    .filter(|(_, f, _)| topics::matches(f, topic))
                    .map(|(id, _, interval)| (*id, *interval))
                    .collect();
                matching
                    .into_iter()
                    .filter(|(id, interval)| {
                        h.seen.insert(*id, now);
                        let every = HEARTBEAT_THROTTLE
                            .max(chrono::Duration::seconds(i64::from(*interval) / 2));
                        let fresh = h.recorded.get(id).is_some_and(|at| now - *at < every);
                        if !fresh {
                            h.recorded.insert(*id, now);
                        }
                        !fresh
                    })
                    .map(|(id, _)| id)
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        let n = due.len();
        if n > 0 {
            let results = due
                .into_iter()
                .map(|check_id| CheckResult {
                    check_id,
                    at: now,
                    outcome: Outcome {
                        status: CheckStatus::Up,
                        latency_ms: None,
                        error: None,
                        cert_expires_at: None,
                    },
                })
                .collect();
            self.record(results).await?;
        }
        Ok(n)
    }

    /// A due MQTT heartbeat check: up as of the last arrival not recorded yet (so the next
    /// due time is that arrival plus the interval and grace), else late.
    fn heartbeat_due(&self, check: &Check, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let window =
            chrono::Duration::seconds(i64::from(check.interval_secs + check.target.grace_secs()));
        let h = self.0.heartbeats.lock().ok()?;
        let seen = *h.seen.get(&check.id)?;
        let recorded = h.recorded.get(&check.id).copied();
        (now - seen <= window && recorded.is_none_or(|r| seen > r)).then_some(seen)
    }

    /// Runs a stored check once and returns the outcome, without recording it.
    pub async fn test(&self, id: Uuid) -> Result<Outcome, Error> {
        let stored = self.0.store.get_check(id).await?;
        Ok(self.test_stored(&stored).await)
    }

    async fn test_stored(&self, stored: &StoredCheck) -> Outcome {
        match &stored.check.target {
            // A heartbeat's "test" tells how long ago it last arrived.
            CheckTarget::Push(_) | CheckTarget::Mqtt(_) => match stored.state.status {
                CheckStatus::Up | CheckStatus::Degraded => Outcome {
                    status: CheckStatus::Up,
                    latency_ms: None,
                    error: None,
                    cert_expires_at: None,
                },
                CheckStatus::Unknown => Outcome::down("nothing received yet"),
                CheckStatus::Down => Outcome::down(
                    stored
                        .state
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "late".into()),
                ),
            },
            _ => probe::run(&stored.check, &stored.secrets, self.now()).await,
        }
    }

    /// Runs a check described by `new` (not stored) once: the check editor's "test now".
    pub async fn test_new(&self, component_id: Uuid, new: NewCheck) -> Result<Outcome, Error> {
        let (check, secrets) = Check::create(component_id, new, &self.0.settings.rules)?;
        if check.kind().is_heartbeat() {
            return Ok(Outcome::down("nothing received yet (save the check first)"));
        }
        Ok(probe::run(&check, &secrets, self.now()).await)
    }

    /// Raw results of the last `hours`, newest first (at most `limit`).
    pub async fn history(
        &self,
        id: Uuid,
        hours: i64,
        limit: i64,
    ) -> Result<Vec<StoredResult>, Error> {
        self.0.store.get_check(id).await?;
        let since = self.now() - chrono::Duration::hours(hours);
        Ok(self.0.store.check_results(id, since, limit).await?)
    }

    /// Every check of a project with its state and its hourly counts of the last 24 hours (the
    /// current hour and the 23 before it), and the current hour's start.
    pub async fn project_overview(
        &self,
        project_id: Uuid,
    ) -> Result<(Vec<CheckOverview>, DateTime<Utc>), Error> {
        let current = Resolution::Hour.bucket(self.now());
        let since = current - chrono::Duration::hours(23);
        let overview = self
            .0
            .store
            .project_check_overview(project_id, since)
            .await?;
        Ok((overview, current))
    }

    /// Hourly (or daily) counts since `hours` ago, oldest first: the uptime bars.
    pub async fn buckets(
        &self,
        id: Uuid,
        resolution: Resolution,
        hours: i64,
    ) -> Result<Vec<UptimeBucket>, Error> {
        self.0.store.get_check(id).await?;
        let since = resolution.bucket(self.now() - chrono::Duration::hours(hours));
        Ok(self.0.store.check_uptime(id, resolution, since).await?)
    }

    /// Uptime over 24 hours, 7, 30 and 365 days: the windows up to 30 days from hourly
    /// counts, the year from daily ones.
    pub async fn uptime(&self, id: Uuid) -> Result<Vec<Uptime>, Error> {
        self.0.store.get_check(id).await?;
        let now = self.now();
        let hourly = self
            .0
            .store
            .check_uptime(
                id,
                Resolution::Hour,
                Resolution::Hour.bucket(now - chrono::Duration::days(30)),
            )
            .await?;
        let daily = self
            .0
            .store
            .check_uptime(
                id,
                Resolution::Day,
                Resolution::Day.bucket(now - chrono::Duration::days(365)),
            )
            .await?;
        Ok(UPTIME_WINDOWS_HOURS
            .iter()
            .map(|&hours| {
                let (buckets, resolution) = if hours <= 30 * 24 {
                    (&hourly, Resolution::Hour)
                } else {
                    (&daily, Resolution::Day)
                };
                let since = resolution.bucket(now - chrono::Duration::hours(hours));
                summarize(hours, buckets.iter().filter(|b| b.bucket >= since))
            })
            .collect())
    }

    /// Records results (one transaction), then publishes their samples and logs transitions.
    async fn record(&self, results: Vec<CheckResult>) -> Result<Vec<RecordedTransition>, Error> {
        let transitions = self.0.store.record_check_results(&results).await?;
        if let Some(sink) = &self.0.settings.samples {
            sink(samples(&results));
        }
        for t in &transitions {
            tracing::info!(
                check_id = %t.check.id,
                check = %t.check.name,
                from = t.transition.from.as_str(),
                to = t.transition.to.as_str(),
                error = t.result.outcome.error.as_deref().unwrap_or(""),
                "check state changed"
            );
        }
        Ok(transitions)
    }

    /// Drops history past the retention.
    pub async fn prune(&self) -> Result<u64, Error> {
        let now = self.now();
        let r = self.0.settings.retention;
        Ok(self
            .0
            .store
            .prune_check_history(CheckRetention {
                raw_before: now - r.raw,
                hourly_before: now - r.hourly,
                daily_before: now - r.daily,
            })
            .await?)
    }

    /// The scheduler: spreads overdue checks, then leases and runs due checks until the
    /// future is dropped (at shutdown), recording results in batches as they come. The runs
    /// are tasks of a `JoinSet` owned by this future, so dropping it aborts them too.
    pub async fn run_scheduler(self) {
        if let Err(e) = self.0.store.spread_overdue_checks(self.now()).await {
            tracing::warn!(error = %e, "checks: could not spread overdue checks");
        }
        let (tx, rx) = mpsc::channel::<CheckResult>(self.0.settings.batch_size * 4);
        tokio::join!(self.clone().claim_and_run(tx), self.write_results(rx));
    }

    async fn claim_and_run(self, tx: mpsc::Sender<CheckResult>) {
        let limit = Arc::new(Semaphore::new(self.0.settings.max_concurrent.max(1)));
        let mut runs = tokio::task::JoinSet::new();
        let mut last_prune: Option<DateTime<Utc>> = None;
        loop {
            while runs.try_join_next().is_some() {}
            let now = self.now();
            if last_prune.is_none_or(|at| now - at > chrono::Duration::hours(1)) {
                match self.prune().await {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "checks: history pruned"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "checks: pruning failed"),
                }
                last_prune = Some(now);
            }
            // The lease outlives the longest run; a crashed run's check is free again after it.
            let lease = now + chrono::Duration::seconds(i64::from(domain::MAX_TIMEOUT_SECS) + 30);
            let available = limit.available_permits().max(1) as i64;
            match self.0.store.claim_due_checks(now, lease, available).await {
                Ok(due) => {
                    for stored in due {
                        let Ok(permit) = limit.clone().acquire_owned().await else {
                            return;
                        };
                        let this = self.clone();
                        let tx = tx.clone();
                        runs.spawn(async move {
                            let mut at = this.now();
                            let m = &this.0.metrics;
                            if let Some(due) = stored.state.next_due_at {
                                let late = (at - due).num_microseconds().unwrap_or(0).max(0);
                                m.lateness.observe(late as f64 / 1e6);
                            }
                            m.running.inc();
                            let arrived = match stored.check.kind() {
                                CheckKind::Mqtt => this.heartbeat_due(&stored.check, at),
                                _ => None,
                            };
                            let outcome = match arrived {
                                Some(seen) => {
                                    at = seen;
                                    Outcome {
                                        status: CheckStatus::Up,
                                        latency_ms: None,
                                        error: None,
                                        cert_expires_at: None,
                                    }
                                }
                                None => probe::run(&stored.check, &stored.secrets, at).await,
                            };
                            if let Ok(mut h) = this.0.heartbeats.lock()
                                && arrived.is_some()
                            {
                                h.recorded.insert(stored.check.id, at);
                            }
                            m.running.dec();
                            m.runs.with_label_values(&[outcome.status.as_str()]).inc();
                            let result = CheckResult {
                                check_id: stored.check.id,
                                at,
                                outcome,
                            };
                            let _ = tx.send(result).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "checks: could not claim due checks"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.0.settings.poll) => {}
                () = self.0.wake.notified() => {}
            }
        }
    }

    async fn write_results(self, mut rx: mpsc::Receiver<CheckResult>) {
        let max = self.0.settings.batch_size.max(1);
        let mut batch = Vec::with_capacity(max);
        while rx.recv_many(&mut batch, max).await > 0 {
            let results = std::mem::take(&mut batch);
            if let Err(e) = self.record(results).await {
                // The leases expire and the checks run again; nothing else to do.
                tracing::warn!(error = %e, "checks: recording results failed");
            }
        }
    }
}

fn summarize<'a>(hours: i64, buckets: impl Iterator<Item = &'a UptimeBucket>) -> Uptime {
    let (mut up, mut degraded, mut down, mut sum, mut count) = (0, 0, 0, 0.0, 0);
    for b in buckets {
        up += b.up;
        degraded += b.degraded;
        down += b.down;
        sum += b.latency_sum;
        count += b.latency_count;
    }
    let total = up + degraded + down;
    Uptime {
        window_hours: hours,
        ratio: (total > 0).then(|| (up + degraded) as f64 / total as f64),
        up,
        degraded,
        down,
        avg_latency_ms: (count > 0).then(|| sum / count as f64),
    }
}

/// `taylordash_check_up` (1 up or degraded, 0 down) and `taylordash_check_latency_ms` per
/// result, labelled with the check's id only (bounded by the checks there are).
fn samples(results: &[CheckResult]) -> Vec<MetricSample> {
    let mut out = Vec::with_capacity(results.len() * 2);
    for r in results {
        let mut labels = domain::JsonObject::new();
        labels.insert("check_id".into(), r.check_id.to_string().into());
        let up = if r.outcome.status == CheckStatus::Down {
            0.0
        } else {
            1.0
        };
        out.push(MetricSample {
            name: "taylordash_check_up".into(),
            labels: labels.clone(),
            value: up,
            ts: r.at,
        });
        if let Some(ms) = r.outcome.latency_ms {
            out.push(MetricSample {
                name: "taylordash_check_latency_ms".into(),
                labels,
                value: ms,
                ts: r.at,
            });
        }
    }
    out
}
