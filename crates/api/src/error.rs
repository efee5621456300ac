//! The one error type at the HTTP edge. Every error response is JSON
//! `{"detail": "<human message>", "code": "<STABLE_CODE>"}` with the matching status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::ValidationError;
use serde::Serialize;
use services::identity;
use storage::StoreError;
use utoipa::ToSchema;

/// Body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and, where possible, what to do about it.
    #[schema(example = "project 0c7e... not found")]
    pub detail: String,
    /// Stable machine-readable code; clients switch on this, not on `detail`.
    #[schema(example = "NOT_FOUND")]
    pub code: &'static str,
    /// The offending field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request id (also in `X-Request-Id`), for internal errors: quote it when reporting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub field: Option<String>,
    /// `WWW-Authenticate` challenge, on 401.
    pub authenticate: Option<&'static str>,
    /// `Retry-After` in seconds, on 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            field: None,
            authenticate: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                detail,
            )
        }
    }

    /// 401 with a challenge naming every way to authenticate.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::challenge("Bearer realm=\"taylordash\", ApiKey", code, detail)
    }

    /// 401 with a specific `WWW-Authenticate` challenge.
    pub fn challenge(scheme: &'static str, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            authenticate: Some(scheme),
            ..Self::new(StatusCode::UNAUTHORIZED, code, detail)
        }
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(
        code: &'static str,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
        }
    }

    /// An unexpected server-side failure: logged in full, answered opaquely.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "an unexpected error occurred; the server log has the details under this request id",
        )
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::validation(e.field, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let detail = e.to_string();
        match e {
            StoreError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", detail),
            StoreError::VersionConflict { .. } => {
                Self::new(StatusCode::CONFLICT, "VERSION_CONFLICT", detail)
            }
            StoreError::DependencyCycle(_) => {
                Self::new(StatusCode::CONFLICT, "DEPENDENCY_CYCLE", detail)
            }
            StoreError::DependencyExists { .. } => {
                Self::new(StatusCode::CONFLICT, "DEPENDENCY_EXISTS", detail)
            }
            StoreError::CrossProject(..) => ApiError::validation("depends_on_id", detail),
            StoreError::Invalid(v) => v.into(),
            StoreError::UsernameTaken(_) => Self::new(
                StatusCode::CONFLICT,
                "USERNAME_TAKEN",
                "Username already exists",
            ),
            StoreError::LastAdmin => Self::new(StatusCode::CONFLICT, "LAST_ADMIN", detail),
            StoreError::AdminExists => Self::new(StatusCode::CONFLICT, "SETUP_COMPLETE", detail),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %detail, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "DATABASE_UNAVAILABLE",
                    "the database is unavailable; try again shortly",
                )
            }
            StoreError::Corrupt(_) | StoreError::Migration(_) | StoreError::Database(_) => {
                ApiError::internal(detail)
            }
        }
    }
}

impl From<identity::Error> for ApiError {
    fn from(e: identity::Error) -> Self {
        use identity::Error as E;
        let detail = e.to_string();
        match e {
            E::InvalidCredentials => ApiError::unauthorized("INVALID_CREDENTIALS", detail),
            E::TooManyAttempts { retry_after } => {
                ApiError::too_many_requests("TOO_MANY_ATTEMPTS", detail, retry_after)
            }
            E::InvalidCurrentPassword => ApiError::bad_request("INVALID_CURRENT_PASSWORD", detail),
            E::InvalidSetupToken => ApiError::forbidden("INVALID_SETUP_TOKEN", detail),
            E::NoUpdates => ApiError::bad_request("NO_UPDATES", detail),
            E::CannotDeleteSelf => ApiError::bad_request("CANNOT_DELETE_SELF", detail),
            E::NotInAllowedGroup => ApiError::forbidden("NOT_IN_ALLOWED_GROUP", detail),
            E::NoLinkedAccount { .. } => ApiError::forbidden("NO_LINKED_ACCOUNT", detail),
            E::AccountDisabled => ApiError::forbidden("ACCOUNT_DISABLED", detail),
            E::InvalidChallenge => ApiError::unauthorized("SIGN_IN_EXPIRED", detail),
            E::InvalidCode => ApiError::unauthorized("INVALID_CODE", detail),
            E::TotpAlreadyOn => ApiError::new(StatusCode::CONFLICT, "TOTP_ALREADY_ON", detail),
            E::NoTotpEnrolment => ApiError::new(StatusCode::CONFLICT, "NO_TOTP", detail),
            E::SecondFactorRequired => {
                ApiError::new(StatusCode::CONFLICT, "SECOND_FACTOR_REQUIRED", detail)
            }
            E::PasswordSignInDisabled => ApiError::forbidden("PASSWORD_SIGN_IN_DISABLED", detail),
            E::PasskeyNeeded => ApiError::bad_request("PASSKEY_NEEDED", detail),
            E::Passkey(w) => {
                use identity::webauthn::WebAuthnError as W;
                match w {
                    W::Malformed(_) => ApiError::bad_request("PASSKEY_MALFORMED", detail),
                    W::UnsupportedAlgorithm(_) => {
                        ApiError::bad_request("PASSKEY_ALGORITHM_UNSUPPORTED", detail)
                    }
                    W::WrongOrigin(_) | W::WrongRelyingParty => {
                        ApiError::unauthorized("PASSKEY_WRONG_ORIGIN", detail)
                    }
                    W::WrongType(_) => ApiError::bad_request("PASSKEY_WRONG_TYPE", detail),
                    W::NotPresent | W::NotVerified => {
                        ApiError::unauthorized("PASSKEY_NOT_VERIFIED", detail)
                    }
                    W::BadSignature => ApiError::unauthorized("PASSKEY_INVALID", detail),
                }
            }
            E::UnknownPasskey => ApiError::unauthorized("PASSKEY_UNKNOWN", detail),
            E::PasskeyCounter => ApiError::unauthorized("PASSKEY_CLONED", detail),
            E::PasskeyExists => ApiError::new(StatusCode::CONFLICT, "PASSKEY_EXISTS", detail),
            E::OthersKeys => ApiError::forbidden("INSUFFICIENT_ROLE", detail),
            E::ScopeAboveRole { .. } => ApiError::forbidden("SCOPE_ABOVE_ROLE", detail),
            E::ExpiryTwice => ApiError::validation("expires_at", detail),
            E::Oidc(o) => {
                use identity::OidcError as O;
                let status = match &o {
                    O::NotConfigured => StatusCode::NOT_FOUND,
                    O::StateInvalid | O::ProviderRefused(_) | O::CodeRejected(_) => {
                        StatusCode::BAD_REQUEST
                    }
                    O::Unreachable(_) | O::BadProvider(_) => StatusCode::BAD_GATEWAY,
                    O::Token(_) => StatusCode::UNAUTHORIZED,
                };
                ApiError::new(status, o.code(), detail)
            }
            E::Invalid(v) => v.into(),
            E::Store(e) => e.into(),
            E::Internal(e) => ApiError::internal(e),
        }
    }
}

tokio::task_local! {
    /// The id of the request being served, so error bodies can quote it.
    pub(crate) static REQUEST_ID: String;
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = (self.status.is_server_error())
            .then(|| REQUEST_ID.try_with(Clone::clone).ok())
            .flatten();
        let body = ErrorBody {
            detail: self.detail,
            code: self.code,
            field: self.field,
            request_id,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(scheme) = self.authenticate {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
