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
use crate::snapshot::{Kind, RowObject, RowSink, RowSource, SnapshotStore, TABLES, value};
use crate::{Result, StoreError};

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
        let mut current: Option<(&'static str, String)> = None;
        for item in rows {
            let (table, row) = item.map_err(StoreError::Corrupt)?;
            if current.as_ref().is_none_or(|(name, _)| *name != table.name) {
                let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
                let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
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

    async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.reader())
                .await?;
        Ok(v.unwrap_or(0))
    }
}
