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
pub mod overview;
mod ping;
pub mod probe;
pub mod status_page;
pub(crate) mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{
    Check, CheckKind, CheckPatch, CheckResult, CheckRules, CheckStatus, CheckTarget, NewCheck,
    Outcome, ValidationError, topics,
};
use storage::{
    CheckRetention, CheckStore, MetricSample, RecordedTransition, Resolution, StoreError,
    StoredCheck, StoredResult, UptimeBucket,
};
use tokio::sync::{Notify, Semaphore, mpsc};
use uuid::Uuid;

use crate::Clock;
use crate::identity::token;

/// The sample step without VictoriaMetrics (see [`Settings::sample_step`]): one `up` and one
/// latency sample per check and hour, as the hourly uptime counts.
pub const LOCAL_SAMPLE_STEP: Duration = Duration::from_secs(3600);

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
    /// Samples per check at most every this long (the mean of its runs), not one per result:
    /// for the local samples table, which would otherwise grow with every run. `None`: one
    /// per result (VictoriaMetrics).
    pub sample_step: Option<Duration>,
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
            sample_step: None,
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

/// What "test now" found.
#[derive(Debug, Clone, PartialEq)]
pub struct Tested {
    pub outcome: Outcome,
    /// Push and MQTT heartbeat checks: when something last arrived (within the raw results'
    /// retention), which is all such a check can tell on demand.
    pub last_seen_at: Option<DateTime<Utc>>,
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
                "taylordash_check_lateness_seconds",
                "From when a check was due to when its run started",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0]),
        )
        .unwrap_or_else(|_| unreachable!("valid histogram"));
        let runs = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "taylordash_check_runs_total",
                "Scheduled check runs, by outcome",
            ),
            &["outcome"],
        )
        .unwrap_or_else(|_| unreachable!("valid counter"));
        for outcome in ["up", "degraded", "down"] {
            runs.with_label_values(&[outcome]);
        }
        let running =
            prometheus::IntGauge::new("taylordash_checks_running", "Check runs in progress")
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
    /// Projects whose status page the background task should compute soon (turned on, or
    /// their checks changed), and what wakes it.
    status_dirty: Mutex<std::collections::HashSet<Uuid>>,
    status_wake: Notify,
    /// How many times the counts behind status pages were read (the expensive part).
    status_history_reads: std::sync::atomic::AtomicU64,
    /// Runs not turned into samples yet, with `sample_step`.
    sample_window: Mutex<SampleWindow>,
}

/// The runs of each check in one `sample_step` window, not sampled yet.
#[derive(Default)]
struct SampleWindow {
    /// The window's start (a multiple of the step since the epoch).
    start: Option<DateTime<Utc>>,
    checks: HashMap<Uuid, RunSums>,
}

#[derive(Default, Clone, Copy)]
struct RunSums {
    runs: u32,
    up: u32,
    latency_sum: f64,
    latency_runs: u32,
}

impl SampleWindow {
    /// Starts the window `at` falls in (given the step); returns the samples of the one before
    /// when that ended: per check, the share of its runs that were up and their mean latency,
    /// stamped at the window's end.
    fn roll(&mut self, at: DateTime<Utc>, step: Duration) -> Vec<MetricSample> {
        let step_ms = i64::try_from(step.as_millis())
            .unwrap_or(i64::MAX)
            .max(1000);
        let start = at.timestamp_millis().div_euclid(step_ms) * step_ms;
        let start = DateTime::from_timestamp_millis(start).unwrap_or(at);
        let mut out = Vec::new();
        match self.start {
            Some(current) if start > current => {
                let end = current + chrono::Duration::milliseconds(step_ms);
                for (check_id, sums) in self.checks.drain() {
                    let latency = (sums.latency_runs > 0)
                        .then(|| sums.latency_sum / f64::from(sums.latency_runs));
                    let up = f64::from(sums.up) / f64::from(sums.runs.max(1));
                    out.extend(sample_pair(check_id, up, latency, end));
                }
                self.start = Some(start);
            }
            Some(_) => {}
            None => self.start = Some(start),
        }
        out
    }

    fn add(&mut self, r: &CheckResult) {
        let sums = self.checks.entry(r.check_id).or_default();
        sums.runs += 1;
        sums.up += u32::from(r.outcome.status != CheckStatus::Down);
        if let Some(ms) = r.outcome.latency_ms {
            sums.latency_sum += ms;
            sums.latency_runs += 1;
        }
    }
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
            status_dirty: Mutex::new(Default::default()),
            status_wake: Notify::new(),
            status_history_reads: Default::default(),
            sample_window: Mutex::new(SampleWindow::default()),
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
        self.status_page_changed(check.project_id);
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
        self.status_page_changed(stored.project_id);
        Ok(self.0.store.get_check(id).await?)
    }

    pub async fn delete(&self, id: Uuid) -> Result<(), Error> {
        let stored = self.0.store.get_check(id).await?;
        self.0.store.delete_check(id).await?;
        self.heartbeats_changed();
        self.status_page_changed(stored.project_id);
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

    /// Runs a stored check once and returns the outcome, without recording it. A push or MQTT
    /// heartbeat check cannot be run, only waited for: its "test" says when something last
    /// arrived and whether that is recent enough now.
    pub async fn test(&self, id: Uuid) -> Result<Tested, Error> {
        let stored = self.0.store.get_check(id).await?;
        if stored.check.kind().is_heartbeat() {
            return self.test_heartbeat(&stored).await;
        }
        Ok(Tested {
            outcome: probe::run(&stored.check, &stored.secrets, self.now()).await,
            last_seen_at: None,
        })
    }

    /// A push or MQTT heartbeat check's state as of now: up while the last arrival (a recorded
    /// one, or for MQTT one seen since) is within the interval and grace, else late.
    async fn test_heartbeat(&self, stored: &StoredCheck) -> Result<Tested, Error> {
        let now = self.now();
        let check = &stored.check;
        let kept = self.0.settings.retention.raw;
        let recorded = self
            .0
            .store
            .check_results(check.id, now - kept, 5000)
            .await?
            .into_iter()
            .find(|r| r.status != CheckStatus::Down)
            .map(|r| r.at);
        let seen = self
            .0
            .heartbeats
            .lock()
            .ok()
            .and_then(|h| h.seen.get(&check.id).copied());
        let last = recorded.max(seen);
        let grace = check.target.grace_secs();
        let outcome = match last {
            None if stored.state.last_checked_at.is_none() => Outcome::down("nothing received yet"),
            None => Outcome::down(format!(
                "late: nothing received in the last {} hours",
                kept.num_hours()
            )),
            Some(at)
                if now - at
                    <= chrono::Duration::seconds(i64::from(check.interval_secs + grace)) =>
            {
                Outcome {
                    status: CheckStatus::Up,
                    latency_ms: None,
                    error: None,
                    cert_expires_at: None,
                }
            }
            Some(at) => Outcome::down(format!(
                "late: last received {} s ago, expected every {} s (+{grace} s grace)",
                (now - at).num_seconds(),
                check.interval_secs
            )),
        };
        Ok(Tested {
            outcome,
            last_seen_at: last,
        })
    }

    /// Runs a check described by `new` (not stored) once: the check editor's "test now".
    pub async fn test_new(&self, component_id: Uuid, new: NewCheck) -> Result<Tested, Error> {
        let (check, secrets) = Check::create(component_id, new, &self.0.settings.rules)?;
        let outcome = if check.kind().is_heartbeat() {
            Outcome::down("nothing received yet (save the check, then send to it)")
        } else {
            probe::run(&check, &secrets, self.now()).await
        };
        Ok(Tested {
            outcome,
            last_seen_at: None,
        })
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

    /// Every check of a project with its state and its runs of the last 24 hours (the
    /// current hour and the 23 before it), by component (see [`overview::build`]).
    pub async fn project_overview(
        &self,
        project_id: Uuid,
    ) -> Result<Vec<overview::ComponentOverview>, Error> {
        let checks = self.0.store.project_check_overview(project_id).await?;
        Ok(overview::build(checks, self.now()))
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
        self.publish_samples(&results, self.now());
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

    /// Hands the samples of `results` to the sink: one per result, or with `sample_step` the
    /// windows that ended by `now`.
    fn publish_samples(&self, results: &[CheckResult], now: DateTime<Utc>) {
        let Some(sink) = &self.0.settings.samples else {
            return;
        };
        let samples = match self.0.settings.sample_step {
            None => results
                .iter()
                .flat_map(|r| {
                    let up = if r.outcome.status == CheckStatus::Down {
                        0.0
                    } else {
                        1.0
                    };
                    sample_pair(r.check_id, up, r.outcome.latency_ms, r.at)
                })
                .collect(),
            Some(step) => match self.0.sample_window.lock() {
                Ok(mut window) => {
                    let out = window.roll(now, step);
                    for r in results {
                        window.add(r);
                    }
                    out
                }
                Err(_) => Vec::new(),
            },
        };
        if !samples.is_empty() {
            sink(samples);
        }
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
            // A sample window that ended is written even when no result came since.
            self.publish_samples(&[], now);
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

/// `taylordash_check_up` (1 up or degraded, 0 down; with a sample step, the share of runs
/// that were) and `taylordash_check_latency_seconds` (when measured; the mean over a sample
/// step), labelled with the check's id only (bounded by the checks there are).
fn sample_pair(
    check_id: Uuid,
    up: f64,
    latency_ms: Option<f64>,
    ts: DateTime<Utc>,
) -> impl Iterator<Item = MetricSample> {
    let mut labels = domain::JsonObject::new();
    labels.insert("check_id".into(), check_id.to_string().into());
    let latency = latency_ms.map(|ms| MetricSample {
        name: "taylordash_check_latency_seconds".into(),
        labels: labels.clone(),
        value: ms / 1000.0,
        ts,
    });
    std::iter::once(MetricSample {
        name: "taylordash_check_up".into(),
        labels,
        value: up,
        ts,
    })
    .chain(latency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(check_id: Uuid, at: DateTime<Utc>, outcome: Outcome) -> CheckResult {
        CheckResult {
            check_id,
            at,
            outcome,
        }
    }

    #[test]
    fn a_sample_step_turns_a_window_of_runs_into_one_pair_per_check() {
        let hour = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut w = SampleWindow::default();
        let step = Duration::from_secs(3600);
        assert!(w.roll(hour + chrono::Duration::minutes(5), step).is_empty());
        w.add(&result(a, hour, Outcome::up(10.0)));
        w.add(&result(a, hour, Outcome::up(30.0)));
        w.add(&result(a, hour, Outcome::down("refused")));
        w.add(&result(b, hour, Outcome::down("refused")));
        // Still the same hour: nothing yet.
        assert!(
            w.roll(hour + chrono::Duration::minutes(59), step)
                .is_empty()
        );
        let mut out = w.roll(hour + chrono::Duration::minutes(61), step);
        out.sort_by_key(|s| {
            (
                s.labels["check_id"].as_str().map(str::to_owned),
                s.name.clone(),
            )
        });
        let end = hour + chrono::Duration::hours(1);
        assert!(out.iter().all(|s| s.ts == end));
        let of = |id: Uuid| -> Vec<(&str, f64)> {
            out.iter()
                .filter(|s| s.labels["check_id"] == id.to_string().as_str())
                .map(|s| (s.name.as_str(), s.value))
                .collect()
        };
        assert_eq!(
            of(a),
            [
                ("taylordash_check_latency_seconds", 0.02),
                ("taylordash_check_up", 2.0 / 3.0)
            ]
        );
        assert_eq!(of(b), [("taylordash_check_up", 0.0)]);
        // The next window starts empty.
        assert!(
            w.roll(hour + chrono::Duration::minutes(125), step)
                .is_empty()
        );
    }
}
