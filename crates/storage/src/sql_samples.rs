//! The queries behind [`crate::MetricSampleStore`], written once for both databases (see
//! `sql_store.rs` for why a macro).

macro_rules! impl_sample_store {
    ($store:ident, $db:ty) => {
        mod sample_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use domain::JsonObject;
            use sqlx::Row as _;
            use sqlx::types::Json;

            use crate::Result;
            use crate::samples::{MetricSample, MetricSampleStore};

            #[async_trait]
            impl MetricSampleStore for super::$store {
                async fn insert_samples(&self, samples: &[MetricSample]) -> Result<u64> {
                    if samples.is_empty() {
                        return Ok(0);
                    }
                    let mut tx = self.writer().begin().await?;
                    let mut written = 0;
                    for chunk in samples.chunks(200) {
                        let mut b = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO metric_samples (name, labels, series, value, ts) ",
                        );
                        b.push_values(chunk, |mut row, s| {
                            row.push_bind(&s.name)
                                .push_bind(Json(&s.labels))
                                .push_bind(s.series_key())
                                .push_bind(s.value)
                                .push_bind(s.ts);
                        });
                        written += b.build().execute(&mut *tx).await?.rows_affected();
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
                    let rows = sqlx::query(
                        "SELECT name, labels, value, ts FROM metric_samples \
                         WHERE name = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts, id LIMIT $4",
                    )
                    .bind(name)
                    .bind(since)
                    .bind(until)
                    .bind(limit + 1)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(MetricSample {
                                name: row.try_get("name")?,
                                labels: row.try_get::<Json<JsonObject>, _>("labels")?.0,
                                value: row.try_get("value")?,
                                ts: row.try_get("ts")?,
                            })
                        })
                        .collect()
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
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

pub(crate) use impl_sample_store;
