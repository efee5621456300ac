//! Test fixtures shared by the crates' integration tests.
//!
//! [`TestDb`] gives each test its own empty, migrated store: an SQLite file in a temporary
//! directory, or a fresh database on the PostgreSQL server named by
//! `TAYLORDASH_TEST_DATABASE_URL` (dropped again when the test ends). Without that variable the
//! PostgreSQL variants say loudly that they were skipped — unless `TAYLORDASH_REQUIRE_POSTGRES=1`
//! (set by CI), which turns a skip into a failure.

mod dnsmasq;
mod openid;
mod otlp;
mod s3;

use std::sync::Arc;

pub use dnsmasq::{Dnsmasq, REQUIRE_DNSMASQ_ENV, free_udp_port};
pub use openid::{OpenIdProvider, REQUIRE_OIDC_PROVIDER_ENV};
pub use otlp::{DecodedSpan, OtlpReceiver, Received};
pub use s3::{REQUIRE_S3_ENV, S3_SERVER_ENV, S3Server};

use sqlx::Connection;
use storage::{Store, StoreConfig};

/// Admin connection URL of the PostgreSQL server used for tests.
pub const PG_URL_ENV: &str = "TAYLORDASH_TEST_DATABASE_URL";
/// Set to `1` to fail instead of skipping PostgreSQL tests.
pub const REQUIRE_PG_ENV: &str = "TAYLORDASH_REQUIRE_POSTGRES";

pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub config: StoreConfig,
    _guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = StoreConfig::Sqlite {
            path: dir.path().join("test.db"),
            max_connections: 4,
        };
        let store = storage::connect(&config).await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        TestDb {
            store,
            config,
            _guard: Guard::Sqlite(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` (with a loud message) when none is configured.
    pub async fn postgres() -> Option<TestDb> {
        let (admin_url, name, url) = fresh_postgres_database().await?;
        let config = StoreConfig::Postgres {
            url,
            max_connections: 8,
        };
        let store = storage::connect(&config)
            .await
            .expect("connect to test database");
        store.migrate().await.expect("migrate postgres");
        Some(TestDb {
            store,
            config,
            _guard: Guard::Postgres { admin_url, name },
        })
    }
}

/// A project named `project` with one component named `component` (somewhere to put checks);
/// returns (project id, component id).
pub async fn project_with_component(
    store: &dyn Store,
    project: &str,
    component: &str,
) -> (uuid::Uuid, uuid::Uuid) {
    let p = store
        .create_project(domain::NewProject {
            name: project.into(),
            ..Default::default()
        })
        .await
        .expect("create project");
    let c = store
        .create_component(
            p.id,
            domain::NewComponent {
                name: component.into(),
                ..Default::default()
            },
        )
        .await
        .expect("create component");
    (p.id, c.id)
}

/// Every row of `store`, table by table (a snapshot export, as backups take it).
pub async fn export_rows(store: &dyn Store) -> Vec<(&'static storage::Table, storage::RowObject)> {
    let mut rows = Vec::new();
    store
        .export(&mut |t, r| {
            rows.push((t, r));
            Ok(())
        })
        .await
        .expect("export");
    rows
}

/// Creates an empty database; returns (admin URL, database name, URL of the new database).
pub async fn fresh_postgres_database() -> Option<(String, String, String)> {
    let Some(admin_url) = std::env::var(PG_URL_ENV).ok().filter(|v| !v.is_empty()) else {
        if std::env::var(REQUIRE_PG_ENV).as_deref() == Ok("1") {
            panic!(
                "{REQUIRE_PG_ENV}=1 but {PG_URL_ENV} is not set: the PostgreSQL suite cannot run"
            );
        }
        eprintln!(
            "SKIPPED: PostgreSQL test (set {PG_URL_ENV}=postgres://postgres@127.0.0.1:5432/postgres to run it)"
        );
        return None;
    };
    let name = format!("td_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {PG_URL_ENV}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let url = database_url(&admin_url, &name);
    Some((admin_url, name, url))
}

/// `admin_url` with its database name replaced by `name`.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// Drops a test database, from a separate thread so it works inside or outside a runtime.
pub fn drop_postgres_database(admin_url: String, name: String) {
    let worker = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            }
        });
    });
    let _ = worker.join();
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = self {
            drop_postgres_database(std::mem::take(admin_url), std::mem::take(name));
        }
    }
}

/// Runs each listed `async fn(Arc<dyn Store>)` against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::TestDb::sqlite().await;
                    super::$name(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = $crate::TestDb::postgres().await else { return };
                    super::$name(db.store.clone()).await;
                }
            )*
        }
    };
}

mod receivers;
pub use receivers::{REQUIRE_SMTP_ENV, SmtpServer, WebhookReceiver};
mod victoria;
pub use victoria::{REQUIRE_VICTORIAMETRICS_ENV, VictoriaMetrics};

/// Set to `1` to fail instead of skipping tests that need Mosquitto.
pub const REQUIRE_MOSQUITTO_ENV: &str = "TAYLORDASH_REQUIRE_MOSQUITTO";

/// A private Mosquitto broker for one test: its own config, password file, persistence
/// directory and loopback port. Stopped when dropped; `restart` keeps port and persisted state.
pub struct Broker {
    pub port: u16,
    pub user: String,
    pub password: String,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl Broker {
    /// Starts a broker, or returns `None` (loudly) when Mosquitto is not installed.
    pub fn start() -> Option<Broker> {
        Self::start_with(false)
    }

    /// A broker that only speaks TLS, with a certificate for 127.0.0.1 signed by a fresh test CA
    /// (see [`Broker::ca_pem`]).
    pub fn start_tls() -> Option<Broker> {
        Self::start_with(true)
    }

    /// The test CA's certificate (PEM), for a broker started with [`Broker::start_tls`].
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("ca.pem")).expect("CA certificate")
    }

    fn start_with(tls: bool) -> Option<Broker> {
        let exe = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(exe) = exe else {
            if std::env::var(REQUIRE_MOSQUITTO_ENV).as_deref() == Ok("1") {
                panic!("{REQUIRE_MOSQUITTO_ENV}=1 but mosquitto is not installed");
            }
            eprintln!("SKIPPED: MQTT test (install mosquitto to run it)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let (user, password) = ("taylordash".to_owned(), "broker-test-password".to_owned());
        let passwd = dir.path().join("passwd");
        let status = std::process::Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([&user, &password])
            .status()
            .expect("mosquitto_passwd");
        assert!(status.success(), "mosquitto_passwd failed");
        let tls_conf = if tls {
            make_certificates(dir.path());
            let d = dir.path().display();
            format!("cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n")
        } else {
            String::new()
        };
        let conf = format!(
            "listener {port} 127.0.0.1\n{tls_conf}allow_anonymous false\npassword_file {}\n\
             persistence true\npersistence_location {}/\nautosave_interval 1\n\
             max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n\
             user root\nlog_dest file {}/mosquitto.log\n",
            passwd.display(),
            dir.path().display(),
            dir.path().display()
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf).expect("write config");
        let mut broker = Broker {
            port,
            user,
            password,
            dir,
            child: None,
        };
        broker.spawn(exe);
        Some(broker)
    }

    fn spawn(&mut self, exe: &str) {
        let child = std::process::Command::new(exe)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "mosquitto did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Stops the broker gracefully (it saves its persistent state).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let exe = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("mosquitto");
        self.spawn(exe);
    }

    /// The broker's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A test CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI.
pub(crate) fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?} failed");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=taylordash test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write extension");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
