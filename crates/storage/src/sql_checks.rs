//! The queries behind [`crate::CheckStore`], written once for both databases over
//! [`SqlBackend`].
//!
//! Recording a batch of results is one transaction: each check's state row is read (locked on
//! PostgreSQL), advanced by `domain::CheckState::advance`, written back with its lease
//! released, and the raw row, the hourly and daily counts and any transition's event go with it.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use domain::{
    Check, CheckKind, CheckResult, CheckSecrets, CheckState, CheckStatus, CheckTarget, DayCounts,
    DomainEvent, HourCount, JsonObject, StatusPageAction,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Executor, QueryBuilder};
use sqlx_macros::FromRow;
use uuid::Uuid;

use crate::backend::{Column, Conn, Dialects, Param, Row, Sql, SqlBackend};
use crate::checks::{
    CheckOverview, CheckRetention, CheckStore, ComponentBucket, RecordedTransition, Resolution,
    StatusCheckState, StatusPageData, StoredCheck, StoredResult, UptimeBucket,
};
use crate::sql_store::{
    convert, ensure_exists, parent_missing, parse, secrets_from_json, secrets_to_json,
    write_outbox, write_outbox_all,
};
use crate::{Backend, Entity, ExpectedVersion, Result, StoreError};

macro_rules! check_select {
    ($($tail:literal)*) => {
        concat!(
            "SELECT c.id, c.component_id, c.name, c.kind, c.target, c.secrets, \
             c.push_token_hash IS NOT NULL AS has_push_token, c.interval_secs, c.timeout_secs, \
             c.retries, c.retry_interval_secs, c.drives_status, c.paused, c.version, \
             c.created_at, c.updated_at, p.project_id, s.status, s.status_since, s.failures, \
             s.last_checked_at, s.last_latency_ms, s.last_error, s.cert_expires_at, \
             s.next_due_at, s.day_hour, s.day_counts FROM checks c \
             JOIN check_status s ON s.check_id = c.id \
             JOIN components p ON p.id = c.component_id ",
            $($tail),*
        )
    };
}

const CHECK_BY_ID: &str = check_select!("WHERE c.id = $1");

const CHECK_FOR_UPDATE: Dialects = Dialects {
    postgres: check_select!("WHERE c.id = $1 FOR UPDATE OF s"),
    sqlite: CHECK_BY_ID,
};

const CLAIM_DUE: Dialects = Dialects {
    postgres: "UPDATE check_status SET lease_until = $2 WHERE check_id IN (SELECT check_id \
               FROM check_status WHERE next_due_at <= $1 AND (lease_until IS NULL OR \
               lease_until < $1) ORDER BY next_due_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
               RETURNING check_id",
    sqlite: "UPDATE check_status SET lease_until = $2 WHERE check_id IN (SELECT check_id \
             FROM check_status WHERE next_due_at <= $1 AND (lease_until IS NULL OR \
             lease_until < $1) ORDER BY next_due_at LIMIT $3) RETURNING check_id",
};

/// The hourly and daily counts a batch of results adds to (one row per check, resolution and
/// bucket: the rows are summed before, as one statement may not update a row twice).
const UPSERT_UPTIME: &str = "INSERT INTO check_uptime (check_id, resolution, bucket, up, \
     degraded, down, latency_sum, latency_count, latency_max) ";
const UPSERT_UPTIME_CONFLICT: &str = " ON CONFLICT (check_id, resolution, bucket) DO UPDATE SET \
     up = check_uptime.up + excluded.up, degraded = check_uptime.degraded + excluded.degraded, \
     down = check_uptime.down + excluded.down, \
     latency_sum = check_uptime.latency_sum + excluded.latency_sum, \
     latency_count = check_uptime.latency_count + excluded.latency_count, \
     latency_max = CASE WHEN check_uptime.latency_max IS NULL \
     OR excluded.latency_max > check_uptime.latency_max THEN excluded.latency_max \
     ELSE check_uptime.latency_max END";

/// Results recorded together: each statement of [`CheckStore::record_check_results`] (the
/// states read and locked, the states written, the raw rows, the counts, the events) covers
/// this many at most, so a batch costs a handful of round trips instead of several per result.
const RECORD_CHUNK: usize = 100;

/// Checks read by id with one statement: at most this many ids in its `IN` list.
const FETCH_CHUNK: usize = 500;

/// A check's definition, as every query that returns checks reads it.
#[derive(FromRow)]
pub(crate) struct DefinitionRow {
    id: Uuid,
    component_id: Uuid,
    name: String,
    kind: String,
    target: Json<JsonObject>,
    interval_secs: i32,
    timeout_secs: i32,
    retries: i32,
    retry_interval_secs: i32,
    drives_status: bool,
    paused: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl DefinitionRow {
    fn into_check(self) -> Result<Check> {
        let kind: CheckKind = parse(self.kind)?;
        let target = CheckTarget::from_json(kind, self.target.0).map_err(StoreError::corrupt)?;
        Ok(Check {
            id: self.id,
            component_id: self.component_id,
            name: self.name,
            target,
            interval_secs: self.interval_secs,
            timeout_secs: self.timeout_secs,
            retries: self.retries,
            retry_interval_secs: self.retry_interval_secs,
            drives_status: self.drives_status,
            paused: self.paused,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// The `check.deleted` event of this check, as `delete_check` writes it (a cascade about
    /// to remove it returned these columns).
    pub(crate) fn deleted_event(self) -> Result<DomainEvent> {
        Ok(DomainEvent::check_changed(
            "deleted",
            &self.into_check()?,
            &[],
        ))
    }
}

/// A check's state between runs (`check_status`).
#[derive(FromRow)]
struct StateRow {
    status: String,
    status_since: Option<DateTime<Utc>>,
    failures: i32,
    last_checked_at: Option<DateTime<Utc>>,
    last_latency_ms: Option<f64>,
    last_error: Option<String>,
    cert_expires_at: Option<DateTime<Utc>>,
    next_due_at: Option<DateTime<Utc>>,
}

impl StateRow {
    fn into_state(self) -> Result<CheckState> {
        Ok(CheckState {
            status: parse(self.status)?,
            status_since: self.status_since,
            failures: self.failures,
            last_checked_at: self.last_checked_at,
            last_latency_ms: self.last_latency_ms,
            last_error: self.last_error,
            cert_expires_at: self.cert_expires_at,
            next_due_at: self.next_due_at,
        })
    }
}

#[derive(FromRow)]
struct CheckRow {
    #[sqlx(flatten)]
    definition: DefinitionRow,
    secrets: Json<JsonObject>,
    has_push_token: bool,
    project_id: Uuid,
    #[sqlx(flatten)]
    state: StateRow,
    day_hour: Option<DateTime<Utc>>,
    day_counts: Option<String>,
}

impl TryFrom<CheckRow> for StoredCheck {
    type Error = StoreError;

    fn try_from(r: CheckRow) -> Result<StoredCheck> {
        let secrets = secrets_from_json(r.secrets.0, "check")?;
        Ok(StoredCheck {
            check: r.definition.into_check()?,
            secrets: CheckSecrets(secrets),
            state: r.state.into_state()?,
            project_id: r.project_id,
            has_push_token: r.has_push_token,
            day: r
                .day_counts
                .and_then(|text| DayCounts::decode(r.day_hour, &text).ok()),
        })
    }
}

/// The columns of a check's definition, as a cascade about to remove it returns them.
macro_rules! deleted_checks {
    ($where:literal) => {
        concat!(
            "DELETE FROM checks WHERE ",
            $where,
            " RETURNING id, component_id, name, kind, target, interval_secs, timeout_secs, \
             retries, retry_interval_secs, drives_status, paused, version, created_at, updated_at"
        )
    };
}

/// A component's checks, deleted ahead of the component so each gets its `check.deleted`
/// event (the foreign key's cascade would remove them silently).
pub(crate) const DELETE_COMPONENT_CHECKS: &str = deleted_checks!("component_id = $1");
/// The same for every component of a project.
pub(crate) const DELETE_PROJECT_CHECKS: &str =
    deleted_checks!("component_id IN (SELECT id FROM components WHERE project_id = $1)");

#[derive(FromRow)]
struct OverviewRow {
    id: Uuid,
    component_id: Uuid,
    name: String,
    kind: String,
    paused: bool,
    drives_status: bool,
    #[sqlx(flatten)]
    state: StateRow,
    day_hour: Option<DateTime<Utc>>,
    day_counts: Option<String>,
}

impl TryFrom<OverviewRow> for CheckOverview {
    type Error = StoreError;

    fn try_from(r: OverviewRow) -> Result<CheckOverview> {
        let kind: CheckKind = parse(r.kind)?;
        Ok(CheckOverview {
            check_id: r.id,
            component_id: r.component_id,
            name: r.name,
            kind: kind.as_str(),
            paused: r.paused,
            drives_status: r.drives_status,
            // Not filled yet (made before the counts were kept here): filled by its next result.
            day: r
                .day_counts
                .and_then(|text| DayCounts::decode(r.day_hour, &text).ok())
                .unwrap_or_default(),
            state: r.state.into_state()?,
        })
    }
}

#[derive(FromRow)]
struct StatusRow {
    component_id: Uuid,
    component_name: String,
    status: String,
    paused: bool,
    last_checked_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct ComponentBucketRow {
    component_id: Uuid,
    bucket: DateTime<Utc>,
    up: i64,
    degraded: i64,
    down: i64,
}

/// Counts of a project's driving checks, summed per component and bucket.
const COMPONENT_BUCKETS: &str = "SELECT c.component_id, u.bucket, SUM(u.up) AS up, \
     SUM(u.degraded) AS degraded, SUM(u.down) AS down FROM components p \
     JOIN checks c ON c.component_id = p.id JOIN check_uptime u ON u.check_id = c.id \
     WHERE p.project_id = $1 AND c.drives_status = $2 AND u.resolution = $3 AND u.bucket >= $4 \
     GROUP BY c.component_id, u.bucket ORDER BY c.component_id, u.bucket";

#[derive(FromRow)]
struct ResultRow {
    at: DateTime<Utc>,
    status: String,
    latency_ms: Option<f64>,
    error: Option<String>,
}

impl TryFrom<ResultRow> for StoredResult {
    type Error = StoreError;

    fn try_from(r: ResultRow) -> Result<StoredResult> {
        Ok(StoredResult {
            at: r.at,
            status: parse(r.status)?,
            latency_ms: r.latency_ms,
            error: r.error,
        })
    }
}

#[derive(FromRow)]
struct BucketRow {
    bucket: DateTime<Utc>,
    up: i32,
    degraded: i32,
    down: i32,
    latency_sum: f64,
    latency_count: i32,
    latency_max: Option<f64>,
}

impl From<BucketRow> for UptimeBucket {
    fn from(r: BucketRow) -> UptimeBucket {
        UptimeBucket {
            bucket: r.bucket,
            up: r.up.into(),
            degraded: r.degraded.into(),
            down: r.down.into(),
            latency_sum: r.latency_sum,
            latency_count: r.latency_count.into(),
            latency_max: r.latency_max,
        }
    }
}

/// Where a check waiting at `now` runs, spread over its interval by its id (stable, so a
/// restart spreads the same way each time), at most five minutes out.
fn spread(now: DateTime<Utc>, id: Uuid, interval_secs: i32) -> DateTime<Utc> {
    let window_ms = i64::from(interval_secs.clamp(1, 300)) * 1000;
    let offset = (id.as_u128() % window_ms.unsigned_abs() as u128) as i64;
    now + Duration::milliseconds(offset)
}

async fn fetch_check<'c, B: SqlBackend>(
    conn: impl Executor<'c, Database = B::Db>,
    sql: &'static str,
    id: Uuid,
) -> Result<Option<StoredCheck>>
where
    for<'a> &'a str: ColumnIndex<Row<B>>,
    String: Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    i64: Column<B::Db>,
    i32: Column<B::Db>,
    f64: Column<B::Db>,
    bool: Column<B::Db>,
    DateTime<Utc>: Column<B::Db>,
    Json<JsonObject>: Column<B::Db>,
{
    sqlx::query_as::<_, CheckRow>(sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(StoredCheck::try_from)
        .transpose()
}

/// The checks with these ids (those that exist), by id, read `IN` lists of [`FETCH_CHUNK`];
/// `lock`: their state rows locked until the transaction ends (PostgreSQL; SQLite's one writer
/// needs none).
async fn fetch_checks<B: SqlBackend>(
    conn: &mut Conn<B>,
    ids: &[Uuid],
    lock: bool,
) -> Result<Vec<StoredCheck>>
where
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: ColumnIndex<Row<B>>,
    String: Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    i64: Column<B::Db>,
    i32: Column<B::Db>,
    f64: Column<B::Db>,
    bool: Column<B::Db>,
    DateTime<Utc>: Column<B::Db>,
    Json<JsonObject>: Column<B::Db>,
{
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(FETCH_CHUNK) {
        let mut q = QueryBuilder::<B::Db>::new(check_select!("WHERE c.id IN ("));
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(if lock && B::KIND == Backend::Postgres {
            ") ORDER BY c.id FOR UPDATE OF s"
        } else {
            ") ORDER BY c.id"
        });
        // Not kept prepared: the text changes with the number of ids.
        let rows: Vec<CheckRow> = q
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            out.push(StoredCheck::try_from(row)?);
        }
    }
    Ok(out)
}

/// One row of `check_uptime` to add to: the sums of a batch's results in one bucket.
struct UptimeAdd {
    check_id: Uuid,
    resolution: Resolution,
    bucket: DateTime<Utc>,
    up: i32,
    degraded: i32,
    down: i32,
    latency_sum: f64,
    latency_count: i32,
    latency_max: Option<f64>,
}

/// The hourly and daily counts `results` add, one per check, resolution and bucket, in the
/// order first met.
fn uptime_adds<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Vec<UptimeAdd> {
    let mut out: Vec<UptimeAdd> = Vec::new();
    let mut index: std::collections::HashMap<(Uuid, &'static str, DateTime<Utc>), usize> =
        std::collections::HashMap::new();
    for r in results {
        let o = &r.outcome;
        let count = |s: CheckStatus| i32::from(o.status == s);
        for resolution in [Resolution::Hour, Resolution::Day] {
            let bucket = resolution.bucket(r.at);
            let i = *index
                .entry((r.check_id, resolution.as_str(), bucket))
                .or_insert_with(|| {
                    out.push(UptimeAdd {
                        check_id: r.check_id,
                        resolution,
                        bucket,
                        up: 0,
                        degraded: 0,
                        down: 0,
                        latency_sum: 0.0,
                        latency_count: 0,
                        latency_max: None,
                    });
                    out.len() - 1
                });
            let a = &mut out[i];
            a.up += count(CheckStatus::Up);
            a.degraded += count(CheckStatus::Degraded);
            a.down += count(CheckStatus::Down);
            if let Some(ms) = o.latency_ms {
                a.latency_sum += ms;
                a.latency_count += 1;
                a.latency_max = Some(a.latency_max.map_or(ms, |m| m.max(ms)));
            }
        }
    }
    out
}

/// A check's counts of the last 24 hours when its state row has none (a check made before they
/// were kept, or unreadable ones): read from its hourly buckets of the day up to `at`, which do
/// not hold the result being recorded yet.
async fn fill_day_counts<B: SqlBackend>(
    tx: &mut sqlx::Transaction<'static, B::Db>,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<DayCounts>
where
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: ColumnIndex<Row<B>>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    i32: Column<B::Db>,
    f64: Column<B::Db>,
{
    let since = Resolution::Hour.bucket(at) - Duration::hours(domain::DAY_HOURS as i64 - 1);
    let rows: Vec<BucketRow> = sqlx::query_as(
        "SELECT bucket, up, degraded, down, latency_sum, latency_count, latency_max \
         FROM check_uptime WHERE check_id = $1 AND resolution = 'h' AND bucket >= $2 \
         ORDER BY bucket",
    )
    .bind(id)
    .bind(since)
    .fetch_all(&mut **tx)
    .await?;
    let mut day = DayCounts::default();
    for b in rows {
        let good = i64::from(b.up) + i64::from(b.degraded);
        let all = good + i64::from(b.down);
        day.add(b.bucket, HourCount { good, all });
    }
    Ok(day)
}

#[async_trait]
impl<B> CheckStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    usize: ColumnIndex<Row<B>>,
    for<'q> String: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> i32: Param<'q, B::Db> + Column<B::Db>,
    for<'q> f64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<f64>: Param<'q, B::Db>,
    for<'q> bool: Param<'q, B::Db> + Column<B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    Json<JsonObject>: Column<B::Db>,
{
    async fn create_check(
        &self,
        c: &Check,
        secrets: &CheckSecrets,
        push_token_hash: Option<&str>,
        first_due: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let target = c.target.to_json();
        let secrets = secrets_to_json(&secrets.0);
        sqlx::query(
            "INSERT INTO checks (id, component_id, name, kind, target, secrets, \
             push_token_hash, interval_secs, timeout_secs, retries, retry_interval_secs, \
             drives_status, paused, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(c.id)
        .bind(c.component_id)
        .bind(&c.name)
        .bind(c.kind().as_str())
        .bind(Json(&target))
        .bind(Json(&secrets))
        .bind(push_token_hash)
        .bind(c.interval_secs)
        .bind(c.timeout_secs)
        .bind(c.retries)
        .bind(c.retry_interval_secs)
        .bind(c.drives_status)
        .bind(c.paused)
        .bind(c.version)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| parent_missing(e, Entity::Component, c.component_id))?;
        sqlx::query(
            "INSERT INTO check_status (check_id, next_due_at, day_counts) VALUES ($1, $2, '')",
        )
        .bind(c.id)
        .bind((!c.paused).then_some(first_due))
        .execute(&mut *tx)
        .await?;
        write_outbox(&mut *tx, &DomainEvent::check_changed("created", c, &[])).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_check(&self, id: Uuid) -> Result<StoredCheck> {
        fetch_check::<B>(self.reader(), CHECK_BY_ID, id)
            .await?
            .ok_or(StoreError::not_found(Entity::Check, id))
    }

    async fn list_checks(&self, component_id: Uuid) -> Result<Vec<StoredCheck>> {
        let mut conn = self.reader().acquire().await?;
        let sql = "SELECT 1 FROM components WHERE id = $1";
        ensure_exists(&mut *conn, sql, (Entity::Component, component_id)).await?;
        let rows: Vec<CheckRow> = sqlx::query_as(check_select!(
            "WHERE c.component_id = $1 ORDER BY c.created_at, c.id"
        ))
        .bind(component_id)
        .fetch_all(&mut *conn)
        .await?;
        convert(rows)
    }

    async fn update_check(
        &self,
        c: &Check,
        secrets: &CheckSecrets,
        expected: ExpectedVersion,
        changed: &[&str],
        next_due: Option<Option<DateTime<Utc>>>,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let stored = fetch_check::<B>(&mut *tx, CHECK_FOR_UPDATE.get(B::KIND), c.id)
            .await?
            .ok_or(StoreError::not_found(Entity::Check, c.id))?;
        crate::error::check_version(Entity::Check, c.id, expected, stored.check.version)?;
        if stored.check.version + 1 != c.version {
            // Someone else changed it between the caller's read and this write.
            return Err(StoreError::VersionConflict {
                entity: Entity::Check,
                id: c.id,
                expected: c.version - 1,
                actual: stored.check.version,
            });
        }
        let target = c.target.to_json();
        let secrets = secrets_to_json(&secrets.0);
        sqlx::query(
            "UPDATE checks SET name = $2, target = $3, secrets = $4, interval_secs = $5, \
             timeout_secs = $6, retries = $7, retry_interval_secs = $8, drives_status = $9, \
             paused = $10, version = $11, updated_at = $12 WHERE id = $1",
        )
        .bind(c.id)
        .bind(&c.name)
        .bind(Json(&target))
        .bind(Json(&secrets))
        .bind(c.interval_secs)
        .bind(c.timeout_secs)
        .bind(c.retries)
        .bind(c.retry_interval_secs)
        .bind(c.drives_status)
        .bind(c.paused)
        .bind(c.version)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await?;
        if let Some(next_due) = next_due {
            sqlx::query("UPDATE check_status SET next_due_at = $2 WHERE check_id = $1")
                .bind(c.id)
                .bind(next_due)
                .execute(&mut *tx)
                .await?;
        }
        write_outbox(&mut *tx, &DomainEvent::check_changed("updated", c, changed)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_push_token(&self, id: Uuid, hash: &str) -> Result<()> {
        let done = sqlx::query("UPDATE checks SET push_token_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .execute(self.writer())
            .await?;
        if B::Db::rows_affected(&done) == 0 {
            return Err(StoreError::not_found(Entity::Check, id));
        }
        Ok(())
    }

    async fn delete_check(&self, id: Uuid) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let stored = fetch_check::<B>(&mut *tx, CHECK_FOR_UPDATE.get(B::KIND), id)
            .await?
            .ok_or(StoreError::not_found(Entity::Check, id))?;
        sqlx::query("DELETE FROM checks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_outbox(
            &mut *tx,
            &DomainEvent::check_changed("deleted", &stored.check, &[]),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn check_by_push_token(&self, hash: &str) -> Result<StoredCheck> {
        let row: Option<CheckRow> = sqlx::query_as(check_select!("WHERE c.push_token_hash = $1"))
            .bind(hash)
            .fetch_optional(self.reader())
            .await?;
        row.ok_or(StoreError::not_found(Entity::Check, "(push token)"))?
            .try_into()
    }

    async fn heartbeat_checks(&self) -> Result<Vec<Check>> {
        let rows: Vec<CheckRow> =
            sqlx::query_as(check_select!("WHERE c.kind = 'mqtt' AND c.paused = $1"))
                .bind(false)
                .fetch_all(self.reader())
                .await?;
        Ok(convert::<_, StoredCheck>(rows)?
            .into_iter()
            .map(|s| s.check)
            .collect())
    }

    async fn claim_due_checks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<StoredCheck>> {
        let mut tx = self.writer().begin().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(CLAIM_DUE.get(B::KIND))
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = fetch_checks::<B>(&mut tx, &ids, false).await?;
        tx.commit().await?;
        claimed.sort_by_key(|c| c.state.next_due_at);
        Ok(claimed)
    }

    async fn spread_overdue_checks(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.writer().begin().await?;
        let overdue: Vec<(Uuid, i32)> = sqlx::query_as(
            "SELECT s.check_id, c.interval_secs FROM check_status s JOIN checks c \
             ON c.id = s.check_id WHERE s.next_due_at < $1 AND \
             (s.lease_until IS NULL OR s.lease_until < $1)",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for (id, interval) in &overdue {
            sqlx::query("UPDATE check_status SET next_due_at = $2 WHERE check_id = $1")
                .bind(*id)
                .bind(spread(now, *id, *interval))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(overdue.len() as u64)
    }

    async fn record_check_results(
        &self,
        results: &[CheckResult],
    ) -> Result<Vec<RecordedTransition>> {
        let mut tx = self.writer().begin().await?;
        let mut transitions = Vec::new();
        for chunk in results.chunks(RECORD_CHUNK) {
            // The states of the chunk's checks, read (and on PostgreSQL locked) at once.
            let mut ids: Vec<Uuid> = chunk.iter().map(|r| r.check_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut checks: std::collections::HashMap<Uuid, StoredCheck> =
                fetch_checks::<B>(&mut tx, &ids, true)
                    .await?
                    .into_iter()
                    .map(|c| (c.check.id, c))
                    .collect();
            // Each result advances its check's state in order (a check can have several).
            let mut kept: Vec<&CheckResult> = Vec::with_capacity(chunk.len());
            let mut events = Vec::new();
            for r in chunk {
                let Some(stored) = checks.get_mut(&r.check_id) else {
                    continue;
                };
                let transition = stored.state.advance(&stored.check, r.at, &r.outcome);
                let mut day = match stored.day.take() {
                    Some(day) => day,
                    None => fill_day_counts::<B>(&mut tx, r.check_id, r.at).await?,
                };
                day.record(r.at, r.outcome.status);
                stored.day = Some(day);
                kept.push(r);
                if let Some(t) = transition.filter(|t| t.to != CheckStatus::Unknown) {
                    events.push(DomainEvent::check_state(
                        &stored.check,
                        stored.project_id,
                        &t,
                        r,
                    ));
                    transitions.push(RecordedTransition {
                        check: stored.check.clone(),
                        project_id: stored.project_id,
                        transition: t,
                        result: r.clone(),
                    });
                }
            }
            if kept.is_empty() {
                continue;
            }
            // Every state written back, its lease released: one statement.
            let mut q = QueryBuilder::<B::Db>::new(
                "UPDATE check_status SET status = v.column2, status_since = v.column3, \
                 failures = v.column4, last_checked_at = v.column5, last_latency_ms = v.column6, \
                 last_error = v.column7, cert_expires_at = v.column8, next_due_at = v.column9, \
                 lease_until = NULL, day_hour = v.column10, day_counts = v.column11 FROM (",
            );
            q.push_values(checks.values(), |mut row, c| {
                let s = &c.state;
                let day = c.day.clone().unwrap_or_default();
                row.push_bind(c.check.id)
                    .push_bind(s.status.as_str())
                    .push_bind(s.status_since)
                    .push_bind(s.failures)
                    .push_bind(s.last_checked_at)
                    .push_bind(s.last_latency_ms)
                    .push_bind(s.last_error.clone())
                    .push_bind(s.cert_expires_at)
                    .push_bind(s.next_due_at)
                    .push_bind(day.newest)
                    .push_bind(day.encode());
            });
            q.push(") AS v WHERE check_status.check_id = v.column1");
            q.build().persistent(false).execute(&mut *tx).await?;
            // The raw results.
            let mut q = QueryBuilder::<B::Db>::new(
                "INSERT INTO check_results (check_id, at, status, latency_ms, error) ",
            );
            q.push_values(&kept, |mut row, r| {
                row.push_bind(r.check_id)
                    .push_bind(r.at)
                    .push_bind(r.outcome.status.as_str())
                    .push_bind(r.outcome.latency_ms)
                    .push_bind(r.outcome.error.clone());
            });
            q.build().persistent(false).execute(&mut *tx).await?;
            // The hourly and daily counts.
            let mut q = QueryBuilder::<B::Db>::new(UPSERT_UPTIME);
            q.push_values(uptime_adds(kept.iter().copied()), |mut row, a| {
                row.push_bind(a.check_id)
                    .push_bind(a.resolution.as_str())
                    .push_bind(a.bucket)
                    .push_bind(a.up)
                    .push_bind(a.degraded)
                    .push_bind(a.down)
                    .push_bind(a.latency_sum)
                    .push_bind(a.latency_count)
                    .push_bind(a.latency_max);
            });
            q.push(UPSERT_UPTIME_CONFLICT);
            q.build().persistent(false).execute(&mut *tx).await?;
            // An event per transition, in order.
            write_outbox_all(&mut *tx, &events).await?;
        }
        tx.commit().await?;
        Ok(transitions)
    }

    async fn check_results(
        &self,
        id: Uuid,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<StoredResult>> {
        let rows: Vec<ResultRow> = sqlx::query_as(
            "SELECT at, status, latency_ms, error FROM check_results \
             WHERE check_id = $1 AND at >= $2 ORDER BY at DESC, id DESC LIMIT $3",
        )
        .bind(id)
        .bind(since)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        convert(rows)
    }

    async fn check_uptime(
        &self,
        id: Uuid,
        resolution: Resolution,
        since: DateTime<Utc>,
    ) -> Result<Vec<UptimeBucket>> {
        let rows: Vec<BucketRow> = sqlx::query_as(
            "SELECT bucket, up, degraded, down, latency_sum, latency_count, latency_max \
             FROM check_uptime WHERE check_id = $1 AND resolution = $2 AND bucket >= $3 \
             ORDER BY bucket",
        )
        .bind(id)
        .bind(resolution.as_str())
        .bind(since)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(UptimeBucket::from).collect())
    }

    async fn project_check_overview(&self, project_id: Uuid) -> Result<Vec<CheckOverview>> {
        let mut conn = self.reader().acquire().await?;
        crate::sql_store::require_project(&mut *conn, project_id).await?;
        // Only what the overview shows: no target or secrets to decode and validate per row
        // (a project with thousands of checks answers several times faster), and the day's
        // counts kept beside each check's state (not its 24 hourly buckets).
        let rows: Vec<OverviewRow> = sqlx::query_as(
            "SELECT c.id, c.component_id, c.name, c.kind, c.paused, c.drives_status, s.status, \
             s.status_since, s.failures, s.last_checked_at, s.last_latency_ms, s.last_error, \
             s.cert_expires_at, s.next_due_at, s.day_hour, s.day_counts FROM components p \
             JOIN checks c ON c.component_id = p.id JOIN check_status s ON s.check_id = c.id \
             WHERE p.project_id = $1 ORDER BY c.component_id, c.created_at, c.id",
        )
        .bind(project_id)
        .fetch_all(&mut *conn)
        .await?;
        convert(rows)
    }

    async fn prune_check_history(&self, retention: CheckRetention) -> Result<u64> {
        let mut tx = self.writer().begin().await?;
        let raw = sqlx::query("DELETE FROM check_results WHERE at < $1")
            .bind(retention.raw_before)
            .execute(&mut *tx)
            .await?;
        let hourly = sqlx::query("DELETE FROM check_uptime WHERE resolution = 'h' AND bucket < $1")
            .bind(retention.hourly_before)
            .execute(&mut *tx)
            .await?;
        let daily = sqlx::query("DELETE FROM check_uptime WHERE resolution = 'd' AND bucket < $1")
            .bind(retention.daily_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(B::Db::rows_affected(&raw)
            + B::Db::rows_affected(&hourly)
            + B::Db::rows_affected(&daily))
    }

    async fn enable_status_page(
        &self,
        project_id: Uuid,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        crate::sql_store::require_project(&mut *tx, project_id).await?;
        let existed = sqlx::query("SELECT 1 FROM status_pages WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        sqlx::query(
            "INSERT INTO status_pages (project_id, token_hash, enabled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id) DO UPDATE SET token_hash = excluded.token_hash",
        )
        .bind(project_id)
        .bind(token_hash)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|e| parent_missing(e, Entity::Project, project_id))?;
        let action = if existed {
            StatusPageAction::Regenerated
        } else {
            StatusPageAction::Enabled
        };
        write_outbox(&mut *tx, &DomainEvent::status_page(action, project_id, at)).await?;
        tx.commit().await?;
        Ok(existed)
    }

    async fn status_page_enabled_at(&self, project_id: Uuid) -> Result<Option<DateTime<Utc>>> {
        let mut conn = self.reader().acquire().await?;
        crate::sql_store::require_project(&mut *conn, project_id).await?;
        Ok(
            sqlx::query_scalar("SELECT enabled_at FROM status_pages WHERE project_id = $1")
                .bind(project_id)
                .fetch_optional(&mut *conn)
                .await?,
        )
    }

    async fn disable_status_page(&self, project_id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        crate::sql_store::require_project(&mut *tx, project_id).await?;
        let done = sqlx::query("DELETE FROM status_pages WHERE project_id = $1")
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        let was_on = B::Db::rows_affected(&done) > 0;
        if was_on {
            let event = DomainEvent::status_page(StatusPageAction::Disabled, project_id, at);
            write_outbox(&mut *tx, &event).await?;
        }
        tx.commit().await?;
        Ok(was_on)
    }

    async fn status_page_project(&self, token_hash: &str) -> Result<Option<Uuid>> {
        Ok(
            sqlx::query_scalar("SELECT project_id FROM status_pages WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    async fn status_page_projects(&self) -> Result<Vec<Uuid>> {
        Ok(
            sqlx::query_scalar("SELECT project_id FROM status_pages ORDER BY project_id")
                .fetch_all(self.reader())
                .await?,
        )
    }

    async fn status_page_data(
        &self,
        project_id: Uuid,
        history: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<StatusPageData> {
        let mut conn = self.reader().acquire().await?;
        let project_name: String = sqlx::query_scalar("SELECT name FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::not_found(Entity::Project, project_id))?;
        let rows: Vec<StatusRow> = sqlx::query_as(
            "SELECT p.id AS component_id, p.name AS component_name, s.status, c.paused, \
             s.last_checked_at FROM components p JOIN checks c ON c.component_id = p.id \
             JOIN check_status s ON s.check_id = c.id \
             WHERE p.project_id = $1 AND c.drives_status = $2 ORDER BY p.name, p.id",
        )
        .bind(project_id)
        .bind(true)
        .fetch_all(&mut *conn)
        .await?;
        let checks = rows
            .into_iter()
            .map(|r| {
                Ok(StatusCheckState {
                    component_id: r.component_id,
                    component_name: r.component_name,
                    status: parse(r.status)?,
                    paused: r.paused,
                    last_checked_at: r.last_checked_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut buckets = Vec::with_capacity(2);
        let windows = match history {
            Some((hourly_since, daily_since)) => vec![
                (Resolution::Hour, hourly_since),
                (Resolution::Day, daily_since),
            ],
            None => Vec::new(),
        };
        for (resolution, since) in windows {
            let rows: Vec<ComponentBucketRow> = sqlx::query_as(COMPONENT_BUCKETS)
                .bind(project_id)
                .bind(true)
                .bind(resolution.as_str())
                .bind(since)
                .fetch_all(&mut *conn)
                .await?;
            buckets.push(
                rows.into_iter()
                    .map(|r| ComponentBucket {
                        component_id: r.component_id,
                        bucket: r.bucket,
                        up: r.up,
                        degraded: r.degraded,
                        down: r.down,
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let daily = buckets.pop().unwrap_or_default();
        let hourly = buckets.pop().unwrap_or_default();
        Ok(StatusPageData {
            project_name,
            checks,
            hourly,
            daily,
            with_history: history.is_some(),
        })
    }
}
