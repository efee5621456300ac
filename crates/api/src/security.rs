//! Security headers on every response, errors included: a strict Content-Security-Policy (no
//! inline script anywhere; the API docs page may use inline styles), no sniffing, no framing,
//! no referrer leaks to other sites, no powerful browser features, and HSTS when the client
//! reached us over TLS.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::auth::ClientInfo;

/// The UI and the API: everything from our own origin, nothing inline, never framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Swagger UI (`/docs`) sets inline styles; scripts stay strict.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), \
    gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The headers on every response, including those written below the router
/// (`raw_response`); names in lower case.
pub(crate) const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("permissions-policy", PERMISSIONS_POLICY),
    ("cross-origin-opener-policy", "same-origin"),
];

pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let https = ClientInfo::from_parts(&parts, &state.auth.config).https;
    let docs = parts.uri.path().starts_with("/docs");
    let mut res = next.run(Request::from_parts(parts, body)).await;
    let h = res.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        let value = if docs && name == "content-security-policy" {
            DOCS_CSP
        } else {
            value
        };
        let name = HeaderName::from_static(name);
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    if https {
        h.entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
    res
}
