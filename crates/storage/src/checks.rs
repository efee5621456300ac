//! Service checks: their definitions, their state between runs, raw results and hourly/daily
//! uptime counts ([`CheckStore`], queries in `sql_checks.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Check, CheckResult, CheckSecrets, CheckState, CheckStatus, DayCounts, Transition};
use uuid::Uuid;

use crate::{ExpectedVersion, Result};

/// A check with what is stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheck {
    pub check: Check,
    pub secrets: CheckSecrets,
    pub state: CheckState,
    /// The project of the check's component.
    pub project_id: Uuid,
    /// Whether a push token is set (push checks).
    pub has_push_token: bool,
    /// Its runs of the last 24 hours as kept beside its state; `None` until filled (a check
    /// made before they were kept).
    pub day: Option<DayCounts>,
}

/// A recorded result that changed its check's state.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedTransition {
    pub check: Check,
    pub project_id: Uuid,
    pub transition: Transition,
    pub result: CheckResult,
}

/// One stored raw result.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResult {
    pub at: DateTime<Utc>,
    pub status: CheckStatus,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

/// Hourly or daily counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Hour,
    Day,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Hour => "h",
            Resolution::Day => "d",
        }
    }

    /// The start of the bucket `at` falls in (UTC).
    pub fn bucket(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let step = match self {
            Resolution::Hour => 3600,
            Resolution::Day => 86_400,
        };
        let secs = at.timestamp().div_euclid(step) * step;
        DateTime::from_timestamp(secs, 0).unwrap_or(at)
    }
}

/// The counts of one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct UptimeBucket {
    pub bucket: DateTime<Utc>,
    pub up: i64,
    pub degraded: i64,
    pub down: i64,
    pub latency_sum: f64,
    pub latency_count: i64,
    pub latency_max: Option<f64>,
}

/// How long each kind of history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckRetention {
    pub raw_before: DateTime<Utc>,
    pub hourly_before: DateTime<Utc>,
    pub daily_before: DateTime<Utc>,
}

/// One check's part of a project's overview: its state and the counts of the last day.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOverview {
    pub check_id: Uuid,
    pub component_id: Uuid,
    pub name: String,
    /// `http`, `tcp`, ... ([`domain::CheckKind::as_str`]).
    pub kind: &'static str,
    pub paused: bool,
    pub drives_status: bool,
    pub state: CheckState,
    /// Its runs of the last 24 hours as last recorded (see [`DayCounts::window`]).
    pub day: DayCounts,
}

/// One driving check of a component on a public status page: its state only.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusCheckState {
    pub component_id: Uuid,
    pub component_name: String,
    pub status: CheckStatus,
    pub paused: bool,
    pub last_checked_at: Option<DateTime<Utc>>,
}

/// The counts of one bucket summed over a component's driving checks.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentBucket {
    pub component_id: Uuid,
    pub bucket: DateTime<Utc>,
    pub up: i64,
    pub degraded: i64,
    pub down: i64,
}

/// What a public status page is made of: the project's name, the state of every check that
/// drives its component's status (components by name), and their hourly and daily counts
/// summed per component. Nothing else is read (no targets, errors or check names).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPageData {
    pub project_name: String,
    pub checks: Vec<StatusCheckState>,
    pub hourly: Vec<ComponentBucket>,
    pub daily: Vec<ComponentBucket>,
    /// Whether the counts were read (`hourly` and `daily` are empty otherwise).
    pub with_history: bool,
}

#[async_trait]
pub trait CheckStore: Send + Sync {
    /// Stores a new check, its secrets and push token hash, and its first state (first run at
    /// `first_due`), with a `check.created` event.
    async fn create_check(
        &self,
        check: &Check,
        secrets: &CheckSecrets,
        push_token_hash: Option<&str>,
        first_due: DateTime<Utc>,
    ) -> Result<()>;
    async fn get_check(&self, id: Uuid) -> Result<StoredCheck>;
    /// The checks of a component, oldest first.
    async fn list_checks(&self, component_id: Uuid) -> Result<Vec<StoredCheck>>;
    /// Replaces a check's definition (after `Check::apply`) if its stored version is
    /// `expected`; `next_due` moves the next run (pausing: `None`), when given. Emits
    /// `check.updated` listing `changed`.
    async fn update_check(
        &self,
        check: &Check,
        secrets: &CheckSecrets,
        expected: ExpectedVersion,
        changed: &[&str],
        next_due: Option<Option<DateTime<Utc>>>,
    ) -> Result<()>;
    /// Replaces a push check's token hash.
    async fn set_push_token(&self, id: Uuid, hash: &str) -> Result<()>;
    async fn delete_check(&self, id: Uuid) -> Result<()>;
    /// The push check whose token has this hash.
    async fn check_by_push_token(&self, hash: &str) -> Result<StoredCheck>;
    /// MQTT heartbeat checks that are not paused.
    async fn heartbeat_checks(&self) -> Result<Vec<Check>>;
    /// Leases up to `limit` checks due at `now` (not paused, not leased) until `lease_until`,
    /// earliest due first, so no other scheduler runs them meanwhile.
    async fn claim_due_checks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<StoredCheck>>;
    /// Moves every overdue, unleased check to `now` plus an offset spread over its interval
    /// (a restart resumes without a burst); returns how many moved.
    async fn spread_overdue_checks(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Records results in one transaction: the raw rows, the hourly and daily counts, each
    /// check's new state (lease released) and its counts of the day, and an event per
    /// transition. Results of checks that no longer exist are skipped.
    async fn record_check_results(
        &self,
        results: &[CheckResult],
    ) -> Result<Vec<RecordedTransition>>;
    /// Raw results of a check with `at >= since`, newest first, at most `limit`.
    async fn check_results(
        &self,
        id: Uuid,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<StoredResult>>;
    /// A check's counts at `resolution` with `bucket >= since`, oldest first.
    async fn check_uptime(
        &self,
        id: Uuid,
        resolution: Resolution,
        since: DateTime<Utc>,
    ) -> Result<Vec<UptimeBucket>>;
    /// The state of every check of a project's components, with its runs of the last 24 hours
    /// (for the day's uptime bar), by component.
    async fn project_check_overview(&self, project_id: Uuid) -> Result<Vec<CheckOverview>>;
    /// Drops raw results and counts older than the retention; returns the rows deleted.
    async fn prune_check_history(&self, retention: CheckRetention) -> Result<u64>;

    /// Turns a project's public status page on with a link whose token has this hash, or
    /// replaces the hash when it is on (the old link stops working), with a
    /// `status_page.enabled|regenerated` event. Returns whether it was on before.
    async fn enable_status_page(
        &self,
        project_id: Uuid,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Since when a project's status page is on; `None` when off.
    async fn status_page_enabled_at(&self, project_id: Uuid) -> Result<Option<DateTime<Utc>>>;
    /// Turns a project's status page off (its link answers 404 from now), with a
    /// `status_page.disabled` event; returns whether it was on.
    async fn disable_status_page(&self, project_id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// The project whose status page link has a token with this hash.
    async fn status_page_project(&self, token_hash: &str) -> Result<Option<Uuid>>;
    /// The projects whose status page is on.
    async fn status_page_projects(&self) -> Result<Vec<Uuid>>;
    /// What the project's status page shows: the states, and with `history = (hourly_since,
    /// daily_since)` the hourly and daily counts from then (the expensive part, which callers
    /// may reuse longer).
    async fn status_page_data(
        &self,
        project_id: Uuid,
        history: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<StatusPageData>;
}
