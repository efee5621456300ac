//! Public status pages: a project's component states and uptime for anyone holding its link.
//!
//! The link carries a 256-bit random token; the store keeps only its SHA-256 (as for push
//! tokens), so the link is shown once and replaced (not recovered) when lost. Turning the page
//! off deletes the hash: the link answers "not found" from the next request on.
//!
//! What the page shows is deliberately little: the project's name, each component that has a
//! check driving its status (by name) with its state, its uptime over 24 hours and 30 days and
//! 30 daily bars. No check names, targets, hosts, URLs, errors or users: those can name internal
//! addresses. The answer is computed per project at most every [`CACHE_TTL`] (states), from
//! counts read at most every [`HISTORY_TTL`] (uptime and bars: tens of rows per check), so a
//! page on a wall screen (or many) costs little; the token is looked up on every request, so
//! turning the page off takes effect at once. A background task computes the counts of every
//! page that is on at start and every [`WARM_EVERY`], and, woken within [`WAKE_DELAY`], of a
//! page just turned on or whose project's checks changed, so no request (the first included)
//! waits for them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{CheckStatus, HourCount};
use storage::{ComponentBucket, Resolution, StatusPageData, StoreError};
use uuid::Uuid;

use super::overview::{component_status, share, shown_status};
use super::{Checks, Error};
use crate::identity::token;

/// How long a computed page is served again before it is computed anew (states).
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the counts behind the uptime figures and bars are reused: reading them is the
/// expensive part (tens of rows per check), and they move slowly.
pub const HISTORY_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// How often the background task recomputes the counts of every status page: well within
/// [`HISTORY_TTL`], so they never go stale between two passes.
pub const WARM_EVERY: std::time::Duration = std::time::Duration::from_secs(240);
/// How long the background task waits after being woken (a page turned on, a check changed),
/// so a burst of changes is computed once.
pub const WAKE_DELAY: std::time::Duration = std::time::Duration::from_millis(500);
/// Daily bars on the page (today included).
pub const DAYS: i64 = 30;

/// A project's public status page as its link shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicStatus {
    pub project_name: String,
    /// The worst state of the components (`up` when there are none).
    pub status: &'static str,
    pub components: Vec<PublicComponent>,
    /// The most recent run of any check shown.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// When this answer was computed.
    pub generated_at: DateTime<Utc>,
}

/// One component on a status page.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicComponent {
    pub name: String,
    /// `up`, `degraded`, `down`, `unknown` (no conclusive run yet) or `paused`.
    pub status: &'static str,
    /// Share of runs up or degraded over the last 24 hours; `None` without runs.
    pub uptime_24h: Option<f64>,
    /// The same over the last 30 days (whole UTC days, today included).
    pub uptime_30d: Option<f64>,
    /// One bar per UTC day, oldest first, [`DAYS`] of them.
    pub days: Vec<DayBar>,
}

/// One day of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct DayBar {
    pub day: NaiveDate,
    /// Share of runs up or degraded; `None` without runs.
    pub uptime: Option<f64>,
    /// Whether any run was down.
    pub outage: bool,
}

/// A status page's settings as its project's editors see them.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPageLink {
    /// The token of the new link, shown only now.
    pub token: String,
    /// Whether this replaced an earlier link (which stopped working).
    pub replaced: bool,
}

/// A project's page as last computed, and the counts it was computed from.
pub(super) struct Cached {
    page_at: Instant,
    page: Arc<PublicStatus>,
    history_at: Instant,
    history: Arc<(Vec<ComponentBucket>, Vec<ComponentBucket>)>,
}

/// Computed pages by project.
pub(super) type StatusCache = HashMap<Uuid, Cached>;

/// Up or degraded runs of all, as the overview shares them.
fn ratio(up: i64, degraded: i64, down: i64) -> Option<f64> {
    share(HourCount {
        good: up + degraded,
        all: up + degraded + down,
    })
}

/// Builds the page from what the store read (pure, so tests can feed it).
pub fn build(data: StatusPageData, now: DateTime<Utc>) -> PublicStatus {
    let first_day = Resolution::Day.bucket(now - Duration::days(DAYS - 1));
    let first_hour = Resolution::Hour.bucket(now - Duration::hours(23));
    // (component, what is shown of it, its checks' (state, paused)).
    type Gathered = (Uuid, PublicComponent, Vec<(CheckStatus, bool)>);
    let mut components: Vec<Gathered> = Vec::new();
    let mut last_checked_at: Option<DateTime<Utc>> = None;
    for c in data.checks {
        last_checked_at = last_checked_at.max(c.last_checked_at);
        match components.last_mut() {
            Some((id, _, states)) if *id == c.component_id => states.push((c.status, c.paused)),
            _ => components.push((
                c.component_id,
                PublicComponent {
                    name: c.component_name,
                    status: "unknown",
                    uptime_24h: None,
                    uptime_30d: None,
                    days: Vec::new(),
                },
                vec![(c.status, c.paused)],
            )),
        }
    }
    let hourly = by_component(data.hourly);
    let daily = by_component(data.daily);
    let mut out = Vec::with_capacity(components.len());
    for (id, mut c, states) in components {
        c.status = component_status(states.iter().map(|&(s, paused)| shown_status(paused, s)));
        // Only the buckets inside each window count, whatever the store sent.
        let sum = |buckets: &[ComponentBucket], since: DateTime<Utc>| {
            let (mut up, mut degraded, mut down) = (0, 0, 0);
            for b in buckets.iter().filter(|b| b.bucket >= since) {
                up += b.up;
                degraded += b.degraded;
                down += b.down;
            }
            ratio(up, degraded, down)
        };
        let hours = hourly.get(&id).map(Vec::as_slice).unwrap_or_default();
        let days = daily.get(&id).map(Vec::as_slice).unwrap_or_default();
        c.uptime_24h = sum(hours, first_hour);
        c.uptime_30d = sum(days, first_day);
        c.days = (0..DAYS)
            .map(|i| {
                let start = first_day + Duration::days(i);
                let b = days.iter().find(|b| b.bucket == start);
                DayBar {
                    day: start.date_naive(),
                    uptime: b.and_then(|b| ratio(b.up, b.degraded, b.down)),
                    outage: b.is_some_and(|b| b.down > 0),
                }
            })
            .collect();
        out.push(c);
    }
    let shown: Vec<&str> = out
        .iter()
        .map(|c| c.status)
        .filter(|s| *s != "paused")
        .collect();
    PublicStatus {
        project_name: data.project_name,
        status: if shown.is_empty() {
            "up"
        } else {
            component_status(shown)
        },
        components: out,
        last_checked_at,
        generated_at: now,
    }
}

fn by_component(buckets: Vec<ComponentBucket>) -> HashMap<Uuid, Vec<ComponentBucket>> {
    let mut map: HashMap<Uuid, Vec<ComponentBucket>> = HashMap::new();
    for b in buckets {
        map.entry(b.component_id).or_default().push(b);
    }
    map
}

impl Checks {
    /// Turns the project's status page on, or gives it a new link (the old one stops working).
    pub async fn enable_status_page(&self, project_id: Uuid) -> Result<StatusPageLink, Error> {
        let token = token::random_token().map_err(|e| Error::Internal(e.to_string()))?;
        let replaced = self
            .0
            .store
            .enable_status_page(project_id, &token::hash_token(&token), self.now())
            .await?;
        self.status_page_changed(project_id);
        Ok(StatusPageLink { token, replaced })
    }

    /// Turns the project's status page off; returns whether it was on.
    pub async fn disable_status_page(&self, project_id: Uuid) -> Result<bool, Error> {
        let was_on = self
            .0
            .store
            .disable_status_page(project_id, self.now())
            .await?;
        if let Ok(mut cache) = self.0.status_cache.lock() {
            cache.remove(&project_id);
        }
        Ok(was_on)
    }

    /// Since when the project's status page is on (`None`: off).
    pub async fn status_page_enabled_at(
        &self,
        project_id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self.0.store.status_page_enabled_at(project_id).await?)
    }

    /// The status page behind a link's token; `None` for a token no page has (wrong, replaced
    /// or turned off).
    pub async fn public_status(&self, token: &str) -> Result<Option<Arc<PublicStatus>>, Error> {
        let Some(project_id) = self
            .0
            .store
            .status_page_project(&token::hash_token(token))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(self.page(project_id, false).await?))
    }

    /// Computes the page of every project whose status page is on, counts included, so no
    /// visitor pays for reading them (see [`Checks::run_status_page_warmer`]).
    pub async fn warm_status_pages(&self) -> Result<(), Error> {
        for project_id in self.0.store.status_page_projects().await? {
            if let Err(e) = self.page(project_id, true).await {
                tracing::warn!(error = %e, %project_id, "status page: could not compute");
            }
        }
        Ok(())
    }

    /// Asks the background task to compute this project's page soon (if it is on): it was
    /// turned on, or the project's checks changed.
    pub(super) fn status_page_changed(&self, project_id: Uuid) {
        if let Ok(mut dirty) = self.0.status_dirty.lock() {
            dirty.insert(project_id);
        }
        self.0.status_wake.notify_one();
    }

    /// Computes the pages asked for since the last call (see `status_page_changed`) that
    /// are on, counts included.
    async fn warm_changed_status_pages(&self) {
        let projects: Vec<Uuid> = match self.0.status_dirty.lock() {
            Ok(mut dirty) => dirty.drain().collect(),
            Err(_) => Vec::new(),
        };
        for project_id in projects {
            let on = match self.0.store.status_page_enabled_at(project_id).await {
                Ok(at) => at.is_some(),
                // Deleted meanwhile.
                Err(StoreError::NotFound { .. }) => false,
                Err(e) => {
                    tracing::warn!(error = %e, %project_id, "status page: could not read");
                    false
                }
            };
            if on && let Err(e) = self.page(project_id, true).await {
                tracing::warn!(error = %e, %project_id, "status page: could not compute");
            }
        }
    }

    /// Keeps the counts of every status page fresh: computes them now and again before they
    /// are [`HISTORY_TTL`] old, and those of a page turned on (or whose checks changed)
    /// [`WAKE_DELAY`] after it was, so a request (the first included) only reads the states.
    pub async fn run_status_page_warmer(self) {
        let mut next_pass = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_pass {
                // Every page is computed now: what was asked for meanwhile is too.
                if let Ok(mut dirty) = self.0.status_dirty.lock() {
                    dirty.clear();
                }
                if let Err(e) = self.warm_status_pages().await {
                    tracing::warn!(error = %e, "status pages: could not list");
                }
                next_pass = tokio::time::Instant::now() + WARM_EVERY;
            }
            self.warm_changed_status_pages().await;
            tokio::select! {
                () = tokio::time::sleep_until(next_pass) => {}
                () = self.0.status_wake.notified() => tokio::time::sleep(WAKE_DELAY).await,
            }
        }
    }

    /// How many times the counts behind status pages were read (the expensive part).
    pub fn status_history_reads(&self) -> u64 {
        self.0.status_history_reads.load(Ordering::Relaxed)
    }

    /// The project's page: a fresh one as it is; else the counts, when fresh enough (and
    /// `refresh_history` is false), and only the states anew.
    async fn page(
        &self,
        project_id: Uuid,
        refresh_history: bool,
    ) -> Result<Arc<PublicStatus>, Error> {
        let (page, history) = match self.0.status_cache.lock() {
            Ok(cache) => match cache.get(&project_id) {
                Some(c) if !refresh_history => (
                    (c.page_at.elapsed() < CACHE_TTL).then(|| c.page.clone()),
                    (c.history_at.elapsed() < HISTORY_TTL)
                        .then(|| (c.history_at, c.history.clone())),
                ),
                _ => (None, None),
            },
            Err(_) => (None, None),
        };
        if let Some(page) = page {
            return Ok(page);
        }
        let now = self.now();
        let since = (
            Resolution::Hour.bucket(now - Duration::hours(23)),
            Resolution::Day.bucket(now - Duration::days(DAYS - 1)),
        );
        let mut data = self
            .0
            .store
            .status_page_data(project_id, history.is_none().then_some(since))
            .await?;
        // Counted once read (and, with no await from here on, cached by the time anyone sees
        // the count).
        if history.is_none() {
            self.0.status_history_reads.fetch_add(1, Ordering::Relaxed);
        }
        let (history_at, history) = match history {
            Some(h) => h,
            None => (
                Instant::now(),
                Arc::new((
                    std::mem::take(&mut data.hourly),
                    std::mem::take(&mut data.daily),
                )),
            ),
        };
        data.hourly.clone_from(&history.0);
        data.daily.clone_from(&history.1);
        let page = Arc::new(build(data, now));
        if let Ok(mut cache) = self.0.status_cache.lock() {
            cache.retain(|_, c| c.history_at.elapsed() < HISTORY_TTL);
            cache.insert(
                project_id,
                Cached {
                    page_at: Instant::now(),
                    page: page.clone(),
                    history_at,
                    history,
                },
            );
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::StatusCheckState;

    fn check(component: Uuid, name: &str, status: CheckStatus, paused: bool) -> StatusCheckState {
        StatusCheckState {
            component_id: component,
            component_name: name.into(),
            status,
            paused,
            last_checked_at: None,
        }
    }

    fn bucket(component: Uuid, at: DateTime<Utc>, up: i64, down: i64) -> ComponentBucket {
        ComponentBucket {
            component_id: component,
            bucket: at,
            up,
            degraded: 0,
            down,
        }
    }

    #[test]
    fn a_page_has_the_worst_state_per_component_and_thirty_days() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let (nas, router, cam) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let today = Resolution::Day.bucket(now);
        let page = build(
            StatusPageData {
                project_name: "lab".into(),
                checks: vec![
                    check(nas, "NAS", CheckStatus::Up, false),
                    check(nas, "NAS", CheckStatus::Degraded, false),
                    check(nas, "NAS", CheckStatus::Down, true),
                    check(router, "Router", CheckStatus::Down, true),
                    check(cam, "Camera", CheckStatus::Unknown, false),
                ],
                hourly: vec![bucket(nas, Resolution::Hour.bucket(now), 3, 1)],
                daily: vec![
                    bucket(nas, today, 3, 1),
                    bucket(nas, today - Duration::days(29), 10, 0),
                    // Before the window: not shown.
                    bucket(nas, today - Duration::days(30), 0, 10),
                ],
                with_history: true,
            },
            now,
        );
        let states: Vec<(&str, &str)> = page
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.status))
            .collect();
        assert_eq!(
            states,
            [
                ("NAS", "degraded"),
                ("Router", "paused"),
                ("Camera", "unknown")
            ]
        );
        assert_eq!(page.status, "degraded", "paused components do not count");
        let nas = &page.components[0];
        assert_eq!(nas.uptime_24h, Some(0.75));
        assert_eq!(nas.days.len(), 30);
        assert_eq!(nas.days[0].uptime, Some(1.0));
        assert_eq!(nas.days[29].day, now.date_naive());
        assert!(nas.days[29].outage);
        assert_eq!(nas.days[1].uptime, None);
        // 13 up of 14 in the window (the day before it is left out).
        assert_eq!(nas.uptime_30d, Some(0.928_571));
        assert_eq!(page.components[1].uptime_24h, None);
    }
}
