//! What the OpenAPI document says about input: lengths, patterns, ranges and vocabularies,
//! taken from the rules the server applies (the domain's validation constants and functions,
//! the paging limits, the topic rules), so that what the document calls valid is accepted and
//! what it calls invalid is refused.
//!
//! The handlers' wire types describe shapes; [`apply`] then adds the rules to the finished
//! document, by schema property and by parameter. Every rule must find its target (a renamed
//! field fails the tests instead of silently losing its rule), and the patterns are checked
//! against the functions they describe (`tests` below).
//!
//! Patterns are JSON Schema (ECMA-262) regular expressions written with what ECMA-262, Python's
//! `re` (what fuzzers generate from) and Rust's `regex` (the tests) read alike: character
//! classes, `\uXXXX` escapes, groups and counted repetition; no lookaround, no `\p{..}`.

use domain::{
    ALERT_NAME_MAX, API_KEY_NAME_MAX, AlertSource, AlertState, AuditAction, COMPONENT_TYPE_MAX,
    ChannelKind, CheckKind, DEFAULT_VIEW_MAX, DESCRIPTION_MAX, DeliveryStatus, HOST_MAX, ICONS,
    LEVELS, MAX_ARTIFACT_NAME, MAX_CHANNELS, MAX_DURATION_SECS, MAX_GROUP_WAIT_SECS,
    MAX_INTERVAL_SECS, MAX_RETRIES, MAX_SECRET_CHARS, MAX_SILENCE_SECS, MAX_TIMEOUT_SECS,
    MIN_REPEAT_SECS, NAME_MAX, NOTE_MAX, NotifyReason, PASSWORD_MAX, PASSWORD_MIN, RuleKind,
    SEVERITIES, Severity, TASK_DESCRIPTION_MAX, URL_MAX, USERNAME_MAX,
};
use serde_json::{Value, json};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, Object, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{OpenApi, RefOr};

/// Control characters (Unicode category Cc): refused in names and query parameters.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// Control characters but tab and line breaks: refused in free text.
const CONTROL_BUT_BREAKS: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";
/// Explicit text-direction controls, refused in names.
const BIDI: &str = r"\u202A-\u202E\u2066-\u2069";
/// What `str::trim` removes (Unicode White_Space).
const SPACE: &str = r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// The white space a query parameter may carry: `SPACE` without its control characters,
/// which `extract::Query` refuses before any handler sees them.
const QUERY_SPACE: &str = r" \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// A display name (`validate::name`): surrounding white space is trimmed; what remains is
/// 1-`max` characters without control or text-direction characters.
pub(crate) fn name_pattern(max: usize) -> String {
    let visible = format!("[^{CONTROL}{BIDI}{SPACE}]");
    let inner = format!("[^{CONTROL}{BIDI}]");
    format!(
        "^[{SPACE}]*{visible}(?:{inner}{{0,{}}}{visible})?[{SPACE}]*$",
        max.saturating_sub(2)
    )
}

/// Free text (`validate::text`): no control characters but tab and line breaks.
pub(crate) fn text_pattern() -> String {
    format!("^[^{CONTROL_BUT_BREAKS}]*$")
}

/// A query parameter: any text without control characters (`extract::Query`).
pub(crate) fn query_text_pattern() -> String {
    format!("^[^{CONTROL}]*$")
}

/// A username (`domain::validate_username`): a name without any white space inside.
pub(crate) fn username_pattern() -> String {
    format!("^[{SPACE}]*[^{CONTROL}{BIDI}{SPACE}]{{1,{USERNAME_MAX}}}[{SPACE}]*$")
}

/// An MQTT topic filter (`topics::valid_filter`): `/`-separated levels, `+` only as a whole
/// level, `#` only as the whole last level.
pub(crate) fn topic_filter_pattern() -> String {
    let level = format!("[^#+/{CONTROL}]*");
    format!(r"^(?:(?:\+|{level})/)*(?:\+|#|{level})$")
}

/// A topic events may be published on over HTTP (`topics::ingested`, without wildcards).
pub(crate) fn publish_topic_pattern() -> String {
    let prefixes: Vec<&str> = domain::topics::SUBSCRIPTIONS
        .iter()
        .filter_map(|s| s.strip_prefix("tracker/")?.strip_suffix("/#"))
        .collect();
    format!("^tracker/(?:{})(?:/[^#+/{CONTROL}]*)*$", prefixes.join("|"))
}

/// A host name (labels of letters, digits, `-` and `_`) or an IP address.
fn host_alternatives() -> String {
    let label = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";
    let h = "[0-9A-Fa-f]{1,4}";
    let ipv6 = [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}:{h}"),
        format!("(?:{h}:){{1,5}}(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}(?::{h}){{1,5}}"),
        format!("{h}:(?::{h}){{1,6}}"),
        format!(":(?:(?::{h}){{1,7}}|:)"),
    ]
    .join("|");
    format!(r"{label}(?:\.{label})*\.?|{ipv6}")
}

/// A component's `host` (`component_fields::host`); blank clears it.
pub(crate) fn host_pattern() -> String {
    format!("^[{SPACE}]*(?:{})?[{SPACE}]*$", host_alternatives())
}

/// A component's `url` (`component_fields::url`): an http(s) URL with a host and without
/// credentials; blank clears it.
pub(crate) fn url_pattern() -> String {
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    format!(
        r"^[{SPACE}]*(?:[Hh][Tt][Tt][Pp][Ss]?://{label}(?:\.{label})*(?::[0-9]{{1,4}})?(?:[/?#][^{CONTROL}{SPACE}]*)?)?[{SPACE}]*$"
    )
}

/// A component's `icon` (`component_fields::Icon::parse`): a built-in icon's name or an image
/// artifact's id; blank clears it.
pub(crate) fn icon_pattern() -> String {
    let uuid = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}";
    format!("^[{SPACE}]*(?:{}|{uuid})?[{SPACE}]*$", ICONS.join("|"))
}

/// One of `words`, in any letter case (the server upper-cases before comparing).
pub(crate) fn any_case(words: &[&str]) -> String {
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^(?:{})$", alternatives.join("|"))
}

/// The `If-Match` header (`extract::IfMatch`): a strong ETag as sent (`"3"`), a bare version,
/// or `*`. A weak validator (`W/"3"`) is refused with 412.
pub(crate) fn if_match_pattern() -> String {
    r#"^(?:\*|"[0-9]{1,18}"|[0-9]{1,18})$"#.to_owned()
}

/// At least a second: seconds (`15`, `1.5`) or a duration with a unit (`15s`, `1m`, `1h`,
/// `1d`; `timeseries::parse_step`).
fn step_pattern() -> String {
    r"^[1-9][0-9]{0,5}(?:\.[0-9]{1,3})?[smhd]?$".to_owned()
}

/// Unix seconds or an RFC 3339 timestamp (`timeseries::parse_time`).
fn time_pattern() -> String {
    concat!(
        r"^(?:[0-9]{1,10}(?:\.[0-9]{1,3})?",
        r"|[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]))$"
    )
    .to_owned()
}

/// A UUID as the server reads one (`uuid::Uuid::parse_str`): hyphenated, simple, braced or URN.
fn uuid_pattern() -> String {
    let h = "[0-9A-Fa-f]";
    let hyphenated = format!("{h}{{8}}-{h}{{4}}-{h}{{4}}-{h}{{4}}-{h}{{12}}");
    format!(r"^(?:{hyphenated}|{h}{{32}}|\{{{hyphenated}\}}|urn:uuid:{hyphenated})$")
}

/// Comma-separated UUIDs (`alerts::alertmanager`'s `channels`): each trimmed, empty ones
/// skipped. Only the white space a query parameter may carry (no control characters).
fn uuid_list_pattern() -> String {
    let space = format!("[{QUERY_SPACE}]*");
    let one = uuid_pattern();
    let one = one.trim_start_matches('^').trim_end_matches('$');
    format!("^{space}(?:{one})?{space}(?:,{space}(?:{one})?{space})*$")
}

/// An RFC 3339 timestamp, as `chrono` reads one (with `format: date-time`, which also rules
/// out impossible dates; the pattern rules out what the format checkers let pass, like "").
fn date_time_pattern() -> String {
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
        .to_owned()
}

/// Patterns for the formats the server parses strictly: a string of `format: uuid` or
/// `date-time` is never empty.
fn format_pattern(schema: &mut Schema) {
    let Schema::Object(o) = schema else { return };
    if o.pattern.is_some() {
        return;
    }
    o.pattern = match &o.format {
        Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)) => Some(uuid_pattern()),
        Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)) => Some(date_time_pattern()),
        _ => None,
    };
}

fn name(max: usize) -> Value {
    json!({"minLength": 1, "maxLength": max, "pattern": name_pattern(max)})
}

fn text(max: usize) -> Value {
    json!({"maxLength": max, "pattern": text_pattern()})
}

fn range(min: i64, max: i64) -> Value {
    json!({"minimum": min, "maximum": max})
}

fn words(values: &[&str]) -> Value {
    json!({"enum": values})
}

/// The wire spellings of an enumeration's values.
fn spellings<T: Copy>(all: &[T], spelling: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| spelling(*v)).collect()
}

/// One of `values` exactly, as a pattern (for a field that may also be null).
fn one_of(values: &[&str]) -> Value {
    json!({"pattern": format!("^(?:{})$", values.join("|"))})
}

/// A rule for one property of a component schema (a request body).
struct Property {
    schema: &'static str,
    property: &'static str,
    rule: fn() -> Value,
}

const fn property(schema: &'static str, property: &'static str, rule: fn() -> Value) -> Property {
    Property {
        schema,
        property,
        rule,
    }
}

/// The rules of request-body fields.
const PROPERTIES: &[Property] = &[
    // Projects, components, tasks (`domain::model`).
    property("ProjectCreate", "name", || name(NAME_MAX)),
    property("ProjectCreate", "description", || text(DESCRIPTION_MAX)),
    property("ProjectUpdate", "name", || name(NAME_MAX)),
    property("ProjectUpdate", "description", || text(DESCRIPTION_MAX)),
    property("ComponentCreate", "name", || name(NAME_MAX)),
    property("ComponentCreate", "type", || text(COMPONENT_TYPE_MAX)),
    property("ComponentCreate", "description", || text(DESCRIPTION_MAX)),
    property("ComponentCreate", "url", url),
    property("ComponentCreate", "host", host),
    property("ComponentCreate", "icon", icon),
    property("ComponentUpdate", "name", || name(NAME_MAX)),
    property("ComponentUpdate", "type", || text(COMPONENT_TYPE_MAX)),
    property("ComponentUpdate", "description", || text(DESCRIPTION_MAX)),
    property("ComponentUpdate", "url", url),
    property("ComponentUpdate", "host", host),
    property("ComponentUpdate", "icon", icon),
    property("TaskCreate", "name", || name(NAME_MAX)),
    property("TaskCreate", "description", || text(TASK_DESCRIPTION_MAX)),
    property("TaskUpdate", "name", || name(NAME_MAX)),
    property("TaskUpdate", "description", || text(TASK_DESCRIPTION_MAX)),
    property(
        "LayoutUpdate",
        "positions",
        || json!({"maxItems": crate::graph::MAX_LAYOUT_ITEMS}),
    ),
    // Events (`bus::envelope`).
    property(
        "EventPublish",
        "topic",
        || json!({"maxLength": bus::MAX_TOPIC, "pattern": publish_topic_pattern()}),
    ),
    property(
        "EventPublish",
        "kind",
        || json!({"pattern": format!("^[A-Za-z0-9._:-]{{1,{}}}$", bus::MAX_KIND)}),
    ),
    property(
        "EventPublish",
        "idempotency_key",
        || json!({"minLength": 1, "maxLength": bus::MAX_KEY}),
    ),
    // Identity (`domain::identity`).
    property(
        "UserCreate",
        "username",
        || json!({"minLength": 1, "maxLength": USERNAME_MAX, "pattern": username_pattern()}),
    ),
    property("UserCreate", "password", password),
    property("UserCreate", "default_view", || text(DEFAULT_VIEW_MAX)),
    property("UserUpdate", "password", password),
    property("UserUpdate", "default_view", || text(DEFAULT_VIEW_MAX)),
    property(
        "SetupRequest",
        "username",
        || json!({"minLength": 1, "maxLength": USERNAME_MAX, "pattern": username_pattern()}),
    ),
    property("SetupRequest", "password", password),
    property("PasswordChange", "new_password", password),
    property("ApiKeyCreate", "name", || name(API_KEY_NAME_MAX)),
    property("NewPasskey", "name", || name(domain::PASSKEY_NAME_MAX)),
    property("PasskeyRename", "name", || name(domain::PASSKEY_NAME_MAX)),
    // An unsigned 32-bit number of days (not `int32`, whose upper half it accepts too).
    property(
        "ApiKeyCreate",
        "expires_in_days",
        || json!({"format": null, "minimum": 1, "maximum": u32::MAX}),
    ),
    // Service checks (`domain::checks`).
    property("CheckCreate", "kind", || words(&kinds())),
    property("CheckCreate", "name", || {
        // Blank picks a name from the kind and the target.
        let blank = format!("[{SPACE}]*");
        let named = name_pattern(NAME_MAX);
        let named = named.trim_start_matches('^').trim_end_matches('$');
        json!({"maxLength": NAME_MAX, "pattern": format!("^(?:{blank}|{named})$")})
    }),
    property("CheckCreate", "interval_secs", interval),
    property("CheckCreate", "retry_interval_secs", interval),
    property("CheckCreate", "timeout_secs", || {
        range(1, i64::from(MAX_TIMEOUT_SECS))
    }),
    property("CheckCreate", "retries", || {
        range(0, i64::from(MAX_RETRIES))
    }),
    property("CheckUpdate", "name", || name(NAME_MAX)),
    property("CheckUpdate", "interval_secs", interval),
    property("CheckUpdate", "retry_interval_secs", interval),
    property("CheckUpdate", "timeout_secs", || {
        range(1, i64::from(MAX_TIMEOUT_SECS))
    }),
    property("CheckUpdate", "retries", || {
        range(0, i64::from(MAX_RETRIES))
    }),
    // Alerts (`domain::alerts`, `api::alerts`).
    property("AckBody", "note", || text(NOTE_MAX)),
    property("SilenceBody", "duration_secs", || {
        range(0, MAX_SILENCE_SECS)
    }),
    property("SilenceBody", "reason", || text(NOTE_MAX)),
    property("RuleBody", "name", || name(ALERT_NAME_MAX)),
    property("RuleBody", "kind", || {
        words(&spellings(RuleKind::ALL, RuleKind::as_str))
    }),
    // A pattern rather than an enum: the field may also be null (the default).
    property("RuleBody", "severity", || {
        one_of(&spellings(Severity::ALL, Severity::as_str))
    }),
    property("RuleBody", "for_secs", || range(0, MAX_DURATION_SECS)),
    property("RuleBody", "repeat_secs", || {
        range(MIN_REPEAT_SECS, MAX_DURATION_SECS)
    }),
    property("RuleBody", "group_wait_secs", || {
        range(0, MAX_GROUP_WAIT_SECS)
    }),
    property("RuleBody", "channels", || json!({"maxItems": MAX_CHANNELS})),
    property("RuleResponse", "kind", || {
        words(&spellings(RuleKind::ALL, RuleKind::as_str))
    }),
    property("RuleResponse", "severity", || {
        words(&spellings(Severity::ALL, Severity::as_str))
    }),
    property("ChannelBody", "name", || name(ALERT_NAME_MAX)),
    property("ChannelBody", "kind", || {
        words(&spellings(ChannelKind::ALL, ChannelKind::as_str))
    }),
    // Secret values: 1-4096 characters without control characters (their names depend on the
    // kind, see `ChannelBody`).
    property("ChannelBody", "secrets", || {
        json!({"additionalProperties": {"minLength": 1, "maxLength": MAX_SECRET_CHARS,
            "pattern": format!("^[^{CONTROL}]*$")}})
    }),
    property("ChannelResponse", "kind", || {
        words(&spellings(ChannelKind::ALL, ChannelKind::as_str))
    }),
    property("AlertResponse", "source", || {
        words(&spellings(AlertSource::ALL, AlertSource::as_str))
    }),
    property("AlertResponse", "severity", || {
        words(&spellings(Severity::ALL, Severity::as_str))
    }),
    property("AlertResponse", "state", || {
        words(&spellings(AlertState::ALL, AlertState::as_str))
    }),
    property("NotificationResponse", "channel_kind", || {
        words(&spellings(ChannelKind::ALL, ChannelKind::as_str))
    }),
    property("NotificationResponse", "reason", || {
        words(&spellings(NotifyReason::ALL, NotifyReason::as_str))
    }),
    property("NotificationResponse", "status", || {
        words(&spellings(DeliveryStatus::ALL, DeliveryStatus::as_str))
    }),
    property(
        "AlertmanagerWebhook",
        "alerts",
        || json!({"maxItems": crate::alerts::MAX_ALERTMANAGER_ALERTS}),
    ),
    property("AlertmanagerWebhookAlert", "status", || {
        words(&crate::alerts::ALERTMANAGER_STATUSES)
    }),
    // Browser error reports (`logs::frontend_record`).
    property(
        "FrontendReport",
        "level",
        || json!({"pattern": any_case(&LEVELS)}),
    ),
    property("FrontendReport", "service", || {
        words(&[crate::logs::FRONTEND_SERVICE])
    }),
    property("FrontendReport", "message", || {
        // Trimmed, 1-2000 characters.
        json!({"minLength": 1, "maxLength": 2000, "pattern": format!("[^{SPACE}]")})
    }),
    property("FrontendReport", "details", || json!({"maxLength": 8000})),
    property(
        "FrontendReport",
        "category",
        || json!({"pattern": "^[A-Za-z0-9_]{1,32}$"}),
    ),
    property(
        "FrontendReport",
        "severity",
        || json!({"pattern": any_case(&SEVERITIES)}),
    ),
    property("FrontendReport", "error_code", || json!({"maxLength": 64})),
    property(
        "FrontendReport",
        "stack_trace",
        || json!({"maxLength": 16_000}),
    ),
    property("FrontendReport", "url", || json!({"maxLength": 2000})),
    property("FrontendReport", "user_agent", || json!({"maxLength": 500})),
];

fn url() -> Value {
    json!({"maxLength": URL_MAX, "pattern": url_pattern()})
}

fn host() -> Value {
    json!({"maxLength": HOST_MAX, "pattern": host_pattern()})
}

fn icon() -> Value {
    json!({"pattern": icon_pattern()})
}

fn password() -> Value {
    json!({"minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX})
}

fn interval() -> Value {
    range(
        i64::from(domain::CheckRules::default().min_interval_secs),
        i64::from(MAX_INTERVAL_SECS),
    )
}

fn kinds() -> Vec<&'static str> {
    CheckKind::ALL.iter().map(|k| k.as_str()).collect()
}

fn audit_actions() -> Vec<&'static str> {
    AuditAction::ALL.iter().map(|a| a.as_str()).collect()
}

/// A rule for a parameter: by operation path (`None`: every operation) and name.
struct Param {
    path: Option<&'static str>,
    name: &'static str,
    rule: fn() -> Value,
}

const fn param(path: Option<&'static str>, name: &'static str, rule: fn() -> Value) -> Param {
    Param { path, name, rule }
}

/// The rules of path, query and header parameters.
const PARAMS: &[Param] = &[
    param(
        None,
        "If-Match",
        || json!({"type": "string", "pattern": if_match_pattern()}),
    ),
    param(Some("/api/v1/events"), "topic", topic_filter),
    param(Some("/api/v1/events/stream"), "topic", topic_filter),
    param(
        Some("/api/v1/events"),
        "limit",
        || json!({"minimum": 1, "default": 100}),
    ),
    param(
        Some("/api/v1/dlq"),
        "limit",
        || json!({"minimum": 1, "default": 50}),
    ),
    param(
        Some("/api/v1/logs"),
        "limit",
        || json!({"minimum": 1, "default": 100}),
    ),
    param(
        Some("/api/v1/logs"),
        "offset",
        || json!({"minimum": 0, "maximum": crate::logs::MAX_OFFSET, "default": 0}),
    ),
    param(Some("/api/v1/logs"), "level", || {
        // One level or several, comma-separated; `ALL` or empty: no filter.
        let mut all: Vec<&str> = LEVELS.to_vec();
        all.push("WARNING");
        let one = any_case(&all);
        let one = one.trim_start_matches('^').trim_end_matches('$');
        json!({"pattern": format!(
            "^(?:[{QUERY_SPACE}]*|[Aa][Ll][Ll]|[ ]*{one}[ ]*(?:,[ ]*{one}[ ]*)*)$"
        )})
    }),
    param(
        Some("/api/v1/logs/stats"),
        "hours",
        || json!({"minimum": 1, "maximum": crate::logs::MAX_STATS_HOURS, "default": 24}),
    ),
    param(
        Some("/api/v1/alerts"),
        "limit",
        || json!({"minimum": 1, "default": crate::alerts::DEFAULT_ALERT_LIMIT}),
    ),
    param(
        Some("/api/v1/alert-notifications"),
        "limit",
        || json!({"minimum": 1, "default": crate::alerts::DEFAULT_NOTIFICATION_LIMIT}),
    ),
    param(
        Some("/api/v1/alerts/alertmanager"),
        "channels",
        || json!({"pattern": uuid_list_pattern()}),
    ),
    param(
        Some("/api/v1/checks/{check_id}/history"),
        "hours",
        || json!({"minimum": 1, "maximum": 8760, "default": 24}),
    ),
    param(
        Some("/api/v1/checks/{check_id}/history"),
        "limit",
        || json!({"minimum": 1, "default": 500}),
    ),
    // A pattern rather than an enum: the same set, and clients keep a plain string type.
    param(
        Some("/api/v1/audit"),
        "action",
        || json!({"pattern": format!("^(?:|{})$", audit_actions().join("|"))}),
    ),
    param(Some("/api/v1/metrics/query_range"), "query", || {
        // Not blank, and (as every query parameter) no control characters.
        json!({"minLength": 1, "maxLength": crate::timeseries::MAX_QUERY_LEN,
            "pattern": format!("^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$")})
    }),
    param(
        Some("/api/v1/metrics/query_range"),
        "start",
        || json!({"pattern": time_pattern()}),
    ),
    param(
        Some("/api/v1/metrics/query_range"),
        "end",
        || json!({"pattern": time_pattern()}),
    ),
    param(
        Some("/api/v1/metrics/query_range"),
        "step",
        || json!({"pattern": step_pattern()}),
    ),
    param(
        Some("/api/v1/projects/{project_id}/artifacts"),
        "name",
        || {
            // A path is reduced to its last segment, whose quotes and surrounding white space
            // go; what is left must be a file name (`Artifact::clean_name`).
            let part = format!("[^/\\\\{CONTROL}]");
            let named = format!("[^/\\\\{CONTROL}{SPACE}\".]");
            let half = (MAX_ARTIFACT_NAME - 1) / 2;
            json!({"pattern": format!(
                "^(?:[^{CONTROL}]*[/\\\\])?{part}{{0,{half}}}{named}{part}{{0,{half}}}$"
            )})
        },
    ),
    param(
        Some("/api/v1/projects/{project_id}/artifacts"),
        "X-Checksum-Sha256",
        || json!({"type": "string", "pattern": "^[0-9A-Fa-f]{64}$"}),
    ),
    param(
        Some("/api/v1/admin/backups/{name}"),
        "name",
        || json!({"pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$"}),
    ),
    param(
        Some("/api/v1/checks/push/{token}"),
        "token",
        || json!({"minLength": 1, "maxLength": 128}),
    ),
];

fn topic_filter() -> Value {
    json!({"minLength": 1, "pattern": topic_filter_pattern()})
}

/// Adds the rules to `doc`. Panics when a rule finds no target: the document and the rules
/// are both built from this crate's code, so that is a bug the tests catch.
pub(crate) fn apply(mut doc: OpenApi) -> OpenApi {
    let unused = apply_rules(&mut doc);
    assert!(
        unused.is_empty(),
        "constraint rules without a target: {unused:?}"
    );
    doc
}

/// Adds the rules to the document; returns the rules that found no target.
fn apply_rules(doc: &mut OpenApi) -> Vec<String> {
    let mut unused = Vec::new();
    if let Some(components) = doc.components.as_mut() {
        let schemas = &mut components.schemas;
        for rule in PROPERTIES {
            let target = match schemas.get_mut(rule.schema) {
                Some(RefOr::T(Schema::Object(o))) => o.properties.get_mut(rule.property),
                _ => None,
            };
            match target {
                Some(RefOr::T(target)) => set(target, &(rule.rule)()),
                _ => unused.push(format!("{}.{}", rule.schema, rule.property)),
            }
        }
        for schema in schemas.values_mut() {
            if let RefOr::T(Schema::Object(o)) = schema {
                for property in o.properties.values_mut() {
                    if let RefOr::T(property) = property {
                        format_pattern(property);
                    }
                }
            }
        }
        // `FrontendReport` refuses unknown fields (v1's client sends none).
        match schemas.get_mut("FrontendReport") {
            Some(RefOr::T(report)) => set(report, &json!({"additionalProperties": false})),
            _ => unused.push("FrontendReport".into()),
        }
        // A user update must change something (`NO_UPDATES`, as in v1).
        match schemas.get_mut("UserUpdate") {
            Some(RefOr::T(update)) => set(update, &json!({"minProperties": 1})),
            _ => unused.push("UserUpdate".into()),
        }
        // A batch of browser reports carries only its list, of 1-50 reports.
        if let Some(RefOr::T(Schema::OneOf(body))) = schemas.get_mut("FrontendBody") {
            for variant in &mut body.items {
                let RefOr::T(Schema::Object(batch)) = variant else {
                    continue;
                };
                batch.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                for list in batch.properties.values_mut() {
                    if let RefOr::T(list) = list {
                        let max = crate::logs::FRONTEND_MAX_RECORDS;
                        set(list, &json!({"minItems": 1, "maxItems": max}));
                    }
                }
            }
        }
    }
    let mut used = vec![false; PARAMS.len()];
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
        ];
        for op in operations.into_iter().flatten() {
            for p in op.parameters.iter_mut().flatten() {
                let RefOr::T(p) = p else { continue };
                let mut ruled = false;
                for (i, rule) in PARAMS.iter().enumerate() {
                    if rule.name != p.name || rule.path.is_some_and(|r| r != path.as_str()) {
                        continue;
                    }
                    let value = (rule.rule)();
                    if matches!(p.parameter_in, ParameterIn::Header) {
                        // A header's own schema, not `string | null`.
                        p.schema = Some(RefOr::T(Schema::Object(Object::new())));
                    }
                    if let Some(RefOr::T(schema)) = p.schema.as_mut() {
                        set(schema, &value);
                    }
                    used[i] = true;
                    ruled = true;
                }
                if let Some(RefOr::T(schema)) = p.schema.as_mut() {
                    format_pattern(schema);
                }
                if matches!(p.parameter_in, ParameterIn::Query) && !ruled {
                    query_defaults(p.schema.as_mut());
                }
            }
        }
    }
    unused.extend(
        PARAMS
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(rule, _)| format!("{} {}", rule.path.unwrap_or("*"), rule.name)),
    );
    unused
}

/// Every other text query parameter: no control characters.
fn query_defaults(schema: Option<&mut RefOr<Schema>>) {
    if let Some(RefOr::T(Schema::Object(o))) = schema
        && matches!(o.schema_type, SchemaType::Type(Type::String))
        && o.format.is_none()
        && o.pattern.is_none()
        && o.enum_values.is_none()
    {
        o.pattern = Some(query_text_pattern());
    }
}

/// Sets the keywords of `rule` (a JSON Schema fragment) on `schema`.
fn set(schema: &mut Schema, rule: &Value) {
    let Value::Object(rule) = rule else {
        panic!("a rule is a JSON object: {rule}")
    };
    let count = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    let number = |v: &Value| {
        v.as_i64()
            .and_then(|n| isize::try_from(n).ok())
            .map(utoipa::Number::Int)
    };
    for (keyword, v) in rule {
        match (&mut *schema, keyword.as_str()) {
            (Schema::Object(o), "type") => {
                assert_eq!(v, "string", "only string types are set");
                o.schema_type = SchemaType::Type(Type::String);
            }
            (Schema::Object(o), "minLength") => o.min_length = count(v),
            (Schema::Object(o), "maxLength") => o.max_length = count(v),
            (Schema::Object(o), "pattern") => o.pattern = v.as_str().map(str::to_owned),
            (Schema::Object(o), "minimum") => o.minimum = number(v),
            (Schema::Object(o), "maximum") => o.maximum = number(v),
            (Schema::Object(o), "default") => o.default = Some(v.clone()),
            (Schema::Object(o), "enum") => o.enum_values = v.as_array().cloned(),
            (Schema::Object(o), "minProperties") => o.min_properties = count(v),
            (Schema::Object(o), "format") => {
                assert!(v.is_null(), "a rule only removes a format");
                o.format = None;
            }
            (Schema::Object(o), "additionalProperties") => {
                // `true`/`false`, or the rules of every value (a string's).
                let values = match v {
                    Value::Object(_) => {
                        let mut values = Schema::Object(Object::with_type(Type::String));
                        set(&mut values, v);
                        AdditionalProperties::RefOr(RefOr::T(values))
                    }
                    _ => AdditionalProperties::FreeForm(v.as_bool().unwrap_or(true)),
                };
                o.additional_properties = Some(Box::new(values));
            }
            (Schema::Array(a), "minItems") => a.min_items = count(v),
            (Schema::Array(a), "maxItems") => a.max_items = count(v),
            (_, keyword) => panic!("the rule keyword {keyword} does not apply to this schema"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    /// Strings at the edges of the rules: white space, controls, direction marks, lengths.
    fn samples() -> Vec<String> {
        let mut s: Vec<String> = [
            "",
            " ",
            "a",
            " a ",
            "\ta\n",
            "a b",
            "a\tb",
            "a\u{0}b",
            "\u{0}",
            "a\u{7f}",
            "\u{85}a",
            "a\u{a0}",
            "\u{a0}",
            "\u{202e}x",
            "x\u{2066}",
            "\u{2000}",
            "é",
            "日本",
            "a/b",
            "+",
            "#",
            "a/#",
            "a/#/b",
            "a/+/b",
            "a+",
            "/",
            "//",
            "a/",
            "+/+",
            "#/a",
            "a#",
            "\u{feff}",
            "\r\n",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        for n in [1, 2, 63, 64, 65, 99, 100, 101, 254, 255, 256] {
            s.push("x".repeat(n));
            s.push(format!(" {} ", "y".repeat(n)));
        }
        s
    }

    #[test]
    fn name_pattern_is_the_name_rule() {
        let key_name = re(&name_pattern(API_KEY_NAME_MAX));
        let project_name = re(&name_pattern(NAME_MAX));
        for s in samples() {
            let project = domain::Project::create(domain::NewProject {
                name: s.clone(),
                ..Default::default()
            });
            assert_eq!(project_name.is_match(&s), project.is_ok(), "{s:?}");
            assert_eq!(
                key_name.is_match(&s),
                domain::validate_api_key_name(&s).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn username_pattern_is_the_username_rule() {
        let r = re(&username_pattern());
        for s in samples() {
            assert_eq!(
                r.is_match(&s),
                domain::validate_username(&s).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn topic_filter_pattern_is_the_filter_rule() {
        let r = re(&topic_filter_pattern());
        for s in samples() {
            if s.chars().any(char::is_control) {
                continue; // refused for every query parameter
            }
            assert_eq!(
                !s.is_empty() && r.is_match(&s),
                domain::topics::valid_filter(&s),
                "{s:?}"
            );
        }
    }

    #[test]
    fn publish_topics_are_ingested_topics() {
        let r = re(&publish_topic_pattern());
        for t in [
            "tracker/events/projects/created",
            "tracker/commands/x",
            "tracker/metrics/temp",
            "tracker/events",
        ] {
            assert!(r.is_match(t) && domain::topics::ingested(t), "{t}");
        }
        for t in [
            "tracker/other/x",
            "tracker/events/+",
            "x/tracker/events/a",
            "tracker/eventsx",
        ] {
            assert!(!r.is_match(t), "{t}");
        }
    }

    #[test]
    fn component_field_patterns_are_the_field_rules() {
        let url = re(&url_pattern());
        for s in [
            "http://nas.lan",
            "HTTPS://nas.lan:8443/path?q=1#x",
            "https://10.0.0.2/",
            " http://a ",
        ] {
            assert!(url.is_match(s), "{s}");
            assert!(
                domain::Component::create(
                    uuid::Uuid::nil(),
                    domain::NewComponent {
                        name: "c".into(),
                        url: Some(s.into()),
                        ..Default::default()
                    }
                )
                .is_ok()
            );
        }
        for s in [
            "ftp://a",
            "http://user:pw@a",
            "nas.lan",
            "http://",
            "http://a b",
        ] {
            assert!(!url.is_match(s), "{s}");
        }
        let host = re(&host_pattern());
        for s in [
            "nas", "nas.lan.", "10.0.0.1", "fd00::1", "::1", "::", "a_b-c.d", "", " ",
        ] {
            assert!(host.is_match(s), "{s}");
            assert!(
                s.trim().is_empty() || domain::host_named("host", s).is_ok(),
                "{s}"
            );
        }
        for s in [
            "-a",
            "a..b",
            "a b",
            "1:2:3",
            "nas:80",
            "[::1]",
            &"a".repeat(64),
        ] {
            assert!(!host.is_match(s), "{s}");
            assert!(domain::host_named("host", s).is_err(), "{s}");
        }
        let icon = re(&icon_pattern());
        for name in ICONS {
            assert!(icon.is_match(name) && domain::Icon::parse(name).is_ok());
        }
        assert!(!icon.is_match("unicorn") && domain::Icon::parse("unicorn").is_err());
    }

    #[test]
    fn uuid_and_date_time_patterns_are_what_the_parsers_read() {
        let u = re(&uuid_pattern());
        let id = uuid::Uuid::new_v4();
        for form in [
            id.hyphenated().to_string(),
            id.simple().to_string(),
            id.braced().to_string(),
            id.urn().to_string(),
        ] {
            assert!(
                u.is_match(&form) && form.parse::<uuid::Uuid>().is_ok(),
                "{form}"
            );
        }
        for bad in ["", "x", "{0}"] {
            assert!(
                !u.is_match(bad) && bad.parse::<uuid::Uuid>().is_err(),
                "{bad}"
            );
        }
        let list = re(&uuid_list_pattern());
        let (a, b) = (id.hyphenated(), uuid::Uuid::new_v4().simple());
        for sample in [
            String::new(),
            format!("{a}"),
            format!(" {a} ,{b},\u{a0}"),
            format!(",,{}", id.urn()),
            format!("{a},x"),
            format!("{a};{b}"),
            "x".into(),
        ] {
            assert_eq!(
                list.is_match(&sample),
                crate::alerts::channel_ids(&sample).is_ok(),
                "{sample:?}"
            );
        }
        let t = re(&date_time_pattern());
        for ok in ["2026-12-07T08:00:00Z", "2026-12-07t08:00:00.123456+01:00"] {
            assert!(t.is_match(ok), "{ok}");
            assert!(ok.parse::<chrono::DateTime<chrono::Utc>>().is_ok(), "{ok}");
        }
        assert!(!t.is_match("") && !t.is_match("2026-12-07"));
    }

    #[test]
    fn if_match_and_levels() {
        let r = re(&if_match_pattern());
        for ok in ["*", "\"3\"", "17"] {
            assert!(r.is_match(ok), "{ok}");
        }
        for bad in ["", "W/\"3\"", "\"\"", "abc", "\"3"] {
            assert!(!r.is_match(bad), "{bad}");
        }
        let levels = re(&any_case(&LEVELS));
        assert!(levels.is_match("error") && levels.is_match("Warn") && !levels.is_match("x"));
    }

    /// What the document lets a query parameter carry passes `extract::Query`'s refusal of
    /// control characters (schemathesis found a blank `level` of U+000B documented as valid).
    #[test]
    fn query_parameters_never_admit_control_characters() {
        let doc = crate::openapi();
        let mut checked = 0;
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.post, &item.put, &item.delete, &item.patch] {
                let Some(op) = op else { continue };
                for p in op.parameters.iter().flatten() {
                    let RefOr::T(p) = p else { continue };
                    if !matches!(p.parameter_in, ParameterIn::Query) {
                        continue;
                    }
                    let Some(RefOr::T(Schema::Object(o))) = &p.schema else {
                        continue;
                    };
                    let Some(pattern) = &o.pattern else { continue };
                    let r = re(pattern);
                    for bad in ["\u{b}", "error\u{b}", "\u{b}x", "\u{85}", "x\u{0}y"] {
                        assert!(!r.is_match(bad), "{path} {}: {bad:?}", p.name);
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "only {checked} patterned query parameters");
    }

    #[test]
    fn every_rule_finds_its_target() {
        let mut doc = crate::openapi();
        // `openapi()` already applied them; applying again must find every target again.
        assert_eq!(apply_rules(&mut doc), Vec::<String>::new());
    }
}
