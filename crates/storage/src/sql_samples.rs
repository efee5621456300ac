//! The queries behind [`crate::MetricSampleStore`], written once for both databases.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::JsonObject;
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, FromRow, QueryBuilder, Type};
use sqlx_macros::FromRow;

use crate::Result;
use crate::backend::{Sql, SqlBackend};
use crate::samples::{MetricSample, MetricSampleStore};

#[derive(FromRow)]
struct SampleRow {
    name: String,
    labels: Json<JsonObject>,
    value: f64,
    ts: DateTime<Utc>,
}

impl From<SampleRow> for MetricSample {
    fn from(r: SampleRow) -> Self {
        MetricSample {
            name: r.name,
            labels: r.labels.0,
            value: r.value,
            ts: r.ts,
        }
    }
}

#[async_trait]
impl<B> MetricSampleStore for B
where
    B: SqlBackend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> String: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> f64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> DateTime<Utc>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Json<&'q JsonObject>: Encode<'q, B::Db> + Type<B::Db>,
    for<'r> SampleRow: FromRow<'r, <B::Db as Database>::Row>,
{
    async fn insert_samples(&self, samples: &[MetricSample]) -> Result<u64> {
        if samples.is_empty() {
            return Ok(0);
        }
        let mut tx = self.writer().begin().await?;
        let mut written = 0;
        for chunk in samples.chunks(200) {
            let mut b = QueryBuilder::<B::Db>::new(
                "INSERT INTO metric_samples (name, labels, series, value, ts) ",
            );
            b.push_values(chunk, |mut row, s| {
                row.push_bind(s.name.as_str())
                    .push_bind(Json(&s.labels))
                    .push_bind(s.series_key())
                    .push_bind(s.value)
                    .push_bind(s.ts);
            });
            written += B::Db::rows_affected(&b.build().execute(&mut *tx).await?);
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn samples(
        &self,
        name: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<MetricSample>> {
        let rows: Vec<SampleRow> = sqlx::query_as(
            "SELECT name, labels, value, ts FROM metric_samples \
             WHERE name = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts, id LIMIT $4",
        )
        .bind(name)
        .bind(since)
        .bind(until)
        .bind(limit + 1)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(MetricSample::from).collect())
    }

    async fn prune_samples(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM metric_samples WHERE id IN (SELECT id FROM metric_samples \
             WHERE ts < $1 ORDER BY id LIMIT $2)",
        )
        .bind(cutoff)
        .bind(batch)
        .execute(self.writer())
        .await?;
        Ok(B::Db::rows_affected(&done))
    }
}
