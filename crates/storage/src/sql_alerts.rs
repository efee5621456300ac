//! The queries behind [`crate::AlertStore`], written once for both databases over
//! [`SqlBackend`].
//!
//! `commit_alerts` is the heart: the alert rows (inserted at version 1, otherwise updated only
//! from the version the caller read), their events in the outbox, and the notifications they
//! owe (with the alerts each is about) commit together, so an alert change and its
//! notification exist together or not at all. The sender leases queued rows
//! (`claim_notifications`, `FOR UPDATE SKIP LOCKED` on PostgreSQL) and records each attempt.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Acknowledgement, Alert, AlertRule, Channel, ChannelConfig, ChannelKind, ChannelSecrets,
    DeliveryStatus, JsonObject, Notice, Notification, NotificationMessage, RuleCondition, RuleKind,
    Silence,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Executor};
use sqlx_macros::FromRow;
use uuid::Uuid;

use crate::alerts::{
    AlertCommit, AlertFilter, AlertStore, AlertWrite, BackupOutcomes, BlockedComponent,
    CheckAlertInput, ClaimedNotification, DeliveryOutcome, StoredChannel,
};
use crate::backend::{Column, Conn, Dialects, Param, Row, Sql, SqlBackend};
use crate::error::check_version;
use crate::sql_store::{
    convert, ensure_exists, fetch_all_as, fetch_by_id, parse, secrets_from_json, secrets_to_json,
    write_outbox,
};
use crate::{Entity, ExpectedVersion, Result, StoreError};

macro_rules! channel_select {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, kind, config, secrets, enabled, version, created_at, updated_at \
             FROM alert_channels ",
            $tail
        )
    };
}

macro_rules! rule_select {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, kind, params, for_secs, severity, channels, repeat_secs, \
             notify_on_resolve, group_wait_secs, enabled, version, created_at, updated_at \
             FROM alert_rules ",
            $tail
        )
    };
}

macro_rules! alert_select {
    ($($tail:literal)*) => {
        concat!(
            "SELECT id, rule_id, source, fingerprint, group_key, name, severity, summary, labels, \
             state, active_since, firing_since, resolved_at, last_notified_at, notify_reason, \
             notify_due_at, acked_by, acked_at, ack_note, silenced_by, silenced_at, \
             silenced_until, silence_reason, version, updated_at FROM alerts ",
            $($tail),*
        )
    };
}

macro_rules! notification_select {
    ($($tail:literal)*) => {
        concat!(
            "SELECT n.id, n.channel_id, n.channel_kind, n.group_key, n.idempotency_key, \
             n.payload, n.status, n.attempts, n.next_attempt_at, n.last_error, n.created_at, \
             n.sent_at FROM alert_notifications n ",
            $($tail),*
        )
    };
}

const CLAIM_NOTIFICATIONS: Dialects = Dialects {
    postgres: "UPDATE alert_notifications SET lease_until = $2 WHERE id IN (SELECT id \
               FROM alert_notifications WHERE status = 'queued' AND next_attempt_at <= $1 \
               AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at, id \
               LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id",
    sqlite: "UPDATE alert_notifications SET lease_until = $2 WHERE id IN (SELECT id \
             FROM alert_notifications WHERE status = 'queued' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at, id \
             LIMIT $3) RETURNING id",
};

const ALERT_VERSION_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT version FROM alerts WHERE id = $1 FOR UPDATE",
    sqlite: "SELECT version FROM alerts WHERE id = $1",
};

const CHANNEL_VERSION_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT version FROM alert_channels WHERE id = $1 FOR UPDATE",
    sqlite: "SELECT version FROM alert_channels WHERE id = $1",
};

const RULE_VERSION_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT version FROM alert_rules WHERE id = $1 FOR UPDATE",
    sqlite: "SELECT version FROM alert_rules WHERE id = $1",
};

#[derive(FromRow)]
struct ChannelRow {
    id: Uuid,
    name: String,
    kind: String,
    config: Json<JsonObject>,
    secrets: Json<JsonObject>,
    enabled: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ChannelRow> for StoredChannel {
    type Error = StoreError;

    fn try_from(r: ChannelRow) -> Result<StoredChannel> {
        let kind: ChannelKind = parse(r.kind)?;
        let config = ChannelConfig::parse(kind, &r.config.0).map_err(StoreError::corrupt)?;
        let secrets = secrets_from_json(r.secrets.0, "channel")?;
        Ok(StoredChannel {
            channel: Channel {
                id: r.id,
                name: r.name,
                config,
                enabled: r.enabled,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            secrets: ChannelSecrets(secrets),
        })
    }
}

#[derive(FromRow)]
struct RuleRow {
    id: Uuid,
    name: String,
    kind: String,
    params: Json<JsonObject>,
    for_secs: i64,
    severity: String,
    channels: Json<serde_json::Value>,
    repeat_secs: Option<i64>,
    notify_on_resolve: bool,
    group_wait_secs: i64,
    enabled: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<RuleRow> for AlertRule {
    type Error = StoreError;

    fn try_from(r: RuleRow) -> Result<AlertRule> {
        let kind: RuleKind = parse(r.kind)?;
        let condition = RuleCondition::parse(kind, &r.params.0).map_err(StoreError::corrupt)?;
        let channels: Vec<Uuid> =
            serde_json::from_value(r.channels.0).map_err(StoreError::corrupt)?;
        Ok(AlertRule {
            id: r.id,
            name: r.name,
            condition,
            for_secs: r.for_secs,
            severity: parse(r.severity)?,
            channels,
            repeat_secs: r.repeat_secs,
            notify_on_resolve: r.notify_on_resolve,
            group_wait_secs: r.group_wait_secs,
            enabled: r.enabled,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct AlertRow {
    id: Uuid,
    rule_id: Option<Uuid>,
    source: String,
    fingerprint: String,
    group_key: String,
    name: String,
    severity: String,
    summary: String,
    labels: Json<JsonObject>,
    state: String,
    active_since: DateTime<Utc>,
    firing_since: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    last_notified_at: Option<DateTime<Utc>>,
    notify_reason: Option<String>,
    notify_due_at: Option<DateTime<Utc>>,
    acked_by: Option<String>,
    acked_at: Option<DateTime<Utc>>,
    ack_note: Option<String>,
    silenced_by: Option<String>,
    silenced_at: Option<DateTime<Utc>>,
    silenced_until: Option<DateTime<Utc>>,
    silence_reason: Option<String>,
    version: i64,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<Alert> {
        let notice = match (r.notify_reason, r.notify_due_at) {
            (Some(reason), Some(due_at)) => Some(Notice {
                reason: parse(reason)?,
                due_at,
            }),
            _ => None,
        };
        let ack = match (r.acked_by, r.acked_at) {
            (Some(by), Some(at)) => Some(Acknowledgement {
                by,
                at,
                note: r.ack_note,
            }),
            _ => None,
        };
        let silence = match (r.silenced_by, r.silenced_at, r.silenced_until) {
            (Some(by), Some(at), Some(until)) => Some(Silence {
                by,
                at,
                until,
                reason: r.silence_reason,
            }),
            _ => None,
        };
        Ok(Alert {
            id: r.id,
            rule_id: r.rule_id,
            source: parse(r.source)?,
            fingerprint: r.fingerprint,
            group_key: r.group_key,
            name: r.name,
            severity: parse(r.severity)?,
            summary: r.summary,
            labels: r.labels.0,
            state: parse(r.state)?,
            active_since: r.active_since,
            firing_since: r.firing_since,
            resolved_at: r.resolved_at,
            last_notified_at: r.last_notified_at,
            notice,
            ack,
            silence,
            version: r.version,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct NotificationRow {
    id: Uuid,
    channel_id: Uuid,
    channel_kind: String,
    group_key: String,
    idempotency_key: String,
    payload: Json<JsonObject>,
    status: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StoreError;

    fn try_from(r: NotificationRow) -> Result<Notification> {
        Ok(Notification {
            id: r.id,
            channel_id: r.channel_id,
            channel_kind: parse(r.channel_kind)?,
            group_key: r.group_key,
            idempotency_key: r.idempotency_key,
            message: NotificationMessage::from_json(&r.payload.0).map_err(StoreError::corrupt)?,
            alert_ids: Vec::new(),
            status: parse::<DeliveryStatus>(r.status)?,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        })
    }
}

/// Locks the row `id` that `sql` reads the version of (on PostgreSQL; SQLite's writer is one
/// connection) and checks that the change, at version `next`, follows the stored version, and
/// that the client's `expected` version is the stored one.
async fn lock_for_update<'c, B: SqlBackend>(
    conn: impl Executor<'c, Database = B::Db>,
    sql: &Dialects,
    (entity, id): (Entity, Uuid),
    expected: ExpectedVersion,
    next: i64,
) -> Result<()>
where
    for<'q> Uuid: Param<'q, B::Db>,
    i64: Column<B::Db>,
    usize: ColumnIndex<Row<B>>,
{
    let stored: Option<i64> = sqlx::query_scalar(sql.get(B::KIND))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    let stored = stored.ok_or(StoreError::not_found(entity, id))?;
    check_version(entity, id, expected, stored)?;
    // Someone else may have changed it between the caller's read and this write.
    check_version(entity, id, Some(next - 1), stored)
}

const CHANNEL_INSERT: &str = "INSERT INTO alert_channels (id, name, kind, config, secrets, \
     enabled, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const CHANNEL_UPDATE: &str = "UPDATE alert_channels SET name = $2, kind = $3, config = $4, \
     secrets = $5, enabled = $6, version = $7, created_at = $8, updated_at = $9 WHERE id = $1";

/// Inserts a new channel (`update` none) or replaces a stored one from the version the caller
/// read, with its event, in the caller's transaction.
async fn save_channel<B: SqlBackend>(
    conn: &mut Conn<B>,
    c: &Channel,
    secrets: &ChannelSecrets,
    update: Option<ExpectedVersion>,
) -> Result<()>
where
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'q> String: Param<'q, B::Db>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> bool: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db>,
    usize: ColumnIndex<Row<B>>,
{
    let (sql, action) = match update {
        None => (CHANNEL_INSERT, "created"),
        Some(expected) => {
            let entity = (Entity::AlertChannel, c.id);
            let lock = &CHANNEL_VERSION_FOR_UPDATE;
            lock_for_update::<B>(&mut *conn, lock, entity, expected, c.version).await?;
            (CHANNEL_UPDATE, "updated")
        }
    };
    sqlx::query(sql)
        .bind(c.id)
        .bind(&c.name)
        .bind(c.kind().as_str())
        .bind(Json(&c.config.to_json()))
        .bind(Json(&secrets_to_json(&secrets.0)))
        .bind(c.enabled)
        .bind(c.version)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *conn)
        .await?;
    write_outbox(&mut *conn, &c.changed_event(action)).await
}

const RULE_INSERT: &str = "INSERT INTO alert_rules (id, name, kind, params, for_secs, severity, \
     channels, repeat_secs, notify_on_resolve, group_wait_secs, enabled, version, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
const RULE_UPDATE: &str = "UPDATE alert_rules SET name = $2, kind = $3, params = $4, \
     for_secs = $5, severity = $6, channels = $7, repeat_secs = $8, notify_on_resolve = $9, \
     group_wait_secs = $10, enabled = $11, version = $12, created_at = $13, updated_at = $14 \
     WHERE id = $1";

/// Inserts a new rule (`update` none) or replaces a stored one from the version the caller
/// read, with its event, in the caller's transaction.
async fn save_rule<B: SqlBackend>(
    conn: &mut Conn<B>,
    r: &AlertRule,
    update: Option<ExpectedVersion>,
) -> Result<()>
where
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'a> Json<&'a serde_json::Value>: Param<'a, B::Db>,
    for<'q> String: Param<'q, B::Db>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<i64>: Param<'q, B::Db>,
    for<'q> bool: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db>,
    usize: ColumnIndex<Row<B>>,
{
    let (sql, action) = match update {
        None => (RULE_INSERT, "created"),
        Some(expected) => {
            let entity = (Entity::AlertRule, r.id);
            let lock = &RULE_VERSION_FOR_UPDATE;
            lock_for_update::<B>(&mut *conn, lock, entity, expected, r.version).await?;
            (RULE_UPDATE, "updated")
        }
    };
    let channels = serde_json::json!(r.channels);
    sqlx::query(sql)
        .bind(r.id)
        .bind(&r.name)
        .bind(r.condition.kind().as_str())
        .bind(Json(&r.condition.params()))
        .bind(r.for_secs)
        .bind(r.severity.as_str())
        .bind(Json(&channels))
        .bind(r.repeat_secs)
        .bind(r.notify_on_resolve)
        .bind(r.group_wait_secs)
        .bind(r.enabled)
        .bind(r.version)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut *conn)
        .await?;
    write_outbox(&mut *conn, &r.changed_event(action)).await
}

/// Fills in the alerts each notification is about.
async fn add_alert_ids<B: SqlBackend>(conn: &mut Conn<B>, list: &mut [Notification]) -> Result<()>
where
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    usize: ColumnIndex<Row<B>>,
{
    for n in list {
        n.alert_ids = sqlx::query_scalar(
            "SELECT alert_id FROM alert_notification_alerts WHERE notification_id = $1 \
             ORDER BY alert_id",
        )
        .bind(n.id)
        .fetch_all(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl<B> AlertStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'a> Json<&'a serde_json::Value>: Param<'a, B::Db>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    usize: ColumnIndex<Row<B>>,
    for<'q> String: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<i64>: Param<'q, B::Db>,
    for<'q> i32: Param<'q, B::Db> + Column<B::Db>,
    for<'q> bool: Param<'q, B::Db> + Column<B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    Json<JsonObject>: Column<B::Db>,
    Json<serde_json::Value>: Column<B::Db>,
{
    async fn create_channel(&self, c: &Channel, secrets: &ChannelSecrets) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        save_channel::<B>(&mut *tx, c, secrets, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_channel(&self, id: Uuid) -> Result<StoredChannel> {
        let sql = channel_select!("WHERE id = $1");
        fetch_by_id::<B, ChannelRow, _>(self.reader(), sql, (Entity::AlertChannel, id)).await
    }

    async fn list_channels(&self) -> Result<Vec<StoredChannel>> {
        let sql = channel_select!("ORDER BY name, id");
        fetch_all_as::<B, ChannelRow, _>(self.reader(), sql).await
    }

    async fn update_channel(
        &self,
        c: &Channel,
        secrets: &ChannelSecrets,
        expected: ExpectedVersion,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        save_channel::<B>(&mut *tx, c, secrets, Some(expected)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_channel(&self, id: Uuid) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let row: Option<ChannelRow> = sqlx::query_as(channel_select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let stored: StoredChannel = row
            .ok_or(StoreError::not_found(Entity::AlertChannel, id))?
            .try_into()?;
        sqlx::query("DELETE FROM alert_channels WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_outbox(&mut *tx, &stored.channel.changed_event("deleted")).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_rule(&self, r: &AlertRule) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        save_rule::<B>(&mut *tx, r, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_rule(&self, id: Uuid) -> Result<AlertRule> {
        let sql = rule_select!("WHERE id = $1");
        fetch_by_id::<B, RuleRow, _>(self.reader(), sql, (Entity::AlertRule, id)).await
    }

    async fn list_rules(&self) -> Result<Vec<AlertRule>> {
        let sql = rule_select!("ORDER BY name, id");
        fetch_all_as::<B, RuleRow, _>(self.reader(), sql).await
    }

    async fn update_rule(&self, r: &AlertRule, expected: ExpectedVersion) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        save_rule::<B>(&mut *tx, r, Some(expected)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_rule(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let row: Option<RuleRow> = sqlx::query_as(rule_select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let rule: AlertRule = row
            .ok_or(StoreError::not_found(Entity::AlertRule, id))?
            .try_into()?;
        let open: Vec<AlertRow> =
            sqlx::query_as(alert_select!("WHERE rule_id = $1 AND state <> 'resolved'"))
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        for row in open {
            let mut alert = Alert::try_from(row)?;
            alert.state = domain::AlertState::Resolved;
            alert.resolved_at = Some(at);
            alert.notice = None;
            alert.version += 1;
            alert.updated_at = at;
            sqlx::query(
                "UPDATE alerts SET state = 'resolved', resolved_at = $2, notify_reason = NULL, \
                 notify_due_at = NULL, version = $3, updated_at = $2 WHERE id = $1",
            )
            .bind(alert.id)
            .bind(at)
            .bind(alert.version)
            .execute(&mut *tx)
            .await?;
            write_outbox(&mut *tx, &alert.state_event()).await?;
        }
        sqlx::query("DELETE FROM alert_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_outbox(&mut *tx, &rule.changed_event("deleted")).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn active_alerts(&self) -> Result<Vec<Alert>> {
        let rows: Vec<AlertRow> = sqlx::query_as(alert_select!(
            "WHERE state <> 'resolved' OR notify_due_at IS NOT NULL ORDER BY active_since, id"
        ))
        .fetch_all(self.reader())
        .await?;
        convert(rows)
    }

    async fn list_alerts(&self, filter: AlertFilter) -> Result<Vec<Alert>> {
        let limit = filter.limit.clamp(1, 1000);
        let rows: Vec<AlertRow> = if filter.open_only {
            sqlx::query_as(alert_select!(
                "WHERE state <> 'resolved' ORDER BY CASE state WHEN 'firing' THEN 0 ELSE 1 END, \
                 updated_at DESC, id LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(self.reader())
            .await?
        } else {
            sqlx::query_as(alert_select!(
                "ORDER BY CASE state WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, \
                 updated_at DESC, id LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(self.reader())
            .await?
        };
        convert(rows)
    }

    async fn get_alert(&self, id: Uuid) -> Result<Alert> {
        let row: Option<AlertRow> = sqlx::query_as(alert_select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.ok_or(StoreError::not_found(Entity::Alert, id))?
            .try_into()
    }

    async fn commit_alerts(&self, commit: &AlertCommit) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        for AlertWrite { alert: a, events } in &commit.alerts {
            let notice_reason = a.notice.map(|n| n.reason.as_str());
            let notice_due = a.notice.map(|n| n.due_at);
            let ack_by = a.ack.as_ref().map(|x| x.by.as_str());
            let ack_at = a.ack.as_ref().map(|x| x.at);
            let ack_note = a.ack.as_ref().and_then(|x| x.note.as_deref());
            let sil_by = a.silence.as_ref().map(|x| x.by.as_str());
            let sil_at = a.silence.as_ref().map(|x| x.at);
            let sil_until = a.silence.as_ref().map(|x| x.until);
            let sil_reason = a.silence.as_ref().and_then(|x| x.reason.as_deref());
            let sql = if a.version == 1 {
                "INSERT INTO alerts (id, rule_id, source, fingerprint, group_key, name, severity, \
                 summary, labels, state, active_since, firing_since, resolved_at, \
                 last_notified_at, notify_reason, notify_due_at, acked_by, acked_at, ack_note, \
                 silenced_by, silenced_at, silenced_until, silence_reason, version, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21, $22, $23, $24, $25)"
            } else {
                let entity = (Entity::Alert, a.id);
                lock_for_update::<B>(&mut *tx, &ALERT_VERSION_FOR_UPDATE, entity, None, a.version)
                    .await?;
                "UPDATE alerts SET rule_id = $2, source = $3, fingerprint = $4, group_key = $5, \
                 name = $6, severity = $7, summary = $8, labels = $9, state = $10, \
                 active_since = $11, firing_since = $12, resolved_at = $13, \
                 last_notified_at = $14, notify_reason = $15, notify_due_at = $16, \
                 acked_by = $17, acked_at = $18, ack_note = $19, silenced_by = $20, \
                 silenced_at = $21, silenced_until = $22, silence_reason = $23, version = $24, \
                 updated_at = $25 WHERE id = $1"
            };
            let result = sqlx::query(sql)
                .bind(a.id)
                .bind(a.rule_id)
                .bind(a.source.as_str())
                .bind(&a.fingerprint)
                .bind(&a.group_key)
                .bind(&a.name)
                .bind(a.severity.as_str())
                .bind(&a.summary)
                .bind(Json(&a.labels))
                .bind(a.state.as_str())
                .bind(a.active_since)
                .bind(a.firing_since)
                .bind(a.resolved_at)
                .bind(a.last_notified_at)
                .bind(notice_reason)
                .bind(notice_due)
                .bind(ack_by)
                .bind(ack_at)
                .bind(ack_note)
                .bind(sil_by)
                .bind(sil_at)
                .bind(sil_until)
                .bind(sil_reason)
                .bind(a.version)
                .bind(a.updated_at)
                .execute(&mut *tx)
                .await;
            match result {
                Ok(_) => {}
                // Another evaluator raised the same alert first (one unresolved alert per
                // fingerprint): this commit read stale data.
                Err(e) if StoreError::is_unique_violation(&e) => {
                    return Err(StoreError::VersionConflict {
                        entity: Entity::Alert,
                        id: a.id,
                        expected: 0,
                        actual: 1,
                    });
                }
                Err(e) => return Err(e.into()),
            }
            for e in events {
                write_outbox(&mut *tx, e).await?;
            }
        }
        for n in &commit.notifications {
            let result = sqlx::query(
                "INSERT INTO alert_notifications (id, channel_id, channel_kind, group_key, \
                 idempotency_key, payload, status, attempts, next_attempt_at, last_error, \
                 created_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(n.id)
            .bind(n.channel_id)
            .bind(n.channel_kind.as_str())
            .bind(&n.group_key)
            .bind(&n.idempotency_key)
            .bind(Json(&n.message.to_json()))
            .bind(n.status.as_str())
            .bind(n.attempts)
            .bind(n.next_attempt_at)
            .bind(n.last_error.clone())
            .bind(n.created_at)
            .bind(n.sent_at)
            .execute(&mut *tx)
            .await;
            if let Err(e) = result {
                return Err(crate::sql_store::parent_missing(
                    e,
                    Entity::AlertChannel,
                    n.channel_id,
                ));
            }
            for alert_id in &n.alert_ids {
                sqlx::query(
                    "INSERT INTO alert_notification_alerts (notification_id, alert_id) \
                     VALUES ($1, $2)",
                )
                .bind(n.id)
                .bind(*alert_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn alert_notifications(&self, alert_id: Uuid) -> Result<Vec<Notification>> {
        let mut conn = self.reader().acquire().await?;
        let sql = "SELECT 1 FROM alerts WHERE id = $1";
        ensure_exists(&mut *conn, sql, (Entity::Alert, alert_id)).await?;
        let rows: Vec<NotificationRow> = sqlx::query_as(notification_select!(
            "JOIN alert_notification_alerts l ON l.notification_id = n.id \
             WHERE l.alert_id = $1 ORDER BY n.created_at DESC, n.id LIMIT 500"
        ))
        .bind(alert_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut out: Vec<Notification> = convert(rows)?;
        add_alert_ids::<B>(&mut *conn, &mut out).await?;
        Ok(out)
    }

    async fn list_notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        let mut conn = self.reader().acquire().await?;
        let rows: Vec<NotificationRow> = sqlx::query_as(notification_select!(
            "ORDER BY n.created_at DESC, n.id LIMIT $1"
        ))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&mut *conn)
        .await?;
        let mut out: Vec<Notification> = convert(rows)?;
        add_alert_ids::<B>(&mut *conn, &mut out).await?;
        Ok(out)
    }

    async fn claim_notifications(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedNotification>> {
        // The sender asks often; with nothing due it must not write (on SQLite a write a
        // moment after another process's read ends that process's transaction with BUSY).
        let due: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM alert_notifications WHERE status = 'queued' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
        )
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer().begin().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(CLAIM_NOTIFICATIONS.get(B::KIND))
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<NotificationRow> =
                sqlx::query_as(notification_select!("WHERE n.id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = row else { continue };
            let mut notification = [Notification::try_from(row)?];
            add_alert_ids::<B>(&mut *tx, &mut notification).await?;
            let [notification] = notification;
            let channel: Option<ChannelRow> = sqlx::query_as(channel_select!("WHERE id = $1"))
                .bind(notification.channel_id)
                .fetch_optional(&mut *tx)
                .await?;
            claimed.push(ClaimedNotification {
                notification,
                channel: channel.map(StoredChannel::try_from).transpose()?,
            });
        }
        tx.commit().await?;
        claimed.sort_by_key(|c| (c.notification.next_attempt_at, c.notification.id));
        Ok(claimed)
    }

    async fn finish_notification(&self, id: Uuid, outcome: &DeliveryOutcome) -> Result<()> {
        let q = match outcome {
            DeliveryOutcome::Sent { at } => sqlx::query(
                "UPDATE alert_notifications SET status = 'sent', sent_at = $2, \
                 attempts = attempts + 1, lease_until = NULL, last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(*at),
            DeliveryOutcome::Retry { next, error } => sqlx::query(
                "UPDATE alert_notifications SET next_attempt_at = $2, last_error = $3, \
                 attempts = attempts + 1, lease_until = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(*next)
            .bind(error.clone()),
            DeliveryOutcome::Failed { error } => sqlx::query(
                "UPDATE alert_notifications SET status = 'failed', last_error = $2, \
                 attempts = attempts + 1, lease_until = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(error.clone()),
        };
        let done = q.execute(self.writer()).await?;
        if B::Db::rows_affected(&done) == 0 {
            return Err(StoreError::not_found(Entity::Notification, id));
        }
        Ok(())
    }

    async fn notification_backlog(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM alert_notifications WHERE status = 'queued'")
                .fetch_one(self.reader())
                .await?,
        )
    }

    async fn prune_alerts(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.writer().begin().await?;
        let n = sqlx::query(
            "DELETE FROM alert_notifications WHERE status <> 'queued' AND created_at < $1",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let a = sqlx::query(
            "DELETE FROM alerts WHERE state = 'resolved' AND notify_due_at IS NULL \
             AND updated_at < $1",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(B::Db::rows_affected(&n) + B::Db::rows_affected(&a))
    }

    async fn alert_check_inputs(&self) -> Result<Vec<CheckAlertInput>> {
        let rows: Vec<CheckInputRow> = sqlx::query_as(
            "SELECT c.id, c.name, c.component_id, p.name AS component_name, p.project_id, \
             s.status, s.status_since, c.paused, s.last_error, s.cert_expires_at FROM checks c \
             JOIN check_status s ON s.check_id = c.id JOIN components p ON p.id = c.component_id \
             ORDER BY c.id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(CheckAlertInput {
                    check_id: r.id,
                    name: r.name,
                    component_id: r.component_id,
                    component_name: r.component_name,
                    project_id: r.project_id,
                    status: parse(r.status)?,
                    status_since: r.status_since,
                    paused: r.paused,
                    last_error: r.last_error,
                    cert_expires_at: r.cert_expires_at,
                })
            })
            .collect()
    }

    async fn blocked_components(&self) -> Result<Vec<BlockedComponent>> {
        let rows: Vec<(Uuid, String, Uuid)> = sqlx::query_as(
            "SELECT id, name, project_id FROM components WHERE status = 'blocked' ORDER BY id",
        )
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(component_id, name, project_id)| BlockedComponent {
                component_id,
                name,
                project_id,
            })
            .collect())
    }

    async fn dead_letters_since(&self, since: DateTime<Utc>) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM dlq_events WHERE created_at >= $1")
                .bind(since)
                .fetch_one(self.reader())
                .await?,
        )
    }

    async fn backup_outcomes(&self) -> Result<BackupOutcomes> {
        let mut conn = self.reader().acquire().await?;
        let success: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT ts FROM events_mirror WHERE kind = 'backup.succeeded' ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let failure: Option<(DateTime<Utc>, Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT ts, payload FROM events_mirror WHERE kind = 'backup.failed' \
             ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        Ok(BackupOutcomes {
            last_success: success,
            last_failure: failure.map(|(at, payload)| {
                let error = payload
                    .0
                    .get("data")
                    .and_then(|d| d.get("error"))
                    .or_else(|| payload.0.get("error"))
                    .and_then(|e| e.as_str())
                    .unwrap_or("the backup failed")
                    .to_owned();
                (at, error)
            }),
        })
    }
}

#[derive(FromRow)]
struct CheckInputRow {
    id: Uuid,
    name: String,
    component_id: Uuid,
    component_name: String,
    project_id: Uuid,
    status: String,
    status_since: Option<DateTime<Utc>>,
    paused: bool,
    last_error: Option<String>,
    cert_expires_at: Option<DateTime<Utc>>,
}
