//! One evaluation of every enabled rule: what each rule sees now ([`observe`]), the alerts that
//! moves, and the notifications that fall due — committed together.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use domain::{
    Alert, AlertRule, AlertState, CheckStatus, JsonObject, Notification, NotificationMessage,
    NotifyReason, Observation, RuleCondition,
};
use serde_json::json;
use storage::{AlertCommit, AlertWrite, CheckAlertInput, StoreError, StoredChannel};
use uuid::Uuid;

use super::Alerts;

/// What the rules read this round, each source at most once.
#[derive(Default)]
struct Inputs {
    checks: Option<Vec<CheckAlertInput>>,
}

fn labels(v: serde_json::Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

/// What `rule` sees now: one observation per subject its condition holds for. `Err`: the
/// source could not be read, and the rule's alerts stay as they are this round.
async fn observe(
    alerts: &Alerts,
    rule: &AlertRule,
    inputs: &mut Inputs,
    now: DateTime<Utc>,
) -> Result<Vec<Observation>, String> {
    let store = &alerts.0.store;
    let err = |e: StoreError| e.to_string();
    Ok(match &rule.condition {
        RuleCondition::CheckDown {
            project_id,
            check_id,
        }
        | RuleCondition::CertExpiring {
            project_id,
            check_id,
            ..
        } => {
            if inputs.checks.is_none() {
                inputs.checks = Some(store.alert_check_inputs().await.map_err(err)?);
            }
            let checks = inputs.checks.as_deref().unwrap_or_default();
            let wanted = |c: &&CheckAlertInput| {
                !c.paused
                    && project_id.is_none_or(|p| p == c.project_id)
                    && check_id.is_none_or(|id| id == c.check_id)
            };
            let base = |c: &CheckAlertInput| {
                labels(json!({
                    "check": c.name, "check_id": c.check_id, "component": c.component_name,
                    "component_id": c.component_id, "project_id": c.project_id,
                }))
            };
            match &rule.condition {
                RuleCondition::CertExpiring { days, .. } => checks
                    .iter()
                    .filter(wanted)
                    .filter_map(|c| {
                        let expires = c.cert_expires_at?;
                        (expires - now <= Duration::days(*days)).then(|| {
                            let left = (expires - now).num_days();
                            let when = if expires <= now {
                                "has expired".to_owned()
                            } else {
                                format!("expires in {left} day{}", if left == 1 { "" } else { "s" })
                            };
                            Observation {
                                subject: format!("check:{}", c.check_id),
                                summary: format!(
                                    "{}: the certificate of {} {when} ({})",
                                    c.component_name,
                                    c.name,
                                    expires.format("%Y-%m-%d %H:%M UTC")
                                ),
                                labels: base(c),
                                since: None,
                            }
                        })
                    })
                    .collect(),
                _ => checks
                    .iter()
                    .filter(wanted)
                    .filter(|c| c.status == CheckStatus::Down)
                    .map(|c| Observation {
                        subject: format!("check:{}", c.check_id),
                        summary: match &c.last_error {
                            Some(e) => format!("{}: {} is down ({e})", c.component_name, c.name),
                            None => format!("{}: {} is down", c.component_name, c.name),
                        },
                        labels: base(c),
                        since: c.status_since,
                    })
                    .collect(),
            }
        }
        RuleCondition::ComponentBlocked { project_id } => store
            .blocked_components()
            .await
            .map_err(err)?
            .into_iter()
            .filter(|c| project_id.is_none_or(|p| p == c.project_id))
            .map(|c| Observation {
                subject: format!("component:{}", c.component_id),
                summary: format!("{} is blocked", c.name),
                labels: labels(json!({"component": c.name, "component_id": c.component_id,
                                      "project_id": c.project_id})),
                since: None,
            })
            .collect(),
        RuleCondition::DeadLetters {
            threshold,
            window_secs,
        } => {
            let n = store
                .dead_letters_since(now - Duration::seconds(*window_secs))
                .await
                .map_err(err)?;
            if n >= *threshold {
                vec![Observation {
                    subject: "dead_letters".into(),
                    summary: format!(
                        "{n} dead letter{} in the last {}",
                        if n == 1 { "" } else { "s" },
                        span(*window_secs)
                    ),
                    labels: labels(json!({"count": n})),
                    since: None,
                }]
            } else {
                Vec::new()
            }
        }
        RuleCondition::BackupFailed => {
            let o = store.backup_outcomes().await.map_err(err)?;
            match o.last_failure {
                Some((at, error)) if o.last_success.is_none_or(|s| s < at) => vec![Observation {
                    subject: "backup".into(),
                    summary: format!("the last backup failed: {error}"),
                    labels: labels(json!({"failed_at": at})),
                    since: Some(at),
                }],
                _ => Vec::new(),
            }
        }
        RuleCondition::BackupOverdue { max_age_secs } => {
            let o = store.backup_outcomes().await.map_err(err)?;
            let reference = o.last_success.unwrap_or(alerts.0.started);
            if now - reference > Duration::seconds(*max_age_secs) {
                vec![Observation {
                    subject: "backup".into(),
                    summary: match o.last_success {
                        Some(at) => format!(
                            "no backup succeeded since {} (more than {})",
                            at.format("%Y-%m-%d %H:%M UTC"),
                            span(*max_age_secs)
                        ),
                        None => format!("no backup succeeded in {}", span(*max_age_secs)),
                    },
                    labels: labels(json!({"last_success": o.last_success})),
                    since: None,
                }]
            } else {
                Vec::new()
            }
        }
        RuleCondition::BrokerLost => match alerts.0.settings.live.broker_connected() {
            Some(false) => vec![Observation {
                subject: "broker".into(),
                summary: "the event bus has lost its MQTT broker".into(),
                labels: JsonObject::new(),
                since: None,
            }],
            _ => Vec::new(),
        },
        RuleCondition::MetricThreshold {
            query,
            op,
            threshold,
        } => alerts
            .0
            .settings
            .live
            .query(query)
            .await?
            .into_iter()
            .filter(|(_, v)| op.holds(*v, *threshold))
            .map(|(series, v)| {
                let key: BTreeMap<&String, String> = series
                    .iter()
                    .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect();
                let shown: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                Observation {
                    subject: format!("series:{{{}}}", shown.join(",")),
                    summary: format!(
                        "{query}{{{}}} = {v} ({} {threshold})",
                        shown.join(","),
                        op.as_str()
                    ),
                    labels: series,
                    since: None,
                }
            })
            .collect(),
    })
}

fn span(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Evaluates every enabled rule, then flushes due notices; one commit.
pub(super) async fn evaluate(alerts: &Alerts) -> Result<usize, StoreError> {
    let store = &alerts.0.store;
    let now = alerts.now();
    let rules = store.list_rules().await?;
    let active = store.active_alerts().await?;
    let channels = store.list_channels().await?;
    let mut by_fingerprint: HashMap<String, Alert> = HashMap::new();
    let mut others: Vec<Alert> = Vec::new();
    for a in active {
        if a.is_open() && a.rule_id.is_some() {
            by_fingerprint.insert(a.fingerprint.clone(), a);
        } else {
            others.push(a);
        }
    }
    let mut inputs = Inputs::default();
    let mut touched: Vec<(Alert, i64, Option<domain::AlertChange>)> = Vec::new();
    for rule in &rules {
        let mine: Vec<String> = by_fingerprint
            .values()
            .filter(|a| a.rule_id == Some(rule.id))
            .map(|a| a.fingerprint.clone())
            .collect();
        if !rule.enabled {
            // A disabled rule's alerts resolve (its condition is no longer watched).
            for fp in mine {
                if let Some(mut a) = by_fingerprint.remove(&fp) {
                    let v = a.version;
                    let change = a.observe(rule, None, now);
                    a.notice = None;
                    touched.push((a, v, change));
                }
            }
            continue;
        }
        let seen = match observe(alerts, rule, &mut inputs, now).await {
            Ok(seen) => seen,
            Err(e) => {
                alerts.0.metrics.eval_errors.inc();
                tracing::warn!(rule = %rule.name, error = %e, "alerts: a rule could not be evaluated");
                continue;
            }
        };
        let mut left: std::collections::HashSet<String> = mine.into_iter().collect();
        for s in &seen {
            let fp = format!("{}:{}", rule.id, s.subject);
            left.remove(&fp);
            let (mut a, v) = match by_fingerprint.remove(&fp) {
                Some(a) => {
                    let v = a.version;
                    (a, v)
                }
                None => (Alert::raise(rule, s, now), 0),
            };
            let change = a.observe(rule, Some(s), now);
            touched.push((a, v, change));
        }
        for fp in left {
            if let Some(mut a) = by_fingerprint.remove(&fp) {
                let v = a.version;
                let change = a.observe(rule, None, now);
                touched.push((a, v, change));
            }
        }
    }
    // Alerts of rules that no longer exist stay as they are (deleting a rule resolves them).
    let mut all: Vec<(Alert, i64, Option<domain::AlertChange>)> = touched;
    for a in by_fingerprint.into_values().chain(others) {
        let v = a.version;
        all.push((a, v, None));
    }
    let notifications = flush(&mut all, &rules, &channels, now);
    let queued = notifications.len();
    let writes: Vec<AlertWrite> = all
        .into_iter()
        .filter(|(a, v, _)| a.version != *v)
        .map(|(a, v, change)| {
            let mut alert = a;
            // One stored version step per commit, whatever moved in between.
            alert.version = v + 1;
            let events = if change.is_some() {
                vec![alert.state_event()]
            } else {
                Vec::new()
            };
            AlertWrite { alert, events }
        })
        .collect();
    if writes.is_empty() && notifications.is_empty() {
        return Ok(0);
    }
    store
        .commit_alerts(&AlertCommit {
            alerts: writes,
            notifications,
        })
        .await?;
    Ok(queued)
}

/// Turns due notices into notifications: per group whose earliest notice is due, one message
/// about every alert of the group with a notice, to each enabled channel of the rule.
/// Silenced alerts' notices are dropped unsent.
fn flush(
    all: &mut [(Alert, i64, Option<domain::AlertChange>)],
    rules: &[AlertRule],
    channels: &[StoredChannel],
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let mut due_groups: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for (a, _, _) in all.iter_mut() {
        let Some(n) = a.notice else { continue };
        if a.silenced_at(now) || (n.reason == NotifyReason::Repeat && a.ack.is_some()) {
            a.notice = None;
            bump(a, now);
            continue;
        }
        let e = due_groups.entry(a.group_key.clone()).or_insert(n.due_at);
        *e = (*e).min(n.due_at);
    }
    let mut out = Vec::new();
    for (group, due) in due_groups {
        if due > now {
            continue;
        }
        let members: Vec<usize> = all
            .iter()
            .enumerate()
            .filter(|(_, (a, _, _))| a.group_key == group && a.notice.is_some())
            .map(|(i, _)| i)
            .collect();
        let rule = all[members[0]]
            .0
            .rule_id
            .and_then(|id| rules.iter().find(|r| r.id == id));
        let refs: Vec<&Alert> = members.iter().map(|i| &all[*i].0).collect();
        let reason = refs
            .iter()
            .filter_map(|a| a.notice.map(|n| n.reason))
            .min_by_key(|r| match r {
                NotifyReason::Firing => 0,
                NotifyReason::Repeat => 1,
                _ => 2,
            })
            .unwrap_or(NotifyReason::Firing);
        let message = NotificationMessage::render(reason, &refs);
        let ids: Vec<Uuid> = refs.iter().map(|a| a.id).collect();
        if let Some(rule) = rule {
            for id in &rule.channels {
                if let Some(c) = channels
                    .iter()
                    .find(|c| c.channel.id == *id && c.channel.enabled)
                {
                    out.push(Notification::queue(
                        &c.channel,
                        &group,
                        message.clone(),
                        ids.clone(),
                        now,
                    ));
                }
            }
        }
        for i in members {
            let a = &mut all[i].0;
            if a.state != AlertState::Resolved {
                a.last_notified_at = Some(now);
            }
            a.notice = None;
            bump(a, now);
        }
    }
    out
}

fn bump(a: &mut Alert, now: DateTime<Utc>) {
    a.version += 1;
    a.updated_at = now;
}
