//! Access to `/api/v1`: the `X-API-Key` header (v1's scheme), compared in constant time.
//!
//! The middleware records who is calling as a [`Principal`] in the request extensions; user
//! sessions and scoped keys will add variants there without touching the handlers.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

pub const API_KEY_HEADER: &str = "x-api-key";

/// The shared API key. Its `Debug` output is redacted so it cannot leak into logs.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// Constant-time comparison: the time taken does not depend on how much of `candidate`
    /// matches.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Who is making the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Holder of the installation's API key: full access, as in v1.
    ApiKey,
}

pub async fn require_api_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(presented) = req.headers().get(API_KEY_HEADER) else {
        return Err(ApiError::unauthorized(
            "MISSING_API_KEY",
            "Missing API key: send it in the X-API-Key header",
        ));
    };
    if !state.api_key.matches(presented.as_bytes()) {
        return Err(ApiError::unauthorized("INVALID_API_KEY", "Invalid API key"));
    }
    req.extensions_mut().insert(Principal::ApiKey);
    Ok(next.run(req).await)
}
