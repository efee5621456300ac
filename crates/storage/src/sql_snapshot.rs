//! The queries behind [`crate::SnapshotStore`], written once for both databases (see
//! `sql_store.rs` for why a macro). `begin_snapshot` makes the export's transaction one
//! consistent read; `reset_sequence` (PostgreSQL) moves an id sequence past restored ids.

macro_rules! impl_snapshot_store {
    ($store:ident, $db:ty, begin_snapshot = $begin:literal, reset_sequence = $reset:literal) => {
        mod snapshot_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use futures_util::TryStreamExt;
            use serde_json::Value;
            use sqlx::Row as _;
            use sqlx::types::Json;
            use uuid::Uuid;

            use crate::snapshot::{
                Kind, RowObject, RowSink, RowSource, SnapshotStore, TABLES, value,
            };
            use crate::{Result, StoreError};

            type Row = <$db as sqlx::Database>::Row;

            fn read(row: &Row, i: usize, kind: Kind) -> Result<Value> {
                Ok(match kind {
                    Kind::Uuid => row
                        .try_get::<Option<Uuid>, _>(i)?
                        .map_or(Value::Null, |u| Value::String(u.to_string())),
                    Kind::Text => row
                        .try_get::<Option<String>, _>(i)?
                        .map_or(Value::Null, Value::String),
                    Kind::I32 => row
                        .try_get::<Option<i32>, _>(i)?
                        .map_or(Value::Null, Value::from),
                    Kind::I64 => row
                        .try_get::<Option<i64>, _>(i)?
                        .map_or(Value::Null, Value::from),
                    Kind::F64 => row
                        .try_get::<Option<f64>, _>(i)?
                        .and_then(serde_json::Number::from_f64)
                        .map_or(Value::Null, Value::Number),
                    Kind::Bool => row
                        .try_get::<Option<bool>, _>(i)?
                        .map_or(Value::Null, Value::Bool),
                    Kind::Time => row
                        .try_get::<Option<DateTime<Utc>>, _>(i)?
                        .map_or(Value::Null, value::show_time),
                    Kind::Json => row
                        .try_get::<Option<Json<Value>>, _>(i)?
                        .map_or(Value::Null, |j| j.0),
                })
            }

            #[async_trait]
            impl SnapshotStore for super::$store {
                async fn export(&self, sink: &mut RowSink<'_>) -> Result<()> {
                    let mut tx = self.reader().begin().await?;
                    sqlx::query($begin).execute(&mut *tx).await?;
                    for table in TABLES {
                        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
                        // Built only from the constant table descriptions.
                        let sql = format!(
                            "SELECT {} FROM {} ORDER BY {}",
                            columns.join(", "),
                            table.name,
                            table.order_by
                        );
                        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *tx);
                        while let Some(row) = rows.try_next().await? {
                            let mut object = RowObject::new();
                            for (i, (name, kind)) in table.columns.iter().enumerate() {
                                object.insert((*name).to_owned(), read(&row, i, *kind)?);
                            }
                            sink(table, object).map_err(|e| {
                                StoreError::Unavailable(format!("writing the snapshot: {e}"))
                            })?;
                        }
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn row_counts(&self) -> Result<Vec<(&'static str, i64)>> {
                    let mut conn = self.reader().acquire().await?;
                    let mut counts = Vec::new();
                    for table in TABLES {
                        let sql = format!("SELECT count(*) FROM {}", table.name);
                        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .fetch_one(&mut *conn)
                            .await?
                            .try_get(0)?;
                        counts.push((table.name, n));
                    }
                    Ok(counts)
                }

                async fn import(
                    &self,
                    rows: &mut RowSource<'_>,
                    wipe: bool,
                ) -> Result<Vec<(&'static str, u64)>> {
                    let mut tx = self.writer().begin().await?;
                    if wipe {
                        for table in TABLES.iter().rev() {
                            let sql = format!("DELETE FROM {}", table.name);
                            sqlx::query(sqlx::AssertSqlSafe(sql))
                                .execute(&mut *tx)
                                .await?;
                        }
                        // Deleting artifacts queued their objects: the restore decides.
                        sqlx::query("DELETE FROM object_deletions")
                            .execute(&mut *tx)
                            .await?;
                    }
                    let mut counts: Vec<(&'static str, u64)> =
                        TABLES.iter().map(|t| (t.name, 0)).collect();
                    let mut current: Option<(&'static str, String)> = None;
                    for item in rows {
                        let (table, row) = item.map_err(StoreError::Corrupt)?;
                        if current.as_ref().is_none_or(|(name, _)| *name != table.name) {
                            let columns: Vec<&str> =
                                table.columns.iter().map(|(c, _)| *c).collect();
                            let params: Vec<String> =
                                (1..=columns.len()).map(|i| format!("${i}")).collect();
                            current = Some((
                                table.name,
                                format!(
                                    "INSERT INTO {} ({}) VALUES ({})",
                                    table.name,
                                    columns.join(", "),
                                    params.join(", ")
                                ),
                            ));
                        }
                        let sql = current.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for (name, kind) in table.columns {
                            let v = row.get(*name).unwrap_or(&Value::Null);
                            query = match kind {
                                Kind::Uuid => query.bind(value::uuid(name, v)?),
                                Kind::Text => query.bind(value::text(name, v)?),
                                Kind::I32 => query.bind(value::int32(name, v)?),
                                Kind::I64 => query.bind(value::int(name, v)?),
                                Kind::F64 => query.bind(value::float(name, v)?),
                                Kind::Bool => query.bind(value::boolean(name, v)?),
                                Kind::Time => query.bind(value::time(name, v)?),
                                Kind::Json => query.bind(value::json(v)),
                            };
                        }
                        query.execute(&mut *tx).await?;
                        if let Some(c) = counts.iter_mut().find(|(n, _)| *n == table.name) {
                            c.1 += 1;
                        }
                    }
                    if !$reset.is_empty() {
                        for table in TABLES.iter().filter(|t| t.serial_id) {
                            let sql = $reset.replace("{table}", table.name);
                            sqlx::query(sqlx::AssertSqlSafe(sql))
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(counts)
                }

                async fn schema_version(&self) -> Result<i64> {
                    let v: Option<i64> =
                        sqlx::query("SELECT max(version) FROM _sqlx_migrations WHERE success")
                            .fetch_one(self.reader())
                            .await?
                            .try_get(0)?;
                    Ok(v.unwrap_or(0))
                }
            }
        }
    };
}

pub(crate) use impl_snapshot_store;
