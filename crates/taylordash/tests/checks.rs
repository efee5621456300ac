//! Service checks in the real binary: an MQTT heartbeat check fed by the event pipeline from a
//! private Mosquitto broker (no extra connection), and a check's state surviving a restart.
//! The alerts suite of the real binary (`alerts/`) is a module of this test binary.

mod alerts;
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const KEY: &str = "checks-test-key-0123456789";

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("X-API-Key: {KEY}");
    let body = body.map(|b| b.to_string());
    let (status, text) = http_as(addr, Some(&auth), method, path, body.as_deref());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn publish(port: u16, user: &str, password: &str, topic: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut options = rumqttc::MqttOptions::new(
            format!("heartbeat-{}", uuid::Uuid::new_v4()),
            ("127.0.0.1", port),
        );
        options.set_credentials(user, password.to_owned());
        let (client, mut eventloop) = rumqttc::AsyncClient::builder(options).capacity(10).build();
        let envelope = json!({
            "trace_id": uuid::Uuid::new_v4(),
            "ts": "2026-12-01T12:00:00Z",
            "kind": "host.alive",
            "idempotency_key": uuid::Uuid::new_v4().to_string(),
            "payload": {"host": "nas"},
        });
        client
            .publish(
                topic,
                envelope.to_string(),
                rumqttc::PublishOptions::new(rumqttc::QoS::AtLeastOnce),
            )
            .await
            .expect("queue publish");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < deadline, "no PUBACK");
            if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) =
                tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await
            {
                return;
            }
        }
    });
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn mqtt_heartbeats_come_through_the_event_pipeline_and_state_survives_a_restart() {
    let Some(broker) = testsupport::Broker::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let server_cmd = || {
        let mut cmd = taylordash(tmp.path());
        cmd.env("API_KEY", KEY)
            .env("MQTT_HOST", "127.0.0.1")
            .env("MQTT_PORT", broker.port.to_string())
            .env("MQTT_USERNAME", &broker.user)
            .env("MQTT_PASSWORD", &broker.password)
            .env("TAYLORDASH_MQTT_CLIENT_ID", "checks-test")
            .env("TAYLORDASH_LOG", "warn");
        cmd
    };
    let mut server = Server::start(server_cmd());
    wait_for("the server connects to the broker", || {
        let (_, stack) = call(server.addr, "GET", "/api/v1/health/stack", None);
        let text = stack.to_string();
        text.contains("connected to the MQTT broker at") && !text.contains("not connected")
    });
    let (_, project) = call(
        server.addr,
        "POST",
        "/api/v1/projects",
        Some(json!({"name": "lab"})),
    );
    let p = project["id"].as_str().expect("project id").to_owned();
    let (_, component) = call(
        server.addr,
        "POST",
        &format!("/api/v1/projects/{p}/components"),
        Some(json!({"name": "nas", "host": "nas.lan", "icon": "nas"})),
    );
    let c = component["id"].as_str().expect("component id").to_owned();
    let (status, check) = call(
        server.addr,
        "POST",
        &format!("/api/v1/components/{c}/checks"),
        Some(json!({"kind": "mqtt", "interval_secs": 600,
                    "target": {"topic_filter": "tracker/events/lab/+/alive"}})),
    );
    assert_eq!(status, 201, "{check}");
    let id = check["id"].as_str().expect("check id").to_owned();
    assert_eq!(check["status"], "unknown");
    // "Test now" cannot make a device send: it says what arrived (nothing yet).
    let test_now = || {
        call(
            server.addr,
            "POST",
            &format!("/api/v1/checks/{id}/test"),
            None,
        )
    };
    let (status, tested) = test_now();
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["status"], "down");
    assert_eq!(tested["error"], "nothing received yet");

    // A message on another topic does nothing; one on a matching topic makes it up.
    publish(
        broker.port,
        &broker.user,
        &broker.password,
        "tracker/events/lab/nas/rebooted",
    );
    std::thread::sleep(Duration::from_millis(500));
    let (_, still) = call(server.addr, "GET", &format!("/api/v1/checks/{id}"), None);
    assert_eq!(still["status"], "unknown");
    publish(
        broker.port,
        &broker.user,
        &broker.password,
        "tracker/events/lab/nas/alive",
    );
    wait_for("the heartbeat makes the check up", || {
        let (_, c) = call(server.addr, "GET", &format!("/api/v1/checks/{id}"), None);
        c["status"] == "up"
    });
    let (_, tested) = test_now();
    assert_eq!(tested["status"], "up", "{tested}");
    let (_, stored) = call(server.addr, "GET", &format!("/api/v1/checks/{id}"), None);
    assert_eq!(
        tested["last_seen_at"], stored["last_checked_at"],
        "{tested}"
    );
    // The transition is an event like any other: stored and listed.
    wait_for("the check.up event is stored", || {
        let (_, events) = call(
            server.addr,
            "GET",
            "/api/v1/events?topic=tracker/events/checks/up",
            None,
        );
        events.to_string().contains(&id)
    });

    // After a restart the state is still there (and the check is not due for ten minutes).
    server.terminate();
    let server = Server::start(server_cmd());
    let (_, after) = call(server.addr, "GET", &format!("/api/v1/checks/{id}"), None);
    assert_eq!(after["status"], "up", "{after}");
    let (_, history) = call(
        server.addr,
        "GET",
        &format!("/api/v1/checks/{id}/history"),
        None,
    );
    assert_eq!(history["count"], 1, "{history}");
}
