//! The queries behind [`crate::SnapshotStore`], written once for both databases over
//! [`SqlBackend`]. The statements are built from the constant table descriptions
//! ([`TABLES`]); a row is read column by column in the encoding of its [`Kind`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Database, Executor, Row as _};
use uuid::Uuid;

use crate::backend::{Column, Conn, Dialects, Param, Row, SqlBackend};
use crate::snapshot::{Kind, RowObject, RowSink, RowSource, SnapshotStore, TABLES, Table, value};
use crate::{Backend, Result, StoreError};

/// Makes the export's transaction one consistent read.
const BEGIN_SNAPSHOT: Dialects = Dialects {
    postgres: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    sqlite: "SELECT 1",
};

/// Moves a table's id sequence past the restored ids (`{table}`: the table). SQLite has no
/// sequence to move: its next id follows the largest one.
const RESET_SEQUENCE: Dialects = Dialects {
    postgres: "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
               coalesce((SELECT max(id) FROM {table}), 0) + 1, false)",
    sqlite: "",
};

/// Bound parameters per statement, under both databases' limits (SQLite 32,766, PostgreSQL
/// 65,535).
const MAX_PARAMS: usize = 30_000;

/// Rows per multi-row INSERT of `table` during a restore.
fn rows_per_insert(table: &Table) -> usize {
    (MAX_PARAMS / table.columns.len().max(1)).clamp(1, 1_000)
}

/// `INSERT INTO table (columns) VALUES ($1, ...), ...` for `rows` rows; plain `?` placeholders
/// on SQLite, which looks numbered ones up by name, one linear scan per parameter.
fn insert_sql(table: &Table, rows: usize, backend: Backend) -> String {
    let width = table.columns.len();
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        table.name,
        columns.join(", ")
    );
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Postgres => sql.push_str(&format!("${}", r * width + c + 1)),
                Backend::Sqlite => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// Column `i` of `row` in its canonical JSON encoding.
fn read<DB: Database>(row: &DB::Row, i: usize, kind: Kind) -> Result<Value>
where
    usize: ColumnIndex<DB::Row>,
    Uuid: Column<DB>,
    String: Column<DB>,
    i32: Column<DB>,
    i64: Column<DB>,
    f64: Column<DB>,
    bool: Column<DB>,
    DateTime<Utc>: Column<DB>,
    Json<Value>: Column<DB>,
{
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
impl<B> SnapshotStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    usize: ColumnIndex<Row<B>>,
    Uuid: Column<B::Db>,
    String: Column<B::Db>,
    i32: Column<B::Db>,
    i64: Column<B::Db>,
    f64: Column<B::Db>,
    bool: Column<B::Db>,
    DateTime<Utc>: Column<B::Db>,
    Json<Value>: Column<B::Db>,
    Option<i64>: Column<B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Option<i32>: Param<'q, B::Db>,
    for<'q> Option<i64>: Param<'q, B::Db>,
    for<'q> Option<f64>: Param<'q, B::Db>,
    for<'q> Option<bool>: Param<'q, B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    for<'q> Option<Json<Value>>: Param<'q, B::Db>,
{
    async fn export(&self, sink: &mut RowSink<'_>) -> Result<()> {
        let mut tx = self.reader().begin().await?;
        sqlx::query(BEGIN_SNAPSHOT.get(B::KIND))
            .execute(&mut *tx)
            .await?;
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
                    object.insert((*name).to_owned(), read::<B::Db>(&row, i, *kind)?);
                }
                sink(table, object)
                    .map_err(|e| StoreError::Unavailable(format!("writing the snapshot: {e}")))?;
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
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *conn)
                .await?;
            counts.push((table.name, n));
        }
        Ok(counts)
    }

    async fn import(
        &self,
        rows: &mut RowSource<'_>,
        wipe: bool,
    ) -> Result<Vec<(&'static str, u64)>> {
        // Rewrites `projects`: its list answers served again must go (`generation.rs`).
        let mark = self.projects_generation().map(|g| g.begin());
        let result = async {
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
            let mut counts: Vec<(&'static str, u64)> = TABLES.iter().map(|t| (t.name, 0)).collect();
            // Rows go in as multi-row INSERTs of one table each: a statement per row made a
            // restore into PostgreSQL a round trip per row.
            let mut batch: Vec<RowObject> = Vec::new();
            let mut batch_table: Option<&'static Table> = None;
            for item in rows.map(Some).chain(std::iter::once(None)) {
                let next = item.transpose().map_err(StoreError::Corrupt)?;
                if let Some(table) = batch_table {
                    let other_table = next.as_ref().is_none_or(|(t, _)| t.name != table.name);
                    if other_table || batch.len() >= rows_per_insert(table) {
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_sql(
                            table,
                            batch.len(),
                            B::KIND,
                        )));
                        for row in &batch {
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
                        }
                        query.execute(&mut *tx).await?;
                        if let Some(c) = counts.iter_mut().find(|(n, _)| *n == table.name) {
                            c.1 += batch.len() as u64;
                        }
                        batch.clear();
                    }
                }
                if let Some((table, row)) = next {
                    batch_table = Some(table);
                    batch.push(row);
                }
            }
            let reset = RESET_SEQUENCE.get(B::KIND);
            if !reset.is_empty() {
                for table in TABLES.iter().filter(|t| t.serial_id) {
                    let sql = reset.replace("{table}", table.name);
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(counts)
        }
        .await;
        crate::sql_store::finish(mark);
        result
    }

    async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.reader())
                .await?;
        Ok(v.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_inserts_number_every_parameter_and_stay_under_the_limit() {
        let t = TABLES.iter().find(|t| t.name == "tasks").expect("tasks");
        let w = t.columns.len();
        let sql = insert_sql(t, 2, Backend::Postgres);
        assert!(sql.starts_with("INSERT INTO tasks ("), "{sql}");
        assert!(sql.ends_with(&format!("${})", 2 * w)), "{sql}");
        assert_eq!(sql.matches('$').count(), 2 * w);
        assert_eq!(sql.matches("), (").count(), 1);
        let sql = insert_sql(t, 3, Backend::Sqlite);
        assert_eq!(sql.matches('?').count(), 3 * w);
        assert!(!sql.contains('$'), "{sql}");
        for t in TABLES {
            assert!(
                rows_per_insert(t) * t.columns.len() <= MAX_PARAMS,
                "{}",
                t.name
            );
            assert!(rows_per_insert(t) >= 1);
        }
    }
}
