//! The HTTP layer: routes, wire types, errors, authentication, health, metrics and the OpenAPI
//! document. Handlers are thin — extract, call one [`storage::Store`] method or one service
//! (`services`, e.g. sign-in and accounts in `services::identity`), map the result; wire types
//! (`*Response`, `*Create`, `*Update`) are converted explicitly from domain types.

mod alerts;
pub mod artifacts;
pub mod auth;
pub mod backups;
mod checks;
mod components;
mod constraints;
mod error;
mod events;
mod extract;
mod graph;
mod health;
pub mod logs;
mod metrics;
mod openapi;
mod plugins;
pub mod projects;
mod raw_response;
mod security;
pub mod server;
mod status_page;
mod tasks;
pub mod timeseries;
mod ui;
mod wire;

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use storage::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{
    API_KEY_HEADER, AlertmanagerToken, ApiKey, AuthConfig, AuthState, Clock, Credential,
    PasswordCost, Principal, SESSION_COOKIE, SignedIn,
};
pub use error::{ApiError, ErrorBody};
pub use health::{SERVICE, StackEndpoints};
pub use metrics::BUILD_COMMIT;
pub use metrics::Metrics;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Shared, immutable application state handed to every handler: a plain bundle of handles to
/// parts built (and, where they run tasks, started) beforehand — making one starts nothing.
#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

pub struct AppContext {
    pub store: Arc<dyn Store>,
    /// The installation's service key (admin scope).
    pub api_key: ApiKey,
    pub metrics: Metrics,
    pub bus: Arc<bus::EventBus>,
    pub auth: AuthState,
    /// Object storage for artifacts; `None` answers their routes with 503.
    pub files: Option<artifacts::Files>,
    /// The log writer queue and the frontend report budget.
    pub logs: logs::Logs,
    /// The optional services `/health/stack` checks.
    pub stack: StackEndpoints,
    /// Metric events to VictoriaMetrics or the local table; `/metrics/query_range`.
    pub timeseries: observability::timeseries::TimeSeries,
    /// Service checks (their scheduler runs as a task of the application).
    pub checks: services::checks::Checks,
    /// Alert rules, alerts, channels and notifications (evaluator and sender run as tasks of
    /// the application).
    pub alerts: services::alerts::Alerts,
    /// Project list answers served again while the table is unchanged (SQLite only).
    pub project_lists: projects::ListCache,
}

impl AppState {
    /// Bundles the parts.
    pub fn from_parts(context: AppContext) -> AppState {
        AppState(Arc::new(context))
    }

    /// State with default settings and idle parts: no log writer or time-series writer runs
    /// (small tests and examples; the application is assembled by `taylordash::app`).
    pub fn new(
        store: Arc<dyn Store>,
        api_key: ApiKey,
        metrics: Metrics,
        bus: Arc<bus::EventBus>,
    ) -> AppState {
        use observability::logs::{LogSettings, LogSink};
        use observability::timeseries::{TimeSeries, TimeSeriesSettings};
        let store_for_checks = store.clone();
        let store_for_alerts = store.clone();
        Self::from_parts(AppContext {
            auth: AuthState::new(AuthConfig::default(), store.clone()),
            store,
            api_key,
            metrics,
            bus,
            files: None,
            logs: logs::Logs::new(LogSink::new(LogSettings::default())),
            stack: StackEndpoints::default(),
            timeseries: TimeSeries::new(TimeSeriesSettings::default()),
            checks: services::checks::Checks::new(store_for_checks, Default::default()),
            alerts: services::alerts::Alerts::new(store_for_alerts, Default::default()),
            project_lists: Default::default(),
        })
    }
}

impl Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

/// Routes under `/api/v1`, without the authorization layer. Each needs a rule in
/// `auth/policy.rs`.
fn v1_routes() -> OpenApiRouter<AppState> {
    use auth::{api_keys, audit, oidc, passkeys, second_factor, sessions, setup, users};
    OpenApiRouter::new()
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::progress))
        .routes(routes!(projects::get, projects::update, projects::delete))
        .routes(routes!(components::list, components::create))
        .routes(routes!(
            components::get,
            components::update,
            components::delete
        ))
        .routes(routes!(graph::project_graph))
        .routes(routes!(graph::update_layout))
        .routes(routes!(graph::project_dependencies))
        .routes(routes!(graph::list_dependencies, graph::add_dependency))
        .routes(routes!(graph::remove_dependency))
        .routes(routes!(tasks::list, tasks::create))
        .routes(routes!(tasks::get, tasks::update, tasks::delete))
        .routes(routes!(events::list, events::publish))
        .routes(routes!(events::get))
        .routes(routes!(events::test_event))
        .routes(routes!(events::stream))
        .routes(routes!(events::list_dead_letters))
        .routes(routes!(events::get_dead_letter, events::delete_dead_letter))
        .routes(routes!(events::replay))
        .routes(routes!(events::replay_edited))
        .routes(routes!(health::stack))
        .routes(routes!(sessions::login))
        .routes(routes!(second_factor::complete))
        .routes(routes!(second_factor::enrol_at_login))
        .routes(routes!(second_factor::status, second_factor::start))
        .routes(routes!(second_factor::confirm))
        .routes(routes!(second_factor::disable))
        .routes(routes!(second_factor::renew_recovery_codes))
        .routes(routes!(second_factor::reset))
        .routes(routes!(
            second_factor::get_settings,
            second_factor::put_settings
        ))
        .routes(routes!(second_factor::options))
        .routes(routes!(passkeys::registration_options))
        .routes(routes!(passkeys::list, passkeys::register))
        .routes(routes!(passkeys::rename, passkeys::remove))
        .routes(routes!(passkeys::login_options))
        .routes(routes!(passkeys::login))
        .routes(routes!(passkeys::second_factor_options))
        .routes(routes!(passkeys::second_factor))
        .routes(routes!(oidc::begin))
        .routes(routes!(oidc::callback))
        .routes(routes!(sessions::logout))
        .routes(routes!(sessions::me))
        .routes(routes!(users::change_password))
        .routes(routes!(
            sessions::list_sessions,
            sessions::revoke_other_sessions
        ))
        .routes(routes!(sessions::revoke_session))
        .routes(routes!(sessions::cleanup))
        .routes(routes!(setup::status, setup::complete))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update, users::delete))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(audit::list))
        // Structured logs.
        .routes(routes!(logs::list))
        .routes(routes!(logs::stats))
        .routes(routes!(logs::get))
        .routes(routes!(logs::test_logs))
        .routes(routes!(timeseries::query_range))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(logs::frontend))
                .layer(DefaultBodyLimit::max(logs::FRONTEND_MAX_BYTES)),
        )
        // Artifacts (files attached to projects).
        .routes(routes!(artifacts::list, artifacts::upload))
        .routes(routes!(artifacts::download, artifacts::delete))
        .routes(routes!(artifacts::info))
        // Service checks.
        .routes(routes!(checks::list, checks::create))
        .routes(routes!(checks::test_unsaved))
        .routes(routes!(checks::get, checks::update, checks::delete))
        .routes(routes!(checks::test_saved))
        .routes(routes!(checks::rotate_push_token))
        .routes(routes!(checks::history))
        .routes(routes!(checks::uptime))
        .routes(routes!(checks::project_checks))
        .routes(routes!(checks::push, checks::push_get))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::alert_notifications))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::silence))
        .routes(routes!(alerts::alertmanager))
        .routes(routes!(alerts::notifications))
        .routes(routes!(alerts::list_rules, alerts::create_rule))
        .routes(routes!(
            alerts::get_rule,
            alerts::update_rule,
            alerts::delete_rule
        ))
        .routes(routes!(alerts::list_channels, alerts::create_channel))
        .routes(routes!(
            alerts::get_channel,
            alerts::update_channel,
            alerts::delete_channel
        ))
        .routes(routes!(alerts::test_channel))
        // Public status pages.
        .routes(routes!(
            status_page::settings,
            status_page::enable,
            status_page::disable
        ))
        .routes(routes!(status_page::public))
        // Backups (admin).
        .routes(routes!(backups::list, backups::create))
        .routes(routes!(backups::download))
        // v1's plugin routes: not available in this version (501).
        .routes(routes!(plugins::plugin_install))
        .routes(routes!(plugins::plugin_list))
        .routes(routes!(plugins::plugin_get, plugins::plugin_uninstall))
        .routes(routes!(plugins::plugin_update))
        .routes(routes!(plugins::plugin_health))
        .routes(routes!(plugins::plugin_configure))
        .routes(routes!(plugins::plugin_violations))
        .routes(routes!(plugins::plugin_scan))
        .routes(routes!(plugins::plugin_stats))
        .routes(routes!(plugins::plugin_refresh_registry))
}

fn all_routes(v1: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health::root))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::render))
        .nest("/api/v1", v1)
}

/// The OpenAPI 3.1 document of every route, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(all_routes(v1_routes()).into_openapi())
}

/// The complete application: routes, docs, and the middleware every request goes through.
pub fn router(state: AppState) -> Router {
    let v1 = v1_routes().route_layer(from_fn_with_state(
        state.clone(),
        auth::middleware::authorize,
    ));
    let (routes, doc) = all_routes(v1).split_for_parts();
    // Rendered once; the docs page (`/docs/`, part of the UI build) reads it.
    let doc = axum::body::Bytes::from(
        serde_json::to_vec(&openapi::finish(doc)).expect("the OpenAPI document serializes"),
    );
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    doc,
                )
            }),
        )
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(ui::root_html))
        // Layers run bottom to top for a request.
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(from_fn(logs::request_log))
        .layer(from_fn(scope_request_id))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(from_fn_with_state(state.clone(), security::headers))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id,
                        user_id = tracing::field::Empty,
                        trace_id = tracing::field::Empty,
                        traceparent = req
                            .headers()
                            .get("traceparent")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default(),
                    )
                })
                // `logs::request_log` writes the one line per request.
                .on_response(()),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, TimeOrderedRequestId))
        .with_state(state)
}

/// Request ids for requests that come without one: UUIDv7, time-ordered, so the log table's
/// `request_id` index grows at its end instead of rewriting a random page for every row.
#[derive(Clone, Copy)]
struct TimeOrderedRequestId;

impl MakeRequestId for TimeOrderedRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::now_v7().to_string();
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

/// Makes the request id available to error bodies (see [`error::REQUEST_ID`]).
async fn scope_request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    error::REQUEST_ID.scope(id, next.run(req)).await
}

/// The web UI for any non-API GET (see [`ui`]); a JSON 404 otherwise.
async fn fallback(req: Request) -> Response {
    match ui::fallback(&req) {
        Some(res) => res,
        None => route_not_found(req).await.into_response(),
    }
}

async fn route_not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!(
            "no route {} {}; see /docs for the API",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!(
            "{} is not allowed on {}; see /docs for the methods it accepts",
            req.method(),
            req.uri().path()
        ),
    )
}
