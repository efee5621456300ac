//! Application logs (`LogStore`) on both databases: filters, paging totals, stats, retention.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use domain::{LogFilter, NewLogRecord};
use storage::{Entity, Store, StoreError};

testsupport::on_both_backends!(
    logs_round_trip_with_every_field,
    logs_filter_search_and_page,
    logs_stats_group_and_rate_errors_by_hour,
    logs_are_pruned_per_level,
    metric_samples_round_trip_window_and_prune,
    large_batches_are_written_whole,
);

fn record(level: &str, service: &str, category: &str, message: &str) -> NewLogRecord {
    NewLogRecord {
        timestamp: domain::now(),
        level: level.into(),
        service: service.into(),
        category: category.into(),
        severity: domain::default_severity(level).into(),
        message: message.into(),
        environment: "test".into(),
        version: "0.1.0".into(),
        host_name: "host".into(),
        ..NewLogRecord::default()
    }
}

async fn logs_round_trip_with_every_field(store: Arc<dyn Store>) {
    let full = NewLogRecord {
        // Characters COPY's text format escapes, and non-ASCII.
        details: Some("tab\there, line\nbreak, cr\r, back\\slash \\N, ünïcödé".into()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        request_id: Some("7d0b6f0e-0000-4000-8000-000000000001".into()),
        user_id: Some("2b1c7e4e-0000-4000-8000-000000000002".into()),
        endpoint: Some("/api/v1/projects".into()),
        method: Some("GET".into()),
        status_code: Some(200),
        duration_ms: Some(12),
        error_code: Some("E".into()),
        stack_trace: Some("at main\n  at start".into()),
        context: serde_json::json!({"target": "x", "n": 1, "quote": "a\"b\\c\td"})
            .as_object()
            .unwrap()
            .clone(),
        ..record("INFO", "taylordash-backend", "API", "hello")
    };
    assert_eq!(
        store
            .insert_logs(std::slice::from_ref(&full))
            .await
            .unwrap(),
        1
    );
    let page = store.list_logs(&LogFilter::default(), 10, 0).await.unwrap();
    assert_eq!(page.total, 1);
    let got = &page.logs[0];
    assert_eq!(got.record, full);
    assert_eq!(store.get_log(got.id).await.unwrap().record, full);
    assert!(matches!(
        store.get_log(got.id + 100).await,
        Err(StoreError::NotFound {
            entity: Entity::LogRecord,
            ..
        })
    ));
    assert_eq!(store.insert_logs(&[]).await.unwrap(), 0);
}

async fn logs_filter_search_and_page(store: Arc<dyn Store>) {
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.push(NewLogRecord {
            timestamp: domain::now() - Duration::minutes(10 - i),
            ..record("INFO", "taylordash-backend", "API", &format!("request {i}"))
        });
    }
    batch.push(NewLogRecord {
        details: Some("Disk FULL at 100%".into()),
        trace_id: Some("trace-1".into()),
        ..record("ERROR", "taylordash-backend", "DATABASE", "write failed")
    });
    batch.push(record(
        "WARN",
        "taylordash-frontend",
        "FRONTEND",
        "slow_render 50%",
    ));
    store.insert_logs(&batch).await.unwrap();
    let list = |f: LogFilter, limit, offset| {
        let store = store.clone();
        async move { store.list_logs(&f, limit, offset).await.unwrap() }
    };
    let all = list(LogFilter::default(), 100, 0).await;
    assert_eq!(all.total, 7);
    // Newest first.
    let times: Vec<_> = all.logs.iter().map(|l| l.record.timestamp).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);

    let page = list(LogFilter::default(), 3, 3).await;
    assert_eq!((page.total, page.logs.len()), (7, 3));
    assert_eq!(page.logs[0].id, all.logs[3].id);

    let by_level = list(
        LogFilter {
            levels: vec!["INFO".into()],
            ..LogFilter::default()
        },
        2,
        0,
    )
    .await;
    assert_eq!((by_level.total, by_level.logs.len()), (5, 2));
    let not_info = list(
        LogFilter {
            levels: vec!["ERROR".into(), "WARN".into()],
            ..LogFilter::default()
        },
        10,
        0,
    )
    .await;
    assert_eq!(
        not_info.total, 2,
        "warnings and errors: all but the 5 INFO records"
    );
    assert!(not_info.logs.iter().all(|l| l.record.level != "INFO"));

    let f = |service: Option<&str>, category: Option<&str>, search: Option<&str>| LogFilter {
        service: service.map(Into::into),
        category: category.map(Into::into),
        search: search.map(Into::into),
        ..LogFilter::default()
    };
    assert_eq!(
        list(f(Some("taylordash-frontend"), None, None), 10, 0)
            .await
            .total,
        1
    );
    assert_eq!(list(f(None, Some("DATABASE"), None), 10, 0).await.total, 1);
    // Case-insensitive, in message or details, wildcards literal.
    assert_eq!(list(f(None, None, Some("disk full")), 10, 0).await.total, 1);
    assert_eq!(list(f(None, None, Some("REQUEST")), 10, 0).await.total, 5);
    assert_eq!(list(f(None, None, Some("50%")), 10, 0).await.total, 1);
    assert_eq!(list(f(None, None, Some("100%")), 10, 0).await.total, 1);
    assert_eq!(list(f(None, None, Some("%")), 10, 0).await.total, 2);
    assert_eq!(list(f(None, None, Some("slow_")), 10, 0).await.total, 1);
    assert_eq!(list(f(None, None, Some("_")), 10, 0).await.total, 1);
    let traced = list(
        LogFilter {
            trace_id: Some("trace-1".into()),
            ..LogFilter::default()
        },
        10,
        0,
    )
    .await;
    assert_eq!(traced.logs[0].record.message, "write failed");
    let window = list(
        LogFilter {
            since: Some(domain::now() - Duration::minutes(9) - Duration::seconds(30)),
            until: Some(domain::now() - Duration::minutes(7) + Duration::seconds(30)),
            ..LogFilter::default()
        },
        10,
        0,
    )
    .await;
    let messages: Vec<_> = window
        .logs
        .iter()
        .map(|l| l.record.message.as_str())
        .collect();
    assert_eq!(messages, ["request 3", "request 2", "request 1"]);
}

async fn logs_stats_group_and_rate_errors_by_hour(store: Arc<dyn Store>) {
    let now = Utc::now();
    let hour = |h: i64| domain::truncate_to_micros(now - Duration::hours(h));
    let timed = |level: &str, category: &str, at, ms: Option<i64>| NewLogRecord {
        timestamp: at,
        duration_ms: ms,
        ..record(level, "taylordash-backend", category, "m")
    };
    store
        .insert_logs(&[
            timed("INFO", "API", hour(0), Some(10)),
            timed("INFO", "API", hour(0), Some(30)),
            timed("INFO", "API", hour(0), None),
            timed("ERROR", "API", hour(0), Some(500)),
            timed("ERROR", "DATABASE", hour(2), None),
            timed("INFO", "API", hour(2), Some(5)),
            // Outside the window.
            timed("ERROR", "API", hour(30), Some(1)),
        ])
        .await
        .unwrap();
    let stats = store.log_stats(now - Duration::hours(24)).await.unwrap();
    let info_api = stats
        .groups
        .iter()
        .find(|g| g.level == "INFO" && g.category == "API")
        .unwrap();
    assert_eq!(info_api.count, 4);
    assert_eq!(info_api.max_duration_ms, Some(30));
    assert!((info_api.avg_duration_ms.unwrap() - 15.0).abs() < 1e-9);
    let db = stats
        .groups
        .iter()
        .find(|g| g.category == "DATABASE")
        .unwrap();
    assert_eq!(
        (db.count, db.avg_duration_ms, db.max_duration_ms),
        (1, None, None)
    );
    assert_eq!(stats.groups.iter().map(|g| g.count).sum::<i64>(), 6);
    // Sorted by count, largest first.
    assert_eq!(stats.groups[0].count, 4);

    assert_eq!(stats.hourly.len(), 2);
    let (older, newer) = (&stats.hourly[0], &stats.hourly[1]);
    assert!(older.hour < newer.hour);
    assert_eq!((older.error_count, older.total_count), (1, 2));
    assert_eq!((newer.error_count, newer.total_count), (1, 4));
    let start = |t: chrono::DateTime<Utc>| {
        t.date_naive()
            .and_hms_opt(chrono::Timelike::hour(&t), 0, 0)
            .unwrap()
            .and_utc()
    };
    assert_eq!(newer.hour, start(hour(0)));
    assert_eq!(older.hour, start(hour(2)));
}

async fn logs_are_pruned_per_level(store: Arc<dyn Store>) {
    let old = domain::now() - Duration::days(10);
    let at = |level: &str, t| NewLogRecord {
        timestamp: t,
        ..record(level, "s", "SYSTEM", "m")
    };
    store
        .insert_logs(&[
            at("DEBUG", old),
            at("DEBUG", old),
            at("DEBUG", old),
            at("DEBUG", domain::now()),
            at("ERROR", old),
        ])
        .await
        .unwrap();
    let cutoff = domain::now() - Duration::days(7);
    assert_eq!(store.prune_logs("DEBUG", cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.prune_logs("DEBUG", cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.prune_logs("DEBUG", cutoff, 2).await.unwrap(), 0);
    let left = store.list_logs(&LogFilter::default(), 10, 0).await.unwrap();
    assert_eq!(left.total, 2);
    assert!(left.logs.iter().any(|l| l.record.level == "ERROR"));
}

async fn metric_samples_round_trip_window_and_prune(store: Arc<dyn Store>) {
    use storage::MetricSample;
    let t0 = domain::now() - Duration::minutes(10);
    let sample = |name: &str, host: &str, v: f64, minutes: i64| MetricSample {
        name: name.into(),
        labels: serde_json::json!({"host": host, "a": "1"})
            .as_object()
            .unwrap()
            .clone(),
        value: v,
        ts: t0 + Duration::minutes(minutes),
    };
    let batch = vec![
        sample("cpu", "h1", 0.5, 0),
        sample("cpu", "h2", 1.5, 1),
        sample("cpu", "h1", 2.25, 2),
        sample("mem", "h1", 7.0, 2),
    ];
    assert_eq!(store.insert_samples(&batch).await.unwrap(), 4);
    assert_eq!(batch[0].series_key(), r#"{"a":"1","host":"h1"}"#);
    let all = store
        .samples("cpu", t0, t0 + Duration::minutes(5), 100)
        .await
        .unwrap();
    assert_eq!(all, batch[..3].to_vec());
    let window = store
        .samples(
            "cpu",
            t0 + Duration::minutes(1),
            t0 + Duration::minutes(2),
            100,
        )
        .await
        .unwrap();
    assert_eq!(window.len(), 2);
    // `limit + 1` rows come back when there are more.
    let capped = store
        .samples("cpu", t0, t0 + Duration::minutes(5), 1)
        .await
        .unwrap();
    assert_eq!(capped.len(), 2);
    assert_eq!(
        store
            .prune_samples(t0 + Duration::minutes(2), 100)
            .await
            .unwrap(),
        2
    );
    let left = store
        .samples("cpu", t0, t0 + Duration::minutes(5), 100)
        .await
        .unwrap();
    assert_eq!(left, vec![batch[2].clone()]);
}

async fn large_batches_are_written_whole(store: Arc<dyn Store>) {
    let logs: Vec<_> = (0..250)
        .map(|i| record("INFO", "s", "API", &format!("m{i}")))
        .collect();
    assert_eq!(store.insert_logs(&logs).await.unwrap(), 250);
    let page = store.list_logs(&LogFilter::default(), 1, 0).await.unwrap();
    assert_eq!(page.total, 250);
    let samples: Vec<_> = (0..450)
        .map(|i| storage::MetricSample {
            name: "n".into(),
            labels: serde_json::Map::new(),
            value: f64::from(i),
            ts: domain::now(),
        })
        .collect();
    assert_eq!(store.insert_samples(&samples).await.unwrap(), 450);
    let back = store
        .samples(
            "n",
            domain::now() - Duration::minutes(1),
            domain::now(),
            1000,
        )
        .await
        .unwrap();
    assert_eq!(back.len(), 450);
}
