//! The HTTP server loop over a real loopback listener, with short limits: slow or silent
//! clients are cut, slow but real ones are not, and the connection cap refuses clearly.

use std::time::{Duration, Instant};

use api::server::{ServerLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{KEY, TestApp};

const HEAD_LIMIT: Duration = Duration::from_millis(800);
const BODY_LIMIT: Duration = Duration::from_millis(800);

/// Serves a test app with short limits; returns its address and the app (kept alive).
async fn start(max_connections: usize) -> (std::net::SocketAddr, TestApp) {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let limits = ServerLimits {
        header_timeout: HEAD_LIMIT,
        body_chunk_timeout: BODY_LIMIT,
        max_connections,
        shutdown_delay: Duration::ZERO,
    };
    let metrics = app.state.metrics.server();
    let router = app.router.clone();
    tokio::spawn(serve(
        listener,
        router,
        limits,
        metrics,
        std::future::pending(),
    ));
    (addr, app)
}

/// Reads until the peer closes (or `limit` passes); returns what arrived and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

fn request(method: &str, path: &str, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nx-api-key: {KEY}\r\n{extra}\r\n")
}

#[tokio::test]
async fn silent_and_half_sent_heads_are_cut() {
    let (addr, _app) = start(16).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut partial = TcpStream::connect(addr).await.expect("connect");
    partial
        .write_all(b"GET /health/live HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .expect("write");
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a connection that sends nothing is closed");
    let (_, closed) = read_until_closed(&mut partial, Duration::from_secs(5)).await;
    assert!(
        closed,
        "a connection that never finishes its head is closed"
    );
    let waited = started.elapsed();
    assert!(
        waited >= HEAD_LIMIT && waited < HEAD_LIMIT * 4,
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_but_used_ones_are_not() {
    let (addr, _app) = start(16).await;
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    // Requests closer together than the limit keep the connection, across several limits.
    for _ in 0..4 {
        conn.write_all(request("GET", "/health/live", "").as_bytes())
            .await
            .expect("write");
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
            .await
            .expect("response in time")
            .expect("read");
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        tokio::time::sleep(HEAD_LIMIT / 2).await;
    }
    // Then idle: closed.
    let (_, closed) = read_until_closed(&mut conn, Duration::from_secs(5)).await;
    assert!(closed, "an idle keep-alive connection is closed");
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_a_slow_one_is_served() {
    let (addr, _app) = start(16).await;
    let body = r#"{"name": "slow but real"}"#;

    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    let head = request(
        "POST",
        "/api/v1/projects",
        &format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ),
    );
    stalled
        .write_all(format!("{head}{}", &body[..5]).as_bytes())
        .await
        .expect("write");
    let (reply, _) = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"code\":\"REQUEST_TIMEOUT\""), "{reply}");

    // The same body a few bytes at a time, each pause under the limit, in all well over it.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    for chunk in body.as_bytes().chunks(5) {
        tokio::time::sleep(BODY_LIMIT / 2).await;
        slow.write_all(chunk).await.expect("write");
    }
    assert!(started.elapsed() > BODY_LIMIT * 2);
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf))
        .await
        .expect("response in time")
        .expect("read");
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
}

#[tokio::test]
async fn connections_over_the_cap_get_a_clear_503() {
    let (addr, app) = start(2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        // A used connection, so it is surely accepted and counted before the next one.
        c.write_all(request("GET", "/health/live", "").as_bytes())
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let _ = c.read(&mut buf).await.expect("read");
        held.push(c);
    }
    let mut third = TcpStream::connect(addr).await.expect("connect");
    let (reply, closed) = read_until_closed(&mut third, Duration::from_secs(3)).await;
    assert!(closed, "the refused connection is closed");
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(
        reply.contains("\"code\":\"TOO_MANY_CONNECTIONS\""),
        "{reply}"
    );
    assert!(reply.contains("retry-after: 1"), "{reply}");
    let metrics = app.get("/metrics").await;
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(
        text.contains("taylordash_http_connections_refused_total 1"),
        "{text}"
    );

    // Once one closes, a new connection is served again.
    drop(held.pop());
    let mut again = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(request("GET", "/health/live", "").as_bytes())
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let n = c.read(&mut buf).await.unwrap_or(0);
        if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200") {
            again = Some(c);
            break;
        }
    }
    assert!(again.is_some(), "a freed slot serves a new connection");
}

#[tokio::test]
async fn event_streams_outlive_the_head_and_body_limits() {
    let (addr, _app) = start(16).await;
    let mut sse = TcpStream::connect(addr).await.expect("connect");
    sse.write_all(
        request(
            "GET",
            "/api/v1/events/stream",
            "accept: text/event-stream\r\n",
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let (head, closed) = read_until_closed(&mut sse, HEAD_LIMIT * 4).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !closed,
        "an SSE stream is not cut by the head or body limits"
    );
}

/// Requests hyper refuses before the router sees them get the router's error shape: JSON with
/// `detail` and a stable `code`, and the same security headers as any other response.
#[tokio::test]
async fn unparseable_requests_get_json_errors_with_security_headers() {
    let (addr, _app) = start(16).await;
    let mut normal = TcpStream::connect(addr).await.expect("connect");
    normal
        .write_all(request("GET", "/health/live", "connection: close\r\n").as_bytes())
        .await
        .expect("send");
    let (normal, _) = read_until_closed(&mut normal, Duration::from_secs(5)).await;
    let security: Vec<&str> = normal
        .lines()
        .filter_map(|l| l.split_once(':').map(|(name, _)| name))
        .filter(|name| {
            [
                "content-security-policy",
                "x-content-type-options",
                "x-frame-options",
                "referrer-policy",
                "permissions-policy",
                "cross-origin-opener-policy",
            ]
            .contains(name)
        })
        .collect();
    assert_eq!(security.len(), 6, "{normal}");

    let long_target = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..120)
            .map(|i| format!("x-h{i}: y\r\n"))
            .collect::<String>()
    );
    let cases: [(&[u8], &str, &str); 5] = [
        (b"GARBAGE\r\n\r\n", "400", "MALFORMED_REQUEST"),
        (
            b"GET /a\x01b HTTP/1.1\r\nhost: x\r\n\r\n",
            "400",
            "MALFORMED_REQUEST",
        ),
        (
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
            "400",
            "MALFORMED_REQUEST",
        ),
        (long_target.as_bytes(), "414", "URI_TOO_LONG"),
        (many_headers.as_bytes(), "431", "HEADERS_TOO_LARGE"),
    ];
    for (bytes, status, code) in cases {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(bytes).await.expect("send");
        let (reply, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(closed, "{code}: connection left open");
        assert!(reply.starts_with(&format!("HTTP/1.1 {status} ")), "{reply}");
        let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains("content-type: application/json"), "{head}");
        for name in &security {
            assert!(
                head.contains(&format!("\n{name}: ")),
                "{code}: no {name} in {head}"
            );
        }
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(json["code"], code, "{body}");
        assert!(
            json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }

    // After a good request on a kept-alive connection, a bad one still gets JSON.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let both = format!("{}GARBAGE\r\n\r\n", request("GET", "/health/live", ""));
    stream.write_all(both.as_bytes()).await.expect("send");
    let (reply, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
    assert!(reply.contains("\"code\":\"MALFORMED_REQUEST\""), "{reply}");
}

/// After the shutdown signal and for the configured delay, the server still serves (also new
/// connections) but fails readiness and closes every connection after its response, so a load
/// balancer takes it out of rotation before it stops accepting; then the listener closes.
#[tokio::test]
async fn shutdown_drains_marked_not_ready_before_closing_the_listener() {
    const DELAY: Duration = Duration::from_millis(1500);
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let limits = ServerLimits {
        shutdown_delay: DELAY,
        ..ServerLimits::default()
    };
    let (signal, shutdown) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        app.router.clone(),
        limits,
        app.state.metrics.server(),
        async move {
            let _ = shutdown.await;
        },
    ));
    let ask = |path: &'static str| async move {
        let mut conn = TcpStream::connect(addr)
            .await
            .expect("connect while serving");
        conn.write_all(request("GET", path, "").as_bytes())
            .await
            .expect("write");
        // Keep-alive was not asked to end: a closed connection is the server's doing.
        read_until_closed(&mut conn, Duration::from_secs(5)).await
    };
    let mut keep_alive = TcpStream::connect(addr).await.expect("connect");
    keep_alive
        .write_all(request("GET", "/health/ready", "").as_bytes())
        .await
        .expect("write");
    let mut buf = [0u8; 4096];
    let n = keep_alive.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let started = Instant::now();
    signal.send(()).expect("server running");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (ready, closed) = ask("/health/ready").await;
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.contains("SHUTTING_DOWN"), "{ready}");
    assert!(closed, "the connection closes after the response");
    let (live, closed) = ask("/health/live").await;
    assert!(live.starts_with("HTTP/1.1 200"), "still serving: {live}");
    assert!(
        live.to_ascii_lowercase().contains("connection: close"),
        "{live}"
    );
    assert!(closed, "the connection closes after the response");
    // The connection opened before the signal is served once more, then closed.
    keep_alive
        .write_all(request("GET", "/health/live", "").as_bytes())
        .await
        .expect("write");
    let (again, closed) = read_until_closed(&mut keep_alive, Duration::from_secs(5)).await;
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    assert!(
        closed,
        "a keep-alive connection is closed after its next response"
    );
    assert!(
        started.elapsed() < DELAY,
        "checked within the delay ({:?}); slow machine?",
        started.elapsed()
    );

    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops after the delay")
        .expect("task")
        .expect("served");
    assert!(
        started.elapsed() >= DELAY,
        "stopped after {:?}",
        started.elapsed()
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed after the delay"
    );
}
