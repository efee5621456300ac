//! Startup as functions: [`build`] turns a [`Config`] into a ready [`Server`] (database
//! connected and migrated, API key resolved, the application assembled by
//! [`crate::app::AppBuilder`], first admin provisioned or a setup token issued);
//! [`Server::serve`] runs it on a listener until shutdown.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::{ApiKey, AuthConfig};
use domain::Role;
use services::identity::Identity;
use storage::{Store, StoreConfig, StoreError};
use tokio::net::TcpListener;

use crate::app::{AppBuilder, FilesSettings};
use crate::config::Config;

/// File in the data directory that holds a generated API key.
pub const API_KEY_FILE: &str = "api_key";
/// SQLite database file in the data directory.
pub const SQLITE_FILE: &str = "taylordash.db";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create data directory {path}: {error}")]
    DataDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "cannot connect to the database within {timeout_s} s: {error}\n\
         hint: check DATABASE_URL and that the server is running and accepts connections"
    )]
    Connect { timeout_s: u64, error: StoreError },
    #[error("database migration failed: {0}")]
    Migrate(StoreError),
    #[error("API key file {path}: {error}")]
    ApiKey {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("MQTT TLS: {0}")]
    Tls(String),
    #[error("metrics registry: {0}")]
    Metrics(String),
    #[error("admin account from admin.user / admin.password_file: {0}")]
    Admin(String),
    #[error("{0}\nhint: check S3_ENDPOINT, S3_BUCKET and the S3 credentials, or unset them")]
    Objects(String),
}

/// The application built from the configuration, with what the startup banner shows.
pub struct Server {
    pub app: crate::app::App,
    pub store: Arc<dyn Store>,
    /// How the API key was obtained, for the startup banner.
    pub api_key_source: ApiKeySource,
    /// While no admin exists: the one-time token that lets the first admin be created from the
    /// browser (shown as a setup URL at start).
    pub setup_token: Option<String>,
}

pub enum ApiKeySource {
    Configured,
    File(PathBuf),
    Generated(PathBuf),
}

/// Trusts `stack.ca_file`'s certificates (besides the system's) for outbound HTTPS: the stack
/// services and the OTLP collector. Call before the first outbound request or exporter.
pub fn trust_stack_ca(config: &Config) -> Result<(), String> {
    let Some(path) = &config.stack.ca_file else {
        return Ok(());
    };
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read stack.ca_file {}: {e}", path.display()))?;
    observability::outbound::trust_extra_ca(&pem)
        .map_err(|e| format!("stack.ca_file {}: {e}", path.display()))
}

/// The event bus settings: MQTT when a broker host is configured, else the in-process bus.
pub fn bus_config(config: &Config) -> Result<bus::BusConfig, StartupError> {
    let tls = if config.mqtt.tls {
        let ca = match &config.mqtt.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                StartupError::Tls(format!("cannot read MQTT_CA_FILE {}: {e}", path.display()))
            })?),
            None => None,
        };
        Some(bus::tls_config(ca.as_deref()).map_err(StartupError::Tls)?)
    } else {
        None
    };
    let mqtt = config.mqtt.host.as_ref().map(|host| bus::MqttConfig {
        host: host.clone(),
        port: config.mqtt.port,
        username: config.mqtt.username.clone(),
        password: config.mqtt.password.as_ref().map(|p| p.expose().to_owned()),
        client_id: config
            .mqtt
            .client_id
            .clone()
            .unwrap_or_else(|| format!("taylordash-{}", hostname())),
        shared_group: config.mqtt.shared_group.clone(),
        max_packet_bytes: config.events.max_message_bytes,
        tls,
    });
    Ok(bus::BusConfig {
        mqtt,
        pipeline: bus::PipelineConfig {
            batch_size: config.events.batch_size,
            batch_delay: config.events.batch_delay,
            max_message_bytes: config.events.max_message_bytes,
        },
        retention: config.events.retention,
        ..bus::BusConfig::default()
    })
}

/// The machine's host name: stable across restarts, so the broker keeps this instance's
/// persistent session.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// Where the configured store lives.
pub fn store_config(config: &Config) -> StoreConfig {
    match &config.database.url {
        Some(url) => StoreConfig::Postgres {
            url: url.expose().to_owned(),
            max_connections: config.database.max_connections,
        },
        None => StoreConfig::Sqlite {
            path: config.data_dir.join(SQLITE_FILE),
            max_connections: config.database.max_connections,
        },
    }
}

/// Creates the data directory if it does not exist, readable by its owner only (it holds the
/// database, with password and token hashes, and the generated API key).
pub fn ensure_data_dir(config: &Config) -> Result<(), StartupError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(&config.data_dir)
        .map_err(|error| StartupError::DataDir {
            path: config.data_dir.clone(),
            error,
        })
}

/// Connects to the database (see [`connect_store`]), then applies migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    let store = connect_store(config).await?;
    // Skips even the migrator's bookkeeping when nothing is pending, so the server can run as a
    // role without schema privileges; `taylordash migrate` runs the full, checksum-verifying pass.
    store
        .migrate_if_needed()
        .await
        .map_err(StartupError::Migrate)?;
    Ok(store)
}

/// Connects to the database, retrying with backoff while it is unreachable (containers often
/// start before their database); applies no migration.
pub async fn connect_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    ensure_data_dir(config)?;
    let target = store_config(config);
    let deadline = Instant::now() + config.database.connect_timeout;
    let mut delay = Duration::from_millis(200);
    let store = loop {
        match storage::connect(&target).await {
            Ok(store) => break store,
            Err(error) if Instant::now() + delay < deadline => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "database not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                return Err(StartupError::Connect {
                    timeout_s: config.database.connect_timeout.as_secs(),
                    error,
                });
            }
        }
    };
    Ok(store)
}

/// Authentication settings from the configuration.
pub fn auth_config(config: &Config) -> AuthConfig {
    AuthConfig {
        trusted_proxies: config.trusted_proxies.clone(),
        public_origin: config.public_url.clone(),
        allowed_origins: config.allowed_origins.clone(),
        forward_auth: config.forward_auth.clone(),
        external: config.external.clone(),
        break_glass: config.break_glass.clone(),
        alertmanager_token: config
            .alertmanager_token
            .as_ref()
            .map(|t| api::AlertmanagerToken::new(t.expose())),
        oidc: config.oidc.clone().map(|mut oidc| {
            // A provider in the home lab may have a certificate from the stack's private CA
            // (the file was checked when the configuration was read).
            if let Some(path) = &config.stack.ca_file {
                match std::fs::read(path)
                    .map_err(|e| e.to_string())
                    .and_then(|pem| observability::outbound::parse_ca_pem(&pem))
                {
                    Ok(certs) => oidc.extra_ca = certs,
                    Err(e) => tracing::warn!(
                        path = %path.display(), error = %e, "cannot read stack.ca_file"
                    ),
                }
            }
            oidc
        }),
        ..AuthConfig::default()
    }
}

/// Builds the application: store, API key and, through [`AppBuilder`], every part with its
/// background tasks; creates the configured admin account, or issues a setup token while no
/// admin exists.
pub async fn build(config: &Config) -> Result<Server, StartupError> {
    let store = open_store(config).await?;
    let (key, api_key_source) = resolve_api_key(config)?;
    let sink = log_sink(config);
    // Records queue from here on and are written once the writer starts.
    if config.logs.db {
        crate::telemetry::attach(sink.clone());
    }
    let objects = crate::files::open_objects(config)
        .await
        .map_err(StartupError::Objects)?;
    let app = AppBuilder::new(store.clone(), key)
        .auth(auth_config(config))
        .bus(bus_config(config)?)
        .log_sink(sink)
        .stack(stack_endpoints(config))
        .timeseries(observability::timeseries::TimeSeriesSettings {
            victoria_metrics: config.stack.victoria_metrics.clone(),
            push_interval: config.stack.push_interval,
            local_retention: config.stack.local_retention,
            instance: hostname(),
            ..observability::timeseries::TimeSeriesSettings::default()
        })
        .files(FilesSettings {
            objects,
            max_upload_bytes: config.files.max_upload_bytes,
            collect_interval: Some(crate::files::COLLECT_INTERVAL),
            backup_interval: config.files.backup_interval,
            backup_keep: config.files.backup_keep,
        })
        .http_limits(config.http)
        .checks(services::checks::Settings {
            retention: config.check_retention,
            ..services::checks::Settings::default()
        })
        .alerts(services::alerts::Settings {
            retry_cap: chrono::Duration::from_std(config.alert_retry_max)
                .unwrap_or(chrono::Duration::minutes(5)),
            give_up_after: chrono::Duration::hours(config.alert_give_up.min(24 * 365) as i64),
            ..services::alerts::Settings::default()
        })
        .build()
        .map_err(|e| StartupError::Metrics(e.to_string()))?;
    tracing::info!(backend = store.backend().as_str(), "database ready");
    let state = &app.state;
    let identity = &state.auth.identity;
    if let Some(admin) = &config.admin_bootstrap {
        bootstrap_admin(identity, &admin.username, &admin.password_file).await?;
    }
    let admins = store
        .count_active_admins()
        .await
        .map_err(|e| StartupError::Admin(e.to_string()))?;
    let setup_token = if admins == 0 {
        let token = identity
            .issue_setup_token()
            .await
            .map_err(|e| StartupError::Admin(format!("cannot create a setup token: {e}")))?;
        Some(token)
    } else {
        None
    };
    Ok(Server {
        app,
        store,
        api_key_source,
        setup_token,
    })
}

/// The optional services `/health/stack` checks.
pub fn stack_endpoints(config: &Config) -> api::StackEndpoints {
    api::StackEndpoints {
        object_store: config.stack.object_store.clone(),
        victoria_metrics: config.stack.victoria_metrics.clone(),
        prometheus: config.stack.prometheus.clone(),
        grafana: config.stack.grafana.clone(),
        otlp: config
            .otel
            .endpoint
            .clone()
            .or_else(|| config.otel.traces_endpoint.clone()),
    }
}

/// The log writer (queue, batching, retention) as configured.
pub fn log_sink(config: &Config) -> observability::logs::LogSink {
    observability::logs::LogSink::new(observability::logs::LogSettings {
        capacity: config.logs.queue_capacity,
        retention: config.logs.retention.clone(),
        environment: config.environment.clone(),
        host_name: hostname(),
        ..observability::logs::LogSettings::default()
    })
}

/// The identity service for maintenance commands (`user add`): the store and the configured
/// settings, and nothing of the server — no HTTP state, event bus or background tasks. What it
/// audits reaches the bus through the outbox (a running server's relay publishes it). Close
/// the returned store when done.
pub async fn maintenance_identity(
    config: &Config,
) -> Result<(Identity, Arc<dyn Store>), StartupError> {
    let store = open_store(config).await?;
    let identity = Identity::new(store.clone(), auth_config(config).identity_settings());
    Ok((identity, store))
}

/// Creates the unattended-install admin unless a user of that name exists (its password is then
/// left alone: the file is only the initial password).
async fn bootstrap_admin(
    identity: &Identity,
    username: &str,
    password_file: &Path,
) -> Result<(), StartupError> {
    let exists = identity
        .find_user(username)
        .await
        .map_err(|e| StartupError::Admin(e.to_string()))?;
    if exists.is_some() {
        tracing::info!(username, "admin account from configuration already exists");
        return Ok(());
    }
    let password = std::fs::read_to_string(password_file).map_err(|e| {
        StartupError::Admin(format!("cannot read {}: {e}", password_file.display()))
    })?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    identity
        .provision(username, password, Role::Admin, "configuration")
        .await
        .map_err(|e| StartupError::Admin(e.to_string()))?;
    tracing::info!(username, "created the admin account from configuration");
    Ok(())
}

/// The configured key, else the one stored in the data directory, else a new random one
/// (written there, readable by the owner only).
fn resolve_api_key(config: &Config) -> Result<(ApiKey, ApiKeySource), StartupError> {
    if let Some(key) = &config.api_key {
        return Ok((ApiKey::new(key.expose()), ApiKeySource::Configured));
    }
    let path = config.data_dir.join(API_KEY_FILE);
    let io_err = |error| StartupError::ApiKey {
        path: path.clone(),
        error,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((ApiKey::new(text.trim()), ApiKeySource::File(path)));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let key = generate_key().map_err(io_err)?;
    write_private(&path, &key).map_err(io_err)?;
    Ok((ApiKey::new(key), ApiKeySource::Generated(path)))
}

/// 256 random bits from the operating system, hex encoded.
fn generate_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hex::encode(bytes))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

impl Server {
    /// Serves until `shutdown` resolves, then shuts down in order (see [`crate::app`]), giving
    /// in-flight requests and then the background tasks at most `grace` each.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<()> {
        self.app.serve(listener, shutdown, grace).await
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
