//! `docs/metrics.md` lists exactly the metrics `/metrics` exports, with their types and labels:
//! adding a metric without documenting it, or documenting one that is gone, fails here.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use crate::support::*;

const DOC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/metrics.md"
));

/// (type, sorted label names, may be absent) by metric name, from the catalogue's table rows
/// `| `name` | type | `label`, `label` | meaning |`; a meaning saying "Only when" marks a
/// metric that exists only on some machines.
fn documented() -> BTreeMap<String, (String, Vec<String>, bool)> {
    let mut out = BTreeMap::new();
    for line in DOC.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_owned();
        let mut labels: Vec<String> = cells[3]
            .split(',')
            .map(|l| l.trim().trim_matches('`').to_owned())
            .filter(|l| !l.is_empty() && l != "-")
            .collect();
        labels.sort();
        let optional = cells[4].contains("Only when");
        let previous = out.insert(name.clone(), (cells[2].to_owned(), labels, optional));
        assert!(previous.is_none(), "{name} is documented twice");
    }
    out
}

/// The same, from the Prometheus text exposition.
fn exported(text: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.insert(name.to_owned(), (kind.to_owned(), Vec::new()));
        }
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let series = line.split(' ').next().unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| out.contains_key(*f)))
            .unwrap_or(name);
        let Some((_, names)) = out.get_mut(family) else {
            continue;
        };
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let label = pair.split_once('=').unwrap().0.to_owned();
            if label != "le" && !names.contains(&label) {
                names.push(label);
                names.sort();
            }
        }
    }
    out
}

#[tokio::test]
async fn the_metrics_catalogue_matches_the_live_output() {
    let app = TestApp::new().await;
    // Touch the labelled metrics that have no series until first used.
    app.get("/api/v1/projects").await;
    let text = app.get("/metrics").await;
    let live = exported(text.body.as_str().unwrap());
    let build = format!(
        "taylordash_build_info{{commit=\"{}\",version=\"{}\"}} 1",
        api::BUILD_COMMIT,
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        text.body.as_str().unwrap().lines().any(|l| l == build),
        "{build} missing"
    );
    let docs = documented();
    assert!(live.len() > 10, "{live:?}");
    let undocumented: Vec<_> = live.keys().filter(|k| !docs.contains_key(*k)).collect();
    let absent: Vec<_> = docs
        .iter()
        .filter(|(k, (_, _, optional))| !optional && !live.contains_key(*k))
        .map(|(k, _)| k)
        .collect();
    assert!(
        undocumented.is_empty(),
        "add these metrics to docs/metrics.md: {undocumented:?}"
    );
    assert!(
        absent.is_empty(),
        "docs/metrics.md lists metrics /metrics does not export: {absent:?}"
    );
    for (name, (kind, labels)) in &live {
        let (doc_kind, doc_labels, _) = &docs[name];
        assert_eq!(doc_kind, kind, "type of {name} in docs/metrics.md");
        assert_eq!(doc_labels, labels, "labels of {name} in docs/metrics.md");
    }
}
