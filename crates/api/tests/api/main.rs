//! The HTTP API in process (`Router` + `oneshot`), one test binary: resources and their rules
//! (`resources`), identity and access (`auth`), and the route × caller access matrix
//! (`matrix`). Most tests use SQLite; `postgres_*` tests and the `on_both` modules also run on
//! PostgreSQL when `TAYLORDASH_TEST_DATABASE_URL` is set.

/// Runs each listed `async fn(TestApp)` against SQLite and against PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::support::TestApp::new().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(app) = crate::support::TestApp::postgres().await else { return };
                    super::$name(app).await;
                }
            )*
        }
    };
}

mod alerts;
mod artifacts;
mod auth;
mod backups;
mod catalogue;
mod checks;
mod consistency;
mod events;
mod hardening;
mod list_cache;
mod logs;
mod matrix;
mod oidc;
mod openapi_truth;
mod otel;
mod passkeys;
mod resources;
mod server;
mod sso;
mod stack;
mod status_page;
mod support;
mod timeseries;
mod totp;
mod ui;
mod v1_client;
