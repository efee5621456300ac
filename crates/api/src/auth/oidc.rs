//! Sign-in with an OpenID provider: `GET /auth/oidc/login` sends the browser to the provider,
//! `GET /auth/oidc/callback` takes it back and starts a session (the same cookie as a password
//! sign-in). The flow and every check are the identity service's ([`services::identity::oidc`]);
//! here are the redirects, the cookies, and the refusal page.
//!
//! Refusals on the callback are the usual JSON error (`{detail, code}`), or for a browser
//! (`Accept: text/html`) a small page saying the same, with a link back to the sign-in page.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use services::identity::{OidcCallback, OidcError};
use utoipa::{IntoParams, ToSchema};

use super::ClientInfo;
use super::sessions::session_headers;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;

/// The browser's half of a sign-in in progress: the state, checked against the callback's.
pub const STATE_COOKIE: &str = "taylordash_oidc_state";
/// The ID token of an OpenID sign-in, sent back only to the logout route (as the provider's
/// `id_token_hint`).
pub const LOGOUT_HINT_COOKIE: &str = "taylordash_oidc_logout";
/// Where the route lives; the state cookie is sent to nothing else.
const OIDC_PATH: &str = "/api/v1/auth/oidc";
const LOGOUT_PATH: &str = "/api/v1/auth/logout";

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct BeginQuery {
    /// A path on this server to open after signing in (default `/`).
    pub return_to: Option<String>,
}

/// A cookie's value from the `Cookie` header(s).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

fn set_cookie(headers: &mut HeaderMap, cookie: String) {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, v);
    }
}

fn secure(client: &ClientInfo) -> &'static str {
    if client.https { "; Secure" } else { "" }
}

fn oidc(state: &AppState) -> Result<&services::identity::Oidc, ApiError> {
    state
        .auth
        .oidc
        .as_ref()
        .ok_or_else(|| OidcError::NotConfigured.into())
}

impl From<OidcError> for ApiError {
    fn from(e: OidcError) -> Self {
        services::identity::Error::Oidc(e).into()
    }
}

/// Sign in with the configured OpenID provider: redirects the browser there (authorization
/// code flow with PKCE). Public.
#[utoipa::path(get, path = "/auth/oidc/login", tag = "auth",
    params(BeginQuery),
    responses(
        (status = 302, description = "To the provider's sign-in page; the state cookie is set", headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 404, description = "Single sign-on is not configured (OIDC_NOT_CONFIGURED)", body = crate::error::ErrorBody),
        (status = 502, description = "The provider cannot be reached or its discovery document is unusable (OIDC_PROVIDER_UNREACHABLE, OIDC_PROVIDER_INVALID)", body = crate::error::ErrorBody),
    ))]
pub async fn begin(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Query(q): Query<BeginQuery>,
) -> Response {
    let result = async {
        let oidc = oidc(&state)?;
        Ok::<_, ApiError>(
            state
                .auth
                .identity
                .oidc_begin(oidc, q.return_to.as_deref())
                .await?,
        )
    }
    .await;
    let start = match result {
        Ok(s) => s,
        Err(e) => return refusal(&headers, e),
    };
    let mut out = HeaderMap::new();
    set_cookie(
        &mut out,
        format!(
            "{STATE_COOKIE}={}; Path={OIDC_PATH}; HttpOnly; SameSite=Lax; Max-Age={}{}",
            start.state,
            services::identity::oidc::OIDC_CHALLENGE_TTL.num_seconds(),
            secure(&client)
        ),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match HeaderValue::from_str(&start.url) {
        Ok(location) => {
            out.insert(header::LOCATION, location);
            (StatusCode::FOUND, out).into_response()
        }
        Err(_) => ApiError::internal("the authorization URL is not a header value").into_response(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    /// The provider's refusal (`access_denied`), instead of a code.
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer that answered (RFC 9207).
    pub iss: Option<String>,
}

/// Where the provider sends the browser back: checks the state (this browser's, unused), redeems
/// the code, verifies the ID token, signs the linked account in (created just in time if
/// allowed; role from the groups claim) and redirects to the page the sign-in started from.
/// Public.
#[utoipa::path(get, path = "/auth/oidc/callback", tag = "auth",
    params(CallbackQuery),
    responses(
        (status = 303, description = "Signed in: to the page the sign-in began on, with the session cookie", headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 400, description = "Unknown, expired, replayed or foreign state (OIDC_STATE_INVALID); the provider refused (OIDC_PROVIDER_REFUSED) or did not accept the code (OIDC_CODE_REJECTED)", body = crate::error::ErrorBody),
        (status = 401, description = "The ID token is refused: bad signature or malformed (OIDC_TOKEN_INVALID), wrong issuer (OIDC_WRONG_ISSUER), wrong audience (OIDC_WRONG_AUDIENCE), expired (OIDC_TOKEN_EXPIRED), nonce of another sign-in (OIDC_NONCE_MISMATCH)", body = crate::error::ErrorBody),
        (status = 403, description = "No role for the user's groups (NOT_IN_ALLOWED_GROUP), no account and none created (NO_LINKED_ACCOUNT), account disabled (ACCOUNT_DISABLED)", body = crate::error::ErrorBody),
        (status = 404, description = "Single sign-on is not configured (OIDC_NOT_CONFIGURED)", body = crate::error::ErrorBody),
        (status = 502, description = "The provider cannot be reached (OIDC_PROVIDER_UNREACHABLE) or answers unusably (OIDC_PROVIDER_INVALID)", body = crate::error::ErrorBody),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let browser_state = cookie(&headers, STATE_COOKIE);
    let result = async {
        let oidc = oidc(&state)?;
        Ok::<_, ApiError>(
            state
                .auth
                .identity
                .oidc_finish(
                    oidc,
                    &state.auth.config.external,
                    OidcCallback {
                        state: q.state,
                        code: q.code,
                        error: q.error,
                        error_description: q.error_description,
                        iss: q.iss,
                    },
                    browser_state.as_deref(),
                    &client.meta(),
                )
                .await?,
        )
    }
    .await;
    // The state cookie is spent either way.
    let mut out = HeaderMap::new();
    set_cookie(
        &mut out,
        format!(
            "{STATE_COOKIE}=; Path={OIDC_PATH}; HttpOnly; SameSite=Lax; Max-Age=0{}",
            secure(&client)
        ),
    );
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            let mut response = refusal(&headers, e);
            for v in out.get_all(header::SET_COOKIE) {
                response.headers_mut().append(header::SET_COOKIE, v.clone());
            }
            return response;
        }
    };
    for (name, value) in &session_headers(&done.login.token, done.login.keep_for(), &client) {
        out.append(name, value.clone());
    }
    set_cookie(
        &mut out,
        format!(
            "{LOGOUT_HINT_COOKIE}={}; Path={LOGOUT_PATH}; HttpOnly; SameSite=Strict{}",
            done.id_token,
            secure(&client)
        ),
    );
    if let Ok(location) = HeaderValue::from_str(&done.return_to) {
        out.insert(header::LOCATION, location);
    } else {
        out.insert(header::LOCATION, HeaderValue::from_static("/"));
    }
    (StatusCode::SEE_OTHER, out).into_response()
}

/// Clears the logout hint cookie (on logout).
pub(crate) fn clear_logout_hint(headers: &mut HeaderMap, client: &ClientInfo) {
    set_cookie(
        headers,
        format!(
            "{LOGOUT_HINT_COOKIE}=; Path={LOGOUT_PATH}; HttpOnly; SameSite=Strict; Max-Age=0{}",
            secure(client)
        ),
    );
}

/// An error as JSON, or as a page for a browser.
fn refusal(request: &HeaderMap, e: ApiError) -> Response {
    let html = request
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !html {
        return e.into_response();
    }
    if e.status.is_server_error() && e.code == "INTERNAL_ERROR" {
        tracing::warn!("single sign-on failed with an internal error");
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign-in refused - TaylorDash</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem\">\
         <h1>Sign-in refused</h1><p id=\"detail\">{}</p><p>Code: <code id=\"code\">{}</code></p>\
         <p><a href=\"/login\">Back to the sign-in page</a></p></body></html>",
        escape(&e.detail),
        e.code
    );
    let mut response = (e.status, page).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What results in an `ApiResult` here is only the logout URL helper.
pub(crate) async fn logout_url(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(oidc) = state.auth.oidc.as_ref() else {
        return Ok(None);
    };
    let hint = cookie(headers, LOGOUT_HINT_COOKIE);
    if hint.is_none() {
        return Ok(None);
    }
    Ok(oidc.logout_url(hint.as_deref()).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_the_provider_said() {
        assert_eq!(
            escape("<b a=\"x\">&'"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
