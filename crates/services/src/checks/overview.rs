//! A project's checks at a glance (the canvas, the dashboard): every check's state and its
//! day, and per component the state its checks give it and its hour-by-hour uptime bar. The
//! rules here (a component's state, an uptime share) are the ones the public status page
//! uses too.

use chrono::{DateTime, Utc};
use domain::{CheckStatus, DAY_HOURS, HourCount};
use storage::CheckOverview;
use uuid::Uuid;

/// A check's state as shown: `paused` while paused, else its status.
pub fn shown_status(paused: bool, status: CheckStatus) -> &'static str {
    if paused { "paused" } else { status.as_str() }
}

/// How bad a shown state is (`down` worst); `paused` counts for nothing.
fn rank(status: &str) -> u8 {
    match status {
        "down" => 4,
        "degraded" => 3,
        "unknown" => 2,
        "up" => 1,
        _ => 0,
    }
}

/// A component's state from the shown states of the checks that drive it: the worst of them
/// (`down` > `degraded` > `unknown` > `up`), `paused` when all are paused, `unknown` without
/// any.
pub fn component_status<'a>(driving: impl IntoIterator<Item = &'a str>) -> &'static str {
    let mut worst: Option<&'static str> = None;
    let mut any = false;
    for s in driving {
        any = true;
        let s = ["down", "degraded", "unknown", "up"]
            .into_iter()
            .find(|k| *k == s);
        if let Some(s) = s
            && worst.is_none_or(|w| rank(s) > rank(w))
        {
            worst = Some(s);
        }
    }
    match (any, worst) {
        (false, _) => "unknown",
        (true, None) => "paused",
        (true, Some(w)) => w,
    }
}

/// `good / all` for the wire: at most six decimals, but never rounded to all up (1) while a
/// run failed, nor to none (0) while one succeeded.
pub fn share(count: HourCount) -> Option<f64> {
    let r = count.ratio()?;
    let rounded = (r * 1e6).round() / 1e6;
    Some(if count.good < count.all && rounded >= 1.0 {
        0.999_999
    } else if count.good > 0 && rounded <= 0.0 {
        0.000_001
    } else {
        rounded
    })
}

/// One check in a project's overview.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckLine {
    pub check: CheckOverview,
    /// [`shown_status`].
    pub status: &'static str,
    /// Its runs of the last 24 hours (current hour included).
    pub day: HourCount,
}

/// A component with checks in a project's overview.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentOverview {
    pub component_id: Uuid,
    /// [`component_status`] of its driving checks.
    pub status: &'static str,
    /// The runs of its driving checks, hour by hour: 24 hours, oldest first, the last the
    /// current hour.
    pub hours: [HourCount; DAY_HOURS],
    pub checks: Vec<CheckLine>,
}

impl ComponentOverview {
    /// The runs of its driving checks over the 24 hours.
    pub fn day(&self) -> HourCount {
        let mut sum = HourCount::default();
        for h in self.hours {
            sum += h;
        }
        sum
    }
}

/// Groups a project's checks (as the store lists them: by component) into components, seen
/// at `now`.
pub fn build(checks: Vec<CheckOverview>, now: DateTime<Utc>) -> Vec<ComponentOverview> {
    let mut out: Vec<ComponentOverview> = Vec::new();
    for check in checks {
        let hours = check.day.window(now);
        let mut day = HourCount::default();
        for h in hours {
            day += h;
        }
        let line = CheckLine {
            status: shown_status(check.paused, check.state.status),
            day,
            check,
        };
        let component = match out.last_mut() {
            Some(last) if last.component_id == line.check.component_id => last,
            _ => {
                out.push(ComponentOverview {
                    component_id: line.check.component_id,
                    status: "unknown",
                    hours: [HourCount::default(); DAY_HOURS],
                    checks: Vec::new(),
                });
                let Some(last) = out.last_mut() else {
                    unreachable!("just pushed")
                };
                last
            }
        };
        if line.check.drives_status {
            for (sum, h) in component.hours.iter_mut().zip(hours) {
                *sum += h;
            }
        }
        component.checks.push(line);
    }
    for c in &mut out {
        c.status = component_status(
            c.checks
                .iter()
                .filter(|l| l.check.drives_status)
                .map(|l| l.status),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{CheckState, DayCounts};

    fn check(component: Uuid, status: CheckStatus, paused: bool, drives: bool) -> CheckOverview {
        CheckOverview {
            check_id: Uuid::new_v4(),
            component_id: component,
            name: "c".into(),
            kind: "tcp",
            paused,
            drives_status: drives,
            state: CheckState {
                status,
                ..Default::default()
            },
            day: DayCounts::default(),
        }
    }

    #[test]
    fn a_component_takes_the_worst_of_its_driving_checks() {
        assert_eq!(component_status([]), "unknown");
        assert_eq!(component_status(["paused", "paused"]), "paused");
        assert_eq!(component_status(["paused", "up"]), "up");
        assert_eq!(component_status(["up", "unknown", "degraded"]), "degraded");
        assert_eq!(component_status(["degraded", "down", "up"]), "down");
    }

    #[test]
    fn shares_never_round_a_failure_away() {
        let share_of = |good, all| share(HourCount { good, all });
        assert_eq!(share_of(0, 0), None);
        assert_eq!(share_of(3, 4), Some(0.75));
        assert_eq!(share_of(2, 3), Some(0.666_667));
        assert_eq!(share_of(9_999_999, 10_000_000), Some(0.999_999));
        assert_eq!(share_of(1, 10_000_000), Some(0.000_001));
    }

    #[test]
    fn components_sum_their_driving_checks_hour_by_hour() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let (nas, cam) = (Uuid::new_v4(), Uuid::new_v4());
        let mut a = check(nas, CheckStatus::Up, false, true);
        a.day.record(now, CheckStatus::Up);
        a.day
            .record(now - chrono::Duration::hours(1), CheckStatus::Down);
        let mut b = check(nas, CheckStatus::Down, false, false);
        b.day.record(now, CheckStatus::Down);
        let c = check(cam, CheckStatus::Down, true, true);
        let out = build(vec![a, b, c], now);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].status, "up",
            "a check that does not drive it does not count"
        );
        assert_eq!(out[0].hours[23], HourCount { good: 1, all: 1 });
        assert_eq!(out[0].hours[22], HourCount { good: 0, all: 1 });
        assert_eq!(out[0].day(), HourCount { good: 1, all: 2 });
        assert_eq!(out[0].checks[1].day, HourCount { good: 0, all: 1 });
        assert_eq!(out[1].status, "paused");
        assert_eq!(out[1].checks[0].status, "paused");
    }
}
