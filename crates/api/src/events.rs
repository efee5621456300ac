//! `/api/v1/events` and `/api/v1/dlq`: stored events, publishing over HTTP, dead letters with
//! replay, and the live stream (WebSocket, or Server-Sent Events for plain HTTP clients).

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use bus::{PublishError, ReplayError, Replayed, StreamItem, TransportError};
use chrono::{DateTime, Utc};
use domain::{DeadLetter, Event, EventFilter, JsonObject, Role, topics};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query, SeqId};

/// Default and largest page of events.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: i64,
    pub topic: String,
    pub kind: String,
    pub trace_id: Uuid,
    pub idempotency_key: String,
    /// `mqtt`, `http`, `outbox`, `replay` or `local`.
    pub source: String,
    /// The event's payload object (v1 returned it as a string).
    #[schema(value_type = Object)]
    pub payload: JsonObject,
    /// When the producer says it happened.
    pub ts: DateTime<Utc>,
    /// When TaylorDash received it (v1's `created_at`).
    pub created_at: DateTime<Utc>,
}

impl From<&Event> for EventResponse {
    fn from(e: &Event) -> Self {
        EventResponse {
            id: e.id,
            topic: e.topic.clone(),
            kind: e.kind.clone(),
            trace_id: e.trace_id,
            idempotency_key: e.idempotency_key.clone(),
            source: e.source.clone(),
            payload: e.payload.clone(),
            ts: e.ts,
            created_at: e.received_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventResponse>,
    pub count: usize,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Exact topic or MQTT filter (`+` one level, `#` the rest), e.g. `tracker/events/#`.
    pub topic: Option<String>,
    pub kind: Option<String>,
    pub trace_id: Option<Uuid>,
    /// Received at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Received before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// At least 1, default 100; larger values than 1000 are capped.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// `false` leaves out the audit trail's events (`tracker/events/auth/...`: sign-ins, user
    /// and key changes; only admins get them anyway), for a feed of the lab's own events.
    pub audit: Option<bool>,
}

fn limit(value: Option<i64>, default: i64) -> Result<i64, ApiError> {
    match value {
        None => Ok(default),
        Some(l) if l < 1 => Err(ApiError::validation("limit", "limit: must be at least 1")),
        Some(l) => Ok(l.min(MAX_LIMIT)),
    }
}

fn topic_filter(topic: Option<String>) -> Result<Option<String>, ApiError> {
    match topic {
        Some(t) if !topics::valid_filter(&t) => Err(ApiError::validation(
            "topic",
            format!(
                "topic: '{t}' is not a valid MQTT filter ('+' must be a whole level, '#' the last)"
            ),
        )),
        other => Ok(other),
    }
}

/// Stored events, newest first (v1 shape plus ids and a cursor).
#[utoipa::path(get, path = "/events", tag = "events",
    params(EventParams),
    responses((status = 200, body = EventList)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<EventParams>,
) -> ApiResult<axum::Json<EventList>> {
    let limit = limit(q.limit, DEFAULT_LIMIT)?;
    let filter = EventFilter {
        topic: topic_filter(q.topic)?,
        kind: q.kind,
        trace_id: q.trace_id,
        since: q.since,
        until: q.until,
        before_id: q.cursor,
        hide_admin_only: !reads_admin_only(&principal) || q.audit == Some(false),
    };
    let page = state.store.list_events(&filter, limit).await?;
    Ok(axum::Json(EventList {
        count: page.events.len(),
        events: page.events.iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One stored event.
#[utoipa::path(get, path = "/events/{event_id}", tag = "events",
    params(("event_id" = i64, Path)),
    responses((status = 200, body = EventResponse)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    SeqId(id): SeqId,
) -> ApiResult<axum::Json<EventResponse>> {
    let event = state.store.get_event(id).await?;
    if topics::admin_only(&event.topic) && !reads_admin_only(&principal) {
        // As if it did not exist: its existence is not the caller's business either.
        return Err(storage::StoreError::NotFound {
            entity: storage::Entity::Event,
            id: id.to_string(),
        }
        .into());
    }
    Ok(axum::Json((&event).into()))
}

/// An event to publish; missing `trace_id`, `ts` and `idempotency_key` are filled in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EventPublish {
    /// `tracker/events/<domain>/<action>`, `tracker/commands/<name>` or `tracker/metrics/<name>`.
    pub topic: String,
    pub kind: String,
    pub trace_id: Option<Uuid>,
    pub ts: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<JsonObject>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventAccepted {
    #[schema(example = "accepted")]
    pub status: &'static str,
    pub topic: String,
    pub trace_id: Uuid,
    pub idempotency_key: String,
}

fn publish_error(e: PublishError) -> ApiError {
    match e {
        PublishError::Invalid(dl) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "EVENT_INVALID",
            format!("{} ({})", dl.detail, dl.reason.as_str()),
        ),
        PublishError::Topic(_) => ApiError::validation("topic", e.to_string()),
        PublishError::Transport(TransportError::Busy) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BUS_BUSY",
            "the event bus is busy; retry shortly",
        ),
        PublishError::Transport(TransportError::Disconnected) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BUS_UNAVAILABLE",
            "the event bus is not connected to the broker; retry when it is back",
        ),
    }
}

/// Publish an event over HTTP; it is validated and goes through the same pipeline as MQTT
/// messages (stored once per idempotency key, visible on the stream).
#[utoipa::path(post, path = "/events", tag = "events",
    request_body = EventPublish,
    responses(
        (status = 202, body = EventAccepted),
        (status = 422, description = "Invalid envelope or topic (EVENT_INVALID, VALIDATION_FAILED)", body = crate::error::ErrorBody),
    ))]
pub async fn publish(
    State(state): State<AppState>,
    Json(body): Json<EventPublish>,
) -> ApiResult<(StatusCode, axum::Json<EventAccepted>)> {
    let trace_id = body.trace_id.unwrap_or_else(Uuid::new_v4);
    // The request's log line carries the event's trace id, linking it to the event.
    tracing::Span::current().record("trace_id", tracing::field::display(trace_id));
    let key = body
        .idempotency_key
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let envelope = domain::envelope(
        trace_id,
        body.ts.unwrap_or_else(domain::now),
        &body.kind,
        &key,
        &body.payload.unwrap_or_default(),
    );
    state
        .bus
        .publish(&body.topic, &envelope)
        .await
        .map_err(publish_error)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(EventAccepted {
            status: "accepted",
            topic: body.topic,
            trace_id,
            idempotency_key: key,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventResult {
    #[schema(example = "success")]
    pub status: &'static str,
    pub trace_id: Uuid,
    pub message: &'static str,
}

/// Publish a sample `test_event` on `tracker/events/test/api` (v1).
#[utoipa::path(post, path = "/events/test", tag = "events",
    responses((status = 200, body = TestEventResult)))]
pub async fn test_event(State(state): State<AppState>) -> ApiResult<axum::Json<TestEventResult>> {
    let trace_id = Uuid::new_v4();
    let now = domain::now();
    let payload = json!({"message": "Test event from API", "timestamp": now});
    let envelope = domain::envelope(
        trace_id,
        now,
        "test_event",
        &format!("test_event:{trace_id}"),
        payload.as_object().unwrap_or(&JsonObject::new()),
    );
    state
        .bus
        .publish("tracker/events/test/api", &envelope)
        .await
        .map_err(publish_error)?;
    Ok(axum::Json(TestEventResult {
        status: "success",
        trace_id,
        message: "Test event published",
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterResponse {
    pub id: i64,
    pub original_topic: String,
    /// Category: `not_utf8`, `invalid_json`, `not_an_object`, `missing_field`,
    /// `invalid_field`, `oversized`, `schema_mismatch`, `storage_rejected`.
    pub reason: String,
    /// What exactly was wrong (v1 field name).
    pub failure_reason: String,
    /// The original message as it arrived: its JSON value (usually an object, but any JSON
    /// value a device sent), or its text as a string when it was not JSON. v1 always sent a
    /// string holding JSON text; clients that parse a string keep working for non-JSON text.
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replayed_event_id: Option<i64>,
    /// The edited copy it was replayed as (its event is `replayed_event_id`); `payload` is still
    /// the original message. Absent unless an admin edited it.
    #[schema(value_type = Option<Object>)]
    pub edited_payload: Option<Value>,
    /// Who edited it.
    pub edited_by: Option<String>,
}

impl From<DeadLetter> for DeadLetterResponse {
    fn from(d: DeadLetter) -> Self {
        DeadLetterResponse {
            id: d.id,
            original_topic: d.original_topic,
            reason: d.reason,
            failure_reason: d.detail,
            payload: d.payload,
            created_at: d.created_at,
            replayed_at: d.replayed_at,
            replayed_event_id: d.replayed_event_id,
            edited_by: d.edit.as_ref().map(|e| e.by.clone()),
            edited_payload: d.edit.map(|e| e.payload),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterList {
    pub dlq_events: Vec<DeadLetterResponse>,
    pub count: usize,
    /// Dead letters not yet replayed, over all pages.
    pub pending: i64,
    pub next_cursor: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterParams {
    /// At least 1, default 50; larger values than 1000 are capped.
    pub limit: Option<i64>,
    pub cursor: Option<i64>,
}

/// Dead letters, newest first (v1 shape).
#[utoipa::path(get, path = "/dlq", tag = "events",
    params(DeadLetterParams),
    responses((status = 200, body = DeadLetterList)))]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    Query(q): Query<DeadLetterParams>,
) -> ApiResult<axum::Json<DeadLetterList>> {
    let limit = limit(q.limit, 50)?;
    let items = state.store.list_dead_letters(limit, q.cursor).await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|d| d.id))
        .flatten();
    Ok(axum::Json(DeadLetterList {
        count: items.len(),
        pending: state.store.dead_letter_backlog().await?,
        dlq_events: items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One dead letter.
#[utoipa::path(get, path = "/dlq/{dlq_id}", tag = "events",
    params(("dlq_id" = i64, Path)),
    responses((status = 200, body = DeadLetterResponse)))]
pub async fn get_dead_letter(
    State(state): State<AppState>,
    SeqId(id): SeqId,
) -> ApiResult<axum::Json<DeadLetterResponse>> {
    Ok(axum::Json(state.store.get_dead_letter(id).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResult {
    /// `stored`, or `duplicate` when the event had already been stored.
    #[schema(example = "stored")]
    pub status: &'static str,
    pub event: Option<EventResponse>,
}

/// Re-run a dead letter through validation; when it passes now, it is stored and the dead
/// letter is marked replayed.
#[utoipa::path(post, path = "/dlq/{dlq_id}/replay", tag = "events",
    params(("dlq_id" = i64, Path)),
    responses(
        (status = 200, body = ReplayResult),
        (status = 409, description = "Already replayed (ALREADY_REPLAYED)", body = crate::error::ErrorBody),
        (status = 422, description = "Still invalid (EVENT_INVALID)", body = crate::error::ErrorBody),
    ))]
pub async fn replay(
    State(state): State<AppState>,
    SeqId(id): SeqId,
) -> ApiResult<axum::Json<ReplayResult>> {
    replayed(state.bus.replay(id).await)
}

/// The message to replay in place of a dead letter's own.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeadLetterEditBody {
    /// The edited message: an event envelope with `trace_id`, `ts`, `kind` and
    /// `idempotency_key` (and usually `payload`), validated as a message from the broker is.
    #[schema(value_type = Object)]
    pub payload: Value,
}

/// Replay an edited copy of a dead letter's message (admins). The copy is validated and stored
/// like the message itself would be; the dead letter keeps its original message and records
/// the copy, who edited it and the event it became. A copy that is still invalid changes
/// nothing (422 with the reason).
#[utoipa::path(post, path = "/dlq/{dlq_id}/replay-edited", tag = "events",
    params(("dlq_id" = i64, Path)),
    request_body = DeadLetterEditBody,
    responses(
        (status = 200, body = ReplayResult),
        (status = 409, description = "Already replayed (ALREADY_REPLAYED)", body = crate::error::ErrorBody),
        (status = 422, description = "The copy is invalid (EVENT_INVALID)", body = crate::error::ErrorBody),
    ))]
pub async fn replay_edited(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    SeqId(id): SeqId,
    Json(body): Json<DeadLetterEditBody>,
) -> ApiResult<axum::Json<ReplayResult>> {
    let edit = domain::DeadLetterEdit {
        payload: body.payload,
        by: principal.display_name(),
    };
    replayed(state.bus.replay_edited(id, edit).await)
}

fn replayed(outcome: Result<Replayed, ReplayError>) -> ApiResult<axum::Json<ReplayResult>> {
    match outcome {
        Ok(Replayed::Stored(event)) => Ok(axum::Json(ReplayResult {
            status: "stored",
            event: Some((&event).into()),
        })),
        Ok(Replayed::Duplicate) => Ok(axum::Json(ReplayResult {
            status: "duplicate",
            event: None,
        })),
        Err(ReplayError::Store(e)) => Err(e.into()),
        Err(e @ ReplayError::AlreadyReplayed(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ALREADY_REPLAYED",
            e.to_string(),
        )),
        Err(e @ ReplayError::StillInvalid(_)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "EVENT_INVALID",
            e.to_string(),
        )),
        Err(e @ ReplayError::Stopped) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BUS_UNAVAILABLE",
            e.to_string(),
        )),
    }
}

/// Delete a dead letter.
#[utoipa::path(delete, path = "/dlq/{dlq_id}", tag = "events",
    params(("dlq_id" = i64, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_dead_letter(
    State(state): State<AppState>,
    SeqId(id): SeqId,
) -> ApiResult<StatusCode> {
    state.store.delete_dead_letter(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// MQTT topic filter; default `#` (everything).
    pub topic: Option<String>,
}

/// Live events as they are committed: a WebSocket (send `Upgrade: websocket`) or, for plain
/// HTTP clients, Server-Sent Events. Frames are JSON: `{"type": "event", "event": {...}}`,
/// `{"type": "lagged", "skipped": n}` when the client fell behind, and heartbeats.
#[utoipa::path(get, path = "/events/stream", tag = "events",
    params(StreamParams),
    responses(
        (status = 101, description = "WebSocket stream"),
        (status = 200, description = "Server-Sent Events stream", content_type = "text/event-stream"),
    ))]
pub async fn stream(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<StreamParams>,
    req: Request,
) -> ApiResult<Response> {
    let filter = topic_filter(q.topic)?.unwrap_or_else(|| "#".into());
    let live = readable(state.bus.stream(filter, HEARTBEAT), &principal);
    let wants_ws = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_ws {
        let (mut parts, _) = req.into_parts();
        let ws = WebSocketUpgrade::from_request_parts(&mut parts, &state)
            .await
            .map_err(|e| ApiError::bad_request("BAD_WEBSOCKET", e.body_text()))?;
        Ok(ws
            .read_buffer_size(WS_READ_BUFFER)
            .max_message_size(WS_MAX_CLIENT_MESSAGE)
            .on_upgrade(move |socket| websocket(socket, live)))
    } else {
        Ok(sse(live).into_response())
    }
}

/// Whether `principal` may read the admin-only topic family (`topics::admin_only`: the audit
/// trail's events); everyone else's lists and streams leave it out.
fn reads_admin_only(principal: &Principal) -> bool {
    principal.role >= Role::Admin
}

fn readable(live: bus::LiveStream, principal: &Principal) -> bus::LiveStream {
    if reads_admin_only(principal) {
        live
    } else {
        live.without_admin_only()
    }
}

/// The event's JSON as the API shows it; rendered once per event for all clients.
fn event_json(e: &Event) -> String {
    json!(EventResponse::from(e)).to_string()
}

/// Read buffer of a stream socket. The WebSocket library zero-fills the free part of its read
/// buffer before every read attempt, and the stream polls its socket for a close after every
/// burst it writes: with the library's 128 KiB that was 128 KiB of memset per client and burst,
/// the largest single cost of a 100-client stream (docs/benchmarks.md, "Event bus"), and 128 KiB
/// resident per client. Clients only ever send control frames and closes here.
const WS_READ_BUFFER: usize = 4 * 1024;

/// Largest message a stream client may send (it has nothing to send but control frames).
const WS_MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// The stream over a WebSocket: a `hello` frame, then one JSON frame per item, until either
/// side closes. Whatever is ready when the client wakes is written before one flush, so a burst
/// of events costs one socket write, not one per event; each event's frame is rendered once
/// for all clients and shared.
async fn websocket(mut socket: WebSocket, mut live: bus::LiveStream) {
    use futures_util::SinkExt as _;
    let hello =
        json!({"type": "hello", "filter": live.filter(), "heartbeat_secs": HEARTBEAT.as_secs()});
    if socket.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    loop {
        let item = tokio::select! {
            item = live.next() => match item {
                Some(item) => item,
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            },
        };
        let mut item = Some(item);
        let mut written = 0;
        while let Some(next) = item {
            if socket.feed(ws_message(next)).await.is_err() {
                return;
            }
            written += 1;
            // Bounded, so one client's burst cannot hold its frames back for long.
            item = if written < 64 { live.ready() } else { None };
        }
        if socket.flush().await.is_err() {
            break;
        }
    }
}

/// One stream item as a WebSocket text frame.
fn ws_message(item: StreamItem) -> Message {
    match item {
        StreamItem::Event(e) => {
            let frame = e.frame(event_json, |json| {
                format!(r#"{{"type":"event","event":{json}}}"#)
            });
            match Utf8Bytes::try_from(frame.clone()) {
                Ok(text) => Message::Text(text),
                // Rendered from a `String`, so always UTF-8.
                Err(_) => Message::text(String::from_utf8_lossy(frame).into_owned()),
            }
        }
        StreamItem::Lagged(skipped) => {
            Message::text(json!({"type": "lagged", "skipped": skipped}).to_string())
        }
        StreamItem::Heartbeat => {
            Message::text(json!({"type": "heartbeat", "ts": domain::now()}).to_string())
        }
    }
}

/// The stream as Server-Sent Events: `event` and `lagged` events, heartbeats as comments.
fn sse(
    live: bus::LiveStream,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>> + use<>> {
    Sse::new(futures_util::stream::unfold(live, |mut live| async move {
        let event = match live.next().await? {
            StreamItem::Event(e) => SseEvent::default()
                .event("event")
                .data(std::str::from_utf8(e.json(event_json)).unwrap_or_default()),
            StreamItem::Lagged(skipped) => SseEvent::default()
                .event("lagged")
                .data(json!({"skipped": skipped}).to_string()),
            StreamItem::Heartbeat => SseEvent::default().comment(""),
        };
        Some((Ok(event), live))
    }))
}
