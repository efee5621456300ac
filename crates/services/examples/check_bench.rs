//! A first measurement of the check scheduler: N TCP checks (60 s interval, spread over the
//! interval) against a loopback listener, for D seconds, on SQLite (or PostgreSQL when
//! `TAYLORDASH_TEST_DATABASE_URL` is set). Prints the scheduler's lateness (p50/p99 from its
//! histogram), the process CPU time (target included: it is one thread that accepts and drops
//! connections) and RSS growth.
//!
//! `cargo run --release -p services --example check_bench -- 10000 180`
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use domain::{Check, CheckRules, NewCheck};
use serde_json::json;
use services::checks::{Checks, Settings};

fn proc_stat() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, rss_kib)
}

/// The `q` quantile of a Prometheus histogram, as the upper bound of its bucket.
fn quantile(h: &prometheus::proto::Histogram, q: f64) -> f64 {
    let total = h.get_sample_count() as f64;
    for b in h.get_bucket() {
        if b.cumulative_count() as f64 >= q * total {
            return b.upper_bound();
        }
    }
    f64::INFINITY
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(120);
    let db = match testsupport::TestDb::postgres().await {
        Some(db) => db,
        None => testsupport::TestDb::sqlite().await,
    };
    let store = db.store.clone();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });

    let (_, component) = testsupport::project_with_component(&*store, "bench", "target").await;
    let started = Instant::now();
    let now = domain::now();
    for i in 0..n {
        let (check, secrets) = Check::create(
            component,
            NewCheck {
                kind: "tcp".into(),
                target: json!({"host": "127.0.0.1", "port": port})
                    .as_object()
                    .cloned()
                    .unwrap(),
                interval_secs: Some(60),
                ..Default::default()
            },
            &CheckRules::default(),
        )
        .unwrap();
        let first = now + chrono::Duration::milliseconds((i as i64 * 60_000) / n as i64);
        store
            .create_check(&check, &secrets, None, first)
            .await
            .unwrap();
    }
    eprintln!(
        "{n} checks created in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let registry = prometheus::Registry::new();
    let checks = Checks::new(store.clone(), Settings::default());
    checks.register(&registry);
    let (cpu0, rss0) = proc_stat();
    let scheduler = tokio::spawn(checks.clone().run_scheduler());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (cpu1, rss1) = proc_stat();
    scheduler.abort();

    let families = registry.gather();
    let find = |name: &str| families.iter().find(|f| f.name() == name);
    let lateness = find("taylordash_check_lateness_seconds")
        .unwrap()
        .get_metric()[0]
        .get_histogram()
        .clone();
    let runs: f64 = find("taylordash_check_runs_total")
        .unwrap()
        .get_metric()
        .iter()
        .map(|m| m.get_counter().get_value())
        .sum();
    println!(
        "checks={n} seconds={secs} backend={} runs={runs} runs_per_s={:.1} \
         lateness_p50<={}s lateness_p99<={}s cpu_share_of_one_core={:.1}% rss_growth_mib={:.1}",
        store.backend().as_str(),
        runs / secs as f64,
        quantile(&lateness, 0.5),
        quantile(&lateness, 0.99),
        100.0 * (cpu1 - cpu0) / secs as f64,
        (rss1 as f64 - rss0 as f64) / 1024.0,
    );
}
