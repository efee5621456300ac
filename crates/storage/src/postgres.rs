//! PostgreSQL: one pool for reads and writes; rows about to change are locked `FOR UPDATE`.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::migrations;

/// A [`crate::Store`] on PostgreSQL.
pub struct PgStore {
    pool: PgPool,
    max_connections: u32,
}

impl PgStore {
    /// Connects (one attempt) with a pool of at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> crate::Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(PgStore {
            pool,
            max_connections,
        })
    }

    /// The underlying pool, for tests and maintenance commands.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn infra_backend(&self) -> crate::Backend {
        crate::Backend::Postgres
    }

    async fn infra_migrate(&self) -> crate::Result<()> {
        // sqlx takes an advisory lock, so replicas starting together migrate one at a time.
        migrations::postgres().run(&self.pool).await?;
        Ok(())
    }

    fn infra_migrations(&self) -> sqlx::migrate::Migrator {
        migrations::postgres()
    }

    fn infra_pool_stats(&self) -> crate::PoolStats {
        crate::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.max_connections,
        }
    }

    async fn infra_close(&self) {
        self.pool.close().await;
    }
}

crate::sql_store::impl_store!(PgStore, sqlx::Postgres, lock = " FOR UPDATE");
crate::sql_events::impl_event_store!(
    PgStore,
    sqlx::Postgres,
    skip_locked = " FOR UPDATE SKIP LOCKED"
);
// Changes that may affect who is an admin take one transaction-scoped advisory lock, so they run
// one at a time across all replicas (the key is an arbitrary constant).
crate::sql_identity::impl_identity_store!(
    PgStore,
    sqlx::Postgres,
    lock = " FOR UPDATE",
    serialize = "SELECT pg_advisory_xact_lock(7410052671)"
);
