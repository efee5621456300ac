//! Delivering notifications: the request each channel kind documents, the generic webhook's
//! signature, e-mail over SMTP, and the sender task (leases, attempts, backoff).
//!
//! Generic webhook (documented in docs/operations.md): `POST` of JSON
//! `{"version": "1", "idempotency_key", "reason", "title", "body", "severity", "alerts": [...]}`
//! with the headers `Idempotency-Key`, [`TIMESTAMP_HEADER`] (Unix seconds) and
//! [`SIGNATURE_HEADER`] = `sha256=` + hex HMAC-SHA256(signing key, `<timestamp>.<body>`). A
//! receiver recomputes the HMAC over the exact bytes, compares in constant time, refuses a
//! timestamp more than 5 minutes away from its clock (replay window), and drops an
//! idempotency key it has seen.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{ChannelConfig, Notification, Severity, retry_delay};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use storage::{DeliveryOutcome, StoreError, StoredChannel};

use super::{Alerts, outcome_status};

pub const TIMESTAMP_HEADER: &str = "X-TaylorDash-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-TaylorDash-Signature";

/// `sha256=<hex>` of HMAC-SHA256(`key`, `<timestamp>.<body>`).
pub fn sign(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The outbound HTTP client: rustls (system roots, ring), no redirects (a secret URL is never
/// sent elsewhere), no proxy from the environment.
pub(super) fn http_client(timeout: Duration) -> reqwest::Client {
    let tls = (*crate::checks::tls::client_config(false)).clone();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .user_agent(concat!("TaylorDash/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "alerts: HTTP client with defaults");
            reqwest::Client::new()
        })
}

fn priority(s: Severity) -> (i64, i64, &'static str, i64) {
    // (ntfy 1-5, Gotify 0-10, ntfy tag, Discord colour)
    match s {
        Severity::Critical => (5, 8, "rotating_light", 0xD9_2D_20),
        Severity::Warning => (4, 5, "warning", 0xE8_A3_17),
        Severity::Info => (3, 2, "information_source", 0x2F_6F_D6),
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The webhook body: stable across attempts (the signature's timestamp is not in it).
pub(super) fn webhook_body(n: &Notification) -> Value {
    let m = &n.message;
    json!({
        "version": "1",
        "idempotency_key": n.idempotency_key,
        "group_key": n.group_key,
        "reason": m.reason,
        "title": m.title,
        "body": m.body,
        "severity": m.severity,
        "alerts": m.alerts,
        "created_at": n.created_at,
    })
}

/// One delivery attempt of `n` through `c`: `Ok` once the receiver accepted it (2xx, or the
/// SMTP server took the message); otherwise the reason in words.
pub(super) async fn deliver(
    http: &reqwest::Client,
    c: &StoredChannel,
    n: &Notification,
    now: DateTime<Utc>,
    timeout: Duration,
) -> Result<(), String> {
    let m = &n.message;
    let (ntfy, gotify, tag, colour) = priority(m.severity);
    let secret = |name: &str| {
        c.secrets
            .get(name)
            .map(str::to_owned)
            .ok_or_else(|| format!("the channel has no {name}"))
    };
    let request = match &c.channel.config {
        ChannelConfig::Webhook { url } => {
            let body = serde_json::to_vec(&webhook_body(n)).map_err(|e| e.to_string())?;
            let ts = now.timestamp();
            let signature = sign(secret("signing_key")?.as_bytes(), ts, &body);
            http.post(url)
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", &n.idempotency_key)
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, signature)
                .body(body)
        }
        ChannelConfig::Ntfy { server, topic } => {
            let body = json!({
                "topic": topic,
                "title": cut(&m.title, 250),
                "message": cut(&m.body, 4000),
                "priority": ntfy,
                "tags": [tag],
            });
            let mut r = http
                .post(server.trim_end_matches('/').to_owned() + "/")
                .header("Content-Type", "application/json")
                .body(body.to_string());
            if let Some(t) = c.secrets.get("token") {
                r = r.header("Authorization", format!("Bearer {t}"));
            }
            r
        }
        ChannelConfig::Gotify { server } => {
            let body = json!({
                "title": cut(&m.title, 250),
                "message": m.body,
                "priority": gotify,
                "extras": {
                    "client::display": {"contentType": "text/plain"},
                    "taylordash::notification": {"idempotency_key": n.idempotency_key},
                },
            });
            http.post(server.trim_end_matches('/').to_owned() + "/message")
                .header("Content-Type", "application/json")
                .header("X-Gotify-Key", secret("token")?)
                .body(body.to_string())
        }
        ChannelConfig::Discord => {
            let body = json!({
                "username": "TaylorDash",
                "content": cut(&m.title, 2000),
                "embeds": [{
                    "title": cut(&m.title, 256),
                    "description": cut(&m.body, 4096),
                    "color": colour,
                }],
                "allowed_mentions": {"parse": []},
            });
            http.post(secret("url")?)
                .header("Content-Type", "application/json")
                .body(body.to_string())
        }
        ChannelConfig::Slack => {
            let body = json!({"text": format!("*{}*\n{}", m.title, m.body)});
            http.post(secret("url")?)
                .header("Content-Type", "application/json")
                .body(body.to_string())
        }
        ChannelConfig::Email { .. } => {
            return super::email::send(c, n, timeout).await;
        }
    };
    let response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    Err(format!(
        "the receiver answered {status}{}",
        if text.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", cut(text.trim(), 200))
        }
    ))
}

/// A request error in words, without the URL (which may carry a key).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Runs the sender until cancelled.
pub(super) async fn run_sender(alerts: Alerts) {
    loop {
        match send_batch(&alerts).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "alerts: the sender could not read the queue"),
        }
        tokio::select! {
            () = alerts.0.wake_sender.notified() => {}
            () = tokio::time::sleep(alerts.0.settings.sender_poll) => {}
        }
    }
}

/// Leases what is due and delivers it (at most `max_concurrent` at once); returns how many
/// attempts were made.
pub(super) async fn send_batch(alerts: &Alerts) -> Result<usize, StoreError> {
    let s = &alerts.0.settings;
    let now = alerts.now();
    let claimed = alerts
        .0
        .store
        .claim_notifications(now, now + s.lease, (s.max_concurrent * 4) as i64)
        .await?;
    let count = claimed.len();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(s.max_concurrent.max(1)));
    let mut runs = tokio::task::JoinSet::new();
    for c in claimed {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let alerts = alerts.clone();
        runs.spawn(async move {
            let _permit = permit;
            attempt(&alerts, c).await;
        });
    }
    while runs.join_next().await.is_some() {}
    Ok(count)
}

async fn attempt(alerts: &Alerts, claimed: storage::ClaimedNotification) {
    let s = &alerts.0.settings;
    let n = claimed.notification;
    let kind = n.channel_kind.as_str();
    let result = match &claimed.channel {
        None => Err("the channel was deleted".to_owned()),
        Some(c) if !c.channel.enabled => Err("the channel is disabled".to_owned()),
        Some(c) => deliver(&alerts.0.http, c, &n, alerts.now(), s.send_timeout).await,
    };
    let now = alerts.now();
    let outcome = match result {
        Ok(()) => DeliveryOutcome::Sent { at: now },
        Err(error) => {
            alerts.0.metrics.failed.with_label_values(&[kind]).inc();
            let attempts = n.attempts + 1;
            let next = now + retry_delay(attempts, s.retry_base, s.retry_cap, n.id.as_u128());
            if next - n.created_at > s.give_up_after {
                tracing::error!(notification = %n.id, channel_kind = kind, attempts, %error,
                    "alerts: a notification was given up");
                DeliveryOutcome::Failed { error }
            } else {
                tracing::warn!(notification = %n.id, channel_kind = kind, attempts, %error,
                    "alerts: a delivery failed; retrying later");
                DeliveryOutcome::Retry { next, error }
            }
        }
    };
    if outcome_status(&outcome) == domain::DeliveryStatus::Sent {
        alerts.0.metrics.sent.with_label_values(&[kind]).inc();
    }
    // The attempt must be recorded: a lost "sent" would send it again after the lease.
    for wait in [0_u64, 200, 1000, 5000] {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        match alerts.0.store.finish_notification(n.id, &outcome).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => return,
            Err(e) => tracing::warn!(notification = %n.id, error = %e,
                "alerts: recording a delivery failed; trying again"),
        }
    }
}
