//! Alerts on both databases: channels with their secrets, rules, alert commits with their
//! events and notifications in one transaction, deduplication by fingerprint, version
//! conflicts, leasing and finishing notifications.

use std::sync::Arc;

use chrono::Duration;
use domain::{
    Alert, AlertRule, AlertState, Channel, DeliveryStatus, NewAlertRule, NewChannel, Notification,
    NotificationMessage, NotifyReason, Observation,
};
use serde_json::json;
use storage::{AlertCommit, AlertFilter, AlertWrite, DeliveryOutcome, Entity, Store, StoreError};

testsupport::on_both_backends!(
    channels_and_rules_round_trip,
    alert_changes_and_their_notifications_commit_together,
    notifications_are_leased_once_and_finished,
    what_the_rules_watch_reads_alike,
);

fn obj(v: serde_json::Value) -> domain::JsonObject {
    v.as_object().cloned().unwrap()
}

fn webhook() -> (Channel, domain::ChannelSecrets) {
    Channel::create(NewChannel {
        name: "hook".into(),
        kind: "webhook".into(),
        config: obj(json!({"url": "http://127.0.0.1:9/hook"})),
        secrets: [("signing_key".to_owned(), "k".repeat(32))].into(),
        enabled: None,
    })
    .unwrap()
}

fn rule(channels: Vec<uuid::Uuid>) -> AlertRule {
    AlertRule::create(NewAlertRule {
        name: "Check down".into(),
        kind: "check_down".into(),
        channels,
        ..Default::default()
    })
    .unwrap()
}

async fn outbox_kinds(store: &Arc<dyn Store>) -> Vec<String> {
    store
        .claim_outbox(1000, domain::now() + Duration::days(1))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn channels_and_rules_round_trip(store: Arc<dyn Store>) {
    let (c, s) = webhook();
    store.create_channel(&c, &s).await.unwrap();
    let got = store.get_channel(c.id).await.unwrap();
    assert_eq!(got.channel, c);
    assert_eq!(got.secrets, s);
    let mut c2 = c.clone();
    let kept = c2
        .replace(
            NewChannel {
                name: "hook 2".into(),
                kind: "webhook".into(),
                config: obj(json!({"url": "http://127.0.0.1:9/other"})),
                ..Default::default()
            },
            &s,
        )
        .unwrap();
    store.update_channel(&c2, &kept, Some(1)).await.unwrap();
    let err = store.update_channel(&c2, &kept, Some(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err}");
    assert_eq!(
        store.list_channels().await.unwrap()[0].channel.name,
        "hook 2"
    );

    let r = rule(vec![c.id]);
    store.create_rule(&r).await.unwrap();
    assert_eq!(store.get_rule(r.id).await.unwrap(), r);
    assert_eq!(store.list_rules().await.unwrap(), vec![r.clone()]);
    store.delete_rule(r.id, domain::now()).await.unwrap();
    assert!(matches!(
        store.get_rule(r.id).await.unwrap_err(),
        StoreError::NotFound {
            entity: Entity::AlertRule,
            ..
        }
    ));
    store.delete_channel(c.id).await.unwrap();
    let kinds = outbox_kinds(&store).await;
    for k in [
        "alert_channel.created",
        "alert_channel.updated",
        "alert_rule.created",
        "alert_rule.deleted",
        "alert_channel.deleted",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    // No secret travels in an event.
    let all = store
        .list_events(&domain::EventFilter::default(), 100)
        .await
        .unwrap();
    assert!(
        !format!("{:?}", all.events).contains(&"k".repeat(32)),
        "no secret in events"
    );
}

async fn alert_changes_and_their_notifications_commit_together(store: Arc<dyn Store>) {
    let (c, s) = webhook();
    store.create_channel(&c, &s).await.unwrap();
    let r = rule(vec![c.id]);
    store.create_rule(&r).await.unwrap();
    let now = domain::now();
    let seen = Observation {
        subject: "check:1".into(),
        summary: "nas is down".into(),
        labels: obj(json!({"check": "nas"})),
        since: None,
    };
    let mut a = Alert::raise(&r, &seen, now);
    a.observe(&r, Some(&seen), now);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.version, 1);
    let n = Notification::queue(
        &c,
        &a.group_key,
        NotificationMessage::render(NotifyReason::Firing, &[&a]),
        vec![a.id],
        now,
    );
    store
        .commit_alerts(&AlertCommit {
            alerts: vec![AlertWrite {
                alert: a.clone(),
                events: vec![a.state_event()],
            }],
            notifications: vec![n.clone()],
        })
        .await
        .unwrap();
    assert_eq!(store.get_alert(a.id).await.unwrap(), a);
    assert_eq!(store.active_alerts().await.unwrap(), vec![a.clone()]);
    let sent = store.alert_notifications(a.id).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].idempotency_key, n.idempotency_key);
    assert_eq!(sent[0].alert_ids, vec![a.id]);
    assert_eq!(sent[0].message, n.message);
    assert!(
        outbox_kinds(&store)
            .await
            .contains(&"alert.firing".to_owned())
    );

    // A second unresolved alert with the same fingerprint is refused (deduplication), and the
    // whole commit with it: its notification is not queued either.
    let mut dup = Alert::raise(&r, &seen, now);
    dup.observe(&r, Some(&seen), now);
    let n2 = Notification::queue(&c, &dup.group_key, n.message.clone(), vec![dup.id], now);
    let err = store
        .commit_alerts(&AlertCommit {
            alerts: vec![AlertWrite {
                alert: dup.clone(),
                events: vec![],
            }],
            notifications: vec![n2],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err}");
    assert_eq!(store.notification_backlog().await.unwrap(), 1);

    // Acknowledge from the stored version; a stale writer conflicts.
    let mut acked = a.clone();
    acked
        .acknowledge("ada", Some("switch replaced".into()), now)
        .unwrap();
    let write = |alert: &Alert| AlertCommit {
        alerts: vec![AlertWrite {
            alert: alert.clone(),
            events: vec![alert.person_event(true)],
        }],
        notifications: vec![],
    };
    store.commit_alerts(&write(&acked)).await.unwrap();
    let err = store.commit_alerts(&write(&acked)).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err}");
    let stored = store.get_alert(a.id).await.unwrap();
    assert_eq!(stored.ack.as_ref().unwrap().by, "ada");
    assert_eq!(
        stored.ack.as_ref().unwrap().note.as_deref(),
        Some("switch replaced")
    );

    // Resolve: it leaves the active list, and open-only lists.
    let mut resolved = stored.clone();
    resolved.observe(&r, None, now + Duration::seconds(5));
    resolved.notice = None;
    store.commit_alerts(&write(&resolved)).await.unwrap();
    assert!(store.active_alerts().await.unwrap().is_empty());
    let open = store
        .list_alerts(AlertFilter {
            open_only: true,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(open.is_empty());
    let all = store
        .list_alerts(AlertFilter {
            open_only: false,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state, AlertState::Resolved);
}

async fn notifications_are_leased_once_and_finished(store: Arc<dyn Store>) {
    let (c, s) = webhook();
    store.create_channel(&c, &s).await.unwrap();
    let now = domain::now();
    let notifications: Vec<Notification> = (0..5)
        .map(|_| Notification::queue(&c, "g", NotificationMessage::test("hook"), vec![], now))
        .collect();
    store
        .commit_alerts(&AlertCommit {
            alerts: vec![],
            notifications: notifications.clone(),
        })
        .await
        .unwrap();
    let lease = now + Duration::seconds(60);
    let first = store.claim_notifications(now, lease, 3).await.unwrap();
    assert_eq!(first.len(), 3);
    assert!(
        first
            .iter()
            .all(|c| c.channel.as_ref().unwrap().secrets == s)
    );
    let second = store.claim_notifications(now, lease, 10).await.unwrap();
    assert_eq!(second.len(), 2, "leased rows are not claimed twice");
    assert!(
        store
            .claim_notifications(now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // After the lease runs out (a crashed sender), the rows are claimed again.
    let later = lease + Duration::seconds(1);
    assert_eq!(
        store
            .claim_notifications(later, later + Duration::seconds(60), 10)
            .await
            .unwrap()
            .len(),
        5
    );
    let id = first[0].notification.id;
    store
        .finish_notification(id, &DeliveryOutcome::Sent { at: later })
        .await
        .unwrap();
    let retry = first[1].notification.id;
    store
        .finish_notification(
            retry,
            &DeliveryOutcome::Retry {
                next: later + Duration::seconds(30),
                error: "connection refused".into(),
            },
        )
        .await
        .unwrap();
    store
        .finish_notification(
            first[2].notification.id,
            &DeliveryOutcome::Failed {
                error: "gave up".into(),
            },
        )
        .await
        .unwrap();
    let listed = store.list_notifications(10).await.unwrap();
    let by_id = |id| listed.iter().find(|n| n.id == id).unwrap();
    assert_eq!(by_id(id).status, DeliveryStatus::Sent);
    assert_eq!(by_id(id).attempts, 1);
    assert_eq!(by_id(retry).status, DeliveryStatus::Queued);
    assert_eq!(
        by_id(retry).last_error.as_deref(),
        Some("connection refused")
    );
    assert_eq!(
        by_id(first[2].notification.id).status,
        DeliveryStatus::Failed
    );
    // Sent and failed rows are never claimed; the retry only when due.
    let due = later + Duration::seconds(61);
    let again = store
        .claim_notifications(due, due + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    assert!(again.iter().any(|c| c.notification.id == retry));
    assert_eq!(store.notification_backlog().await.unwrap(), 3);
}

/// The evaluator's inputs beyond checks: blocked components, dead letters in a window, and the
/// last backup's outcome from the mirrored `backup.*` events.
async fn what_the_rules_watch_reads_alike(store: Arc<dyn Store>) {
    let start = domain::now();
    assert!(store.blocked_components().await.unwrap().is_empty());
    assert_eq!(
        store
            .dead_letters_since(start - Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    let none = store.backup_outcomes().await.unwrap();
    assert!(none.last_success.is_none() && none.last_failure.is_none());

    let (project, component) = testsupport::project_with_component(&*store, "lab", "nas").await;
    let _other = testsupport::project_with_component(&*store, "lab 2", "pi").await;
    store
        .update_component(
            component,
            None,
            domain::ComponentPatch {
                status: Some(domain::ComponentStatus::Blocked),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let blocked = store.blocked_components().await.unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        (blocked[0].component_id, blocked[0].project_id),
        (component, project)
    );
    assert_eq!(blocked[0].name, "nas");

    let dead = |topic: &str| domain::NewDeadLetter {
        original_topic: topic.into(),
        reason: domain::DeadReason::InvalidJson,
        detail: "expected value".into(),
        payload: json!("{oops"),
        received_at: domain::now(),
        idempotency_key: None,
    };
    let backup = |kind: &str, key: &str, payload: serde_json::Value, at| domain::NewEvent {
        topic: "tracker/events/backups/x".into(),
        kind: kind.into(),
        trace_id: uuid::Uuid::new_v4(),
        idempotency_key: key.into(),
        source: domain::EventSource::Outbox,
        payload: payload.as_object().cloned().unwrap(),
        ts: at,
        received_at: at,
    };
    let failed_at = start - Duration::minutes(5);
    store
        .ingest(
            &[
                backup(
                    "backup.succeeded",
                    "b1",
                    json!({}),
                    start - Duration::hours(2),
                ),
                backup(
                    "backup.failed",
                    "b2",
                    json!({"error": "disk full"}),
                    failed_at,
                ),
            ],
            &[dead("tracker/events/a"), dead("tracker/events/b")],
        )
        .await
        .unwrap();
    let window = |m| start - Duration::minutes(m);
    assert_eq!(store.dead_letters_since(window(1)).await.unwrap(), 2);
    assert_eq!(
        store
            .dead_letters_since(domain::now() + Duration::minutes(1))
            .await
            .unwrap(),
        0
    );
    let o = store.backup_outcomes().await.unwrap();
    let (at, error) = o.last_failure.unwrap();
    assert_eq!(error, "disk full");
    assert!(
        (at - failed_at).num_milliseconds().abs() < 1,
        "{at} vs {failed_at}"
    );
    assert!(o.last_success.unwrap() < at);
}
