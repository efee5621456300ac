//! Configuration: built-in defaults, then an optional TOML file, then environment variables,
//! then command-line flags — later layers win. Every key has one dotted name (used in the file
//! and in messages) and one environment variable (the names the deployment spec uses; a few
//! older names are still read).
//!
//! Each key is declared once, in `Config::read` (and `files::read` for files and backups):
//! name, environment variable(s), flag, default, secret or not, help text and parser, right
//! where its value goes into [`Config`]. `config check` lists the keys in that order, and a file
//! key nobody declares is an error. A bad value stops startup with a message naming the key and
//! where the value came from. Secrets are wrapped in [`Secret`] and never printed.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod files;
mod key;
mod parse;

use key::{Found, Reader, Redact};
use parse::{
    boolean, ca_file, days, from_str, nonzero, path, positive, positive_seconds, seconds,
    service_url, text,
};

/// A value that must not appear in logs or output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Auto,
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; `None` means SQLite in the data directory.
    pub url: Option<Secret>,
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct MqttConfig {
    pub host: Option<String>,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub client_id: Option<String>,
    pub shared_group: Option<String>,
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct EventsConfig {
    pub retention: Duration,
    pub max_message_bytes: usize,
    pub batch_size: usize,
    pub batch_delay: Duration,
}

/// The services beside TaylorDash (`http[s]://host:port`); `None` = not used.
#[derive(Debug, Clone, Default)]
pub struct StackConfig {
    pub victoria_metrics: Option<String>,
    /// How often the app's own metrics go to VictoriaMetrics.
    pub push_interval: Duration,
    /// How long local metric samples are kept (no VictoriaMetrics).
    pub local_retention: Duration,
    pub prometheus: Option<String>,
    pub grafana: Option<String>,
    pub object_store: Option<String>,
    /// PEM CA certificates trusted for HTTPS to them, besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// OpenTelemetry trace export, from the standard `OTEL_*` variables.
#[derive(Debug, Clone)]
pub struct OtelConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: spans go to `<it>/v1/traces`.
    pub endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the whole URL, used as it is.
    pub traces_endpoint: Option<String>,
    /// `key=value,...` lists, already checked; the traces ones win per header.
    pub headers: Option<Secret>,
    pub traces_headers: Option<Secret>,
    pub certificate: Option<PathBuf>,
    pub timeout: Duration,
    pub service_name: Option<String>,
    pub resource_attributes: Vec<(String, String)>,
    pub sampler: observability::otel::Sampler,
    pub disabled: bool,
}

impl OtelConfig {
    /// The URL spans are POSTed to, when export is on.
    pub fn traces_url(&self) -> Option<String> {
        if self.disabled {
            return None;
        }
        self.traces_endpoint
            .clone()
            .or_else(|| self.endpoint.as_ref().map(|e| format!("{e}/v1/traces")))
    }

    /// The export headers: the general ones, overridden per name by the traces ones.
    pub fn headers(&self) -> Vec<(String, String)> {
        let parse = |s: &Option<Secret>| {
            s.as_ref()
                .and_then(|s| observability::otel::parse_headers(s.expose()).ok())
                .unwrap_or_default()
        };
        let mut headers = parse(&self.headers);
        for (name, value) in parse(&self.traces_headers) {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            headers.push((name, value));
        }
        headers
    }

    /// Resource attributes: TaylorDash's own, then `OTEL_RESOURCE_ATTRIBUTES` (which may
    /// replace them), then `OTEL_SERVICE_NAME` (which wins for `service.name`).
    pub fn resource(&self, environment: &str) -> Vec<(String, String)> {
        let mut resource: Vec<(String, String)> = [
            ("service.name", "taylordash"),
            ("service.version", env!("CARGO_PKG_VERSION")),
            ("deployment.environment", environment),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut set = |key: &str, value: &str| match resource.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value.to_owned(),
            None => resource.push((key.to_owned(), value.to_owned())),
        };
        for (k, v) in &self.resource_attributes {
            set(k, v);
        }
        if let Some(name) = &self.service_name {
            set("service.name", name);
        }
        resource
    }
}

/// Logs stored in the database.
#[derive(Debug, Clone)]
pub struct LogsConfig {
    pub db: bool,
    pub db_level: tracing::Level,
    /// (level, age) for ERROR, WARN, INFO and DEBUG.
    pub retention: Vec<(&'static str, Duration)>,
    pub queue_capacity: usize,
}

/// An admin account to create at start if it does not exist (unattended installs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminBootstrap {
    pub username: String,
    pub password_file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub environment: String,
    pub api_key: Option<Secret>,
    /// `scheme://host[:port]` users reach TaylorDash at.
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins besides the server's own whose pages may use a session cookie.
    pub allowed_origins: Vec<String>,
    /// Sign-in by a trusted proxy's identity headers.
    pub forward_auth: Option<api::auth::ForwardAuth>,
    /// Roles from provider groups; accounts linked or created on first sight.
    pub external: services::identity::ExternalPolicy,
    /// Accounts whose password always signs in.
    pub break_glass: Vec<String>,
    /// Sign-in with an OpenID provider.
    pub oidc: Option<services::identity::OidcSettings>,
    pub admin_bootstrap: Option<AdminBootstrap>,
    pub database: DatabaseConfig,
    pub mqtt: MqttConfig,
    pub events: EventsConfig,
    pub otel: OtelConfig,
    pub log_level: String,
    pub log_format: LogFormat,
    pub logs: LogsConfig,
    /// How long service-check history is kept.
    pub check_retention: services::checks::Retention,
    /// Longest wait between two delivery attempts of a notification.
    pub alert_retry_max: std::time::Duration,
    /// Hours a notification is retried before it is given up.
    pub alert_give_up: usize,
    /// The token Alertmanager posts its webhook with (that route only).
    pub alertmanager_token: Option<Secret>,
    pub stack: StackConfig,
    pub shutdown_timeout: Duration,
    /// Connection limits of the HTTP server.
    pub http: api::server::ServerLimits,
    pub files: files::FilesConfig,
    /// Every key in declaration order with where its value came from, for `config check`.
    keys: Vec<Found>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    /// `VAR_FILE`: the variable and the file it named.
    EnvFile(String, PathBuf),
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::EnvFile(name, path) => write!(f, "file {} (env {name})", path.display()),
            Source::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {error}")]
    Toml { path: PathBuf, error: String },
    #[error("unknown key '{key}' in config file {path}; known keys: {known}")]
    UnknownKey {
        key: String,
        path: PathBuf,
        known: String,
    },
    #[error("invalid value for {key} (from {origin}): {message}")]
    Invalid {
        key: &'static str,
        origin: Source,
        message: String,
    },
}

/// Values given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub bind: Option<String>,
    pub data_dir: Option<String>,
    pub log_level: Option<String>,
}

impl Config {
    /// Loads defaults, `file`, the process environment and `flags`, in that order.
    pub fn load(file: Option<&Path>, flags: &Flags) -> Result<Config, ConfigError> {
        Self::load_from(file, flags, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], reading environment variables through `env` (for tests).
    pub fn load_from(
        file: Option<&Path>,
        flags: &Flags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut reader = Reader::new(file, flags, &env)?;
        let config = Self::read(&mut reader)?;
        Ok(Config {
            keys: reader.finish()?,
            ..config
        })
    }

    /// Declares every key, in the order `config check` lists them, and builds the config from
    /// their values. Keys whose values depend on each other are checked right after both.
    fn read(r: &mut Reader) -> Result<Config, ConfigError> {
        let bind = r
            .key("bind", "TAYLORDASH_BIND", "address and port to listen on")
            .flag("--bind", |f| &f.bind)
            .default("127.0.0.1:8000")
            .parse(from_str("an address like 127.0.0.1:8000"))?;
        let data_dir = r
            .key(
                "data_dir",
                "TAYLORDASH_DATA_DIR",
                "directory for the SQLite database and the generated API key",
            )
            .flag("--data-dir", |f| &f.data_dir)
            .default("./data")
            .parse(path)?;
        let environment = r
            .key(
                "environment",
                "TAYLORDASH_ENV",
                "deployment name (also read from ENVIRONMENT); `production` enforces stricter rules",
            )
            .or_env("ENVIRONMENT")
            .default("development")
            .parse(text)?;
        let production = is_production(&environment);
        let api_key = r
            .key(
                "api_key",
                "TAYLORDASH_API_KEY",
                "service key with admin scope, sent as X-API-Key; generated on first start when unset",
            )
.or_env("API_KEY")
            .secret(Redact::All)
            .parse(|v| service_key(v, production))?;
        let public_url = r
            .key(
                "public_url",
                "TAYLORDASH_PUBLIC_URL",
                "URL users reach TaylorDash at, e.g. https://dash.example.net (https: Secure cookies, HSTS)",
            )
            .parse(origin)?;
        let allowed_origins = r
            .key(
                "auth.allowed_origins",
                "TAYLORDASH_ALLOWED_ORIGINS",
                "comma-separated other origins whose pages may sign in and send cookie-authenticated writes and stream upgrades (dev proxies, a second host name)",
            )
            .parse(origins)?
            .unwrap_or_default();
        let trusted_proxies = r
            .key(
                "auth.trusted_proxies",
                "TAYLORDASH_TRUSTED_PROXIES",
                "comma-separated proxy addresses/CIDRs whose X-Forwarded-For/-Proto are believed",
            )
            .parse(networks)?
            .unwrap_or_default();
        let forward_auth = r
            .key(
                "auth.forward_auth.enabled",
                "TAYLORDASH_FORWARD_AUTH",
                "sign users in by the identity headers of a forward-auth proxy (Authelia, Authentik), believed only from auth.trusted_proxies",
            )
            .default("false")
            .parse(boolean)?;
        let user_header = r
            .key(
                "auth.forward_auth.user_header",
                "TAYLORDASH_FORWARD_AUTH_USER_HEADER",
                "header naming the signed-in user",
            )
            .default("Remote-User")
            .parse(header_name)?;
        let groups_header = r
            .key(
                "auth.forward_auth.groups_header",
                "TAYLORDASH_FORWARD_AUTH_GROUPS_HEADER",
                "header listing the user's groups (separated by , or |)",
            )
            .default("Remote-Groups")
            .parse(header_name)?;
        let email_header = r
            .key(
                "auth.forward_auth.email_header",
                "TAYLORDASH_FORWARD_AUTH_EMAIL_HEADER",
                "header with the user's e-mail address",
            )
            .default("Remote-Email")
            .parse(header_name)?;
        let logout_url = r
            .key(
                "auth.forward_auth.logout_url",
                "TAYLORDASH_FORWARD_AUTH_LOGOUT_URL",
                "where signing out sends the browser (the proxy's logout page)",
            )
            .parse(http_url)?;
        let forward_auth = forward_auth.then(|| api::auth::ForwardAuth {
            user_header,
            groups_header,
            email_header,
            logout_url,
        });
        if forward_auth.is_some() && trusted_proxies.is_empty() {
            return Err(r.invalid(
                "auth.forward_auth.enabled",
                "forward-auth is on but no proxy is trusted: set auth.trusted_proxies \
                 (TAYLORDASH_TRUSTED_PROXIES) to the proxy's address",
            ));
        }
        let admin_groups = r
            .key(
                "auth.roles.admin_groups",
                "TAYLORDASH_ADMIN_GROUPS",
                "comma-separated provider groups whose members are admins (forward-auth, OpenID)",
            )
            .default("taylordash-admins")
            .parse(group_list)?;
        let editor_groups = r
            .key(
                "auth.roles.editor_groups",
                "TAYLORDASH_EDITOR_GROUPS",
                "comma-separated provider groups whose members are editors",
            )
            .default("taylordash-editors")
            .parse(group_list)?;
        let viewer_groups = r
            .key(
                "auth.roles.viewer_groups",
                "TAYLORDASH_VIEWER_GROUPS",
                "comma-separated provider groups whose members are viewers; unset: every other user is a viewer, set: users in none of the groups are refused",
            )
            .parse(group_list)?;
        let default_role = r
            .key(
                "auth.roles.default_role",
                "TAYLORDASH_SSO_DEFAULT_ROLE",
                "role of a provider's user in none of the groups above while auth.roles.viewer_groups is unset: viewer or editor",
            )
            .default("viewer")
            .parse(default_role)?;
        let create_users = r
            .key(
                "auth.create_users",
                "TAYLORDASH_SSO_CREATE_USERS",
                "create an account for a provider's user seen for the first time",
            )
            .default("true")
            .parse(boolean)?;
        let link_by_username = r
            .key(
                "auth.link_by_username",
                "TAYLORDASH_SSO_LINK_BY_USERNAME",
                "link a provider's user seen for the first time to the local account of the same username (never a break-glass or admin account for OpenID Connect); unset: forward-auth links, OpenID Connect does not",
            )
            .parse(boolean)?;
        let break_glass = r
            .key(
                "auth.break_glass_users",
                "TAYLORDASH_BREAK_GLASS_USERS",
                "comma-separated local accounts whose password always signs in, even with password sign-in turned off",
            )
            .parse(group_list)?
            .unwrap_or_default();
        let oidc = oidc_settings(r, public_url.as_deref())?;
        let external = services::identity::ExternalPolicy {
            roles: domain::RoleMapping {
                admin_groups,
                editor_groups,
                viewer_groups,
                default_role,
            },
            create_users,
            link_by_username,
        };
        let admin_user = r
            .key(
                "admin.user",
                "TAYLORDASH_ADMIN_USER",
                "unattended install: admin account created at start if missing (with admin.password_file)",
            )
            .parse(text)?;
        let admin_password_file = r
            .key(
                "admin.password_file",
                "TAYLORDASH_ADMIN_PASSWORD_FILE",
                "file holding the password of admin.user",
            )
            .parse(path)?;
        let admin_bootstrap = match (admin_user, admin_password_file) {
            (Some(username), Some(password_file)) => Some(AdminBootstrap {
                username,
                password_file,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(r.invalid(
                    "admin.password_file",
                    "admin.user is set: also set admin.password_file \
                     (TAYLORDASH_ADMIN_PASSWORD_FILE) to the file holding its password",
                ));
            }
            (None, Some(_)) => {
                return Err(r.invalid(
                    "admin.user",
                    "admin.password_file is set: also set admin.user (TAYLORDASH_ADMIN_USER)",
                ));
            }
        };
        let url = r
            .key(
                "database.url",
                "TAYLORDASH_DATABASE_URL",
                "postgres://... to use PostgreSQL; unset uses SQLite in data_dir",
            )
            .or_env("DATABASE_URL")
            .secret(Redact::UrlPassword)
            .parse(postgres_url)?;
        let password = r
            .key(
                "database.password",
                "TAYLORDASH_DB_PASSWORD",
                "the PostgreSQL password, put into database.url (which then carries none): e.g. TAYLORDASH_DB_PASSWORD_FILE=/run/secrets/db_password",
            )
            .secret(Redact::All)
            .parse(secret)?;
        let url = match (url, password) {
            (url, None) => url,
            (None, Some(_)) => {
                return Err(r.invalid(
                    "database.password",
                    "database.password is set but database.url is not (set the URL without its password)",
                ));
            }
            (Some(url), Some(password)) => Some(
                url_with_password(url.expose(), password.expose())
                    .map_err(|e| r.invalid("database.password", e))?,
            ),
        };
        let database = DatabaseConfig {
            url,
            max_connections: r
                .key(
                    "database.max_connections",
                    "TAYLORDASH_DB_MAX_CONNECTIONS",
                    "database connection pool size",
                )
                .default("10")
                .parse(pool_size)?,
            connect_timeout: r
                .key(
                    "database.connect_timeout_secs",
                    "TAYLORDASH_DB_CONNECT_TIMEOUT",
                    "how long startup keeps retrying an unreachable database",
                )
                .default("30")
                .parse(seconds)?,
        };
        let mqtt = MqttConfig {
            host: r
                .key(
                    "mqtt.host",
                    "TAYLORDASH_MQTT_HOST",
                    "MQTT broker host; unset uses the in-process event bus",
                )
                .or_env("MQTT_HOST")
                .parse(text)?,
            port: r
                .key("mqtt.port", "TAYLORDASH_MQTT_PORT", "MQTT broker port")
                .or_env("MQTT_PORT")
                .default("1883")
                .parse(from_str("a port number"))?,
            username: r
                .key(
                    "mqtt.username",
                    "TAYLORDASH_MQTT_USERNAME",
                    "MQTT user name",
                )
                .or_env("MQTT_USERNAME")
                .parse(text)?,
            password: r
                .key("mqtt.password", "TAYLORDASH_MQTT_PASSWORD", "MQTT password")
                .or_env("MQTT_PASSWORD")
                .secret(Redact::All)
                .parse(secret)?,
            tls: r
                .key(
                    "mqtt.tls",
                    "TAYLORDASH_MQTT_TLS",
                    "connect to the broker over TLS (e.g. port 8883)",
                )
                .or_env("MQTT_TLS")
                .default("false")
                .parse(boolean)?,
            ca_file: r
                .key(
                    "mqtt.ca_file",
                    "TAYLORDASH_MQTT_CA_FILE",
                    "PEM CA certificate(s) to trust for the broker (default: the system's)",
                )
                .or_env("MQTT_CA_FILE")
                .parse(path)?,
            client_id: r
                .key(
                    "mqtt.client_id",
                    "TAYLORDASH_MQTT_CLIENT_ID",
                    "MQTT client id; stable per instance (default: taylordash-<hostname>)",
                )
                .parse(text)?,
            shared_group: r
                .key(
                    "mqtt.shared_group",
                    "TAYLORDASH_MQTT_SHARED_GROUP",
                    "opt-in shared-subscription group for replicas (see docs)",
                )
                .parse(text)?,
        };
        let events = EventsConfig {
            retention: r
                .key(
                    "events.retention_days",
                    "TAYLORDASH_EVENT_RETENTION_DAYS",
                    "events older than this are pruned",
                )
                .default("30")
                .parse(days)?,
            max_message_bytes: r
                .key(
                    "events.max_message_bytes",
                    "TAYLORDASH_EVENT_MAX_BYTES",
                    "larger messages are dead-lettered as oversized",
                )
                .default("262144")
                .parse(positive)?,
            batch_size: r
                .key(
                    "events.batch_size",
                    "TAYLORDASH_EVENT_BATCH_SIZE",
                    "most events committed in one transaction",
                )
                .default("500")
                .parse(positive)?,
            batch_delay: r
                .key(
                    "events.batch_delay_ms",
                    "TAYLORDASH_EVENT_BATCH_DELAY_MS",
                    "longest an event waits for its batch",
                )
                .default("5")
                .parse(|v| from_str("a number of milliseconds")(v).map(Duration::from_millis))?,
        };
        let otel = read_otel(r)?;
        let log_level = r
            .key(
                "log.level",
                "TAYLORDASH_LOG",
                "what stdout shows, e.g. info or taylordash=debug,sqlx=warn (the database has its own level)",
            )
            .flag("--log-level", |f| &f.log_level)
            .default("info")
            .parse(log_filter)?;
        let log_format = r
            .key(
                "log.format",
                "TAYLORDASH_LOG_FORMAT",
                "auto (JSON unless on a terminal), json or text",
            )
            .default("auto")
            .parse(log_format)?;
        let files = files::read(r)?;
        let stack = StackConfig {
            victoria_metrics: r
                .key(
                    "victoria_metrics.url",
                    "TAYLORDASH_VICTORIA_METRICS_URL",
                    "VictoriaMetrics, e.g. http://victoriametrics:8428 (time series; checked by /health/stack)",
                )
.or_env("VICTORIA_METRICS_URL")
                .parse(service_url)?,
            push_interval: r
                .key(
                    "metrics.push_interval_secs",
                    "TAYLORDASH_METRICS_PUSH_INTERVAL",
                    "how often the app's own metrics are pushed to VictoriaMetrics (0: never, e.g. when Prometheus remote-writes them)",
                )
                .default("15")
                .parse(|v| from_str("a whole number")(v).map(Duration::from_secs))?,
            local_retention: r
                .key(
                    "metrics.local_retention_days",
                    "TAYLORDASH_METRICS_RETENTION_DAYS",
                    "without VictoriaMetrics: days metric samples are kept in the database",
                )
                .default("30")
                .parse(|v| positive(v).map(|d| Duration::from_secs(86_400 * d as u64)))?,
            prometheus: r
                .key(
                    "stack.prometheus_url",
                    "TAYLORDASH_PROMETHEUS_URL",
                    "Prometheus, e.g. http://prometheus:9090 (checked by /health/stack)",
                )
.or_env("PROMETHEUS_URL")
                .parse(service_url)?,
            grafana: r
                .key(
                    "stack.grafana_url",
                    "TAYLORDASH_GRAFANA_URL",
                    "Grafana, e.g. http://grafana:3000 (checked by /health/stack)",
                )
.or_env("GRAFANA_URL")
                .parse(service_url)?,
            object_store: r
                .key(
                    "stack.object_store_url",
                    "TAYLORDASH_OBJECT_STORE_URL",
                    "S3-compatible object store, e.g. http://seaweedfs:8333 (checked by /health/stack)",
                )
                .parse(service_url)?,
            ca_file: r
                .key(
                    "stack.ca_file",
                    "TAYLORDASH_STACK_CA_FILE",
                    "PEM CA certificate(s) trusted, besides the system's, for HTTPS to the services above and the OTLP collector (a home lab's private CA)",
                )
                .parse(ca_file)?,
        };
        let logs = LogsConfig {
            db: r
                .key(
                    "log.db",
                    "TAYLORDASH_LOG_DB",
                    "also store log records in the database (application_logs, shown by /api/v1/logs)",
                )
                .default("true")
                .parse(boolean)?,
            db_level: r
                .key(
                    "log.db_level",
                    "TAYLORDASH_LOG_DB_LEVEL",
                    "least severe level stored in the database, whatever stdout shows: error, warn, info or debug",
                )
                .default("info")
                .parse(db_level)?,
            retention: r
                .key(
                    "log.retention_days",
                    "TAYLORDASH_LOG_RETENTION_DAYS",
                    "days stored log records are kept, per level (levels left out keep their default)",
                )
                .default("error=90,warn=60,info=30,debug=7")
                .parse(log_retention)?,
            queue_capacity: r
                .key(
                    "log.queue_capacity",
                    "TAYLORDASH_LOG_QUEUE",
                    "log records held in memory while the database is slow; beyond it the oldest are dropped",
                )
                .default("10000")
                .parse(positive)?,
        };
        let http = api::server::ServerLimits {
            header_timeout: r
                .key(
                    "http.header_timeout_secs",
                    "TAYLORDASH_HTTP_HEADER_TIMEOUT",
                    "seconds a connection may take to send a request head, and may stay idle between requests",
                )
                .default("60")
                .parse(positive_seconds)?,
            body_chunk_timeout: r
                .key(
                    "http.body_timeout_secs",
                    "TAYLORDASH_HTTP_BODY_TIMEOUT",
                    "seconds a request body may pause between two chunks (slow uploads still work)",
                )
                .default("60")
                .parse(positive_seconds)?,
            max_connections: r
                .key(
                    "http.max_connections",
                    "TAYLORDASH_HTTP_MAX_CONNECTIONS",
                    "open connections served at once; more are answered 503 and closed",
                )
                .default("512")
                .parse(positive)?,
            shutdown_delay: r
                .key(
                    "shutdown_delay_secs",
                    "TAYLORDASH_SHUTDOWN_DELAY",
                    "seconds to keep serving, marked not ready, after SIGTERM so a load balancer stops routing here first",
                )
                .default("0")
                .parse(seconds)?,
        };
        let shutdown_timeout = r
            .key(
                "shutdown_timeout_secs",
                "TAYLORDASH_SHUTDOWN_TIMEOUT",
                "how long shutdown waits for in-flight requests",
            )
            .default("30")
            .parse(seconds)?;
        let check_retention = r
            .key(
                "checks.retention_days",
                "TAYLORDASH_CHECK_RETENTION_DAYS",
                "days service-check history is kept: raw results, hourly and daily uptime counts",
            )
            .default("raw=2,hourly=90,daily=800")
            .parse(check_retention)?;
        let alert_retry_max = r
            .key(
                "alerts.retry_max_secs",
                "TAYLORDASH_ALERT_RETRY_MAX",
                "longest wait between two delivery attempts of a notification (the backoff doubles up to it)",
            )
            .default("300")
            .parse(positive_seconds)?;
        let alert_give_up = r
            .key(
                "alerts.give_up_hours",
                "TAYLORDASH_ALERT_GIVE_UP_HOURS",
                "hours a notification is retried before it is marked failed",
            )
            .default("24")
            .parse(positive)?;
        let alertmanager_token = r
            .key(
                "alerts.alertmanager_token",
                "TAYLORDASH_ALERTMANAGER_TOKEN",
                "token Alertmanager sends as Authorization: Bearer; opens POST /api/v1/alerts/alertmanager and no other route (better: TAYLORDASH_ALERTMANAGER_TOKEN_FILE); unset: only editors may post there",
            )
            .secret(Redact::All)
            .parse(|v| alertmanager_token(v, production))?;
        if let (Some(token), Some(key)) = (&alertmanager_token, &api_key)
            && token == key
        {
            return Err(r.invalid(
                "alerts.alertmanager_token",
                "is the service key (api_key), which has admin rights: give Alertmanager a \
                 random token of its own (e.g. `openssl rand -hex 32`)",
            ));
        }
        Ok(Config {
            alert_retry_max,
            alert_give_up,
            alertmanager_token,
            bind,
            data_dir,
            environment,
            api_key,
            public_url,
            trusted_proxies,
            allowed_origins,
            forward_auth,
            external,
            break_glass,
            oidc,
            admin_bootstrap,
            database,
            mqtt,
            events,
            otel,
            log_level,
            log_format,
            logs,
            check_retention,
            stack,
            shutdown_timeout,
            http,
            files,
            keys: Vec::new(), // filled in by `load_from` once every key is declared
        })
    }

    /// `TAYLORDASH_ENV=production`: stricter rules apply.
    pub fn production(&self) -> bool {
        is_production(&self.environment)
    }

    /// The effective configuration as `key = value  # source` lines, secrets redacted.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for k in &self.keys {
            let line = match &k.shown {
                Some((value, source)) => format!("{} = {value:?}  # {source}; {}", k.name, k.help),
                None => format!("# {} unset (env {}); {}", k.name, k.env[0], k.help),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// The standard OpenTelemetry variables for trace export (OTLP/HTTP protobuf).
fn read_otel(r: &mut Reader) -> Result<OtelConfig, ConfigError> {
    let endpoint = r
        .key(
            "otel.endpoint",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTLP/HTTP collector for traces, e.g. http://otel-collector:4318 (spans go to <it>/v1/traces; https:// too); unset exports nothing",
        )
        .parse(service_url)?;
    let traces_endpoint = r
        .key(
            "otel.traces_endpoint",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "the whole URL spans are sent to, e.g. https://collector.lab/v1/traces (wins over otel.endpoint)",
        )
        .parse(service_url)?;
    let headers = r
        .key(
            "otel.headers",
            "OTEL_EXPORTER_OTLP_HEADERS",
            "headers sent to the collector, key=value,... percent-encoded (e.g. an API key; secret)",
        )
        .secret(Redact::All)
        .parse(otel_headers)?;
    let traces_headers = r
        .key(
            "otel.traces_headers",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "headers for trace export only, key=value,... (win over otel.headers per name; secret)",
        )
        .secret(Redact::All)
        .parse(otel_headers)?;
    r.key(
        "otel.protocol",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "only http/protobuf (OTLP/HTTP, port 4318) is supported",
    )
    .or_env("OTEL_EXPORTER_OTLP_PROTOCOL")
    .default("http/protobuf")
    .parse(|v| match v.trim() {
        "http/protobuf" => Ok(()),
        other => Err(format!(
            "'{other}' is not supported: TaylorDash exports OTLP/HTTP protobuf \
             (http/protobuf, the collector's port 4318), not gRPC (4317) or JSON"
        )),
    })?;
    let certificate = r
        .key(
            "otel.certificate",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "PEM CA certificate(s) trusted for the collector, besides the system's and stack.ca_file",
        )
        .or_env("OTEL_EXPORTER_OTLP_CERTIFICATE")
        .parse(ca_file)?;
    let timeout = r
        .key(
            "otel.timeout_ms",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "milliseconds one export request may take",
        )
        .or_env("OTEL_EXPORTER_OTLP_TIMEOUT")
        .default("10000")
        .parse(|v| {
            nonzero("a number of milliseconds", "must be greater than 0")(v)
                .map(Duration::from_millis)
        })?;
    let service_name = r
        .key(
            "otel.service_name",
            "OTEL_SERVICE_NAME",
            "service.name of exported spans (default taylordash)",
        )
        .parse(text)?;
    let resource_attributes = r
        .key(
            "otel.resource_attributes",
            "OTEL_RESOURCE_ATTRIBUTES",
            "more resource attributes, key=value,... percent-encoded (e.g. deployment.environment=lab,host.name=nas)",
        )
        .parse(observability::otel::parse_key_values)?
        .unwrap_or_default();
    let sampler = r
        .key(
            "otel.sampler",
            "OTEL_TRACES_SAMPLER",
            "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
        )
        .default("parentbased_always_on")
        .parse(text)?;
    let sampler_arg = r
        .key(
            "otel.sampler_arg",
            "OTEL_TRACES_SAMPLER_ARG",
            "the ratio (0 to 1) of the traceidratio samplers",
        )
        .parse(text)?;
    let sampler = observability::otel::Sampler::parse(&sampler, sampler_arg.as_deref())
        .map_err(|e| r.invalid("otel.sampler", e))?;
    let disabled = r
        .key(
            "otel.disabled",
            "OTEL_SDK_DISABLED",
            "true: export no traces even with an endpoint set",
        )
        .default("false")
        .parse(boolean)?;
    Ok(OtelConfig {
        endpoint,
        traces_endpoint,
        headers,
        traces_headers,
        certificate,
        timeout,
        service_name,
        resource_attributes,
        sampler,
        disabled,
    })
}

/// An `OTEL_EXPORTER_OTLP_HEADERS` list, checked; kept secret.
fn otel_headers(value: &str) -> Result<Secret, String> {
    observability::otel::parse_headers(value)?;
    Ok(Secret(value.to_owned()))
}

fn is_production(environment: &str) -> bool {
    matches!(
        environment.trim().to_ascii_lowercase().as_str(),
        "production" | "prod"
    )
}

/// `auth.oidc.*`: single sign-on with an OpenID provider, on when an issuer is set.
fn oidc_settings(
    r: &mut Reader<'_>,
    public_url: Option<&str>,
) -> Result<Option<services::identity::OidcSettings>, ConfigError> {
    let issuer = r
        .key(
            "auth.oidc.issuer",
            "TAYLORDASH_OIDC_ISSUER",
            "OpenID provider's issuer URL (its discovery document is <issuer>/.well-known/openid-configuration); set: \"Sign in with\" the provider is offered",
        )
        .parse(issuer_url)?;
    let client_id = r
        .key(
            "auth.oidc.client_id",
            "TAYLORDASH_OIDC_CLIENT_ID",
            "client id registered at the OpenID provider",
        )
        .parse(text)?;
    let client_secret = r
        .key(
            "auth.oidc.client_secret",
            "TAYLORDASH_OIDC_CLIENT_SECRET",
            "client secret (better: TAYLORDASH_OIDC_CLIENT_SECRET_FILE); unset for a public client (PKCE only)",
        )
        .secret(Redact::All)
        .parse(secret)?;
    let name = r
        .key(
            "auth.oidc.name",
            "TAYLORDASH_OIDC_NAME",
            "provider name on the sign-in button (\"Sign in with Authelia\")",
        )
        .default("single sign-on")
        .parse(text)?;
    let scopes = r
        .key(
            "auth.oidc.scopes",
            "TAYLORDASH_OIDC_SCOPES",
            "space- or comma-separated scopes requested (openid is always added)",
        )
        .default("openid profile email groups")
        .parse(text)?;
    let username_claim = r
        .key(
            "auth.oidc.username_claim",
            "TAYLORDASH_OIDC_USERNAME_CLAIM",
            "ID token claim naming the account (falls back to email, then sub)",
        )
        .default("preferred_username")
        .parse(text)?;
    let groups_claim = r
        .key(
            "auth.oidc.groups_claim",
            "TAYLORDASH_OIDC_GROUPS_CLAIM",
            "ID token claim listing the groups mapped to roles (a dotted path such as realm_access.roles for Keycloak)",
        )
        .default("groups")
        .parse(text)?;
    let redirect_url = r
        .key(
            "auth.oidc.redirect_url",
            "TAYLORDASH_OIDC_REDIRECT_URL",
            "redirect URI registered at the provider; default <public_url>/api/v1/auth/oidc/callback",
        )
        .parse(http_url)?;
    let post_logout = r
        .key(
            "auth.oidc.post_logout_redirect_url",
            "TAYLORDASH_OIDC_POST_LOGOUT_REDIRECT_URL",
            "where the provider sends the browser after signing out; default <public_url>/login",
        )
        .parse(http_url)?;
    let Some(issuer) = issuer else {
        return Ok(None);
    };
    let Some(client_id) = client_id.filter(|c| !c.trim().is_empty()) else {
        return Err(r.invalid(
            "auth.oidc.client_id",
            "auth.oidc.issuer is set: also set auth.oidc.client_id (TAYLORDASH_OIDC_CLIENT_ID)",
        ));
    };
    let Some(redirect_uri) =
        redirect_url.or_else(|| public_url.map(|u| format!("{u}/api/v1/auth/oidc/callback")))
    else {
        return Err(r.invalid(
            "auth.oidc.issuer",
            "single sign-on needs the address users reach TaylorDash at: set public_url \
             (TAYLORDASH_PUBLIC_URL) or auth.oidc.redirect_url",
        ));
    };
    let mut scope_list = vec!["openid".to_owned()];
    for s in scopes
        .split([' ', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !scope_list.iter().any(|have| have == s) {
            scope_list.push(s.to_owned());
        }
    }
    Ok(Some(services::identity::OidcSettings {
        name: name.trim().to_owned(),
        issuer,
        client_id: client_id.trim().to_owned(),
        // An empty secret file (the stack's default) is a public client.
        client_secret: client_secret
            .map(|s| s.expose().trim().to_owned())
            .filter(|s| !s.is_empty()),
        redirect_uri,
        post_logout_redirect_uri: post_logout.or_else(|| public_url.map(|u| format!("{u}/login"))),
        scopes: scope_list,
        username_claim: username_claim.trim().to_owned(),
        groups_claim: groups_claim.trim().to_owned(),
        // From stack.ca_file, when the server starts (startup::auth_config).
        extra_ca: Vec::new(),
    }))
}

/// `auth.roles.default_role`: viewer or editor (never admin by default: admins come from a
/// group).
fn default_role(text: &str) -> Result<domain::Role, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "viewer" => Ok(domain::Role::Viewer),
        "editor" => Ok(domain::Role::Editor),
        other => Err(format!(
            "'{other}' is not viewer or editor (admins come from auth.roles.admin_groups)"
        )),
    }
}

/// `auth.oidc.issuer`: an http(s) URL, kept exactly (the tokens' `iss` must equal it) except for
/// surrounding spaces.
fn issuer_url(url: &str) -> Result<String, String> {
    http_url(url)
}

// Parsers of single keys (shared ones are in `parse.rs`).

fn secret(value: &str) -> Result<Secret, String> {
    Ok(Secret(value.to_owned()))
}

/// `api_key`: long enough (longer in production), not v1's public default.
fn service_key(key: &str, production: bool) -> Result<Secret, String> {
    if key == "taylordash-dev-key" {
        return Err(
            "this is TaylorDash v1's public default key; choose a random one \
                    (e.g. `openssl rand -hex 32`) or unset it to have one generated"
                .into(),
        );
    }
    if key.len() < 16 || key.chars().any(char::is_whitespace) {
        return Err(
            "must be at least 16 characters without spaces (e.g. `openssl rand -hex 32`)".into(),
        );
    }
    if production && key.len() < 32 {
        return Err(
            "in production (TAYLORDASH_ENV=production) the service key must be at least \
             32 characters (e.g. `openssl rand -hex 32`), or unset to have one generated"
                .into(),
        );
    }
    Ok(Secret(key.to_owned()))
}

/// `alerts.alertmanager_token`: a random value like the service key's (at least 32 characters
/// in production), without spaces.
fn alertmanager_token(token: &str, production: bool) -> Result<Secret, String> {
    let least = if production { 32 } else { 16 };
    if token.len() < least || token.chars().any(char::is_whitespace) {
        return Err(format!(
            "must be at least {least} characters without spaces (e.g. `openssl rand -hex 32`)"
        ));
    }
    Ok(Secret(token.to_owned()))
}

/// `public_url`: an origin (scheme, host, optional port), lower-cased, without a trailing `/`.
fn origin(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/').to_owned();
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && url
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains(['/', '?', '#', ' ']));
    if valid {
        Ok(url.to_ascii_lowercase())
    } else {
        Err(format!(
            "'{url}' is not an origin like https://dash.example.net \
             (scheme and host, optional port, no path)"
        ))
    }
}

/// `auth.allowed_origins`: comma-separated origins.
fn origins(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(origin)
        .collect()
}

/// An HTTP header name (`Remote-User`).
fn header_name(name: &str) -> Result<axum::http::HeaderName, String> {
    axum::http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{name}' is not an HTTP header name"))
}

/// An http(s) URL.
fn http_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .and_then(|rest| rest.split(['/', '?', '#']).next());
    if host.is_some_and(|h| !h.is_empty()) && !url.contains(char::is_whitespace) {
        Ok(url.to_owned())
    } else {
        Err(format!("'{url}' is not an http(s) URL"))
    }
}

/// Comma-separated group names.
fn group_list(list: &str) -> Result<Vec<String>, String> {
    Ok(list
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `auth.trusted_proxies`: comma-separated addresses and CIDR ranges.
fn networks(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("'{s}' is not an IP address or CIDR range (e.g. 10.0.0.0/8)"))
        })
        .collect()
}

fn postgres_url(url: &str) -> Result<Secret, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Secret(url.to_owned()))
    } else {
        Err("must start with postgres:// or postgresql:// (unset it to use SQLite)".into())
    }
}

/// `url` with `password` (percent-encoded) as its password; `url` must not carry one already.
fn url_with_password(url: &str, password: &str) -> Result<Secret, String> {
    let mut parsed =
        url::Url::parse(url).map_err(|_| "database.url is not a valid URL".to_owned())?;
    if parsed.password().is_some() {
        return Err(
            "database.url already has a password: remove it from the URL, or unset \
                    database.password"
                .into(),
        );
    }
    if parsed.username().is_empty() {
        return Err("database.url names no user (postgres://USER@host/db) for the password".into());
    }
    // `url` leaves `%` alone (it takes it for an existing escape): escape it first.
    parsed
        .set_password(Some(&password.replace('%', "%25")))
        .map_err(|()| "database.url cannot take a password".to_owned())?;
    Ok(Secret(parsed.into()))
}

fn pool_size(value: &str) -> Result<u32, String> {
    let size: u32 = from_str("a whole number")(value)?;
    if !(1..=1000).contains(&size) {
        return Err("must be between 1 and 1000".into());
    }
    Ok(size)
}

/// `log.level`: a filter such as `info` or `taylordash=debug,sqlx=warn`, kept as text.
fn log_filter(filter: &str) -> Result<String, String> {
    match filter.parse::<tracing_subscriber::filter::Targets>() {
        Ok(_) => Ok(filter.to_owned()),
        Err(e) => Err(format!("'{filter}' is not a log filter: {e}")),
    }
}

fn log_format(format: &str) -> Result<LogFormat, String> {
    match format {
        "auto" => Ok(LogFormat::Auto),
        "json" => Ok(LogFormat::Json),
        "text" => Ok(LogFormat::Text),
        other => Err(format!("'{other}' is not one of auto, json, text")),
    }
}

fn db_level(level: &str) -> Result<tracing::Level, String> {
    match level.trim() {
        "error" => Ok(tracing::Level::ERROR),
        "warn" => Ok(tracing::Level::WARN),
        "info" => Ok(tracing::Level::INFO),
        "debug" => Ok(tracing::Level::DEBUG),
        other => Err(format!("'{other}' is not one of error, warn, info, debug")),
    }
}

/// `checks.retention_days`: `raw=`, `hourly=`, `daily=` day counts; kinds left out keep their
/// default. Uptime over a year needs `daily` of at least 365.
fn check_retention(text: &str) -> Result<services::checks::Retention, String> {
    let mut r = services::checks::Retention::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, value) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not kind=days, e.g. raw=2"))?;
        let days: i64 = value
            .trim()
            .parse()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| format!("'{value}' is not a number of days between 1 and 3650"))?;
        let slot = match kind.trim() {
            "raw" => &mut r.raw,
            "hourly" => &mut r.hourly,
            "daily" => &mut r.daily,
            other => return Err(format!("'{other}' is not one of raw, hourly, daily")),
        };
        *slot = chrono::Duration::days(days);
    }
    Ok(r)
}

/// `log.retention_days`: `level=days` pairs; levels left out keep their default.
fn log_retention(text: &str) -> Result<Vec<(&'static str, Duration)>, String> {
    let mut days = [("ERROR", 90u64), ("WARN", 60), ("INFO", 30), ("DEBUG", 7)];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (level, value) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not level=days, e.g. info=30"))?;
        let level = level.trim().to_ascii_uppercase();
        let slot = days
            .iter_mut()
            .find(|(l, _)| *l == level)
            .ok_or_else(|| format!("'{level}' is not one of error, warn, info, debug"))?;
        slot.1 = value
            .trim()
            .parse()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| format!("'{value}' is not a number of days between 1 and 3650"))?;
    }
    Ok(days
        .into_iter()
        .map(|(l, d)| (l, Duration::from_secs(86_400 * d)))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    pub(super) fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load_from(None, &Flags::default(), |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_bind_to_loopback_and_use_sqlite() {
        let c = load(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8000");
        assert!(c.database.url.is_none());
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn stack_urls_are_checked() {
        let c = load(&[("VICTORIA_METRICS_URL", "http://vm:8428/")]).unwrap();
        assert_eq!(c.stack.victoria_metrics.as_deref(), Some("http://vm:8428"));
        assert!(c.stack.grafana.is_none());
        let err = load(&[("GRAFANA_URL", "grafana:3000")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("stack.grafana_url"), "{err}");
    }

    #[test]
    fn check_retention_keeps_defaults_for_kinds_left_out() {
        let r = check_retention("raw=1, daily=400").unwrap();
        assert_eq!(r.raw, chrono::Duration::days(1));
        assert_eq!(r.hourly, chrono::Duration::days(90));
        assert_eq!(r.daily, chrono::Duration::days(400));
        assert!(check_retention("minutely=3").is_err());
        assert!(check_retention("raw=0").is_err());
        let err = load(&[("TAYLORDASH_CHECK_RETENTION_DAYS", "raw")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("checks.retention_days"), "{err}");
    }

    #[test]
    fn log_retention_and_db_level() {
        let c = load(&[]).unwrap();
        assert!(c.logs.db);
        assert_eq!(c.logs.db_level, tracing::Level::INFO);
        let days: Vec<(&str, u64)> = c
            .logs
            .retention
            .iter()
            .map(|(l, d)| (*l, d.as_secs() / 86_400))
            .collect();
        assert_eq!(
            days,
            [("ERROR", 90), ("WARN", 60), ("INFO", 30), ("DEBUG", 7)]
        );
        let c = load(&[
            ("TAYLORDASH_LOG_RETENTION_DAYS", "debug=1, Error=365"),
            ("TAYLORDASH_LOG_DB_LEVEL", "warn"),
        ])
        .unwrap();
        assert_eq!(c.logs.retention[0].1.as_secs(), 365 * 86_400);
        assert_eq!(c.logs.retention[3].1.as_secs(), 86_400);
        assert_eq!(c.logs.retention[2].1.as_secs(), 30 * 86_400);
        assert_eq!(c.logs.db_level, tracing::Level::WARN);
        for bad in ["info=0", "fatal=3", "info"] {
            let err = load(&[("TAYLORDASH_LOG_RETENTION_DAYS", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("log.retention_days"), "{err}");
        }
        let err = load(&[("TAYLORDASH_LOG_DB_LEVEL", "loud")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.db_level"), "{err}");
    }

    /// The application's own settings are TAYLORDASH_*; today's names still work as aliases, and
    /// `config check` names the one that was used.
    #[test]
    fn prefixed_names_win_and_aliases_are_reported() {
        let c = load(&[("MQTT_HOST", "old"), ("TAYLORDASH_MQTT_HOST", "new")]).unwrap();
        assert_eq!(c.mqtt.host.as_deref(), Some("new"));
        let c = load(&[("MQTT_HOST", "broker")]).unwrap();
        assert_eq!(c.mqtt.host.as_deref(), Some("broker"));
        let shown = c.describe();
        assert!(
            shown.contains("mqtt.host = \"broker\"  # env MQTT_HOST"),
            "{shown}"
        );
        let c = load(&[("TAYLORDASH_MQTT_HOST", "broker")]).unwrap();
        assert!(c.describe().contains("# env TAYLORDASH_MQTT_HOST"));
        // Unset keys name the current variable.
        assert!(
            c.describe()
                .contains("# api_key unset (env TAYLORDASH_API_KEY)")
        );
    }

    /// Any variable can name a file instead (`VAR_FILE`), as Docker secrets are mounted.
    #[test]
    fn secrets_can_be_files() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("api_key");
        std::fs::write(&key, "0123456789abcdef-from-a-file\n").unwrap();
        let password = dir.path().join("mqtt_password");
        std::fs::write(&password, "broker-secret\r\n").unwrap();
        let key_var = key.display().to_string();
        let password_var = password.display().to_string();
        let c = load(&[
            ("TAYLORDASH_API_KEY_FILE", key_var.as_str()),
            ("MQTT_PASSWORD_FILE", password_var.as_str()),
        ])
        .unwrap();
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose()),
            Some("0123456789abcdef-from-a-file")
        );
        assert_eq!(
            c.mqtt.password.as_ref().map(|p| p.expose()),
            Some("broker-secret")
        );
        let shown = c.describe();
        assert!(
            shown.contains(&format!(
                "api_key = \"********\"  # file {key_var} (env TAYLORDASH_API_KEY_FILE)"
            )),
            "{shown}"
        );
        assert!(!shown.contains("from-a-file"), "{shown}");
        // Both at once is ambiguous; a missing file names the variable, not a value.
        let err = load(&[
            ("TAYLORDASH_API_KEY", "0123456789abcdef0123"),
            ("TAYLORDASH_API_KEY_FILE", key_var.as_str()),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("not both"), "{err}");
        // The database password on its own, put into the URL (percent-encoded).
        let db_password = dir.path().join("db_password");
        std::fs::write(&db_password, "p@ss:w/rd %1\n").unwrap();
        let db_password_var = db_password.display().to_string();
        let c = load(&[
            ("DATABASE_URL", "postgres://app@db:5432/td"),
            ("TAYLORDASH_DB_PASSWORD_FILE", db_password_var.as_str()),
        ])
        .unwrap();
        assert_eq!(
            c.database.url.as_ref().map(|u| u.expose()),
            Some("postgres://app:p%40ss%3Aw%2Frd%20%251@db:5432/td")
        );
        let shown = c.describe();
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        for (env, want) in [
            (vec![("TAYLORDASH_DB_PASSWORD", "x")], "database.url is not"),
            (
                vec![
                    ("DATABASE_URL", "postgres://app:old@db/td"),
                    ("TAYLORDASH_DB_PASSWORD", "x"),
                ],
                "already has a password",
            ),
        ] {
            let err = load(&env).unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains("database.password"),
                "{err}"
            );
        }
        let err = load(&[("DATABASE_URL_FILE", "/nonexistent/db-url")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("database.url") && err.contains("DATABASE_URL_FILE"),
            "{err}"
        );
    }

    #[test]
    fn invalid_value_names_key_and_source() {
        let err = load(&[("MQTT_PORT", "eighty")]).unwrap_err().to_string();
        assert!(err.contains("mqtt.port"), "{err}");
        assert!(err.contains("env MQTT_PORT"), "{err}");
        let err = load(&[("DATABASE_URL", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
    }

    /// Alertmanager's token: from a file, shown masked, never the service key, long enough.
    #[test]
    fn alertmanager_token_is_a_secret_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alertmanager_token");
        std::fs::write(&file, "am-token-0123456789abcdef-0123456789\n").unwrap();
        let var = file.display().to_string();
        let c = load(&[("TAYLORDASH_ALERTMANAGER_TOKEN_FILE", var.as_str())]).unwrap();
        assert_eq!(
            c.alertmanager_token.as_ref().map(|t| t.expose()),
            Some("am-token-0123456789abcdef-0123456789")
        );
        let shown = c.describe();
        assert!(
            shown.contains(&format!(
                "alerts.alertmanager_token = \"********\"  # file {var} (env \
                 TAYLORDASH_ALERTMANAGER_TOKEN_FILE)"
            )),
            "{shown}"
        );
        assert!(!shown.contains("am-token-"), "{shown}");
        assert!(!format!("{c:?}").contains("am-token-"));
        assert!(load(&[]).unwrap().alertmanager_token.is_none());
        // The service key would give Alertmanager admin rights.
        let key = "same-value-0123456789abcdef-0123456789";
        let err = load(&[
            ("TAYLORDASH_API_KEY", key),
            ("TAYLORDASH_ALERTMANAGER_TOKEN", key),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("alerts.alertmanager_token") && err.contains("service key"),
            "{err}"
        );
        assert!(!err.contains(key), "{err}");
        for (token, env) in [
            ("short", "development"),
            ("has a space in it 0123456789", "development"),
            ("0123456789abcdef0123", "production"),
        ] {
            let err = load(&[
                ("TAYLORDASH_ALERTMANAGER_TOKEN", token),
                ("TAYLORDASH_ENV", env),
            ])
            .unwrap_err()
            .to_string();
            assert!(err.contains("alerts.alertmanager_token"), "{err}");
            assert!(!err.contains(token), "{err}");
        }
    }

    #[test]
    fn v1_default_api_key_is_refused() {
        let err = load(&[("API_KEY", "taylordash-dev-key")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("public default"), "{err}");
    }

    #[test]
    fn production_needs_a_long_service_key() {
        let short = "0123456789abcdef0123"; // 20 characters
        assert!(
            load(&[("API_KEY", short)]).is_ok(),
            "fine outside production"
        );
        let err = load(&[("API_KEY", short), ("TAYLORDASH_ENV", "production")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 32"), "{err}");
        // v1's variable name still selects the environment.
        let err = load(&[("API_KEY", short), ("ENVIRONMENT", "production")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 32"), "{err}");
        let err = load(&[
            ("API_KEY", "taylordash-dev-key"),
            ("TAYLORDASH_ENV", "production"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("public default"), "{err}");
        let long = "0123456789abcdef0123456789abcdef";
        let c = load(&[("API_KEY", long), ("TAYLORDASH_ENV", "production")]).unwrap();
        assert!(c.production());
        // TAYLORDASH_ENV wins over ENVIRONMENT.
        let c = load(&[("TAYLORDASH_ENV", "staging"), ("ENVIRONMENT", "production")]).unwrap();
        assert_eq!(c.environment, "staging");
    }

    #[test]
    fn forward_auth_and_role_groups_are_parsed_and_checked() {
        let c = load(&[]).unwrap();
        assert!(c.forward_auth.is_none(), "off unless asked for");
        assert_eq!(c.external.roles, domain::RoleMapping::default());
        assert_eq!(
            c.external.link_by_username, None,
            "forward-auth links, OIDC does not"
        );
        let c = load(&[
            ("TAYLORDASH_TRUSTED_PROXIES", "172.16.0.0/12"),
            ("TAYLORDASH_FORWARD_AUTH", "true"),
            (
                "TAYLORDASH_FORWARD_AUTH_USER_HEADER",
                "X-authentik-username",
            ),
            (
                "TAYLORDASH_FORWARD_AUTH_LOGOUT_URL",
                "https://auth.example.net/logout",
            ),
            ("TAYLORDASH_ADMIN_GROUPS", "lab-admins, ops"),
            ("TAYLORDASH_VIEWER_GROUPS", "family"),
            ("TAYLORDASH_SSO_CREATE_USERS", "false"),
            ("TAYLORDASH_SSO_LINK_BY_USERNAME", "false"),
        ])
        .unwrap();
        let fa = c.forward_auth.expect("on");
        assert_eq!(fa.user_header, "x-authentik-username");
        assert_eq!(fa.groups_header, "remote-groups");
        assert_eq!(
            fa.logout_url.as_deref(),
            Some("https://auth.example.net/logout")
        );
        assert_eq!(c.external.roles.admin_groups, ["lab-admins", "ops"]);
        assert_eq!(c.external.roles.editor_groups, ["taylordash-editors"]);
        assert_eq!(
            c.external.roles.viewer_groups,
            Some(vec!["family".to_owned()])
        );
        assert!(!c.external.create_users);
        assert_eq!(c.external.link_by_username, Some(false));
        let err = load(&[("TAYLORDASH_FORWARD_AUTH", "true")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TAYLORDASH_TRUSTED_PROXIES"), "{err}");
        for (k, v) in [
            ("TAYLORDASH_FORWARD_AUTH_USER_HEADER", "Remote User"),
            (
                "TAYLORDASH_FORWARD_AUTH_LOGOUT_URL",
                "auth.example.net/logout",
            ),
        ] {
            assert!(
                load(&[("TAYLORDASH_TRUSTED_PROXIES", "10.0.0.1"), (k, v)]).is_err(),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn openid_connect_settings_are_parsed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("oidc_secret");
        std::fs::write(&secret, "client-secret-from-a-file\n").unwrap();
        let secret_var = secret.display().to_string();
        let c = load(&[
            ("TAYLORDASH_PUBLIC_URL", "https://dash.example.net"),
            ("TAYLORDASH_OIDC_ISSUER", "https://auth.example.net"),
            ("TAYLORDASH_OIDC_CLIENT_ID", "taylordash"),
            ("TAYLORDASH_OIDC_CLIENT_SECRET_FILE", secret_var.as_str()),
            ("TAYLORDASH_OIDC_NAME", "Authelia"),
            ("TAYLORDASH_OIDC_SCOPES", "profile, groups openid"),
            ("TAYLORDASH_OIDC_GROUPS_CLAIM", "realm_access.roles"),
            ("TAYLORDASH_SSO_DEFAULT_ROLE", "Editor"),
        ])
        .unwrap();
        assert_eq!(c.external.roles.default_role, domain::Role::Editor);
        assert!(load(&[("TAYLORDASH_SSO_DEFAULT_ROLE", "admin")]).is_err());
        let o = c.oidc.expect("configured");
        assert_eq!(o.issuer, "https://auth.example.net");
        assert_eq!(
            o.client_secret.as_deref(),
            Some("client-secret-from-a-file")
        );
        assert_eq!(
            o.redirect_uri,
            "https://dash.example.net/api/v1/auth/oidc/callback"
        );
        assert_eq!(
            o.post_logout_redirect_uri.as_deref(),
            Some("https://dash.example.net/login")
        );
        assert_eq!(o.scopes, vec!["openid", "profile", "groups"]);
        assert_eq!(o.groups_claim, "realm_access.roles");
        assert_eq!(o.name, "Authelia");
        assert!(!format!("{o:?}").contains("client-secret-from-a-file"));
        // The stack passes an empty file when no secret is set: a public client.
        std::fs::write(&secret, "\n").unwrap();
        let c = load(&[
            ("TAYLORDASH_PUBLIC_URL", "https://dash.example.net"),
            ("TAYLORDASH_OIDC_ISSUER", "https://auth.example.net"),
            ("TAYLORDASH_OIDC_CLIENT_ID", "taylordash"),
            ("TAYLORDASH_OIDC_CLIENT_SECRET_FILE", secret_var.as_str()),
        ])
        .unwrap();
        assert_eq!(c.oidc.expect("configured").client_secret, None);
        assert!(load(&[]).unwrap().oidc.is_none());
        let err = load(&[("TAYLORDASH_OIDC_ISSUER", "https://auth.example.net")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TAYLORDASH_OIDC_CLIENT_ID"), "{err}");
        let err = load(&[
            ("TAYLORDASH_OIDC_ISSUER", "https://auth.example.net"),
            ("TAYLORDASH_OIDC_CLIENT_ID", "taylordash"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("TAYLORDASH_PUBLIC_URL"), "{err}");
        assert!(load(&[("TAYLORDASH_OIDC_ISSUER", "auth.example.net")]).is_err());
    }

    #[test]
    fn auth_settings_are_parsed_and_checked() {
        let c = load(&[
            ("TAYLORDASH_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1,::1"),
            ("TAYLORDASH_PUBLIC_URL", "https://Dash.Example.net/"),
            (
                "TAYLORDASH_ALLOWED_ORIGINS",
                "http://localhost:5173, https://Lab.Example.net/",
            ),
            ("TAYLORDASH_ADMIN_USER", "root"),
            ("TAYLORDASH_ADMIN_PASSWORD_FILE", "/run/secrets/admin"),
        ])
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[1].contains(&"192.168.1.1".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(c.public_url.as_deref(), Some("https://dash.example.net"));
        assert_eq!(
            c.allowed_origins,
            ["http://localhost:5173", "https://lab.example.net"]
        );
        assert_eq!(
            c.admin_bootstrap,
            Some(AdminBootstrap {
                username: "root".into(),
                password_file: "/run/secrets/admin".into()
            })
        );
        for (k, v) in [
            ("TAYLORDASH_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TAYLORDASH_PUBLIC_URL", "dash.example.net"),
            ("TAYLORDASH_PUBLIC_URL", "https://dash.example.net/app"),
            (
                "TAYLORDASH_ALLOWED_ORIGINS",
                "http://ok.example, localhost:5173",
            ),
            ("TAYLORDASH_ADMIN_USER", "root"),
        ] {
            assert!(load(&[(k, v)]).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn layers_apply_in_order_and_secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("td.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\n[database]\nmax_connections = 3\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "TAYLORDASH_BIND" => Some("127.0.0.1:9100".to_owned()),
            "DATABASE_URL" => Some("postgres://app:hunter2-secret@db:5432/td".to_owned()),
            "MQTT_PASSWORD" => Some("broker-secret".to_owned()),
            _ => None,
        };
        let flags = Flags {
            bind: Some("127.0.0.1:9200".into()),
            ..Flags::default()
        };
        let c = Config::load_from(Some(&file), &flags, env).unwrap();
        assert_eq!(c.bind.port(), 9200);
        assert_eq!(c.database.max_connections, 3);
        let shown = c.describe();
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(!shown.contains("broker-secret"), "{shown}");
        assert!(
            shown.contains("postgres://app:********@db:5432/td"),
            "{shown}"
        );
        assert!(shown.contains("# flag --bind"), "{shown}");
    }

    #[test]
    fn own_metrics_push_can_be_turned_off() {
        assert_eq!(
            load(&[]).unwrap().stack.push_interval,
            Duration::from_secs(15)
        );
        let c = load(&[("TAYLORDASH_METRICS_PUSH_INTERVAL", "0")]).unwrap();
        assert!(c.stack.push_interval.is_zero());
        assert!(load(&[("TAYLORDASH_METRICS_PUSH_INTERVAL", "-1")]).is_err());
    }

    #[test]
    fn every_key_is_declared_once_and_listed_by_config_check() {
        let c = load(&[]).unwrap();
        let unique = |mut all: Vec<&'static str>| {
            let count = all.len();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), count, "named twice among {all:?}");
        };
        unique(c.keys.iter().map(|k| k.name).collect());
        unique(c.keys.iter().flat_map(|k| k.env.clone()).collect());
        assert_eq!(c.describe().lines().count(), c.keys.len());
    }

    /// README's configuration table names exactly the declared keys and environment variables
    /// (older names included), so a key cannot be added, renamed or dropped there alone.
    #[test]
    fn readme_lists_every_key() {
        const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
        let table = README
            .split("\n### Configuration\n")
            .nth(1)
            .and_then(|s| s.split("\n### ").next())
            .unwrap();
        let quoted = |cell: &str| -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        let (mut names, mut vars) = (BTreeSet::new(), BTreeSet::new());
        // Rows: | `key`, `key` | `VAR`, `VAR` (or `OLD_VAR`) | default | meaning |
        for row in table.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').collect();
            names.extend(quoted(cells[1]));
            vars.extend(quoted(cells[2]));
        }
        let c = load(&[]).unwrap();
        let declared: BTreeSet<String> = c.keys.iter().map(|k| k.name.to_owned()).collect();
        let declared_vars: BTreeSet<String> = c
            .keys
            .iter()
            .flat_map(|k| k.env.iter().map(|v| (*v).to_owned()))
            .collect();
        assert_eq!(names, declared, "keys in README.md's configuration table");
        assert_eq!(
            vars, declared_vars,
            "variables in README.md's configuration table"
        );
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("td.toml");
        std::fs::write(&file, "[database]\nulr = \"x\"\n").unwrap();
        let err = Config::load_from(Some(&file), &Flags::default(), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.ulr"), "{err}");
    }
}
