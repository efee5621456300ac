//! Service checks on both databases: definitions with their secrets, leases, recorded results
//! with transitions and events, uptime counts, spreading after a restart, retention. The
//! alerts suite (`alerts/`: rules watch checks) is a module of this test binary.
#![allow(clippy::unwrap_used)]

mod alerts;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::{
    Check, CheckPatch, CheckResult, CheckRules, CheckStatus, DayCounts, NewCheck, Outcome,
};
use serde_json::json;
use storage::{CheckRetention, Entity, Resolution, Store, StoreError};
use uuid::Uuid;

testsupport::on_both_backends!(
    checks_round_trip_with_secrets_apart,
    leases_results_transitions_and_uptime,
    overdue_checks_are_spread_and_history_pruned,
    a_large_batch_is_recorded_like_its_results_one_by_one,
);

async fn component(store: &Arc<dyn Store>) -> (Uuid, Uuid) {
    testsupport::project_with_component(&**store, "lab", "nas").await
}

fn new_check(kind: &str, target: serde_json::Value) -> NewCheck {
    NewCheck {
        kind: kind.into(),
        target: target.as_object().cloned().unwrap(),
        ..Default::default()
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

async fn checks_round_trip_with_secrets_apart(store: Arc<dyn Store>) {
    let (_, component_id) = component(&store).await;
    let rules = CheckRules::default();
    let (check, secrets) = Check::create(
        component_id,
        new_check(
            "http",
            json!({"url": "https://nas.lan", "headers": [
                {"name": "Authorization", "value": "Bearer s3cret"}]}),
        ),
        &rules,
    )
    .unwrap();
    store
        .create_check(&check, &secrets, None, domain::now())
        .await
        .unwrap();
    let stored = store.get_check(check.id).await.unwrap();
    assert_eq!(stored.check, check);
    assert_eq!(stored.secrets, secrets);
    assert_eq!(stored.state.status, CheckStatus::Unknown);
    assert!(!stored.has_push_token);
    assert_eq!(store.list_checks(component_id).await.unwrap().len(), 1);

    let (push, _) = Check::create(component_id, new_check("push", json!({})), &rules).unwrap();
    let hash = "a".repeat(64);
    store
        .create_check(&push, &Default::default(), Some(&hash), domain::now())
        .await
        .unwrap();
    assert_eq!(
        store.check_by_push_token(&hash).await.unwrap().check.id,
        push.id
    );
    assert!(matches!(
        store.check_by_push_token(&"b".repeat(64)).await,
        Err(StoreError::NotFound { .. })
    ));

    let mut changed = stored.check.clone();
    let (fields, kept) = changed
        .apply(
            CheckPatch {
                paused: Some(true),
                interval_secs: Some(120),
                ..Default::default()
            },
            &stored.secrets,
            &rules,
        )
        .unwrap();
    store
        .update_check(&changed, &kept, Some(1), &fields, Some(None))
        .await
        .unwrap();
    let again = store.get_check(check.id).await.unwrap();
    assert!(again.check.paused);
    assert_eq!(again.check.version, 2);
    assert_eq!(again.state.next_due_at, None, "paused: never due");
    assert_eq!(again.secrets, secrets, "secrets kept");
    let stale = store
        .update_check(&changed, &kept, Some(1), &fields, None)
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::VersionConflict { .. }),
        "{stale:?}"
    );

    // Events name the check, never its target or headers.
    let outbox = store
        .claim_outbox(100, domain::now() + Duration::days(1))
        .await
        .unwrap();
    let kinds: Vec<&str> = outbox.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"check.created") && kinds.contains(&"check.updated"));
    assert!(outbox.iter().all(|e| {
        !serde_json::to_string(&e.payload)
            .unwrap()
            .contains("s3cret")
    }));

    store.delete_check(check.id).await.unwrap();
    assert!(matches!(
        store.get_check(check.id).await,
        Err(StoreError::NotFound {
            entity: Entity::Check,
            ..
        })
    ));
    let unknown = store.list_checks(Uuid::new_v4()).await.unwrap_err();
    assert!(matches!(unknown, StoreError::NotFound { .. }));
}

async fn leases_results_transitions_and_uptime(store: Arc<dyn Store>) {
    let (project_id, component_id) = component(&store).await;
    let mut new = new_check("tcp", json!({"host": "127.0.0.1", "port": 9}));
    new.retries = Some(1);
    let (check, _) = Check::create(component_id, new, &CheckRules::default()).unwrap();
    store
        .create_check(&check, &Default::default(), None, at(0))
        .await
        .unwrap();

    assert!(
        store
            .claim_due_checks(at(-1), at(90), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store.claim_due_checks(at(0), at(90), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .claim_due_checks(at(1), at(91), 10)
            .await
            .unwrap()
            .is_empty(),
        "leased: not claimed twice"
    );

    let result = |secs: i64, outcome: Outcome| CheckResult {
        check_id: check.id,
        at: at(secs),
        outcome,
    };
    let t = store
        .record_check_results(&[result(0, Outcome::up(12.0))])
        .await
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].transition.to, CheckStatus::Up);
    assert_eq!(t[0].project_id, project_id);
    let s = store.get_check(check.id).await.unwrap().state;
    assert_eq!(s.next_due_at, Some(at(60)));
    assert_eq!(s.last_latency_ms, Some(12.0));
    assert_eq!(
        store
            .claim_due_checks(at(60), at(150), 10)
            .await
            .unwrap()
            .len(),
        1,
        "the lease was released"
    );

    // One failure is retried, the second makes it down; both are kept with their errors.
    let none = store
        .record_check_results(&[result(60, Outcome::down("connection refused"))])
        .await
        .unwrap();
    assert!(none.is_empty(), "a retry is no transition");
    let t = store
        .record_check_results(&[
            result(120, Outcome::down("connection refused")),
            result(3700, Outcome::up(20.0)),
        ])
        .await
        .unwrap();
    let to: Vec<CheckStatus> = t.iter().map(|t| t.transition.to).collect();
    assert_eq!(to, [CheckStatus::Down, CheckStatus::Up]);
    let outbox = store
        .claim_outbox(100, domain::now() + Duration::days(1))
        .await
        .unwrap();
    let down = outbox
        .iter()
        .find(|e| e.topic == "tracker/events/checks/down")
        .expect("a down event");
    assert_eq!(down.kind, "check.down");
    assert_eq!(down.payload["error"], "connection refused");
    assert_eq!(down.payload["component_id"], json!(component_id));
    assert!(outbox.iter().any(|e| e.topic == "tracker/events/checks/up"));

    let raw = store.check_results(check.id, at(0), 10).await.unwrap();
    assert_eq!(raw.len(), 4);
    assert_eq!(raw[0].at, at(3700), "newest first");
    assert_eq!(raw[1].error.as_deref(), Some("connection refused"));

    let hours = store
        .check_uptime(check.id, Resolution::Hour, at(-7200))
        .await
        .unwrap();
    let first = hours
        .iter()
        .find(|b| b.bucket == Resolution::Hour.bucket(at(0)))
        .unwrap();
    assert_eq!((first.up, first.down), (1, 2));
    assert_eq!(first.latency_max, Some(12.0));
    let days = store
        .check_uptime(check.id, Resolution::Day, at(-86_400 * 2))
        .await
        .unwrap();
    let total: i64 = days.iter().map(|b| b.up + b.down + b.degraded).sum();
    assert_eq!(total, 4);
    assert_eq!(days.iter().map(|b| b.latency_count).sum::<i64>(), 2);

    let overview = store.project_check_overview(project_id).await.unwrap();
    assert_eq!(overview.len(), 1);
    assert_eq!(overview[0].state.status, CheckStatus::Up);
    // The day's counts come along: (up or degraded, all) per hour, the current hour last.
    let counts = |day: &DayCounts, now: i64| -> Vec<(i64, i64)> {
        day.window(at(now))
            .iter()
            .map(|h| (h.good, h.all))
            .collect()
    };
    let mut expected = vec![(0, 0); 22];
    expected.extend([(1, 3), (1, 1)]);
    assert_eq!(counts(&overview[0].day, 3700), expected);
    // A day later they have left the window.
    assert_eq!(counts(&overview[0].day, 3700 + 86_400), vec![(0, 0); 24]);
    // Another project's overview has none of them.
    let (other, _) = component(&store).await;
    assert!(
        store
            .project_check_overview(other)
            .await
            .unwrap()
            .is_empty()
    );

    // Counts not kept yet (a check from before they were, as a restored older backup has it):
    // the next result fills them from the hourly buckets first.
    let mut rows = testsupport::export_rows(&*store).await;
    for (t, r) in &mut rows {
        if t.name == "check_status" {
            r.insert("day_hour".into(), serde_json::Value::Null);
            r.insert("day_counts".into(), serde_json::Value::Null);
        }
    }
    store
        .import(&mut rows.into_iter().map(Ok), true)
        .await
        .unwrap();
    let before = store.project_check_overview(project_id).await.unwrap();
    assert_eq!(before[0].day, DayCounts::default());
    store
        .record_check_results(&[result(3800, Outcome::up(1.0))])
        .await
        .unwrap();
    let after = store.project_check_overview(project_id).await.unwrap();
    expected[23] = (2, 2);
    assert_eq!(counts(&after[0].day, 3800), expected);

    // A result for a check deleted meanwhile is dropped quietly.
    store.delete_check(check.id).await.unwrap();
    assert!(
        store
            .record_check_results(&[result(4000, Outcome::up(1.0))])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn overdue_checks_are_spread_and_history_pruned(store: Arc<dyn Store>) {
    let (_, component_id) = component(&store).await;
    let mut ids = Vec::new();
    for port in 1..=20 {
        let (check, _) = Check::create(
            component_id,
            new_check("tcp", json!({"host": "127.0.0.1", "port": port})),
            &CheckRules::default(),
        )
        .unwrap();
        store
            .create_check(&check, &Default::default(), None, at(0))
            .await
            .unwrap();
        ids.push(check.id);
    }
    // Down for an hour: all twenty are overdue; they resume spread over a minute, not at once.
    let moved = store.spread_overdue_checks(at(3600)).await.unwrap();
    assert_eq!(moved, 20);
    assert!(
        store
            .claim_due_checks(at(3599), at(3700), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let first_ten_secs = store
        .claim_due_checks(at(3610), at(3700), 100)
        .await
        .unwrap()
        .len();
    assert!(
        first_ten_secs < 12,
        "{first_ten_secs} of 20 due in the first 10 s"
    );
    let all = store
        .claim_due_checks(at(3660), at(3700), 100)
        .await
        .unwrap()
        .len();
    assert_eq!(first_ten_secs + all, 20);

    let results: Vec<CheckResult> = ids
        .iter()
        .map(|id| CheckResult {
            check_id: *id,
            at: at(3600),
            outcome: Outcome::up(1.0),
        })
        .collect();
    store.record_check_results(&results).await.unwrap();
    let pruned = store
        .prune_check_history(CheckRetention {
            raw_before: at(3600) + Duration::seconds(1),
            hourly_before: at(0),
            daily_before: at(-2 * 86_400),
        })
        .await
        .unwrap();
    assert_eq!(pruned, 20, "raw rows go first, counts stay");
    assert!(
        store
            .check_results(ids[0], at(0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .check_uptime(ids[0], Resolution::Hour, at(0))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A batch larger than one statement takes (the store writes results in chunks), with checks
/// that have several results in it, in and across chunks, and one deleted meanwhile: every
/// result counts once, in order, as if recorded alone.
async fn a_large_batch_is_recorded_like_its_results_one_by_one(store: Arc<dyn Store>) {
    let (project_id, component_id) = component(&store).await;
    let mut ids = Vec::new();
    for port in 1..=150 {
        let (check, _) = Check::create(
            component_id,
            new_check("tcp", json!({"host": "127.0.0.1", "port": port})),
            &CheckRules::default(),
        )
        .unwrap();
        store
            .create_check(&check, &Default::default(), None, at(0))
            .await
            .unwrap();
        ids.push(check.id);
    }
    let gone = ids.pop().unwrap();
    store.delete_check(gone).await.unwrap();
    // Per check: up at 0 s, down at 60 s (in the same chunk for the first checks, in the
    // next one for the others), up again an hour later; the deleted check's results are
    // dropped.
    let result = |id: Uuid, secs: i64, outcome: Outcome| CheckResult {
        check_id: id,
        at: at(secs),
        outcome,
    };
    let mut batch = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        batch.push(result(*id, 0, Outcome::up(i as f64)));
        if i < 20 {
            batch.push(result(*id, 60, Outcome::down("refused")));
        }
    }
    batch.push(result(gone, 0, Outcome::up(1.0)));
    for id in &ids[20..] {
        batch.push(result(*id, 60, Outcome::down("refused")));
    }
    for id in &ids {
        batch.push(result(*id, 3600, Outcome::up(5.0)));
    }
    assert!(batch.len() > 400);
    let t = store.record_check_results(&batch).await.unwrap();
    assert_eq!(t.len(), ids.len() * 3, "up, down, up for each check");
    for (i, id) in ids.iter().enumerate() {
        let mine: Vec<CheckStatus> = t
            .iter()
            .filter(|t| t.check.id == *id)
            .map(|t| t.transition.to)
            .collect();
        assert_eq!(
            mine,
            [CheckStatus::Up, CheckStatus::Down, CheckStatus::Up],
            "check {i}"
        );
        assert!(t.iter().all(|t| t.project_id == project_id));
    }
    let outbox = store
        .claim_outbox(10_000, domain::now() + Duration::days(1))
        .await
        .unwrap();
    let state_events = |topic: &str| outbox.iter().filter(|e| e.topic == topic).count();
    assert_eq!(state_events("tracker/events/checks/up"), ids.len() * 2);
    assert_eq!(state_events("tracker/events/checks/down"), ids.len());

    for (i, id) in ids.iter().enumerate() {
        let s = store.get_check(*id).await.unwrap();
        assert_eq!(s.state.status, CheckStatus::Up, "check {i}");
        assert_eq!(s.state.last_checked_at, Some(at(3600)));
        assert_eq!(s.state.last_latency_ms, Some(5.0));
        assert_eq!(s.state.last_error, None);
        assert_eq!(s.state.next_due_at, Some(at(3660)));
        let raw = store.check_results(*id, at(0), 10).await.unwrap();
        assert_eq!(raw.len(), 3, "check {i}");
        assert_eq!(raw[1].error.as_deref(), Some("refused"));
        let hours = store
            .check_uptime(*id, Resolution::Hour, at(-7200))
            .await
            .unwrap();
        let first = hours
            .iter()
            .find(|b| b.bucket == Resolution::Hour.bucket(at(0)))
            .unwrap();
        assert_eq!((first.up, first.down, first.latency_count), (1, 1, 1));
        assert_eq!(first.latency_sum, i as f64);
        assert_eq!(first.latency_max, Some(i as f64));
        let days: i64 = store
            .check_uptime(*id, Resolution::Day, at(-86_400 * 2))
            .await
            .unwrap()
            .iter()
            .map(|b| b.up + b.down + b.degraded)
            .sum();
        assert_eq!(days, 3);
    }
    let overview = store.project_check_overview(project_id).await.unwrap();
    assert_eq!(overview.len(), ids.len());
    for c in &overview {
        let window = c.day.window(at(3600));
        assert_eq!((window[22].good, window[22].all), (1, 2));
        assert_eq!((window[23].good, window[23].all), (1, 1));
    }
    assert!(
        store
            .check_results(gone, at(-60), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
