//! Request extractors whose rejections are [`ApiError`]s, so malformed input gets the same JSON
//! error shape (and the right 4xx) as everything else.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// A JSON object body. Syntax errors are 400, a wrong shape or type is 422 (including a body
/// that is not an object), a missing or wrong `Content-Type` is 415 and an oversized body 413.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, Body::Object).await.map(Json)
    }
}

/// A JSON body that may also arrive as `text/plain`: what `navigator.sendBeacon` sends for a
/// string, which is how browsers hand over error reports while a page unloads. Otherwise as
/// [`Json`].
pub struct BeaconJson<T>(pub T);

impl<S, T> FromRequest<S> for BeaconJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, Body::Beacon).await.map(BeaconJson)
    }
}

/// What a body may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    /// A JSON object sent as `application/json`: every operation's request body.
    Object,
    /// Any JSON value, sent as `application/json` or `text/plain` (browser beacons).
    Beacon,
}

/// Reads and parses a JSON body of the given [`Body`] kind.
async fn read_json<S, T>(req: Request, state: &S, kind: Body) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    let accepted = is_json(req.headers()) || (kind == Body::Beacon && is_text_plain(req.headers()));
    if !accepted {
        return Err(unsupported_media_type());
    }
    let bytes = match axum::body::Bytes::from_request(req, state).await {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(payload_too_large());
        }
        Err(rejection) if caused_by_timeout(&rejection) => return Err(body_timeout()),
        Err(rejection) => {
            return Err(ApiError::bad_request("BAD_REQUEST", rejection.body_text()));
        }
    };
    // Refused before anything else sees it (including the login throttle and the audit
    // event it writes): NUL cannot be stored in PostgreSQL or published in an event.
    if domain::json_text_has_nul(&bytes) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_TEXT",
            "the request contains a NUL character (\\u0000), which no field accepts",
        ));
    }
    let value = match axum::Json::<T>::from_bytes(&bytes) {
        Ok(axum::Json(v)) => v,
        Err(rejection @ JsonRejection::JsonDataError(_)) => {
            integral_floats_as_integers(&bytes).ok_or_else(|| json_rejection(rejection))?
        }
        Err(rejection) => return Err(json_rejection(rejection)),
    };
    // serde also reads a struct from an array of its fields in order (`[null]` as
    // `{"note": null}`); the documents promise objects, so that is refused.
    if kind == Body::Object && !is_json_object(&bytes) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "the request body must be a JSON object ({...})",
        ));
    }
    Ok(value)
}

/// Is this (already parsed) JSON text an object? Its first non-blank byte says.
fn is_json_object(text: &[u8]) -> bool {
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The body read again with integral numbers written with a fraction (`4.0`) as integers: JSON
/// (and the OpenAPI document's schemas) count `4.0` as the integer 4, serde's integer fields do
/// not. `None` when there were none, or the body still does not fit.
fn integral_floats_as_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    const EXACT_IN_F64: f64 = 9_007_199_254_740_992.0;
    fn normalise(value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::Number(n) => match n.as_f64() {
                // Only where a double holds the integer exactly (|f| ≤ 2^53): beyond that an
                // out-of-range integer literal (-2^63 - 1, which serde reads as a double) would
                // round onto a valid one.
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT_IN_F64 => {
                    *value = Value::from(f as i64);
                    true
                }
                _ => false,
            },
            Value::Array(items) => {
                let mut changed = false;
                for v in items {
                    changed |= normalise(v);
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                for v in map.values_mut() {
                    changed |= normalise(v);
                }
                changed
            }
            _ => false,
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    normalise(&mut value)
        .then(|| serde_json::from_value(value).ok())
        .flatten()
}

/// Whether reading the body failed because the client paused longer than the server's body
/// timeout (see [`crate::server`]).
fn caused_by_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

fn body_timeout() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_TIMEOUT",
        "the request body stopped arriving; send it without long pauses \
         (TAYLORDASH_HTTP_BODY_TIMEOUT)",
    )
}

/// `Content-Type: application/json` or any `application/*+json`, as axum's own extractor.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// `Content-Type: text/plain` (any charset).
fn is_text_plain(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/plain"))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "send the body as JSON with the header Content-Type: application/json",
    )
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // The source names the field path, e.g. "status: unknown variant `x`, expected ...".
            let detail = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.body_text());
            match field_of(&detail) {
                Some(field) => ApiError::validation(field, detail),
                None => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_FAILED",
                    detail,
                ),
            }
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "MALFORMED_JSON",
            format!(
                "the request body is not valid JSON: {}",
                std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string())
            ),
        ),
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        other => ApiError::bad_request("BAD_REQUEST", other.body_text()),
    }
}

/// The field a serde error is about: `missing field `name`` or a `path.to.field: ...` prefix.
fn field_of(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("missing field `") {
        return rest.split('`').next().map(str::to_owned);
    }
    let (path, _) = message.split_once(": ")?;
    (!path.is_empty() && path != "." && !path.contains(' ')).then(|| path.to_owned())
}

pub(crate) fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!(
            "the request body is larger than the limit of {} bytes",
            crate::MAX_BODY_BYTES
        ),
    )
}

/// A resource id from the path. Anything but a UUID is a 400 naming the bad value.
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<Uuid>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(Id(id)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

/// A numeric id from the path (events and dead letters); anything else is a 400.
pub struct SeqId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for SeqId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<i64>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(SeqId(id)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::bad_request(
                "INVALID_ID",
                format!(
                    "invalid id in the path: {}; these ids are integers",
                    e.body_text()
                ),
            )),
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

/// Two ids from the path, e.g. `/components/{component_id}/dependencies/{depends_on_id}`.
pub struct Ids(pub Uuid, pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<(Uuid, Uuid)>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path((a, b))) => Ok(Ids(a, b)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => ApiError::bad_request(
            "INVALID_ID",
            format!("invalid id in the path: {}; ids are UUIDs", e.body_text()),
        ),
        other => ApiError::internal(other.body_text()),
    }
}

/// Query-string parameters; a value of the wrong type is a 422 naming the parameter.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            refuse_control_characters(query)?;
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                format!("invalid query string: {}", e.body_text()),
            )),
            Err(other) => Err(ApiError::bad_request("BAD_REQUEST", other.body_text())),
        }
    }
}

/// No query parameter may carry a control character (`search=%00` would otherwise reach the
/// database as a pattern, and a topic filter with NUL could never match).
fn refuse_control_characters(query: &str) -> Result<(), ApiError> {
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(ApiError::validation(
                name.to_string(),
                format!(
                    "query parameter `{name}` must not contain control characters (found U+{:04X})",
                    u32::from(c)
                ),
            ));
        }
    }
    Ok(())
}

/// The version the client last saw, from `If-Match`: the strong ETag (`"3"`, or a bare `3`).
/// `*` (any current version) asks for no check. A weak validator (`W/"3"`) never satisfies a
/// write precondition (strong comparison, RFC 9110 §13.1.1), so it fails with 412.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or_default().trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        if text.starts_with("W/") {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "WEAK_ETAG",
                "If-Match needs the strong ETag as returned (e.g. \"3\"); a weak validator (W/...) \
                 never matches a change",
            ));
        }
        let unquoted = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        unquoted.parse().map(|v| IfMatch(Some(v))).map_err(|_| {
            ApiError::bad_request(
                "INVALID_IF_MATCH",
                "If-Match must carry the resource version, as returned in its ETag (e.g. \"3\")",
            )
        })
    }
}

/// Chooses the expected version: the body's `version` field, else `If-Match`; both present
/// and different is a client error.
pub fn expected_version(body: Option<i64>, header: IfMatch) -> Result<Option<i64>, ApiError> {
    match (body, header.0) {
        (Some(b), Some(h)) if b != h => Err(ApiError::bad_request(
            "VERSION_MISMATCH",
            format!("the body says version {b} but If-Match says {h}; send one"),
        )),
        (Some(b), _) => Ok(Some(b)),
        (None, h) => Ok(h),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn integral_floats_are_read_only_where_exact() {
        let read = |body: &str| super::integral_floats_as_integers::<Option<i64>>(body.as_bytes());
        assert_eq!(read("4.0"), Some(Some(4)));
        assert_eq!(
            read("-9007199254740992.0"),
            Some(Some(-9_007_199_254_740_992))
        );
        // Out of i64's range as written, though it rounds to i64::MIN as a double.
        assert_eq!(read("-9223372036854775809"), None);
        assert_eq!(read("1e19"), None);
        assert_eq!(read("4.5"), None);
    }

    #[test]
    fn only_objects_are_objects() {
        assert!(super::is_json_object(b" \r\n\t{\"note\": null}"));
        assert!(!super::is_json_object(b"[null]"));
        assert!(!super::is_json_object(b" [{}]"));
        assert!(!super::is_json_object(b"null"));
        assert!(!super::is_json_object(b"\"{}\""));
    }
}
