//! Service checks: what is checked on a component (HTTP, TCP, ping, DNS, an MQTT heartbeat, a
//! push URL), how often, and what a run's outcome does to the check's state.
//!
//! Validation lives here (a [`Check`] built by [`Check::create`]/[`Check::apply`] is valid), and
//! so does the state machine ([`CheckState::advance`]): retries before "down", when the next run
//! is due, and which changes are transitions worth an event.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::NAME_MAX;
use crate::validate::{self, ValidationError};
use crate::{DomainEvent, JsonObject, component_fields, topics};

crate::status::status_enum! {
    /// What is checked.
    CheckKind {
        #[default]
        Http => "http",
        Tcp => "tcp",
        Ping => "ping",
        Dns => "dns",
        Mqtt => "mqtt",
        Push => "push",
    }
}

crate::status::status_enum! {
    /// A check's state. `unknown` until its first conclusive run.
    CheckStatus {
        #[default]
        Unknown => "unknown",
        Up => "up",
        Degraded => "degraded",
        Down => "down",
    }
}

impl CheckKind {
    /// Kinds that wait for something to arrive (a push, an MQTT message) instead of probing.
    pub fn is_heartbeat(self) -> bool {
        matches!(self, CheckKind::Mqtt | CheckKind::Push)
    }
}

/// The limits every check is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckRules {
    /// Shortest interval (and retry interval) accepted, in seconds.
    pub min_interval_secs: i32,
}

impl Default for CheckRules {
    fn default() -> Self {
        CheckRules {
            min_interval_secs: 10,
        }
    }
}

/// Longest interval: 31 days (a monthly cron job's push check).
pub const MAX_INTERVAL_SECS: i32 = 31 * 86_400;
/// Longest probe timeout.
pub const MAX_TIMEOUT_SECS: i32 = 60;
/// Most retries before "down".
pub const MAX_RETRIES: i32 = 10;
/// Most custom headers on an HTTP check.
pub const MAX_HEADERS: usize = 20;
const HEADER_VALUE_MAX: usize = 4096;
const KEYWORD_MAX: usize = 1000;
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// One custom request header. A secret header's value is kept apart from the rest of the
/// check (see [`Check::secrets`]) and never shown again after it was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHeader {
    pub name: String,
    /// The value of a non-secret header; `None` for a secret one (its value is a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default)]
    pub secret: bool,
}

/// An HTTP(S) check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpTarget {
    pub url: String,
    pub method: String,
    /// Accepted status codes: codes and ranges, e.g. `200-299,301`.
    pub expected_status: String,
    /// Text the body must contain (or, with `keyword_absent`, must not).
    pub keyword: Option<String>,
    pub keyword_absent: bool,
    pub follow_redirects: bool,
    /// Degraded when the certificate expires within this many days (0: no warning).
    pub cert_expiry_warn_days: i32,
    /// Accept a certificate no trusted authority signed (a self-signed one).
    pub allow_self_signed: bool,
    pub headers: Vec<HttpHeader>,
}

/// A TCP connect check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpTarget {
    pub host: String,
    pub port: u16,
}

/// An ICMP echo check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingTarget {
    pub host: String,
}

/// A DNS check: `name` resolves (to `expected` when given), asked of `server`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsTarget {
    pub name: String,
    /// `A` or `AAAA`.
    pub record_type: String,
    /// The DNS server: an IP address, optionally with a port (`10.0.0.1:5353`,
    /// `[fd00::1]:53`); `None` uses the system resolver.
    pub server: Option<String>,
    /// One of these addresses must be in the answer.
    pub expected: Vec<IpAddr>,
}

/// An MQTT heartbeat: a message on a topic matching `topic_filter` at least every interval
/// (plus `grace_secs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttTarget {
    pub topic_filter: String,
    pub grace_secs: i32,
}

/// A push check: its secret URL must be called at least every interval (plus `grace_secs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushTarget {
    pub grace_secs: i32,
}

/// What a check checks, per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckTarget {
    Http(HttpTarget),
    Tcp(TcpTarget),
    Ping(PingTarget),
    Dns(DnsTarget),
    Mqtt(MqttTarget),
    Push(PushTarget),
}

impl CheckTarget {
    pub fn kind(&self) -> CheckKind {
        match self {
            CheckTarget::Http(_) => CheckKind::Http,
            CheckTarget::Tcp(_) => CheckKind::Tcp,
            CheckTarget::Ping(_) => CheckKind::Ping,
            CheckTarget::Dns(_) => CheckKind::Dns,
            CheckTarget::Mqtt(_) => CheckKind::Mqtt,
            CheckTarget::Push(_) => CheckKind::Push,
        }
    }

    /// The stored form (secret header values are not part of it).
    pub fn to_json(&self) -> JsonObject {
        let v = match self {
            CheckTarget::Http(t) => serde_json::to_value(t),
            CheckTarget::Tcp(t) => serde_json::to_value(t),
            CheckTarget::Ping(t) => serde_json::to_value(t),
            CheckTarget::Dns(t) => serde_json::to_value(t),
            CheckTarget::Mqtt(t) => serde_json::to_value(t),
            CheckTarget::Push(t) => serde_json::to_value(t),
        };
        match v {
            Ok(Value::Object(map)) => map,
            _ => JsonObject::new(),
        }
    }

    /// Reads the stored form back.
    pub fn from_json(kind: CheckKind, value: JsonObject) -> Result<CheckTarget, String> {
        let v = Value::Object(value);
        let r = match kind {
            CheckKind::Http => serde_json::from_value(v).map(CheckTarget::Http),
            CheckKind::Tcp => serde_json::from_value(v).map(CheckTarget::Tcp),
            CheckKind::Ping => serde_json::from_value(v).map(CheckTarget::Ping),
            CheckKind::Dns => serde_json::from_value(v).map(CheckTarget::Dns),
            CheckKind::Mqtt => serde_json::from_value(v).map(CheckTarget::Mqtt),
            CheckKind::Push => serde_json::from_value(v).map(CheckTarget::Push),
        };
        r.map_err(|e| format!("stored {kind} check target: {e}"))
    }

    /// The grace period of a heartbeat kind.
    pub fn grace_secs(&self) -> i32 {
        match self {
            CheckTarget::Mqtt(t) => t.grace_secs,
            CheckTarget::Push(t) => t.grace_secs,
            _ => 0,
        }
    }
}

/// A check of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub id: Uuid,
    pub component_id: Uuid,
    pub name: String,
    pub target: CheckTarget,
    pub interval_secs: i32,
    pub timeout_secs: i32,
    /// Failed runs in a row that still do not make the check "down" (0: the first does).
    pub retries: i32,
    /// How soon to run again after a failure that did not make the check "down" yet.
    pub retry_interval_secs: i32,
    /// Whether this check's state counts in the component's state.
    pub drives_status: bool,
    pub paused: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Check {
    pub fn kind(&self) -> CheckKind {
        self.target.kind()
    }
}

/// The secret values of a check's secret headers (header name → value). Its `Debug` never
/// shows a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CheckSecrets(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for CheckSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A check as the client describes it; unset numbers take their defaults.
#[derive(Debug, Clone, Default)]
pub struct NewCheck {
    /// Defaults to the kind and target (`HTTP https://nas.lan/`).
    pub name: Option<String>,
    pub kind: String,
    /// The kind's fields as JSON (see the `*Target` types; optional fields may be left out).
    pub target: JsonObject,
    pub interval_secs: Option<i32>,
    pub timeout_secs: Option<i32>,
    pub retries: Option<i32>,
    pub retry_interval_secs: Option<i32>,
    pub drives_status: Option<bool>,
    pub paused: Option<bool>,
}

/// A partial update: `None` keeps a field. A new `target` replaces the old one whole (the kind
/// cannot change); a secret header sent without a value keeps its stored value.
#[derive(Debug, Clone, Default)]
pub struct CheckPatch {
    pub name: Option<String>,
    pub target: Option<JsonObject>,
    pub interval_secs: Option<i32>,
    pub timeout_secs: Option<i32>,
    pub retries: Option<i32>,
    pub retry_interval_secs: Option<i32>,
    pub drives_status: Option<bool>,
    pub paused: Option<bool>,
}

fn range(field: &'static str, v: i32, min: i32, max: i32) -> Result<i32, ValidationError> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(ValidationError::new(
            field,
            format!("must be between {min} and {max}"),
        ))
    }
}

fn field<T: for<'de> Deserialize<'de>>(
    target: &JsonObject,
    name: &'static str,
) -> Result<Option<T>, ValidationError> {
    match target.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| ValidationError::new(name, format!("has the wrong type ({e})"))),
    }
}

fn required<T: for<'de> Deserialize<'de>>(
    target: &JsonObject,
    name: &'static str,
) -> Result<T, ValidationError> {
    field(target, name)?.ok_or_else(|| ValidationError::new(name, "is required for this kind"))
}

/// Parses accepted status codes (`200-299,301`) into ranges.
pub fn status_ranges(spec: &str) -> Result<Vec<(u16, u16)>, ValidationError> {
    let bad = || {
        ValidationError::new(
            "expected_status",
            "must be status codes or ranges between 100 and 599, e.g. 200-299,301",
        )
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u16 = a.trim().parse().map_err(|_| bad())?;
        let b: u16 = b.trim().parse().map_err(|_| bad())?;
        if !(100..=599).contains(&a) || !(100..=599).contains(&b) || a > b {
            return Err(bad());
        }
        out.push((a, b));
    }
    Ok(out)
}

/// A DNS server address: an IP, optionally with a port (default 53).
pub fn dns_server(spec: &str) -> Result<std::net::SocketAddr, ValidationError> {
    let spec = spec.trim();
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    spec.parse().map_err(|_| {
        ValidationError::new(
            "server",
            "must be an IP address, optionally with a port (10.0.0.1, 10.0.0.1:5353, [fd00::1]:53)",
        )
    })
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Header names whose values are secrets even when the client did not say so.
fn secret_by_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "secret",
        "password",
        "api-key",
        "apikey",
        "auth",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// Validates an HTTP check's fields, splitting secret header values off into `secrets`.
/// `previous` supplies stored secret values for secret headers sent without one.
fn http_target(
    t: &JsonObject,
    previous: &CheckSecrets,
) -> Result<(HttpTarget, CheckSecrets), ValidationError> {
    let url: String = required(t, "url")?;
    let url = component_fields::url(&url).map_err(|e| ValidationError::new("url", e.message))?;
    let method = field::<String>(t, "method")?
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(ValidationError::new(
            "method",
            format!("must be one of {}", METHODS.join(", ")),
        ));
    }
    let expected_status =
        field::<String>(t, "expected_status")?.unwrap_or_else(|| "200-299".into());
    status_ranges(&expected_status)?;
    let keyword = field::<String>(t, "keyword")?.filter(|k| !k.is_empty());
    if let Some(k) = &keyword {
        validate::text("keyword", k, KEYWORD_MAX)?;
    }
    let cert_expiry_warn_days = range(
        "cert_expiry_warn_days",
        field(t, "cert_expiry_warn_days")?.unwrap_or(14),
        0,
        365,
    )?;
    let raw: Vec<HttpHeader> = field(t, "headers")?.unwrap_or_default();
    if raw.len() > MAX_HEADERS {
        return Err(ValidationError::new(
            "headers",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut headers = Vec::with_capacity(raw.len());
    let mut secrets = CheckSecrets::default();
    for h in raw {
        let name = h.name.trim().to_owned();
        if !header_name_ok(&name) {
            return Err(ValidationError::new(
                "headers",
                format!("'{name}' is not a valid header name"),
            ));
        }
        if ["host", "content-length", "transfer-encoding", "connection"]
            .contains(&name.to_ascii_lowercase().as_str())
        {
            return Err(ValidationError::new(
                "headers",
                format!("{name} is set by the check itself"),
            ));
        }
        let secret = h.secret || secret_by_name(&name);
        let value = match (h.value, secret) {
            (Some(v), _) => v,
            (None, true) => previous.0.get(&name).cloned().ok_or_else(|| {
                ValidationError::new("headers", format!("header {name} needs a value"))
            })?,
            (None, false) => {
                return Err(ValidationError::new(
                    "headers",
                    format!("header {name} needs a value"),
                ));
            }
        };
        validate::max_chars("headers", &value, HEADER_VALUE_MAX)?;
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(ValidationError::new(
                "headers",
                format!("the value of {name} must not contain control characters"),
            ));
        }
        if value.contains("PRIVATE KEY-----") {
            return Err(ValidationError::new(
                "headers",
                format!("the value of {name} holds private-key material; it is refused"),
            ));
        }
        if secret {
            secrets.0.insert(name.clone(), value);
            headers.push(HttpHeader {
                name,
                value: None,
                secret: true,
            });
        } else {
            headers.push(HttpHeader {
                name,
                value: Some(value),
                secret: false,
            });
        }
    }
    Ok((
        HttpTarget {
            url,
            method,
            expected_status,
            keyword_absent: field(t, "keyword_absent")?.unwrap_or(false),
            keyword,
            follow_redirects: field(t, "follow_redirects")?.unwrap_or(true),
            cert_expiry_warn_days,
            allow_self_signed: field(t, "allow_self_signed")?.unwrap_or(false),
            headers,
        },
        secrets,
    ))
}

/// Validates `target` as a check of `kind`; returns it with the secret header values.
pub fn parse_target(
    kind: CheckKind,
    t: &JsonObject,
    interval_secs: i32,
    previous: &CheckSecrets,
) -> Result<(CheckTarget, CheckSecrets), ValidationError> {
    let grace = |t: &JsonObject| -> Result<i32, ValidationError> {
        range(
            "grace_secs",
            field(t, "grace_secs")?.unwrap_or_else(|| interval_secs.min(60)),
            0,
            MAX_INTERVAL_SECS,
        )
    };
    let host = |t: &JsonObject| -> Result<String, ValidationError> {
        component_fields::host_named("host", &required::<String>(t, "host")?)
    };
    Ok(match kind {
        CheckKind::Http => {
            let (t, s) = http_target(t, previous)?;
            return Ok((CheckTarget::Http(t), s));
        }
        CheckKind::Tcp => {
            let port: i64 = required(t, "port")?;
            let port = u16::try_from(port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ValidationError::new("port", "must be between 1 and 65535"))?;
            CheckTarget::Tcp(TcpTarget {
                host: host(t)?,
                port,
            })
        }
        CheckKind::Ping => CheckTarget::Ping(PingTarget { host: host(t)? }),
        CheckKind::Dns => {
            let name: String = required(t, "name")?;
            let name = component_fields::host_named("name", &name)?;
            let record_type = field::<String>(t, "record_type")?
                .unwrap_or_else(|| "A".into())
                .to_ascii_uppercase();
            if !["A", "AAAA"].contains(&record_type.as_str()) {
                return Err(ValidationError::new("record_type", "must be A or AAAA"));
            }
            let server = field::<String>(t, "server")?.filter(|s| !s.trim().is_empty());
            if let Some(s) = &server {
                dns_server(s)?;
            }
            let expected: Vec<IpAddr> = match field::<Vec<String>>(t, "expected")? {
                None => Vec::new(),
                Some(list) => list
                    .iter()
                    .map(|a| {
                        a.trim().parse().map_err(|_| {
                            ValidationError::new("expected", format!("'{a}' is not an IP address"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            CheckTarget::Dns(DnsTarget {
                name,
                record_type,
                server: server.map(|s| s.trim().to_owned()),
                expected,
            })
        }
        CheckKind::Mqtt => {
            let filter: String = required(t, "topic_filter")?;
            if !topics::valid_filter(&filter) || filter.len() > 512 {
                return Err(ValidationError::new(
                    "topic_filter",
                    "must be a valid MQTT topic filter (+ a whole level, # the whole last level)",
                ));
            }
            if !topics::SUBSCRIPTIONS
                .iter()
                .any(|s| topics::filters_overlap(s, &filter))
            {
                return Err(ValidationError::new(
                    "topic_filter",
                    format!(
                        "must lie under the topics TaylorDash receives ({})",
                        topics::SUBSCRIPTIONS.join(", ")
                    ),
                ));
            }
            CheckTarget::Mqtt(MqttTarget {
                topic_filter: filter,
                grace_secs: grace(t)?,
            })
        }
        CheckKind::Push => CheckTarget::Push(PushTarget {
            grace_secs: grace(t)?,
        }),
    }
    .with_no_secrets())
}

impl CheckTarget {
    fn with_no_secrets(self) -> (CheckTarget, CheckSecrets) {
        (self, CheckSecrets::default())
    }
}

fn default_name(target: &CheckTarget) -> String {
    let name = match target {
        CheckTarget::Http(t) => format!("{} {}", t.method, t.url),
        CheckTarget::Tcp(t) => format!("TCP {}:{}", t.host, t.port),
        CheckTarget::Ping(t) => format!("Ping {}", t.host),
        CheckTarget::Dns(t) => format!("DNS {} {}", t.record_type, t.name),
        CheckTarget::Mqtt(t) => format!("MQTT {}", t.topic_filter),
        CheckTarget::Push(_) => "Push".to_owned(),
    };
    name.chars().take(NAME_MAX).collect()
}

impl Check {
    /// A new check of `component_id`, with its secret header values.
    pub fn create(
        component_id: Uuid,
        new: NewCheck,
        rules: &CheckRules,
    ) -> Result<(Check, CheckSecrets), ValidationError> {
        let kind: CheckKind = new.kind.parse().map_err(|e: crate::UnknownStatus| {
            ValidationError::new("kind", format!("unknown kind: {e}"))
        })?;
        let interval = range(
            "interval_secs",
            new.interval_secs.unwrap_or(60),
            rules.min_interval_secs,
            MAX_INTERVAL_SECS,
        )?;
        let (target, secrets) =
            parse_target(kind, &new.target, interval, &CheckSecrets::default())?;
        let at = crate::now();
        let mut check = Check {
            id: Uuid::new_v4(),
            component_id,
            name: String::new(),
            interval_secs: interval,
            timeout_secs: 10.min(interval),
            retries: 0,
            retry_interval_secs: interval,
            drives_status: true,
            paused: false,
            target,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        check.name = match new.name.filter(|n| !n.trim().is_empty()) {
            Some(n) => validate::name("name", &n, NAME_MAX)?,
            None => default_name(&check.target),
        };
        check.set_numbers(
            new.timeout_secs,
            new.retries,
            new.retry_interval_secs,
            rules,
        )?;
        check.drives_status = new.drives_status.unwrap_or(true);
        check.paused = new.paused.unwrap_or(false);
        Ok((check, secrets))
    }

    fn set_numbers(
        &mut self,
        timeout: Option<i32>,
        retries: Option<i32>,
        retry_interval: Option<i32>,
        rules: &CheckRules,
    ) -> Result<(), ValidationError> {
        if let Some(t) = timeout {
            self.timeout_secs = range("timeout_secs", t, 1, MAX_TIMEOUT_SECS)?;
        }
        if self.timeout_secs > self.interval_secs {
            return Err(ValidationError::new(
                "timeout_secs",
                "must not be longer than the interval",
            ));
        }
        if let Some(r) = retries {
            self.retries = range("retries", r, 0, MAX_RETRIES)?;
        }
        if let Some(r) = retry_interval {
            self.retry_interval_secs = range(
                "retry_interval_secs",
                r,
                rules.min_interval_secs,
                MAX_INTERVAL_SECS,
            )?;
        }
        Ok(())
    }

    /// Applies `patch` (with the stored secrets for secret headers sent without a value), bumps
    /// the version and returns the changed fields' names and the secrets to keep.
    pub fn apply(
        &mut self,
        patch: CheckPatch,
        secrets: &CheckSecrets,
        rules: &CheckRules,
    ) -> Result<(Vec<&'static str>, CheckSecrets), ValidationError> {
        let mut changed = Vec::new();
        if let Some(i) = patch.interval_secs {
            let i = range(
                "interval_secs",
                i,
                rules.min_interval_secs,
                MAX_INTERVAL_SECS,
            )?;
            if i != self.interval_secs {
                self.interval_secs = i;
                changed.push("interval_secs");
            }
        }
        let mut kept = secrets.clone();
        if let Some(t) = patch.target {
            let (target, s) = parse_target(self.kind(), &t, self.interval_secs, secrets)?;
            if target != self.target || s != *secrets {
                changed.push("target");
            }
            self.target = target;
            kept = s;
        }
        if let Some(n) = patch.name {
            let n = validate::name("name", &n, NAME_MAX)?;
            if n != self.name {
                self.name = n;
                changed.push("name");
            }
        }
        let before = (self.timeout_secs, self.retries, self.retry_interval_secs);
        self.set_numbers(
            patch.timeout_secs,
            patch.retries,
            patch.retry_interval_secs,
            rules,
        )?;
        if before.0 != self.timeout_secs {
            changed.push("timeout_secs");
        }
        if before.1 != self.retries {
            changed.push("retries");
        }
        if before.2 != self.retry_interval_secs {
            changed.push("retry_interval_secs");
        }
        if let Some(d) = patch.drives_status.filter(|d| *d != self.drives_status) {
            self.drives_status = d;
            changed.push("drives_status");
        }
        if let Some(p) = patch.paused.filter(|p| *p != self.paused) {
            self.paused = p;
            changed.push("paused");
        }
        self.version += 1;
        self.updated_at = crate::now();
        Ok((changed, kept))
    }
}

/// What one run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `up`, `degraded` or `down` (never `unknown`).
    pub status: CheckStatus,
    pub latency_ms: Option<f64>,
    /// Why it is down or degraded; `None` when up.
    pub error: Option<String>,
    /// When the server's TLS certificate expires (HTTPS).
    pub cert_expires_at: Option<DateTime<Utc>>,
}

impl Outcome {
    pub fn up(latency_ms: f64) -> Outcome {
        Outcome {
            status: CheckStatus::Up,
            latency_ms: Some(latency_ms),
            error: None,
            cert_expires_at: None,
        }
    }

    pub fn down(error: impl Into<String>) -> Outcome {
        Outcome {
            status: CheckStatus::Down,
            latency_ms: None,
            error: Some(error.into()),
            cert_expires_at: None,
        }
    }
}

/// A run's result, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub check_id: Uuid,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// A check's state between runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckState {
    pub status: CheckStatus,
    /// Since when the check has had this status.
    pub status_since: Option<DateTime<Utc>>,
    /// Failed runs in a row.
    pub failures: i32,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_latency_ms: Option<f64>,
    pub last_error: Option<String>,
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// When the next run is due; `None` while paused.
    pub next_due_at: Option<DateTime<Utc>>,
}

/// A change of a check's status.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: CheckStatus,
    pub to: CheckStatus,
}

impl CheckState {
    /// Takes one run's `outcome` at `at` into account: counts failures against the retries,
    /// moves the status, schedules the next run, and returns the transition, if any.
    pub fn advance(
        &mut self,
        check: &Check,
        at: DateTime<Utc>,
        outcome: &Outcome,
    ) -> Option<Transition> {
        let before = self.status;
        let heartbeat = check.kind().is_heartbeat();
        let next_in = match outcome.status {
            CheckStatus::Down => {
                self.failures = self.failures.saturating_add(1);
                if self.failures > check.retries {
                    self.status = CheckStatus::Down;
                    check.interval_secs
                } else {
                    check.retry_interval_secs
                }
            }
            status => {
                self.failures = 0;
                self.status = status;
                check.interval_secs
                    + if heartbeat {
                        check.target.grace_secs()
                    } else {
                        0
                    }
            }
        };
        self.last_checked_at = Some(at);
        self.last_latency_ms = outcome.latency_ms;
        self.last_error = outcome.error.clone();
        if outcome.cert_expires_at.is_some() {
            self.cert_expires_at = outcome.cert_expires_at;
        }
        self.next_due_at = (!check.paused).then(|| at + Duration::seconds(i64::from(next_in)));
        (self.status != before).then(|| {
            self.status_since = Some(at);
            Transition {
                from: before,
                to: self.status,
            }
        })
    }
}

/// What happened to a project's public status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPageAction {
    Enabled,
    /// A new link; the old one stopped working.
    Regenerated,
    Disabled,
}

impl DomainEvent {
    /// A check changed state: `tracker/events/checks/<state>`, kind `check.<state>`.
    pub fn check_state(
        check: &Check,
        project_id: Uuid,
        t: &Transition,
        result: &CheckResult,
    ) -> DomainEvent {
        let state = t.to.as_str();
        let kind = match t.to {
            CheckStatus::Up => "check.up",
            CheckStatus::Degraded => "check.degraded",
            CheckStatus::Down => "check.down",
            CheckStatus::Unknown => "check.unknown",
        };
        DomainEvent::new(
            "checks",
            state,
            kind,
            format!("{kind}:{}:{}", check.id, result.at.timestamp_micros()),
            json!({
                "check_id": check.id,
                "check": check.name,
                "kind": check.kind(),
                "component_id": check.component_id,
                "project_id": project_id,
                "previous": t.from,
                "status": t.to,
                "latency_ms": result.outcome.latency_ms,
                "error": result.outcome.error,
                "cert_expires_at": result.outcome.cert_expires_at,
                "timestamp": result.at,
            }),
        )
    }

    /// A project's public status page was turned on, given a new link, or turned off
    /// (`tracker/events/status_pages/<action>`, kind `status_page.<action>`); never the token.
    pub fn status_page(action: StatusPageAction, project_id: Uuid, at: DateTime<Utc>) -> Self {
        let (name, kind) = match action {
            StatusPageAction::Enabled => ("enabled", "status_page.enabled"),
            StatusPageAction::Regenerated => ("regenerated", "status_page.regenerated"),
            StatusPageAction::Disabled => ("disabled", "status_page.disabled"),
        };
        DomainEvent::new(
            "status_pages",
            name,
            kind,
            format!("{kind}:{project_id}:{}", at.timestamp_micros()),
            json!({"project_id": project_id, "timestamp": at}),
        )
    }

    /// A check was created, changed or deleted (`tracker/events/checks/<action>`); no target
    /// details, so no header can travel in an event.
    pub fn check_changed(action: &str, check: &Check, changed: &[&str]) -> DomainEvent {
        let kind = match action {
            "created" => "check.created",
            "updated" => "check.updated",
            _ => "check.deleted",
        };
        DomainEvent::new(
            "checks",
            action,
            kind,
            format!("{kind}:{}:{}", check.id, check.version),
            json!({
                "check_id": check.id,
                "component_id": check.component_id,
                "name": check.name,
                "kind": check.kind(),
                "paused": check.paused,
                "drives_status": check.drives_status,
                "updated_fields": changed,
                "version": check.version,
                "timestamp": check.updated_at,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    fn new(kind: &str, target: Value) -> NewCheck {
        NewCheck {
            kind: kind.into(),
            target: obj(target),
            ..Default::default()
        }
    }

    fn create(n: NewCheck) -> Result<(Check, CheckSecrets), ValidationError> {
        Check::create(Uuid::new_v4(), n, &CheckRules::default())
    }

    #[test]
    fn kinds_and_floors_are_enforced() {
        assert_eq!(create(new("smtp", json!({}))).unwrap_err().field, "kind");
        let mut n = new("tcp", json!({"host": "nas.lan", "port": 22}));
        n.interval_secs = Some(5);
        assert_eq!(create(n).unwrap_err().field, "interval_secs");
        assert_eq!(
            create(new("tcp", json!({"host": "nas.lan", "port": 0})))
                .unwrap_err()
                .field,
            "port"
        );
        assert_eq!(
            create(new("http", json!({"url": "not a url"})))
                .unwrap_err()
                .field,
            "url"
        );
        assert_eq!(
            create(new(
                "http",
                json!({"url": "http://a/", "expected_status": "200-1000"})
            ))
            .unwrap_err()
            .field,
            "expected_status"
        );
        assert_eq!(
            create(new("mqtt", json!({"topic_filter": "zigbee2mqtt/#"})))
                .unwrap_err()
                .field,
            "topic_filter"
        );
        assert_eq!(
            create(new("dns", json!({"name": "nas.lan", "server": "dns.lan"})))
                .unwrap_err()
                .field,
            "server"
        );
        let (c, _) = create(new("tcp", json!({"host": "nas.lan", "port": 22}))).unwrap();
        assert_eq!(c.name, "TCP nas.lan:22");
        assert_eq!((c.interval_secs, c.timeout_secs, c.retries), (60, 10, 0));
        let (m, _) = create(new(
            "mqtt",
            json!({"topic_filter": "tracker/events/lab/+/alive"}),
        ))
        .unwrap();
        assert_eq!(m.target.grace_secs(), 60);
    }

    #[test]
    fn secret_headers_are_split_off_and_kept_when_not_resent() {
        let (mut c, secrets) = create(new(
            "http",
            json!({"url": "https://nas.lan", "headers": [
                {"name": "Authorization", "value": "Bearer s3cret"},
                {"name": "X-Lab", "value": "1"},
                {"name": "X-Custom", "value": "hidden", "secret": true}]}),
        ))
        .unwrap();
        assert_eq!(
            secrets.0.get("Authorization").map(String::as_str),
            Some("Bearer s3cret")
        );
        assert_eq!(secrets.0.len(), 2);
        assert!(!format!("{secrets:?}").contains("s3cret"));
        let stored = Value::Object(c.target.to_json()).to_string();
        assert!(
            !stored.contains("s3cret") && !stored.contains("hidden"),
            "{stored}"
        );
        let (_, kept) = c
            .apply(
                CheckPatch {
                    target: Some(obj(json!({"url": "https://nas.lan", "headers": [
                        {"name": "Authorization", "secret": true}]}))),
                    ..Default::default()
                },
                &secrets,
                &CheckRules::default(),
            )
            .unwrap();
        assert_eq!(kept.0.get("Authorization"), secrets.0.get("Authorization"));
        assert_eq!(kept.0.len(), 1, "a header left out is gone");
        let key = "-----BEGIN PRIVATE KEY-----\nMII...";
        let err = create(new(
            "http",
            json!({"url": "https://nas.lan", "headers": [{"name": "X-Key", "value": key}]}),
        ))
        .unwrap_err();
        assert_eq!(err.field, "headers");
    }

    #[test]
    fn retries_hold_the_status_until_they_run_out() {
        let mut n = new("tcp", json!({"host": "nas.lan", "port": 22}));
        n.retries = Some(2);
        n.retry_interval_secs = Some(20);
        let (c, _) = create(n).unwrap();
        let mut s = CheckState::default();
        let t0 = crate::now();
        let up = s.advance(&c, t0, &Outcome::up(3.0)).unwrap();
        assert_eq!((up.from, up.to), (CheckStatus::Unknown, CheckStatus::Up));
        assert_eq!(s.next_due_at, Some(t0 + Duration::seconds(60)));
        for i in 1..=2 {
            assert_eq!(s.advance(&c, t0, &Outcome::down("refused")), None);
            assert_eq!((s.status, s.failures), (CheckStatus::Up, i));
            assert_eq!(
                s.next_due_at,
                Some(t0 + Duration::seconds(20)),
                "retry sooner"
            );
        }
        let down = s.advance(&c, t0, &Outcome::down("refused")).unwrap();
        assert_eq!(down.to, CheckStatus::Down);
        assert_eq!(s.last_error.as_deref(), Some("refused"));
        assert_eq!(s.advance(&c, t0, &Outcome::down("refused")), None);
        assert_eq!(
            s.advance(&c, t0, &Outcome::up(1.0)).unwrap().to,
            CheckStatus::Up
        );
        assert_eq!(s.failures, 0);
    }
}
