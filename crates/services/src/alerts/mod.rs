//! Alerts that reach a person: the [`Alerts`] service over [`storage::AlertStore`] — channels
//! (secrets kept apart, a webhook's signing key generated and shown once), rules, alerts with
//! acknowledgement and silences, Alertmanager's webhook — and its two background tasks:
//!
//! - the evaluator ([`Alerts::run_evaluator`], `evaluate.rs`): every `eval_interval` (or when
//!   woken) it reads the enabled rules, what they watch and the active alerts, moves each alert
//!   through `domain::Alert::observe`, and commits the changed alerts, their
//!   `tracker/events/alerts/<state>` events and the notifications now due in ONE transaction.
//!   A firing alert owes a notice due after its rule's group wait (stored on the alert row, so
//!   a restart keeps it); when a group's first notice is due, every alert of the group with a
//!   notice goes into one notification per channel.
//! - the sender ([`Alerts::run_sender`], `deliver.rs`): leases due notifications, delivers them
//!   (webhook, ntfy, Gotify, Discord, Slack, e-mail) and records each attempt: sent after the
//!   receiver's 2xx, otherwise retried with exponential backoff until `give_up_after`.
//!
//! Exactly once per idempotency key: a notification row is only marked sent after a 2xx, and
//! only one sender holds its lease; the one gap — a crash between the receiver's 2xx and our
//! commit — resends the same key, which the webhook carries in `Idempotency-Key` so a receiver
//! can drop it.

mod deliver;
mod email;
mod evaluate;

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{
    Alert, AlertRule, AlertState, Channel, ChannelKind, DeliveryStatus, JsonObject, NewAlertRule,
    NewChannel, Notification, NotificationMessage, NotifyReason, Severity, ValidationError,
};
use storage::{
    AlertCommit, AlertFilter, AlertStore, AlertWrite, DeliveryOutcome, Entity, StoreError,
    StoredChannel,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::Clock;
use crate::identity::token;

pub use deliver::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// A boxed future (the live sources are called through trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the evaluator cannot read from the store: the broker connection and metric queries.
pub trait LiveSources: Send + Sync {
    /// Whether the event bus is connected to its broker; `None` without a broker (in-process).
    fn broker_connected(&self) -> Option<bool>;
    /// An instant PromQL query: one value per series, with its labels.
    fn query<'a>(
        &'a self,
        promql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(JsonObject, f64)>, String>>;
}

/// No broker, no metrics (tests, maintenance).
pub struct NoLiveSources;

impl LiveSources for NoLiveSources {
    fn broker_connected(&self) -> Option<bool> {
        None
    }

    fn query<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<(JsonObject, f64)>, String>> {
        Box::pin(async { Err("no metric source is configured".to_owned()) })
    }
}

/// How the alerts service is tuned.
#[derive(Clone)]
pub struct Settings {
    pub clock: Clock,
    /// How often rules are evaluated when nothing wakes the evaluator.
    pub eval_interval: Duration,
    /// How often the sender looks for due notifications when nothing wakes it.
    pub sender_poll: Duration,
    /// How long a sender holds a notification (longer than `send_timeout`).
    pub lease: chrono::Duration,
    /// One delivery attempt at most.
    pub send_timeout: Duration,
    /// First retry delay; doubled per attempt up to `retry_cap`.
    pub retry_base: chrono::Duration,
    pub retry_cap: chrono::Duration,
    /// A notification still undelivered this long after it was queued is given up (failed).
    pub give_up_after: chrono::Duration,
    /// Deliveries at once at most.
    pub max_concurrent: usize,
    /// Resolved alerts and finished notifications are kept this long.
    pub retention: chrono::Duration,
    /// Channels of Alertmanager's alerts when its post names none: every enabled channel.
    pub live: Arc<dyn LiveSources>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clock: Clock::system(),
            eval_interval: Duration::from_secs(1),
            sender_poll: Duration::from_millis(500),
            lease: chrono::Duration::seconds(60),
            send_timeout: Duration::from_secs(15),
            retry_base: chrono::Duration::seconds(2),
            retry_cap: chrono::Duration::minutes(5),
            give_up_after: chrono::Duration::hours(24),
            max_concurrent: 16,
            retention: chrono::Duration::days(30),
            live: Arc::new(NoLiveSources),
        }
    }
}

/// Why an alerts operation did not happen; the `Display` text is the API's `detail`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A channel's test delivery failed (the receiver's answer, in words).
    #[error("the test notification was not delivered: {0}")]
    Delivery(String),
    /// A resolved alert cannot be acknowledged.
    #[error("alert {0} is resolved: there is nothing left to acknowledge")]
    Resolved(Uuid),
    #[error("{0}")]
    Internal(String),
}

/// A new channel, with what is shown only now: a generated webhook signing key.
#[derive(Debug, Clone)]
pub struct CreatedChannel {
    pub channel: StoredChannel,
    pub signing_key: Option<String>,
}

/// The service's metrics, on `/metrics` once [`Alerts::register`]ed.
struct AlertMetrics {
    /// Failed delivery attempts, by channel kind.
    failed: prometheus::IntCounterVec,
    /// Delivered notifications, by channel kind.
    sent: prometheus::IntCounterVec,
    /// Evaluations that failed (a store or source error).
    eval_errors: prometheus::IntCounter,
}

impl AlertMetrics {
    fn new() -> AlertMetrics {
        let vec = |name: &str, help: &str| {
            let v = prometheus::IntCounterVec::new(
                prometheus::Opts::new(name, help),
                &["channel_kind"],
            )
            .unwrap_or_else(|_| unreachable!("valid counter"));
            for k in ChannelKind::ALL {
                v.with_label_values(&[k.as_str()]);
            }
            v
        };
        AlertMetrics {
            failed: vec(
                "taylordash_notifications_failed_total",
                "Failed notification delivery attempts, by channel kind",
            ),
            sent: vec(
                "taylordash_notifications_sent_total",
                "Notifications delivered (receiver answered 2xx), by channel kind",
            ),
            eval_errors: prometheus::IntCounter::new(
                "taylordash_alert_evaluation_errors_total",
                "Alert rule evaluations that failed",
            )
            .unwrap_or_else(|_| unreachable!("valid counter")),
        }
    }
}

/// The alerts service; cheap to clone.
#[derive(Clone)]
pub struct Alerts(Arc<Inner>);

struct Inner {
    store: Arc<dyn AlertStore>,
    settings: Settings,
    metrics: AlertMetrics,
    http: reqwest::Client,
    /// Wakes the evaluator (a check changed state, a rule changed).
    wake_eval: Notify,
    /// Wakes the sender (notifications were queued).
    wake_sender: Notify,
    started: DateTime<Utc>,
}

impl Alerts {
    pub fn new(store: Arc<dyn AlertStore>, settings: Settings) -> Alerts {
        let started = settings.clock.now();
        Alerts(Arc::new(Inner {
            store,
            http: deliver::http_client(settings.send_timeout),
            settings,
            metrics: AlertMetrics::new(),
            wake_eval: Notify::new(),
            wake_sender: Notify::new(),
            started,
        }))
    }

    /// Puts the service's metrics on `registry`.
    pub fn register(&self, registry: &prometheus::Registry) {
        let m = &self.0.metrics;
        let all: [Box<dyn prometheus::core::Collector>; 3] = [
            Box::new(m.failed.clone()),
            Box::new(m.sent.clone()),
            Box::new(m.eval_errors.clone()),
        ];
        for c in all {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "alert metrics not registered");
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.0.settings.clock.now()
    }

    /// Evaluate now (a check changed state, a component changed).
    pub fn wake(&self) {
        self.0.wake_eval.notify_one();
    }

    // -- channels ---------------------------------------------------------------------------

    pub async fn create_channel(&self, mut new: NewChannel) -> Result<CreatedChannel, Error> {
        let mut signing_key = None;
        if new.kind == ChannelKind::Webhook.as_str() && !new.secrets.contains_key("signing_key") {
            let key = token::random_token()
                .map_err(|e| Error::Internal(format!("no random bytes for a signing key: {e}")))?;
            new.secrets.insert("signing_key".into(), key.clone());
            signing_key = Some(key);
        }
        let (channel, secrets) = Channel::create(new)?;
        self.0.store.create_channel(&channel, &secrets).await?;
        Ok(CreatedChannel {
            channel: StoredChannel { channel, secrets },
            signing_key,
        })
    }

    pub async fn list_channels(&self) -> Result<Vec<StoredChannel>, Error> {
        Ok(self.0.store.list_channels().await?)
    }

    pub async fn get_channel(&self, id: Uuid) -> Result<StoredChannel, Error> {
        Ok(self.0.store.get_channel(id).await?)
    }

    /// Replaces a channel's settings; secrets left out keep their values.
    pub async fn update_channel(
        &self,
        id: Uuid,
        expected: Option<i64>,
        new: NewChannel,
    ) -> Result<StoredChannel, Error> {
        let StoredChannel {
            mut channel,
            secrets,
        } = self.0.store.get_channel(id).await?;
        let secrets = channel.replace(new, &secrets)?;
        self.0
            .store
            .update_channel(&channel, &secrets, expected)
            .await?;
        Ok(StoredChannel { channel, secrets })
    }

    pub async fn delete_channel(&self, id: Uuid) -> Result<(), Error> {
        Ok(self.0.store.delete_channel(id).await?)
    }

    /// Sends a test message through a channel now (not queued); the receiver's refusal is the
    /// error.
    pub async fn test_channel(&self, id: Uuid) -> Result<(), Error> {
        let stored = self.0.store.get_channel(id).await?;
        let now = self.now();
        let n = Notification::queue(
            &stored.channel,
            "test",
            NotificationMessage::test(&stored.channel.name),
            Vec::new(),
            now,
        );
        deliver::deliver(&self.0.http, &stored, &n, now, self.0.settings.send_timeout)
            .await
            .map_err(|e| {
                self.0
                    .metrics
                    .failed
                    .with_label_values(&[stored.channel.kind().as_str()])
                    .inc();
                Error::Delivery(e)
            })
    }

    // -- rules ------------------------------------------------------------------------------

    async fn check_channels(&self, channels: &[Uuid]) -> Result<(), Error> {
        let known = self.0.store.list_channels().await?;
        if let Some(missing) = channels
            .iter()
            .find(|c| !known.iter().any(|k| k.channel.id == **c))
        {
            // A reference to a channel that is gone is a missing resource (404), as a missing
            // parent is elsewhere; the body itself is well-formed.
            return Err(StoreError::NotFound {
                entity: Entity::AlertChannel,
                id: missing.to_string(),
            }
            .into());
        }
        Ok(())
    }

    pub async fn create_rule(&self, new: NewAlertRule) -> Result<AlertRule, Error> {
        let rule = AlertRule::create(new)?;
        self.check_channels(&rule.channels).await?;
        self.0.store.create_rule(&rule).await?;
        self.wake();
        Ok(rule)
    }

    pub async fn list_rules(&self) -> Result<Vec<AlertRule>, Error> {
        Ok(self.0.store.list_rules().await?)
    }

    pub async fn get_rule(&self, id: Uuid) -> Result<AlertRule, Error> {
        Ok(self.0.store.get_rule(id).await?)
    }

    pub async fn update_rule(
        &self,
        id: Uuid,
        expected: Option<i64>,
        new: NewAlertRule,
    ) -> Result<AlertRule, Error> {
        let mut rule = self.0.store.get_rule(id).await?;
        rule.replace(new)?;
        self.check_channels(&rule.channels).await?;
        self.0.store.update_rule(&rule, expected).await?;
        self.wake();
        Ok(rule)
    }

    pub async fn delete_rule(&self, id: Uuid) -> Result<(), Error> {
        Ok(self.0.store.delete_rule(id, self.now()).await?)
    }

    // -- alerts -----------------------------------------------------------------------------

    pub async fn list_alerts(&self, open_only: bool, limit: i64) -> Result<Vec<Alert>, Error> {
        Ok(self
            .0
            .store
            .list_alerts(AlertFilter { open_only, limit })
            .await?)
    }

    pub async fn get_alert(&self, id: Uuid) -> Result<Alert, Error> {
        Ok(self.0.store.get_alert(id).await?)
    }

    pub async fn alert_notifications(&self, id: Uuid) -> Result<Vec<Notification>, Error> {
        Ok(self.0.store.alert_notifications(id).await?)
    }

    pub async fn list_notifications(&self, limit: i64) -> Result<Vec<Notification>, Error> {
        Ok(self.0.store.list_notifications(limit).await?)
    }

    /// Acknowledges an open alert: no more repeats (with an `alert.acknowledged` event). A
    /// conflicting write (the evaluator moved it meanwhile) is retried on the new version.
    pub async fn acknowledge(
        &self,
        id: Uuid,
        by: &str,
        note: Option<String>,
    ) -> Result<Alert, Error> {
        self.change_alert(id, true, |a, now| a.acknowledge(by, note.clone(), now))
            .await
    }

    /// Silences an alert for `secs` (0 ends the silence), with an `alert.silenced` event.
    pub async fn silence(
        &self,
        id: Uuid,
        by: &str,
        secs: i64,
        reason: Option<String>,
    ) -> Result<Alert, Error> {
        self.change_alert(id, false, |a, now| {
            a.silence_for(by, secs, reason.clone(), now)
        })
        .await
    }

    async fn change_alert(
        &self,
        id: Uuid,
        acknowledged: bool,
        change: impl Fn(&mut Alert, DateTime<Utc>) -> Result<(), ValidationError>,
    ) -> Result<Alert, Error> {
        for _ in 0..5 {
            let mut alert = self.0.store.get_alert(id).await?;
            if acknowledged && !alert.is_open() {
                return Err(Error::Resolved(id));
            }
            change(&mut alert, self.now())?;
            let commit = AlertCommit {
                alerts: vec![AlertWrite {
                    events: vec![alert.person_event(acknowledged)],
                    alert: alert.clone(),
                }],
                notifications: Vec::new(),
            };
            match self.0.store.commit_alerts(&commit).await {
                Ok(()) => return Ok(alert),
                Err(StoreError::VersionConflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Unavailable("the alert kept changing; try again".into()).into())
    }

    // -- Alertmanager -----------------------------------------------------------------------

    /// Takes one Alertmanager webhook post (version 4): each alert becomes (or updates) ours by
    /// its fingerprint, and the post — Alertmanager already grouped and timed it — becomes one
    /// notification per channel (`channels`, else every enabled channel), in one transaction.
    /// Returns how many alerts it carried.
    pub async fn alertmanager(
        &self,
        post: &AlertmanagerPost,
        channels: &[Uuid],
    ) -> Result<usize, Error> {
        for _ in 0..5 {
            match self.alertmanager_once(post, channels).await {
                Err(Error::Store(StoreError::VersionConflict { .. })) => continue,
                other => return other,
            }
        }
        Err(StoreError::Unavailable("alerts kept changing; Alertmanager will retry".into()).into())
    }

    async fn alertmanager_once(
        &self,
        post: &AlertmanagerPost,
        channels: &[Uuid],
    ) -> Result<usize, Error> {
        let now = self.now();
        let active = self.0.store.active_alerts().await?;
        let group_key = format!("alertmanager:{}", truncate(&post.group_key, 400));
        let mut writes = Vec::new();
        // One write per alert: a post that names a fingerprint twice (Alertmanager never does,
        // a hand-made one may) keeps its last entry, as a later post would have; two writes of
        // one alert in a batch would conflict with each other on every retry.
        let mut seen = HashSet::new();
        let mut latest: Vec<&AlertmanagerAlert> = post
            .alerts
            .iter()
            .rev()
            .filter(|a| seen.insert(truncate(&a.fingerprint, 400)))
            .collect();
        latest.reverse();
        for a in latest {
            let fingerprint = format!("am:{}", truncate(&a.fingerprint, 400));
            let firing = a.status != "resolved";
            let existing = active
                .iter()
                .find(|x| x.fingerprint == fingerprint && x.is_open())
                .cloned();
            let name = a
                .labels
                .get("alertname")
                .cloned()
                .unwrap_or_else(|| "Alertmanager alert".into());
            let summary = a
                .annotations
                .get("summary")
                .or_else(|| a.annotations.get("description"))
                .cloned()
                .unwrap_or_else(|| name.clone());
            let severity = match a.labels.get("severity").map(String::as_str) {
                Some("critical" | "page" | "error") => Severity::Critical,
                Some("info" | "none") => Severity::Info,
                _ => Severity::Warning,
            };
            let labels: JsonObject = a
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let mut alert = match (existing, firing) {
                (Some(x), _) => x,
                (None, false) => continue,
                (None, true) => Alert::from_alertmanager(
                    fingerprint,
                    group_key.clone(),
                    severity,
                    a.starts_at,
                    now,
                ),
            };
            let before = alert.state;
            alert.name = truncate(&name, domain::ALERT_NAME_MAX);
            alert.summary = truncate(&summary, 1000);
            alert.labels = labels;
            alert.severity = severity;
            alert.group_key = group_key.clone();
            if !firing {
                alert.state = AlertState::Resolved;
                alert.resolved_at = Some(a.ends_at.unwrap_or(now).min(now));
            }
            alert.version += 1;
            alert.updated_at = now;
            let mut events = Vec::new();
            if alert.version == 1 || before != alert.state {
                events.push(alert.state_event());
            }
            writes.push(AlertWrite { alert, events });
        }
        let notify: Vec<&Alert> = writes
            .iter()
            .map(|w| &w.alert)
            .filter(|a| !a.silenced_at(now) && (a.ack.is_none() || a.state == AlertState::Resolved))
            .collect();
        let mut notifications = Vec::new();
        if !notify.is_empty() {
            let reason = if notify.iter().any(|a| a.state == AlertState::Firing) {
                NotifyReason::Firing
            } else {
                NotifyReason::Resolved
            };
            let message = NotificationMessage::render(reason, &notify);
            let ids: Vec<Uuid> = notify.iter().map(|a| a.id).collect();
            for c in self.0.store.list_channels().await? {
                let wanted = if channels.is_empty() {
                    c.channel.enabled
                } else {
                    channels.contains(&c.channel.id)
                };
                if wanted {
                    notifications.push(Notification::queue(
                        &c.channel,
                        &group_key,
                        message.clone(),
                        ids.clone(),
                        now,
                    ));
                }
            }
        }
        if !notifications.is_empty() {
            for w in &mut writes {
                if ids_contain(&notifications, w.alert.id) {
                    w.alert.last_notified_at = Some(now);
                }
            }
        }
        let n = post.alerts.len();
        self.0
            .store
            .commit_alerts(&AlertCommit {
                alerts: writes,
                notifications,
            })
            .await?;
        self.0.wake_sender.notify_one();
        Ok(n)
    }

    // -- background tasks -------------------------------------------------------------------

    /// The evaluator: evaluates every enabled rule every `eval_interval` or when woken, and
    /// prunes old alerts hourly. Runs until cancelled.
    pub async fn run_evaluator(self) {
        let mut last_prune: Option<DateTime<Utc>> = None;
        loop {
            let now = self.now();
            if last_prune.is_none_or(|at| now - at > chrono::Duration::hours(1)) {
                let before = now - self.0.settings.retention;
                if let Err(e) = self.0.store.prune_alerts(before).await {
                    tracing::warn!(error = %e, "alerts: pruning failed");
                }
                last_prune = Some(now);
            }
            match self.evaluate_once().await {
                Ok(queued) if queued > 0 => self.0.wake_sender.notify_one(),
                Ok(_) => {}
                Err(StoreError::VersionConflict { .. }) => {
                    // Someone acknowledged or silenced an alert meanwhile: evaluate again.
                    continue;
                }
                Err(e) => {
                    self.0.metrics.eval_errors.inc();
                    tracing::warn!(error = %e, "alerts: evaluation failed");
                }
            }
            tokio::select! {
                () = self.0.wake_eval.notified() => {}
                () = tokio::time::sleep(self.0.settings.eval_interval) => {}
            }
        }
    }

    /// One evaluation: returns how many notifications it queued.
    pub async fn evaluate_once(&self) -> Result<usize, StoreError> {
        evaluate::evaluate(self).await
    }

    /// The sender: delivers due notifications until cancelled.
    pub async fn run_sender(self) {
        deliver::run_sender(self).await;
    }

    /// Delivers what is due now, once (tests): returns how many attempts were made.
    pub async fn send_due(&self) -> Result<usize, StoreError> {
        deliver::send_batch(self).await
    }
}

fn ids_contain(notifications: &[Notification], id: Uuid) -> bool {
    notifications.iter().any(|n| n.alert_ids.contains(&id))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// One Alertmanager webhook post (`version: "4"`), the fields TaylorDash reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertmanagerPost {
    pub group_key: String,
    pub alerts: Vec<AlertmanagerAlert>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertmanagerAlert {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub fingerprint: String,
}

/// A delivery's outcome as the sender records it (also counted in the metrics).
pub(crate) fn outcome_status(o: &DeliveryOutcome) -> DeliveryStatus {
    match o {
        DeliveryOutcome::Sent { .. } => DeliveryStatus::Sent,
        DeliveryOutcome::Retry { .. } => DeliveryStatus::Queued,
        DeliveryOutcome::Failed { .. } => DeliveryStatus::Failed,
    }
}
