//! Configuration: built-in defaults, then an optional TOML file, then environment variables,
//! then command-line flags — later layers win. Every key has one dotted name (used in the file
//! and in messages) and one environment variable (the names the deployment spec uses).
//! Values are parsed once into [`Config`]; a bad value stops startup with a message naming the
//! key and where the value came from. Secrets are wrapped in [`Secret`] and never printed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod files;

/// One configuration key.
struct Key {
    name: &'static str,
    env: &'static str,
    default: Option<&'static str>,
    secret: bool,
    help: &'static str,
}

const fn key(
    name: &'static str,
    env: &'static str,
    default: Option<&'static str>,
    help: &'static str,
) -> Key {
    Key {
        name,
        env,
        default,
        secret: false,
        help,
    }
}

const fn secret(name: &'static str, env: &'static str, help: &'static str) -> Key {
    Key {
        name,
        env,
        default: None,
        secret: true,
        help,
    }
}

const KEYS: &[Key] = &[
    key(
        "bind",
        "TAYLORDASH_BIND",
        Some("127.0.0.1:8000"),
        "address and port to listen on",
    ),
    key(
        "data_dir",
        "TAYLORDASH_DATA_DIR",
        Some("./data"),
        "directory for the SQLite database and the generated API key",
    ),
    key(
        "environment",
        "TAYLORDASH_ENV",
        Some("development"),
        "deployment name (also read from ENVIRONMENT); `production` enforces stricter rules",
    ),
    secret(
        "api_key",
        "API_KEY",
        "service key with admin scope, sent as X-API-Key; generated on first start when unset",
    ),
    key(
        "public_url",
        "TAYLORDASH_PUBLIC_URL",
        None,
        "URL users reach TaylorDash at, e.g. https://dash.example.net (https: Secure cookies, HSTS)",
    ),
    key(
        "auth.trusted_proxies",
        "TAYLORDASH_TRUSTED_PROXIES",
        None,
        "comma-separated proxy addresses/CIDRs whose X-Forwarded-For/-Proto are believed",
    ),
    key(
        "admin.user",
        "TAYLORDASH_ADMIN_USER",
        None,
        "unattended install: admin account created at start if missing (with admin.password_file)",
    ),
    key(
        "admin.password_file",
        "TAYLORDASH_ADMIN_PASSWORD_FILE",
        None,
        "file holding the password of admin.user",
    ),
    secret(
        "database.url",
        "DATABASE_URL",
        "postgres://... to use PostgreSQL; unset uses SQLite in data_dir",
    ),
    key(
        "database.max_connections",
        "TAYLORDASH_DB_MAX_CONNECTIONS",
        Some("10"),
        "database connection pool size",
    ),
    key(
        "database.connect_timeout_secs",
        "TAYLORDASH_DB_CONNECT_TIMEOUT",
        Some("30"),
        "how long startup keeps retrying an unreachable database",
    ),
    key(
        "mqtt.host",
        "MQTT_HOST",
        None,
        "MQTT broker host; unset uses the in-process event bus",
    ),
    key("mqtt.port", "MQTT_PORT", Some("1883"), "MQTT broker port"),
    key("mqtt.username", "MQTT_USERNAME", None, "MQTT user name"),
    secret("mqtt.password", "MQTT_PASSWORD", "MQTT password"),
    key(
        "mqtt.tls",
        "MQTT_TLS",
        Some("false"),
        "connect to the broker over TLS (e.g. port 8883)",
    ),
    key(
        "mqtt.ca_file",
        "MQTT_CA_FILE",
        None,
        "PEM CA certificate(s) to trust for the broker (default: the system's)",
    ),
    key(
        "mqtt.client_id",
        "TAYLORDASH_MQTT_CLIENT_ID",
        None,
        "MQTT client id; stable per instance (default: taylordash-<hostname>)",
    ),
    key(
        "mqtt.shared_group",
        "TAYLORDASH_MQTT_SHARED_GROUP",
        None,
        "opt-in shared-subscription group for replicas (see docs)",
    ),
    key(
        "events.retention_days",
        "TAYLORDASH_EVENT_RETENTION_DAYS",
        Some("30"),
        "events older than this are pruned",
    ),
    key(
        "events.max_message_bytes",
        "TAYLORDASH_EVENT_MAX_BYTES",
        Some("262144"),
        "larger messages are dead-lettered as oversized",
    ),
    key(
        "events.batch_size",
        "TAYLORDASH_EVENT_BATCH_SIZE",
        Some("500"),
        "most events committed in one transaction",
    ),
    key(
        "events.batch_delay_ms",
        "TAYLORDASH_EVENT_BATCH_DELAY_MS",
        Some("5"),
        "longest an event waits for its batch",
    ),
    key(
        "otel.endpoint",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        "OTLP/HTTP collector for traces, e.g. http://otel-collector:4318; unset exports nothing",
    ),
    key(
        "log.level",
        "TAYLORDASH_LOG",
        Some("info"),
        "what stdout shows, e.g. info or taylordash=debug,sqlx=warn (the database has its own level)",
    ),
    key(
        "log.format",
        "TAYLORDASH_LOG_FORMAT",
        Some("auto"),
        "auto (JSON unless on a terminal), json or text",
    ),
    // Files and backups (see config/files.rs).
    key(
        "objects.dir",
        "TAYLORDASH_OBJECTS_DIR",
        None,
        "directory for artifacts and backups when no S3 server is set (default: data_dir/objects)",
    ),
    key(
        "objects.s3_endpoint",
        "S3_ENDPOINT",
        None,
        "S3-compatible server, e.g. http://minio:9000; with s3_bucket, S3 replaces the directory",
    ),
    key(
        "objects.s3_bucket",
        "S3_BUCKET",
        None,
        "bucket for artifacts and backups (created if missing; default taylordash)",
    ),
    key(
        "objects.s3_region",
        "S3_REGION",
        Some("us-east-1"),
        "S3 region",
    ),
    key(
        "objects.s3_access_key_id",
        "S3_ACCESS_KEY_ID",
        None,
        "S3 access key id (also read from MINIO_ROOT_USER)",
    ),
    secret(
        "objects.s3_secret_access_key",
        "S3_SECRET_ACCESS_KEY",
        "S3 secret key (also read from MINIO_ROOT_PASSWORD)",
    ),
    key(
        "objects.s3_path_style",
        "S3_PATH_STYLE",
        Some("true"),
        "address buckets as host/bucket (MinIO) rather than bucket.host",
    ),
    key(
        "artifacts.max_upload_bytes",
        "TAYLORDASH_ARTIFACT_MAX_BYTES",
        Some("104857600"),
        "largest artifact upload accepted, in bytes (larger: 413)",
    ),
    key(
        "backup.interval_hours",
        "TAYLORDASH_BACKUP_INTERVAL_HOURS",
        None,
        "take a backup inside `serve` every this many hours; unset: no schedule",
    ),
    key(
        "backup.keep",
        "TAYLORDASH_BACKUP_KEEP",
        Some("7"),
        "scheduled backups kept (older ones are deleted)",
    ),
    key(
        "victoria_metrics.url",
        "VICTORIA_METRICS_URL",
        None,
        "VictoriaMetrics, e.g. http://victoriametrics:8428 (time series; checked by /health/stack)",
    ),
    key(
        "metrics.push_interval_secs",
        "TAYLORDASH_METRICS_PUSH_INTERVAL",
        Some("15"),
        "how often the app's own metrics are pushed to VictoriaMetrics (0: never, e.g. when Prometheus remote-writes them)",
    ),
    key(
        "metrics.local_retention_days",
        "TAYLORDASH_METRICS_RETENTION_DAYS",
        Some("30"),
        "without VictoriaMetrics: days metric samples are kept in the database",
    ),
    key(
        "stack.prometheus_url",
        "PROMETHEUS_URL",
        None,
        "Prometheus, e.g. http://prometheus:9090 (checked by /health/stack)",
    ),
    key(
        "stack.grafana_url",
        "GRAFANA_URL",
        None,
        "Grafana, e.g. http://grafana:3000 (checked by /health/stack)",
    ),
    key(
        "stack.object_store_url",
        "TAYLORDASH_OBJECT_STORE_URL",
        None,
        "S3-compatible object store, e.g. http://minio:9000 (checked by /health/stack)",
    ),
    key(
        "log.db",
        "TAYLORDASH_LOG_DB",
        Some("true"),
        "also store log records in the database (application_logs, shown by /api/v1/logs)",
    ),
    key(
        "log.db_level",
        "TAYLORDASH_LOG_DB_LEVEL",
        Some("info"),
        "least severe level stored in the database, whatever stdout shows: error, warn, info or debug",
    ),
    key(
        "log.retention_days",
        "TAYLORDASH_LOG_RETENTION_DAYS",
        Some("error=90,warn=60,info=30,debug=7"),
        "days stored log records are kept, per level (levels left out keep their default)",
    ),
    key(
        "log.queue_capacity",
        "TAYLORDASH_LOG_QUEUE",
        Some("10000"),
        "log records held in memory while the database is slow; beyond it the oldest are dropped",
    ),
    key(
        "shutdown_timeout_secs",
        "TAYLORDASH_SHUTDOWN_TIMEOUT",
        Some("30"),
        "how long shutdown waits for in-flight requests",
    ),
];

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

/// The services beside TaylorDash (`http://host:port`); `None` = not used.
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

fn parse_retention(text: &str) -> Result<Vec<(&'static str, Duration)>, String> {
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

/// Older environment variable names still honoured (below the current name).
const ENV_ALIASES: &[(&str, &str)] = &[
    ("environment", "ENVIRONMENT"),
    ("objects.s3_access_key_id", "MINIO_ROOT_USER"),
    ("objects.s3_secret_access_key", "MINIO_ROOT_PASSWORD"),
];

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
    pub admin_bootstrap: Option<AdminBootstrap>,
    pub database: DatabaseConfig,
    pub mqtt: MqttConfig,
    pub events: EventsConfig,
    pub otel_endpoint: Option<String>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub logs: LogsConfig,
    pub stack: StackConfig,
    pub shutdown_timeout: Duration,
    pub files: files::FilesConfig,
    /// Where each value came from, for `config check`.
    sources: BTreeMap<&'static str, (String, Source)>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(name) => write!(f, "env {name}"),
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

/// The layered raw values, before parsing.
struct Layers(BTreeMap<&'static str, (String, Source)>);

impl Layers {
    fn set(&mut self, key: &'static str, value: String, source: Source) {
        self.0.insert(key, (value, source));
    }

    fn raw(&self, key: &'static str) -> Option<(&str, &Source)> {
        self.0.get(key).map(|(v, s)| (v.as_str(), s))
    }

    fn invalid(&self, key: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key,
            origin: self.raw(key).map_or(Source::Default, |(_, s)| s.clone()),
            message: message.into(),
        }
    }

    fn string(&self, key: &'static str) -> Option<String> {
        self.raw(key).map(|(v, _)| v.to_owned())
    }

    fn parse<T: std::str::FromStr>(&self, key: &'static str, what: &str) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let (value, _) = self
            .raw(key)
            .ok_or_else(|| self.invalid(key, "a value is required"))?;
        value
            .trim()
            .parse()
            .map_err(|e| self.invalid(key, format!("'{value}' is not {what}: {e}")))
    }
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
        let mut layers = Layers(BTreeMap::new());
        for k in KEYS {
            if let Some(d) = k.default {
                layers.set(k.name, d.to_owned(), Source::Default);
            }
        }
        if let Some(path) = file {
            for (name, value) in read_file(path)? {
                layers.set(name, value, Source::File(path.to_owned()));
            }
        }
        for k in KEYS {
            // An empty variable counts as unset, as compose files often pass `VAR=`.
            let set = |name: &'static str| env(name).filter(|v| !v.is_empty()).map(|v| (name, v));
            let aliases = ENV_ALIASES
                .iter()
                .filter(|(key, _)| *key == k.name)
                .map(|(_, alias)| *alias);
            if let Some((name, v)) = set(k.env).or_else(|| aliases.filter_map(set).next()) {
                layers.set(k.name, v, Source::Env(name));
            }
        }
        let flag_values = [
            ("bind", "--bind", &flags.bind),
            ("data_dir", "--data-dir", &flags.data_dir),
            ("log.level", "--log-level", &flags.log_level),
        ];
        for (name, flag, value) in flag_values {
            if let Some(v) = value {
                layers.set(name, v.clone(), Source::Flag(flag));
            }
        }
        Self::parse(layers)
    }

    fn parse(l: Layers) -> Result<Config, ConfigError> {
        let database_url = l.string("database.url");
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(l.invalid(
                "database.url",
                "must start with postgres:// or postgresql:// (unset it to use SQLite)",
            ));
        }
        let environment = l.string("environment").unwrap_or_default();
        let production = is_production(&environment);
        let api_key = l.string("api_key");
        if let Some(key) = &api_key {
            if key == "taylordash-dev-key" {
                return Err(l.invalid(
                    "api_key",
                    "this is TaylorDash v1's public default key; choose a random one \
                     (e.g. `openssl rand -hex 32`) or unset it to have one generated",
                ));
            }
            if key.len() < 16 || key.chars().any(char::is_whitespace) {
                return Err(l.invalid(
                    "api_key",
                    "must be at least 16 characters without spaces (e.g. `openssl rand -hex 32`)",
                ));
            }
            if production && key.len() < 32 {
                return Err(l.invalid(
                    "api_key",
                    "in production (TAYLORDASH_ENV=production) the service key must be at least \
                     32 characters (e.g. `openssl rand -hex 32`), or unset to have one generated",
                ));
            }
        }
        let public_url = l
            .string("public_url")
            .map(|url| {
                let url = url.trim().trim_end_matches('/').to_owned();
                let valid = (url.starts_with("http://") || url.starts_with("https://"))
                    && url.split_once("://").is_some_and(|(_, rest)| {
                        !rest.is_empty() && !rest.contains(['/', '?', '#', ' '])
                    });
                if valid {
                    Ok(url.to_ascii_lowercase())
                } else {
                    Err(l.invalid(
                        "public_url",
                        format!(
                            "'{url}' is not an origin like https://dash.example.net \
                             (scheme and host, optional port, no path)"
                        ),
                    ))
                }
            })
            .transpose()?;
        let trusted_proxies = l
            .string("auth.trusted_proxies")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        l.invalid(
                            "auth.trusted_proxies",
                            format!("'{s}' is not an IP address or CIDR range (e.g. 10.0.0.0/8)"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let admin_bootstrap = match (l.string("admin.user"), l.string("admin.password_file")) {
            (Some(username), Some(file)) => Some(AdminBootstrap {
                username,
                password_file: PathBuf::from(file),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(l.invalid(
                    "admin.password_file",
                    "admin.user is set: also set admin.password_file \
                     (TAYLORDASH_ADMIN_PASSWORD_FILE) to the file holding its password",
                ));
            }
            (None, Some(_)) => {
                return Err(l.invalid(
                    "admin.user",
                    "admin.password_file is set: also set admin.user (TAYLORDASH_ADMIN_USER)",
                ));
            }
        };
        let max_connections: u32 = l.parse("database.max_connections", "a whole number")?;
        if !(1..=1000).contains(&max_connections) {
            return Err(l.invalid("database.max_connections", "must be between 1 and 1000"));
        }
        let log_format = match l.string("log.format").as_deref() {
            Some("auto") | None => LogFormat::Auto,
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(l.invalid(
                    "log.format",
                    format!("'{other}' is not one of auto, json, text"),
                ));
            }
        };
        let log_level = l.string("log.level").unwrap_or_else(|| "info".into());
        if let Err(e) = log_level.parse::<tracing_subscriber::filter::Targets>() {
            return Err(l.invalid(
                "log.level",
                format!("'{log_level}' is not a log filter: {e}"),
            ));
        }
        let db_level = match l.string("log.db_level").as_deref().map(str::trim) {
            Some("error") => tracing::Level::ERROR,
            Some("warn") => tracing::Level::WARN,
            Some("info") | None => tracing::Level::INFO,
            Some("debug") => tracing::Level::DEBUG,
            Some(other) => {
                return Err(l.invalid(
                    "log.db_level",
                    format!("'{other}' is not one of error, warn, info, debug"),
                ));
            }
        };
        let logs = LogsConfig {
            db: l.parse("log.db", "true or false")?,
            db_level,
            retention: parse_retention(&l.string("log.retention_days").unwrap_or_default())
                .map_err(|e| l.invalid("log.retention_days", e))?,
            queue_capacity: positive(&l, "log.queue_capacity")?,
        };
        let url = |key: &'static str| -> Result<Option<String>, ConfigError> {
            l.string(key)
                .map(|u| {
                    api::outbound::BaseUrl::parse(&u)
                        .map(|b| b.to_string())
                        .map_err(|e| l.invalid(key, e))
                })
                .transpose()
        };
        let stack = StackConfig {
            victoria_metrics: url("victoria_metrics.url")?,
            push_interval: Duration::from_secs(
                l.parse::<u64>("metrics.push_interval_secs", "a whole number")?,
            ),
            local_retention: Duration::from_secs(
                86_400 * positive(&l, "metrics.local_retention_days")? as u64,
            ),
            prometheus: url("stack.prometheus_url")?,
            grafana: url("stack.grafana_url")?,
            object_store: url("stack.object_store_url")?,
        };
        let secs = |key| -> Result<Duration, ConfigError> {
            l.parse::<u64>(key, "a number of seconds")
                .map(Duration::from_secs)
        };
        Ok(Config {
            bind: l.parse("bind", "an address like 127.0.0.1:8000")?,
            data_dir: PathBuf::from(l.string("data_dir").unwrap_or_else(|| "./data".into())),
            environment,
            api_key: api_key.map(Secret),
            public_url,
            trusted_proxies,
            admin_bootstrap,
            database: DatabaseConfig {
                url: database_url.map(Secret),
                max_connections,
                connect_timeout: secs("database.connect_timeout_secs")?,
            },
            mqtt: MqttConfig {
                host: l.string("mqtt.host"),
                port: l.parse("mqtt.port", "a port number")?,
                username: l.string("mqtt.username"),
                password: l.string("mqtt.password").map(Secret),
                client_id: l.string("mqtt.client_id"),
                shared_group: l.string("mqtt.shared_group"),
                tls: l.parse("mqtt.tls", "true or false")?,
                ca_file: l.string("mqtt.ca_file").map(PathBuf::from),
            },
            events: EventsConfig {
                retention: Duration::from_secs(
                    86_400 * l.parse::<u64>("events.retention_days", "a number of days")?,
                ),
                max_message_bytes: positive(&l, "events.max_message_bytes")?,
                batch_size: positive(&l, "events.batch_size")?,
                batch_delay: Duration::from_millis(
                    l.parse("events.batch_delay_ms", "a number of milliseconds")?,
                ),
            },
            otel_endpoint: url("otel.endpoint")?,
            log_level,
            log_format,
            logs,
            stack,
            shutdown_timeout: secs("shutdown_timeout_secs")?,
            files: files::parse(&l)?,
            sources: l.0,
        })
    }

    /// `TAYLORDASH_ENV=production`: stricter rules apply.
    pub fn production(&self) -> bool {
        is_production(&self.environment)
    }

    /// The effective configuration as `key = value  # source` lines, secrets redacted.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for k in KEYS {
            let line = match self.sources.get(k.name) {
                Some((value, source)) => {
                    let shown = if k.secret {
                        redact(k.name, value)
                    } else {
                        value.clone()
                    };
                    format!("{} = {shown:?}  # {source}; {}", k.name, k.help)
                }
                None => format!("# {} unset (env {}); {}", k.name, k.env, k.help),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

fn positive(l: &Layers, key: &'static str) -> Result<usize, ConfigError> {
    match l.parse::<usize>(key, "a whole number")? {
        0 => Err(l.invalid(key, "must be greater than 0")),
        n => Ok(n),
    }
}

fn is_production(environment: &str) -> bool {
    matches!(
        environment.trim().to_ascii_lowercase().as_str(),
        "production" | "prod"
    )
}

/// Hides a secret; for a database URL, hides only the password so the target stays visible.
fn redact(key: &str, value: &str) -> String {
    if key == "database.url"
        && let Some((scheme, rest)) = value.split_once("://")
    {
        return match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:********@{host}")
            }
            None => value.to_owned(),
        };
    }
    "********".to_owned()
}

/// Reads a TOML file into dotted keys (`[database] url = ...` → `database.url`).
fn read_file(path: &Path) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Toml {
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    let mut flat = Vec::new();
    flatten(path, "", &table, &mut flat)?;
    Ok(flat)
}

fn flatten(
    path: &Path,
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(&'static str, String)>,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(path, &name, t, out)?,
            other => {
                let known = KEYS.iter().find(|key| key.name == name).ok_or_else(|| {
                    ConfigError::UnknownKey {
                        key: name.clone(),
                        path: path.to_owned(),
                        known: KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", "),
                    }
                })?;
                let value = match other {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: known.name,
                            origin: Source::File(path.to_owned()),
                            message: "must be a string, number or boolean".into(),
                        });
                    }
                };
                out.push((known.name, value));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
    fn auth_settings_are_parsed_and_checked() {
        let c = load(&[
            ("TAYLORDASH_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1,::1"),
            ("TAYLORDASH_PUBLIC_URL", "https://Dash.Example.net/"),
            ("TAYLORDASH_ADMIN_USER", "root"),
            ("TAYLORDASH_ADMIN_PASSWORD_FILE", "/run/secrets/admin"),
        ])
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[1].contains(&"192.168.1.1".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(c.public_url.as_deref(), Some("https://dash.example.net"));
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
