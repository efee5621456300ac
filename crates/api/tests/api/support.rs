//! The in-process app and request helpers shared by the test modules.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub use api::{ApiKey, AppState, AuthConfig, Clock, PasswordCost};
pub use axum::Router;
pub use axum::body::Body;
pub use axum::http::{HeaderMap, Method, Request, StatusCode, header};
pub use http_body_util::BodyExt;
pub use serde_json::{Value, json};
pub use storage::Store;
pub use taylordash::app::{AppBuilder, FilesSettings};
pub use testsupport::TestDb;
pub use tower::ServiceExt;

/// The service key (`API_KEY`) every test app is configured with.
pub const KEY: &str = "test-key-0123456789abcdef";
/// Alertmanager's token in apps configured with it ([`with_alertmanager_token`]).
pub const ALERTMANAGER_TOKEN: &str = "alertmanager-token-0123456789abcdef";
/// Backups the test server keeps (on-demand ones included).
pub const BACKUP_KEEP: usize = 3;
/// A password that passes the policy.
pub const PASSWORD: &str = "correct-stapler-orbit-42";

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub clock: TestClock,
    pub db: TestDb,
    pub files_dir: tempfile::TempDir,
}

/// The artifact upload limit of test apps, in bytes.
pub const UPLOAD_LIMIT: u64 = 8 * 1024 * 1024;

/// A clock the test can move forward.
#[derive(Clone, Default)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn advance(&self, by: chrono::Duration) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let offset = self.0.clone();
        Clock::new(move || {
            chrono::Utc::now() + chrono::Duration::milliseconds(offset.load(Ordering::SeqCst))
        })
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts an error reply: status, stable code, and a non-empty human detail.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "error without detail: {}",
            self.body
        );
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "errors are JSON"
        );
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field} in {}", self.body))
            .to_owned()
    }
}

/// Application state with default settings and the in-process event bus, built as `serve`
/// builds it.
pub fn app_state(store: Arc<dyn Store>) -> AppState {
    AppBuilder::new(store, ApiKey::new(KEY))
        .auth(fast())
        .build()
        .expect("app")
        .state
}

/// The default settings with the cheapest password hashing (tests only).
pub fn fast() -> AuthConfig {
    AuthConfig {
        password_cost: PasswordCost::Fast,
        ..AuthConfig::default()
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Cred {
    Anonymous,
    /// `X-API-Key`.
    Key(String),
    /// `Authorization: Bearer`.
    Bearer(String),
    /// The session cookie, from a same-origin page.
    Cookie(String),
    /// A session token as `Authorization: Bearer` and a key as `X-API-Key`, as v1's web client
    /// sends them.
    SessionAndKey(String, String),
    /// A forward-auth proxy's identity headers (`Remote-User`, `Remote-Groups`), on a
    /// connection from `peer`, from a same-origin page.
    Proxy {
        user: String,
        groups: String,
        peer: &'static str,
    },
}

/// The proxy test apps trust (see [`forward_auth_config`]).
pub const PROXY: &str = "10.1.2.3";
/// An address that is not a trusted proxy.
pub const STRANGER: &str = "203.0.113.50";

/// [`fast`] with forward-auth on, trusting [`PROXY`]'s network, default header names and
/// role mapping.
pub fn forward_auth_config() -> AuthConfig {
    AuthConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("network")],
        forward_auth: Some(api::auth::ForwardAuth::default()),
        ..fast()
    }
}

/// `config` with Alertmanager's token set to [`ALERTMANAGER_TOKEN`].
pub fn with_alertmanager_token(config: AuthConfig) -> AuthConfig {
    AuthConfig {
        alertmanager_token: Some(api::AlertmanagerToken::new(ALERTMANAGER_TOKEN)),
        ..config
    }
}

impl Cred {
    pub fn service() -> Cred {
        Cred::Key(KEY.to_owned())
    }
}

impl TestApp {
    /// Text columns of a query, read straight from the database (to check what is stored).
    pub async fn raw_text(&self, sql: &'static str) -> Vec<String> {
        use sqlx::Row as _;
        match &self.db.config {
            storage::StoreConfig::Sqlite { path, .. } => {
                use sqlx::Connection as _;
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .expect("open sqlite");
                // As the store does: the observability tables are in a file of their own.
                sqlx::query("ATTACH DATABASE ?1 AS observability")
                    .bind(storage::observability_path(path).display().to_string())
                    .execute(&mut conn)
                    .await
                    .expect("attach");
                let rows = sqlx::query(sql).fetch_all(&mut conn).await.expect("query");
                rows.iter()
                    .flat_map(|r| {
                        (0..r.len()).map(move |i| {
                            r.try_get::<Option<String>, _>(i)
                                .ok()
                                .flatten()
                                .unwrap_or_default()
                        })
                    })
                    .collect()
            }
            storage::StoreConfig::Postgres { url, .. } => {
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                let rows = sqlx::query(sql).fetch_all(&pool).await.expect("query");
                let out = rows
                    .iter()
                    .flat_map(|r| {
                        (0..r.len()).map(move |i| {
                            r.try_get::<Option<String>, _>(i)
                                .ok()
                                .flatten()
                                .unwrap_or_default()
                        })
                    })
                    .collect();
                pool.close().await;
                out
            }
        }
    }

    pub async fn new() -> TestApp {
        Self::with(TestDb::sqlite().await)
    }

    pub async fn postgres() -> Option<TestApp> {
        Some(Self::with(TestDb::postgres().await?))
    }

    /// An app with fast password hashing and a movable clock.
    pub fn with(db: TestDb) -> TestApp {
        Self::configured(db, fast())
    }

    /// An app with `config` and a movable clock.
    pub fn configured(db: TestDb, config: AuthConfig) -> TestApp {
        let clock = TestClock::default();
        let config = AuthConfig {
            clock: clock.clock(),
            ..config
        };
        // Artifacts go to a throwaway directory, with a small upload limit; the tests run the
        // object collector themselves.
        let files_dir = tempfile::tempdir().expect("temporary directory");
        let objects = objects::Objects::local(files_dir.path()).expect("object store");
        let state = AppBuilder::new(db.store.clone(), ApiKey::new(KEY))
            .auth(config)
            .files(FilesSettings {
                objects,
                max_upload_bytes: UPLOAD_LIMIT,
                collect_interval: None,
                backup_interval: None,
                backup_keep: BACKUP_KEEP,
            })
            .build()
            .expect("app")
            .state;
        TestApp {
            router: api::router(state.clone()),
            state,
            store: db.store.clone(),
            clock,
            db,
            files_dir,
        }
    }

    /// An app whose observability parts (log writer, time series, stack endpoints) `setup`
    /// chooses, without object storage.
    pub fn observed(db: TestDb, setup: impl FnOnce(AppBuilder) -> AppBuilder) -> TestApp {
        let builder = AppBuilder::new(db.store.clone(), ApiKey::new(KEY)).auth(fast());
        let state = setup(builder).build().expect("app").state;
        TestApp {
            router: api::router(state.clone()),
            state,
            store: db.store.clone(),
            clock: TestClock::default(),
            db,
            files_dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request builder authenticated by `cred`, from client address `ip`.
    pub fn builder(cred: &Cred, method: Method, path: &str) -> axum::http::request::Builder {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "localhost:8000");
        match cred {
            Cred::Anonymous => builder,
            Cred::Key(k) => builder.header("x-api-key", k),
            Cred::Bearer(t) => builder.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Cred::Cookie(t) => builder
                .header(header::COOKIE, format!("taylordash_session={t}"))
                .header(header::ORIGIN, "http://localhost:8000"),
            Cred::SessionAndKey(t, k) => builder
                .header(header::AUTHORIZATION, format!("Bearer {t}"))
                .header("x-api-key", k),
            Cred::Proxy { user, groups, peer } => {
                let addr: SocketAddr = format!("{peer}:40000").parse().expect("address");
                builder
                    .header("remote-user", user)
                    .header("remote-groups", groups)
                    .header(header::ORIGIN, "http://localhost:8000")
                    .extension(axum::extract::ConnectInfo(addr))
            }
        }
    }

    pub async fn call_as(
        &self,
        cred: &Cred,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Self::builder(cred, method, path);
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let req = builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        self.send(req).await
    }

    pub async fn call_as_owned(
        &self,
        cred: Cred,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_as(&cred, method, path, body).await
    }

    /// `GET /api/v1/auth/me` with a session token.
    pub async fn me(&self, token: String) -> Reply {
        self.call_as(&Cred::Bearer(token), Method::GET, "/api/v1/auth/me", None)
            .await
    }

    /// As `call_as`, from the client address `ip`.
    pub async fn call_from(
        &self,
        ip: &str,
        cred: &Cred,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Self::builder(cred, method, path);
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let mut req = builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        let addr: SocketAddr = format!("{ip}:40000").parse().expect("address");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        self.send(req).await
    }

    /// A request with the service key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&Cred::service(), method, path, body).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", KEY);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        self.send(builder.body(Body::from(body.to_owned())).expect("request"))
            .await
    }

    /// Creates a project and returns its id.
    pub async fn project(&self, name: &str) -> String {
        let r = self.post("/api/v1/projects", json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }

    pub async fn component(&self, project: &str, name: &str) -> String {
        let r = self
            .post(
                &format!("/api/v1/projects/{project}/components"),
                json!({ "name": name }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a user (with [`PASSWORD`]) through the API with the service key; returns the id.
    pub async fn user(&self, name: &str, role: &str) -> String {
        let r = self
            .post(
                "/api/v1/auth/users",
                json!({"username": name, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.str("id")
    }

    /// Logs in; returns the whole reply.
    pub async fn login_reply(&self, name: &str, password: &str) -> Reply {
        self.call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": name, "password": password})),
        )
        .await
    }

    /// Logs in with [`PASSWORD`]; returns the session token.
    pub async fn login(&self, name: &str) -> String {
        let r = self.login_reply(name, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.str("session_token")
    }

    /// Creates an API key for the holder of `cred`; returns the key.
    pub async fn api_key(&self, cred: &Cred, scope: &str) -> String {
        let r = self
            .call_as(
                cred,
                Method::POST,
                "/api/v1/auth/api-keys",
                Some(json!({"name": format!("{scope} key"), "scope": scope})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.str("key")
    }
}
