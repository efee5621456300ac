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

/// Bytes of COPY data per message during a restore: large enough that a message costs nothing
/// next to its rows, small enough that the server starts parsing early.
const COPY_CHUNK: usize = 256 * 1024;

/// `COPY table ("column", ...) FROM STDIN` (text format).
fn copy_sql(table: &Table) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect();
    format!("COPY {} ({}) FROM STDIN", table.name, columns.join(", "))
}

/// Appends `row` as one line of COPY's text format: the same conversions and checks as the
/// values bound by [`insert_rows`], written as PostgreSQL reads them back (`\N` for NULL).
fn copy_row(out: &mut Vec<u8>, table: &Table, row: &RowObject) -> Result<()> {
    for (i, (name, kind)) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        let v = row.get(*name).unwrap_or(&Value::Null);
        if v.is_null() {
            out.extend_from_slice(b"\\N");
            continue;
        }
        match kind {
            Kind::Uuid => {
                let u = value::uuid(name, v)?.unwrap_or_default();
                out.extend_from_slice(
                    u.hyphenated()
                        .encode_lower(&mut Uuid::encode_buffer())
                        .as_bytes(),
                );
            }
            Kind::Text => match v {
                Value::String(s) => copy_escape(out, s.as_bytes()),
                _ => {
                    value::text(name, v)?;
                }
            },
            Kind::I32 => push_display(out, value::int32(name, v)?.unwrap_or_default()),
            Kind::I64 => push_display(out, value::int(name, v)?.unwrap_or_default()),
            // Rust writes the shortest text that reads back as the same double.
            Kind::F64 => push_display(out, value::float(name, v)?.unwrap_or_default()),
            Kind::Bool => out.push(if value::boolean(name, v)?.unwrap_or_default() {
                b't'
            } else {
                b'f'
            }),
            Kind::Time => {
                let t = value::time(name, v)?.unwrap_or_default();
                let text = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                out.extend_from_slice(text.as_bytes());
            }
            Kind::Json => {
                let text = serde_json::to_vec(v)
                    .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))?;
                copy_escape(out, &text);
            }
        }
    }
    out.push(b'\n');
    Ok(())
}

fn push_display(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
}

/// Escapes text for COPY's text format. A NUL is passed on: PostgreSQL text cannot hold one,
/// and the restore fails as an INSERT of it would.
fn copy_escape(out: &mut Vec<u8>, text: &[u8]) {
    let mut from = 0;
    for (i, b) in text.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => continue,
        };
        out.extend_from_slice(&text[from..i]);
        out.extend_from_slice(escaped);
        from = i + 1;
    }
    out.extend_from_slice(&text[from..]);
}

/// The rows of a restore, one table at a time.
struct TableRows<'r, 's> {
    rows: &'r mut RowSource<'s>,
    /// The first row of the next table, read while finishing the previous one.
    next: Option<(&'static Table, RowObject)>,
}

impl TableRows<'_, '_> {
    fn pull(&mut self) -> Result<Option<(&'static Table, RowObject)>> {
        if let Some(next) = self.next.take() {
            return Ok(Some(next));
        }
        self.rows.next().transpose().map_err(StoreError::Corrupt)
    }

    /// The table of the next row, if any (the row stays to be read).
    fn next_table(&mut self) -> Result<Option<&'static Table>> {
        let next = self.pull()?;
        let table = next.as_ref().map(|(t, _)| *t);
        self.next = next;
        Ok(table)
    }

    /// The next row if it belongs to `table`.
    fn next_row(&mut self, table: &Table) -> Result<Option<RowObject>> {
        match self.pull()? {
            Some((t, row)) if t.name == table.name => Ok(Some(row)),
            other => {
                self.next = other;
                Ok(None)
            }
        }
    }
}

/// Inserts `batch` (rows of `table`) with one multi-row INSERT.
async fn insert_rows<B>(conn: &mut Conn<B>, table: &Table, batch: &[RowObject]) -> Result<()>
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Option<i32>: Param<'q, B::Db>,
    for<'q> Option<i64>: Param<'q, B::Db>,
    for<'q> Option<f64>: Param<'q, B::Db>,
    for<'q> Option<bool>: Param<'q, B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    for<'q> Option<Json<Value>>: Param<'q, B::Db>,
{
    let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_sql(table, batch.len(), B::KIND)));
    for row in batch {
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
    query.execute(&mut *conn).await?;
    Ok(())
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
            let mut rows = TableRows { rows, next: None };
            // One table at a time: PostgreSQL takes each by `COPY … FROM STDIN`, streamed in
            // chunks the server parses while the next is encoded; SQLite by multi-row INSERTs
            // (a statement per row made a restore a round trip per row).
            while let Some(table) = rows.next_table()? {
                let mut stored = 0u64;
                if let Some(mut copy) = B::copy_in(&mut *tx, copy_sql(table)).await? {
                    let mut chunk: Vec<u8> = Vec::with_capacity(COPY_CHUNK + 64 * 1024);
                    while let Some(row) = rows.next_row(table)? {
                        copy_row(&mut chunk, table, &row)?;
                        stored += 1;
                        if chunk.len() >= COPY_CHUNK {
                            copy.send(&chunk).await?;
                            chunk.clear();
                        }
                    }
                    if !chunk.is_empty() {
                        copy.send(&chunk).await?;
                    }
                    copy.finish().await?;
                } else {
                    let mut batch: Vec<RowObject> = Vec::new();
                    loop {
                        let row = rows.next_row(table)?;
                        let end = row.is_none();
                        batch.extend(row);
                        if batch.len() >= rows_per_insert(table) || (end && !batch.is_empty()) {
                            insert_rows::<B>(&mut *tx, table, &batch).await?;
                            stored += batch.len() as u64;
                            batch.clear();
                        }
                        if end {
                            break;
                        }
                    }
                }
                if let Some(c) = counts.iter_mut().find(|(n, _)| *n == table.name) {
                    c.1 += stored;
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
