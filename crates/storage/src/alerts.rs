//! Alerts: channels (with their secrets), rules, alerts and the durable notification queue
//! ([`AlertStore`], queries in `sql_alerts.rs`), plus the few reads the rule evaluator makes of
//! the rest of the data.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Alert, AlertRule, Channel, ChannelSecrets, CheckStatus, DomainEvent, Notification};
use uuid::Uuid;

use crate::{ExpectedVersion, Result};

/// A channel with its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChannel {
    pub channel: Channel,
    pub secrets: ChannelSecrets,
}

/// An alert to insert (version 1) or to update (from `version - 1`), with its events.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWrite {
    pub alert: Alert,
    pub events: Vec<DomainEvent>,
}

/// What one evaluation (or an acknowledgement, a silence, an Alertmanager post) changes, in
/// one transaction: the alerts with their events, and the notifications they owe. An alert
/// changed by someone else meanwhile fails the whole commit with a version conflict; the
/// caller reads again and evaluates again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertCommit {
    pub alerts: Vec<AlertWrite>,
    pub notifications: Vec<Notification>,
}

/// Which alerts a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AlertFilter {
    /// Only pending and firing alerts.
    pub open_only: bool,
    pub limit: i64,
}

/// A notification leased for delivery, with its channel (`None`: deleted meanwhile).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedNotification {
    pub notification: Notification,
    pub channel: Option<StoredChannel>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Sent { at: DateTime<Utc> },
    /// Try again at `next`.
    Retry { next: DateTime<Utc>, error: String },
    /// Given up (the retry window passed, or the channel is gone).
    Failed { error: String },
}

/// What the evaluator reads of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckAlertInput {
    pub check_id: Uuid,
    pub name: String,
    pub component_id: Uuid,
    pub component_name: String,
    pub project_id: Uuid,
    pub status: CheckStatus,
    pub status_since: Option<DateTime<Utc>>,
    pub paused: bool,
    pub last_error: Option<String>,
    pub cert_expires_at: Option<DateTime<Utc>>,
}

/// A component whose status is `blocked`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedComponent {
    pub component_id: Uuid,
    pub name: String,
    pub project_id: Uuid,
}

/// The latest backup outcomes the bus recorded (`backup.succeeded|failed` events).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupOutcomes {
    pub last_success: Option<DateTime<Utc>>,
    /// When the last failure happened, and its error.
    pub last_failure: Option<(DateTime<Utc>, String)>,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores a new channel and its secrets, with an `alert_channel.created` event.
    async fn create_channel(&self, channel: &Channel, secrets: &ChannelSecrets) -> Result<()>;
    async fn get_channel(&self, id: Uuid) -> Result<StoredChannel>;
    /// Every channel, by name.
    async fn list_channels(&self) -> Result<Vec<StoredChannel>>;
    /// Replaces a channel (after `Channel::replace`) if its stored version is `expected`.
    async fn update_channel(
        &self,
        channel: &Channel,
        secrets: &ChannelSecrets,
        expected: ExpectedVersion,
    ) -> Result<()>;
    /// Deletes a channel and its notifications.
    async fn delete_channel(&self, id: Uuid) -> Result<()>;

    async fn create_rule(&self, rule: &AlertRule) -> Result<()>;
    async fn get_rule(&self, id: Uuid) -> Result<AlertRule>;
    /// Every rule, by name.
    async fn list_rules(&self) -> Result<Vec<AlertRule>>;
    async fn update_rule(&self, rule: &AlertRule, expected: ExpectedVersion) -> Result<()>;
    /// Deletes a rule; its unresolved alerts resolve (with their events), without notices.
    async fn delete_rule(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;

    /// Pending and firing alerts, and resolved ones still owing a notification.
    async fn active_alerts(&self) -> Result<Vec<Alert>>;
    /// Alerts: firing first, then pending, then resolved; newest change first within each.
    async fn list_alerts(&self, filter: AlertFilter) -> Result<Vec<Alert>>;
    async fn get_alert(&self, id: Uuid) -> Result<Alert>;
    /// Writes alerts (with their events) and queues notifications, in one transaction.
    async fn commit_alerts(&self, commit: &AlertCommit) -> Result<()>;
    /// The notifications sent (or queued) about an alert, newest first.
    async fn alert_notifications(&self, alert_id: Uuid) -> Result<Vec<Notification>>;
    /// The latest notifications, newest first.
    async fn list_notifications(&self, limit: i64) -> Result<Vec<Notification>>;
    /// Leases up to `limit` queued notifications due at `now` until `lease_until` (a crashed
    /// sender's lease runs out and another picks the row up), oldest first.
    async fn claim_notifications(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedNotification>>;
    /// Records an attempt (counted), releasing the lease.
    async fn finish_notification(&self, id: Uuid, outcome: &DeliveryOutcome) -> Result<()>;
    /// Queued notifications (waiting or leased).
    async fn notification_backlog(&self) -> Result<i64>;
    /// Deletes resolved alerts and finished notifications last changed before `before`.
    async fn prune_alerts(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Every check with its state, component and project.
    async fn alert_check_inputs(&self) -> Result<Vec<CheckAlertInput>>;
    async fn blocked_components(&self) -> Result<Vec<BlockedComponent>>;
    /// Dead letters that arrived at or after `since`.
    async fn dead_letters_since(&self, since: DateTime<Utc>) -> Result<i64>;
    async fn backup_outcomes(&self) -> Result<BackupOutcomes>;
}
