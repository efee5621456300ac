//! Logging: every `tracing` event becomes a redacted, v1-shaped record (see `observability::logs`),
//! printed as a JSON line when stdout is not a terminal (or when asked), else as redacted text,
//! and — once the server has attached its log writer — stored in `application_logs`.

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};

use observability::logs::redact::{REDACTED, is_secret_name, redact_text};
use observability::logs::{LogLayer, LogSink};
use tracing_subscriber::Layer as _;
use tracing_subscriber::field::MakeExt as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{Config, LogFormat};

/// Where the server puts its log writer; filled by [`attach`].
static SINK_SLOT: OnceLock<Arc<OnceLock<LogSink>>> = OnceLock::new();

/// Installs the global subscriber. The level was validated when the configuration was parsed.
///
/// Each output has its own filter, so the thresholds are independent: `TAYLORDASH_LOG` decides
/// what stdout shows, `TAYLORDASH_LOG_DB_LEVEL` what is stored, and traces always see the INFO
/// spans plus sqlx's per-statement events (which become `db.query` spans).
pub fn init(config: &Config) {
    let stdout: Targets = config
        .log_level
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let json = match config.log_format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let text = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .fmt_fields(
                tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
                    let name = field.name();
                    if is_secret_name(name) {
                        write!(w, "{name}={REDACTED}")
                    } else if name == "message" {
                        write!(w, "{}", redact_text(&format!("{value:?}")))
                    } else {
                        write!(w, "{name}={}", redact_text(&format!("{value:?}")))
                    }
                })
                .delimited(" "),
            )
            .with_filter(stdout.clone())
    });
    let layer = LogLayer::new(
        json.then_some(stdout),
        config.logs.db_level,
        &config.environment,
        &crate::startup::hostname(),
    );
    let slot = layer.sink_slot();
    let interest = tracing_subscriber::filter::filter_fn(layer.interest())
        .with_max_level_hint(layer.max_level());
    let layer = layer.with_filter(interest);
    // Traces only with an OTLP endpoint: without one nothing is recorded or sent.
    let otel = config.otel.traces_url().map(|traces_url| {
        // The file was read and checked when the configuration was loaded.
        let ca_pem = config
            .otel
            .certificate
            .as_ref()
            .and_then(|path| std::fs::read(path).ok());
        observability::otel::OtelLayer::new(observability::otel::OtelSettings {
            traces_url,
            headers: config.otel.headers(),
            resource: config.otel.resource(&config.environment),
            scope_version: env!("CARGO_PKG_VERSION").into(),
            sampler: config.otel.sampler,
            ca_pem,
            timeout: config.otel.timeout,
            db_system: if config.database.url.is_some() {
                "postgresql".into()
            } else {
                "sqlite".into()
            },
        })
    });
    let (otel_layer, exporter) = match otel {
        Some((layer, exporter)) => {
            let traced = Targets::new()
                .with_default(tracing::Level::INFO)
                .with_target("sqlx::query", tracing::Level::DEBUG);
            (Some(layer.with_filter(traced)), Some(exporter))
        }
        None => (None, None),
    };
    // A second initialisation (only possible in tests) keeps the first subscriber.
    if tracing_subscriber::registry()
        .with(otel_layer)
        .with(text)
        .with(layer)
        .try_init()
        .is_ok()
    {
        let _ = SINK_SLOT.set(slot);
        if let Some(exporter) = exporter {
            exporter.spawn_background();
            bus::trace_events(true);
        }
    }
}

/// From now on, records at or above the database threshold go to `sink`.
pub fn attach(sink: LogSink) {
    if let Some(slot) = SINK_SLOT.get() {
        let _ = slot.set(sink);
    }
}
