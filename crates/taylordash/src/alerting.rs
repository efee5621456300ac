//! What the alert evaluator reads outside the store: whether the event bus has its broker, and
//! instant PromQL queries — against VictoriaMetrics when configured, else the local subset over
//! the stored samples (`observability::timeseries::local_range`).

use std::sync::Arc;
use std::time::Duration;

use domain::JsonObject;
use observability::outbound;
use observability::timeseries::{TimeSeries, local_range};
use services::alerts::{BoxFuture, LiveSources};
use storage::Store;

pub struct AppSources {
    pub bus: Arc<bus::EventBus>,
    pub timeseries: TimeSeries,
    pub store: Arc<dyn Store>,
}

impl LiveSources for AppSources {
    fn broker_connected(&self) -> Option<bool> {
        let t = self.bus.transport();
        (t.kind() == "mqtt").then(|| t.is_connected())
    }

    fn query<'a>(
        &'a self,
        promql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(JsonObject, f64)>, String>> {
        Box::pin(async move {
            if let Some(vm) = self.timeseries.victoria_metrics() {
                let path = format!(
                    "/api/v1/query?query={}",
                    outbound::encode_query_value(promql)
                );
                let reply = outbound::get(vm, &path, Duration::from_secs(10)).await?;
                let body: serde_json::Value = serde_json::from_slice(&reply.body)
                    .map_err(|e| format!("VictoriaMetrics answered no JSON: {e}"))?;
                if !reply.status.is_success() {
                    return Err(format!(
                        "VictoriaMetrics refused the query: {}",
                        body["error"].as_str().unwrap_or("no reason given")
                    ));
                }
                let mut out = Vec::new();
                for r in body["data"]["result"].as_array().into_iter().flatten() {
                    let labels = r["metric"].as_object().cloned().unwrap_or_default();
                    let value = r["value"][1]
                        .as_str()
                        .and_then(|v| v.parse::<f64>().ok())
                        .filter(|v| v.is_finite());
                    if let Some(v) = value {
                        out.push((labels, v));
                    }
                }
                return Ok(out);
            }
            let now = chrono::Utc::now().timestamp() as f64;
            let series = local_range(&*self.store, promql, now, now, 1.0)
                .await
                .map_err(|e| e.to_string())?;
            Ok(series
                .into_iter()
                .filter_map(|(labels, points)| {
                    let (_, v) = points.last().copied()?;
                    let labels: JsonObject = labels
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect();
                    v.is_finite().then_some((labels, v))
                })
                .collect())
        })
    }
}
