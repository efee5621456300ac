//! `GET /api/v1/metrics/query_range` for the dashboard charts: proxied to VictoriaMetrics when
//! it is configured (full PromQL), else answered from the local samples for the PromQL subset
//! `observability::timeseries::promql` evaluates. The writer is `observability::timeseries`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use observability::outbound::{self, BaseUrl};
use observability::timeseries::{LocalQueryError, local_range};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use storage::MetricSampleStore;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueryRangeParams {
    /// PromQL. With VictoriaMetrics: anything it accepts. Locally: the subset in
    /// docs/metrics.md (selectors with = and !=, rate/increase/*_over_time, sum/avg/min/max/
    /// count by, histogram_quantile); anything else is a 400 naming the subset.
    pub query: String,
    /// RFC 3339 or Unix seconds.
    pub start: String,
    /// RFC 3339 or Unix seconds; at most 31 days after `start`.
    pub end: String,
    /// Seconds (`15`) or a duration (`15s`, `1m`, `1h`); at least 1 s and at most 11,000
    /// points in the range.
    pub step: String,
}

/// Prometheus' `query_range` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryRangeResponse {
    #[schema(example = "success")]
    pub status: String,
    pub data: QueryRangeData,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryRangeData {
    /// Always `matrix`.
    #[serde(rename = "resultType")]
    pub result_type: String,
    pub result: Vec<RangeSeries>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RangeSeries {
    /// The series' labels (`__name__` for plain selectors).
    pub metric: BTreeMap<String, String>,
    /// `[unix_seconds, "value"]` pairs (a number and a string), oldest first.
    #[schema(value_type = Vec<Vec<Value>>)]
    pub values: Vec<(f64, String)>,
}

const MAX_RANGE_SECS: f64 = 31.0 * 86_400.0;
const MAX_POINTS: f64 = 11_000.0;
pub(crate) const MAX_QUERY_LEN: usize = 2_048;

fn parse_time(field: &'static str, text: &str) -> ApiResult<f64> {
    if let Ok(secs) = text.trim().parse::<f64>()
        && secs.is_finite()
    {
        return Ok(secs);
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .map_err(|_| {
            ApiError::validation(
                field,
                format!("{field}: '{text}' is neither RFC 3339 nor Unix seconds"),
            )
        })
}

fn parse_step(text: &str) -> ApiResult<f64> {
    let t = text.trim();
    let invalid = || {
        ApiError::validation(
            "step",
            format!("step: '{text}' is not seconds or a duration like 15s, 1m, 1h"),
        )
    };
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_finite() {
            Ok(secs)
        } else {
            Err(invalid())
        };
    }
    let (number, unit) = t.split_at(
        t.find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(invalid)?,
    );
    let n: f64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(invalid()),
    };
    Ok(n * scale)
}

/// A range query for charts (Prometheus `query_range` shape), from VictoriaMetrics when
/// configured, else from the local samples (a PromQL subset, see docs/metrics.md).
#[utoipa::path(get, path = "/metrics/query_range", tag = "metrics",
    params(QueryRangeParams),
    responses(
        (status = 200, body = QueryRangeResponse),
        (status = 400, description = "Query not accepted (locally: outside the supported subset)", body = crate::error::ErrorBody),
        (status = 503, description = "VictoriaMetrics unreachable", body = crate::error::ErrorBody),
    ))]
pub async fn query_range(
    State(state): State<AppState>,
    Query(q): Query<QueryRangeParams>,
) -> ApiResult<Response> {
    if q.query.trim().is_empty() || q.query.chars().count() > MAX_QUERY_LEN {
        return Err(ApiError::validation(
            "query",
            format!("query: 1-{MAX_QUERY_LEN} characters"),
        ));
    }
    let start = parse_time("start", &q.start)?;
    let end = parse_time("end", &q.end)?;
    let step = parse_step(&q.step)?;
    if end < start {
        return Err(ApiError::validation("end", "end: must not be before start"));
    }
    if end - start > MAX_RANGE_SECS {
        return Err(ApiError::validation(
            "end",
            "end: at most 31 days after start",
        ));
    }
    if step < 1.0 {
        return Err(ApiError::validation("step", "step: at least 1 second"));
    }
    if (end - start) / step + 1.0 > MAX_POINTS {
        return Err(ApiError::validation(
            "step",
            format!("step: too small for the range (more than {MAX_POINTS} points per series)"),
        ));
    }
    match state.timeseries.victoria_metrics() {
        Some(vm) => proxy(vm, &q.query, start, end, step).await,
        None => {
            let body = local_query(&*state.store, &q.query, start, end, step).await?;
            Ok(axum::Json(body).into_response())
        }
    }
}

async fn proxy(vm: &BaseUrl, query: &str, start: f64, end: f64, step: f64) -> ApiResult<Response> {
    let path = format!(
        "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
        outbound::encode_query_value(query)
    );
    let reply = outbound::get(vm, &path, Duration::from_secs(30))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "METRICS_UNAVAILABLE",
                format!("VictoriaMetrics cannot be reached: {e}"),
            )
        })?;
    if reply.status.is_success() {
        let mut response = reply.body.into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(response);
    }
    let detail = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&reply.body)
                .chars()
                .take(500)
                .collect()
        });
    if reply.status.is_client_error() {
        Err(ApiError::bad_request(
            "QUERY_INVALID",
            format!("VictoriaMetrics refused the query: {detail}"),
        ))
    } else {
        Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "METRICS_BACKEND_ERROR",
            format!(
                "VictoriaMetrics failed (HTTP {}): {detail}",
                reply.status.as_u16()
            ),
        ))
    }
}

/// Evaluates the query over the local samples.
pub async fn local_query(
    store: &dyn MetricSampleStore,
    query: &str,
    start: f64,
    end: f64,
    step: f64,
) -> ApiResult<QueryRangeResponse> {
    let result = local_range(store, query, start, end, step)
        .await
        .map_err(|e| match e {
            LocalQueryError::Unsupported(e) => ApiError::bad_request("QUERY_UNSUPPORTED", e),
            LocalQueryError::OutOfRange => ApiError::validation("start", e.to_string()),
            LocalQueryError::TooLarge => ApiError::bad_request("QUERY_TOO_LARGE", e.to_string()),
            LocalQueryError::Store(e) => e.into(),
        })?
        .into_iter()
        .map(|(metric, points)| RangeSeries {
            metric,
            values: points
                .into_iter()
                .map(|(t, v)| (t as f64 / 1000.0, format_value(v)))
                .collect(),
        })
        .collect();
    Ok(QueryRangeResponse {
        status: "success".into(),
        data: QueryRangeData {
            result_type: "matrix".into(),
            result,
        },
    })
}

/// Prometheus' spelling of a sample value.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_steps_and_encoding() {
        assert_eq!(
            parse_time("start", "1800000000.5").unwrap(),
            1_800_000_000.5
        );
        assert_eq!(parse_time("start", "1970-01-01T00:01:00Z").unwrap(), 60.0);
        assert!(parse_time("start", "soon").is_err());
        assert_eq!(parse_step("15").unwrap(), 15.0);
        assert_eq!(parse_step("1m").unwrap(), 60.0);
        assert_eq!(parse_step("500ms").unwrap(), 0.5);
        assert!(parse_step("5 parsecs").is_err());
    }
}
