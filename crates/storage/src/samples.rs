//! Local metric samples (`metric_samples`): the time series kept when no VictoriaMetrics is
//! configured, so charts work on a single binary too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::JsonObject;

use crate::Result;

/// One sample of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    pub name: String,
    /// Label names to string values.
    pub labels: JsonObject,
    pub value: f64,
    pub ts: DateTime<Utc>,
}

impl MetricSample {
    /// The labels as canonical text (keys sorted): equal for samples of one series.
    pub fn series_key(&self) -> String {
        let sorted: std::collections::BTreeMap<_, _> = self.labels.iter().collect();
        serde_json::to_string(&sorted).unwrap_or_default()
    }
}

#[async_trait]
pub trait MetricSampleStore: Send + Sync {
    /// Stores a batch in one transaction; returns how many rows were written.
    async fn insert_samples(&self, samples: &[MetricSample]) -> Result<u64>;
    /// Samples of metric `name` with `since <= ts <= until`, oldest first, at most `limit`
    /// (one more than `limit` tells the caller there were too many).
    async fn samples(
        &self,
        name: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<MetricSample>>;
    /// Deletes up to `batch` samples older than `cutoff`; returns how many.
    async fn prune_samples(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<u64>;
}
