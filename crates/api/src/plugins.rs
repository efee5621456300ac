//! `/api/v1/plugins/...`: v1's plugin routes, kept so that a v1 client or script gets a clear
//! answer. This version has no plugin system (v1's installer never got a plugin to
//! `installed`, and installed files were never served; see README, "Differences from v1"), so
//! every one of them answers 501 `PLUGINS_NOT_AVAILABLE` — after the usual access check, so
//! an anonymous caller still gets 401 and a viewer asking to change plugins 403.

use axum::http::StatusCode;

use crate::error::ApiError;

/// The stable code of every plugin route's answer.
pub const NOT_AVAILABLE: &str = "PLUGINS_NOT_AVAILABLE";

fn not_available() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        NOT_AVAILABLE,
        "plugins are not available in this version of TaylorDash: v1's plugin routes answer \
         only this (see \"Differences from v1\" in the README)",
    )
}

/// Declares v1 plugin operations that all answer [`not_available`]: `name, method, path,
/// summary`, and the path parameter's name when there is one.
macro_rules! not_available {
    ($($name:ident, $method:ident, $path:literal, $summary:literal $(, $param:literal)?;)*) => {
        $(
            #[doc = $summary]
            #[utoipa::path($method, path = $path, tag = "plugins", summary = $summary,
                description = "Not available in this version: always 501 \
                               `PLUGINS_NOT_AVAILABLE` to a caller the access rule admits.",
                $(params(($param = String, Path)),)?
                responses((status = 501,
                    description = "Plugins are not available in this version \
                                   (PLUGINS_NOT_AVAILABLE)",
                    body = crate::error::ErrorBody)))]
            pub async fn $name() -> ApiError {
                not_available()
            }
        )*
    };
}

not_available! {
    plugin_install, post, "/plugins/install",
        "Install a plugin from a GitHub repository (v1).";
    plugin_list, get, "/plugins/list", "Installed plugins (v1).";
    plugin_get, get, "/plugins/{plugin_id}", "One plugin (v1).", "plugin_id";
    plugin_uninstall, delete, "/plugins/{plugin_id}", "Uninstall a plugin (v1).", "plugin_id";
    plugin_update, put, "/plugins/{plugin_id}/update",
        "Update a plugin to its latest release (v1).", "plugin_id";
    plugin_health, get, "/plugins/{plugin_id}/health",
        "A plugin's health and security score (v1).", "plugin_id";
    plugin_configure, post, "/plugins/{plugin_id}/config",
        "Change a plugin's configuration (v1).", "plugin_id";
    plugin_violations, get, "/plugins/{plugin_id}/security/violations",
        "A plugin's security violations (v1).", "plugin_id";
    plugin_scan, post, "/plugins/{plugin_id}/security/scan",
        "Recompute a plugin's security score (v1).", "plugin_id";
    plugin_stats, get, "/plugins/stats/overview", "Plugin statistics (v1).";
    plugin_refresh_registry, post, "/plugins/registry/refresh",
        "Rewrite the UI's plugin registry (v1).";
}
