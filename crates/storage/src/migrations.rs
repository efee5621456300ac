//! Versioned migrations, embedded in the binary. Each backend has its own SQL files with the
//! same version numbers; sqlx records applied versions (and checksums) in `_sqlx_migrations`, so
//! running them again is a no-op and an edited, already-applied file is reported, not re-run.

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

type Source = (i64, &'static str, &'static str);

const POSTGRES: &[Source] = &[
    (
        1,
        "core",
        include_str!("../migrations/postgres/0001_core.sql"),
    ),
    (
        2,
        "events",
        include_str!("../migrations/postgres/0002_events.sql"),
    ),
    (
        3,
        "identity",
        include_str!("../migrations/postgres/0003_identity.sql"),
    ),
    (
        4,
        "observability",
        include_str!("../migrations/postgres/0004_observability.sql"),
    ),
    (
        5,
        "artifacts",
        include_str!("../migrations/postgres/0005_artifacts.sql"),
    ),
    (
        6,
        "observability file",
        include_str!("../migrations/postgres/0006_observability_file.sql"),
    ),
    (
        7,
        "log indexes",
        include_str!("../migrations/postgres/0007_log_indexes.sql"),
    ),
    (
        8,
        "outbox dead letters",
        include_str!("../migrations/postgres/0008_outbox_dead_letters.sql"),
    ),
    (
        9,
        "component fields",
        include_str!("../migrations/postgres/0009_component_fields.sql"),
    ),
    (
        10,
        "checks",
        include_str!("../migrations/postgres/0010_checks.sql"),
    ),
    (
        11,
        "dead letter edits",
        include_str!("../migrations/postgres/0011_dead_letter_edits.sql"),
    ),
    (
        12,
        "status pages",
        include_str!("../migrations/postgres/0012_status_pages.sql"),
    ),
    (
        14,
        "sign-in",
        include_str!("../migrations/postgres/0014_sign_in.sql"),
    ),
    (
        15,
        "check day counts",
        include_str!("../migrations/postgres/0015_check_day_counts.sql"),
    ),
    (
        16,
        "alerts",
        include_str!("../migrations/postgres/0016_alerts.sql"),
    ),
    (
        18,
        "passkeys",
        include_str!("../migrations/postgres/0018_passkeys.sql"),
    ),
    (
        19,
        "project list generation",
        include_str!("../migrations/postgres/0019_project_list_generation.sql"),
    ),
    (
        20,
        "outbox in flight",
        include_str!("../migrations/postgres/0020_outbox_in_flight.sql"),
    ),
    (
        21,
        "event write indexes",
        include_str!("../migrations/postgres/0021_event_write_indexes.sql"),
    ),
];
const SQLITE: &[Source] = &[
    (
        1,
        "core",
        include_str!("../migrations/sqlite/0001_core.sql"),
    ),
    (
        2,
        "events",
        include_str!("../migrations/sqlite/0002_events.sql"),
    ),
    (
        3,
        "identity",
        include_str!("../migrations/sqlite/0003_identity.sql"),
    ),
    (
        4,
        "observability",
        include_str!("../migrations/sqlite/0004_observability.sql"),
    ),
    (
        5,
        "artifacts",
        include_str!("../migrations/sqlite/0005_artifacts.sql"),
    ),
    (
        6,
        "observability file",
        include_str!("../migrations/sqlite/0006_observability_file.sql"),
    ),
    (
        7,
        "log indexes",
        include_str!("../migrations/sqlite/0007_log_indexes.sql"),
    ),
    (
        8,
        "outbox dead letters",
        include_str!("../migrations/sqlite/0008_outbox_dead_letters.sql"),
    ),
    (
        9,
        "component fields",
        include_str!("../migrations/sqlite/0009_component_fields.sql"),
    ),
    (
        10,
        "checks",
        include_str!("../migrations/sqlite/0010_checks.sql"),
    ),
    (
        11,
        "dead letter edits",
        include_str!("../migrations/sqlite/0011_dead_letter_edits.sql"),
    ),
    (
        12,
        "status pages",
        include_str!("../migrations/sqlite/0012_status_pages.sql"),
    ),
    (
        14,
        "sign-in",
        include_str!("../migrations/sqlite/0014_sign_in.sql"),
    ),
    (
        15,
        "check day counts",
        include_str!("../migrations/sqlite/0015_check_day_counts.sql"),
    ),
    (
        16,
        "alerts",
        include_str!("../migrations/sqlite/0016_alerts.sql"),
    ),
    (
        18,
        "passkeys",
        include_str!("../migrations/sqlite/0018_passkeys.sql"),
    ),
    (
        19,
        "project list generation",
        include_str!("../migrations/sqlite/0019_project_list_generation.sql"),
    ),
    (
        20,
        "outbox in flight",
        include_str!("../migrations/sqlite/0020_outbox_in_flight.sql"),
    ),
    (
        21,
        "event write indexes",
        include_str!("../migrations/sqlite/0021_event_write_indexes.sql"),
    ),
];

fn migrator(sources: &[Source]) -> Migrator {
    Migrator::with_migrations(
        sources
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// `migrations` up to and including `version` (the `migrate` command applies them one at a
/// time; tests of upgrades stop part way).
pub(crate) fn up_to(migrations: &Migrator, version: i64) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect(),
    )
}
