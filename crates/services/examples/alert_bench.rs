//! Alerts at scale (issue 16): G groups of N checks (a project each, one `check_down` rule per
//! project, so one alert group per project) go down at once; the evaluator and the sender run as
//! in the server, and a webhook receiver on loopback records each notification as it arrives.
//!
//! 1. Latency, on the wall clock: R rounds of "every check goes down, then comes back". Per
//!    round and group, the time from the state change (the results committed) to the group's
//!    firing notification at the receiver; p50/p99/max over all of them, and how many
//!    notifications each round's G × N alerts became.
//! 2. Repeats, on a clock that runs S times faster: every check stays down for K repeat
//!    intervals (60 s each, the shortest a rule takes); per group, the messages received and the
//!    most that fell within any one repeat interval (at most 1 is the target).
//!
//! On SQLite, and on PostgreSQL too when `TAYLORDASH_TEST_DATABASE_URL` is set.
//!
//! `cargo run --release -p services --example alert_bench -- [G] [N] [R] [K] [S]`
//! (defaults 10 100 20 10 20: 1,000 checks).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::{
    Check, CheckResult, CheckRules, NewAlertRule, NewChannel, NewCheck, NewComponent, NewProject,
    Outcome,
};
use serde_json::{Value, json};
use services::Clock;
use services::alerts::{Alerts, Settings};
use storage::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// The shortest repeat interval a rule takes (`domain::MIN_REPEAT_SECS`).
const REPEAT_SECS: i64 = 60;

/// A notification as the receiver saw it: when, for which group, why.
#[derive(Clone)]
struct Arrival {
    at: Instant,
    group: String,
    reason: String,
    alerts: usize,
}

type Log = Arc<Mutex<Vec<Arrival>>>;

/// A webhook receiver on loopback: records each POST's group, reason and alert count, and
/// answers 204.
async fn receiver() -> (u16, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let keep = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    // One request per turn (the client keeps the connection open).
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let at = Instant::now();
                    let body: Value =
                        serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or_default();
                    buf.drain(..head_end + len);
                    keep.lock().unwrap().push(Arrival {
                        at,
                        group: body["group_key"].as_str().unwrap_or_default().to_owned(),
                        reason: body["reason"].as_str().unwrap_or_default().to_owned(),
                        alerts: body["alerts"].as_array().map_or(0, Vec::len),
                    });
                    let answer = "HTTP/1.1 204 No Content\r\n\r\n";
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, log)
}

fn obj(v: Value) -> domain::JsonObject {
    v.as_object().cloned().unwrap()
}

/// G projects with N push checks each; the checks by project. `tag` keeps push tokens unique.
async fn seed(
    store: &Arc<dyn Store>,
    tag: usize,
    groups: usize,
    per_group: usize,
) -> Vec<(Uuid, Vec<Uuid>)> {
    let mut out = Vec::new();
    for g in 0..groups {
        let p = store
            .create_project(NewProject {
                name: format!("rack {g}"),
                ..Default::default()
            })
            .await
            .unwrap();
        let c = store
            .create_component(
                p.id,
                NewComponent {
                    name: format!("switch {g}"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..per_group {
            let (check, _) = Check::create(
                c.id,
                NewCheck {
                    name: Some(format!("host {g}.{i}")),
                    kind: "push".into(),
                    ..Default::default()
                },
                &CheckRules::default(),
            )
            .unwrap();
            let token = format!("{tag:08}{g:028}{i:028}");
            store
                .create_check(&check, &Default::default(), Some(&token), domain::now())
                .await
                .unwrap();
            ids.push(check.id);
        }
        out.push((p.id, ids));
    }
    out
}

async fn set_all(store: &Arc<dyn Store>, checks: &[Uuid], up: bool, at: DateTime<Utc>) {
    let results: Vec<CheckResult> = checks
        .iter()
        .map(|id| CheckResult {
            check_id: *id,
            at,
            outcome: if up {
                Outcome::up(1.0)
            } else {
                Outcome::down("no route to host")
            },
        })
        .collect();
    for chunk in results.chunks(500) {
        store.record_check_results(chunk).await.unwrap();
    }
}

/// The alerts service with its evaluator and sender running, a webhook channel to a fresh
/// receiver, and one `check_down` rule per project (repeating every [`REPEAT_SECS`]).
async fn start(
    store: &Arc<dyn Store>,
    clock: Clock,
    projects: &[(Uuid, Vec<Uuid>)],
) -> (Alerts, Log, Vec<tokio::task::JoinHandle<()>>) {
    let alerts = Alerts::new(
        store.clone(),
        Settings {
            clock,
            ..Settings::default()
        },
    );
    let (port, log) = receiver().await;
    let channel = alerts
        .create_channel(NewChannel {
            name: "receiver".into(),
            kind: "webhook".into(),
            config: obj(json!({"url": format!("http://127.0.0.1:{port}/hook")})),
            ..Default::default()
        })
        .await
        .unwrap();
    for (project, _) in projects {
        alerts
            .create_rule(NewAlertRule {
                name: "Host down".into(),
                kind: "check_down".into(),
                params: obj(json!({"project_id": project})),
                severity: Some("critical".into()),
                channels: vec![channel.channel.channel.id],
                repeat_secs: Some(REPEAT_SECS),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let tasks = vec![
        tokio::spawn(alerts.clone().run_evaluator()),
        tokio::spawn(alerts.clone().run_sender()),
    ];
    (alerts, log, tasks)
}

/// Waits until `log` holds `n` arrivals of `reason` after index `from` (or `limit` passes).
async fn wait_for(log: &Log, from: usize, reason: &str, n: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let seen = log.lock().unwrap()[from..]
            .iter()
            .filter(|a| a.reason == reason)
            .count();
        if seen >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

struct Args {
    groups: usize,
    per_group: usize,
    rounds: usize,
    intervals: i64,
    speed: i64,
}

async fn bench(name: &str, store: Arc<dyn Store>, args: &Args) -> Value {
    let checks = args.groups * args.per_group;
    println!(
        "== {name}: {} groups × {} checks = {checks} checks",
        args.groups, args.per_group
    );
    let projects = seed(&store, 1, args.groups, args.per_group).await;
    let all: Vec<Uuid> = projects.iter().flat_map(|(_, c)| c.clone()).collect();

    // 1. Latency on the wall clock.
    let (alerts, log, tasks) = start(&store, Clock::system(), &projects).await;
    let mut latencies = Vec::new();
    let mut per_round = Vec::new();
    let mut missing = 0;
    for round in 0..args.rounds {
        let from = log.lock().unwrap().len();
        let changed = Instant::now();
        set_all(&store, &all, false, domain::now()).await;
        let committed = changed.elapsed();
        alerts.wake();
        if !wait_for(&log, from, "firing", args.groups, Duration::from_secs(30)).await {
            missing += 1;
        }
        let got: Vec<Arrival> = log.lock().unwrap()[from..].to_vec();
        let firing: Vec<&Arrival> = got.iter().filter(|a| a.reason == "firing").collect();
        let mut groups: BTreeMap<&str, f64> = BTreeMap::new();
        for a in &firing {
            groups
                .entry(a.group.as_str())
                .or_insert_with(|| (a.at - changed).as_secs_f64());
        }
        latencies.extend(groups.values().copied());
        let alerts_in = firing.iter().map(|a| a.alerts).sum::<usize>();
        per_round.push((firing.len(), alerts_in));
        println!(
            "round {round}: results committed in {:.0} ms; {} firing notifications carrying {} \
             alerts; first {:.2} s, last {:.2} s",
            committed.as_secs_f64() * 1000.0,
            firing.len(),
            alerts_in,
            groups.values().copied().fold(f64::INFINITY, f64::min),
            groups.values().copied().fold(0.0, f64::max),
        );
        let from = log.lock().unwrap().len();
        set_all(&store, &all, true, domain::now()).await;
        alerts.wake();
        wait_for(&log, from, "resolved", args.groups, Duration::from_secs(30)).await;
    }
    for t in tasks {
        t.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let notifications_per_round =
        per_round.iter().map(|(n, _)| *n).sum::<usize>() as f64 / per_round.len().max(1) as f64;
    let alerts_per_notification = per_round.iter().map(|(_, a)| *a).sum::<usize>() as f64
        / per_round.iter().map(|(n, _)| *n).sum::<usize>().max(1) as f64;

    // 2. Repeats on a fast clock: a fresh set of groups (the first phase's alerts are resolved
    //    on the wall clock; this clock runs ahead of it).
    let repeat_projects = seed(&store, 2, args.groups, args.per_group).await;
    let repeat_checks: Vec<Uuid> = repeat_projects
        .iter()
        .flat_map(|(_, c)| c.clone())
        .collect();
    let base = domain::now();
    let started = Instant::now();
    let speed = args.speed;
    let clock = Clock::new(move || {
        base + chrono::Duration::microseconds(started.elapsed().as_micros() as i64 * speed)
    });
    let (alerts, log, tasks) = start(&store, clock.clone(), &repeat_projects).await;
    let down_at = clock.now();
    set_all(&store, &repeat_checks, false, down_at).await;
    alerts.wake();
    let simulated = REPEAT_SECS * args.intervals;
    let wall = Duration::from_millis((simulated * 1000 / speed) as u64 + 500);
    tokio::time::sleep(wall).await;
    for t in tasks {
        t.abort();
    }
    let got = log.lock().unwrap().clone();
    // Simulated seconds since the checks went down, per group.
    let mut by_group: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for a in &got {
        let secs = (a.at - started).as_secs_f64() * speed as f64
            - (down_at - base).num_milliseconds() as f64 / 1000.0;
        by_group.entry(a.group.clone()).or_default().push(secs);
    }
    let mut worst_window = 0;
    let mut messages = Vec::new();
    for times in by_group.values() {
        messages.push(times.len());
        for (i, t) in times.iter().enumerate() {
            let within = times[i..]
                .iter()
                .take_while(|u| **u < t + REPEAT_SECS as f64)
                .count();
            worst_window = worst_window.max(within);
        }
    }
    let expected = 1 + args.intervals as usize;
    println!(
        "latency state change → firing notification over {} samples: p50 {:.2} s, p99 {:.2} s, \
         max {:.2} s; rounds without every group notified within 30 s: {missing}",
        latencies.len(),
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "grouping: {checks} alerts per round became {notifications_per_round:.1} notifications \
         ({alerts_per_notification:.0} alerts each)"
    );
    println!(
        "repeats over {simulated} s simulated ({}× clock): {} groups notified, messages per group \
         {:?} (at most {expected} allowed: the first and one per {REPEAT_SECS} s), most in any \
         {REPEAT_SECS} s window: {worst_window}",
        speed,
        by_group.len(),
        messages
    );
    json!({
        "backend": name,
        "checks": checks,
        "groups": args.groups,
        "rounds": args.rounds,
        "latency_p50_s": quantile(&latencies, 0.5),
        "latency_p99_s": quantile(&latencies, 0.99),
        "latency_max_s": latencies.last(),
        "rounds_incomplete": missing,
        "notifications_per_round": notifications_per_round,
        "alerts_per_notification": alerts_per_notification,
        "repeat_simulated_secs": simulated,
        "repeat_messages_per_group": messages,
        "repeat_max_per_interval": worst_window,
    })
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: i64| -> i64 {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let args = Args {
        groups: arg(1, 10) as usize,
        per_group: arg(2, 100) as usize,
        rounds: arg(3, 20) as usize,
        intervals: arg(4, 10),
        speed: arg(5, 20),
    };
    let mut results = Vec::new();
    let sqlite = testsupport::TestDb::sqlite().await;
    results.push(bench("SQLite", sqlite.store.clone(), &args).await);
    if let Some(pg) = testsupport::TestDb::postgres().await {
        results.push(bench("PostgreSQL", pg.store.clone(), &args).await);
    }
    println!("{}", serde_json::to_string(&results).unwrap());
}
