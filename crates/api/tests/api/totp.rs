//! Two-factor sign-in (TOTP): enrolment with a confirmation code, the two-step login, codes
//! used once, recovery codes, throttling of guesses, the admins-must policy, an admin's reset,
//! and turning password sign-in off with a break-glass account.

use services::identity::totp_code;

use crate::support::*;

/// The code an authenticator app shows for `secret` at the app's clock, `steps` steps later.
fn code(app: &TestApp, secret: &str, steps: i64) -> String {
    let bytes = totp_code::base32_decode(secret).expect("base32");
    let step = totp_code::step_at(app.clock.clock().now().timestamp()) + steps;
    totp_code::hotp(&bytes, u64::try_from(step).expect("step"))
}

/// Turns TOTP on for `name` (signed in with `token`); returns (secret, recovery codes).
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let me = Cred::Bearer(token.to_owned());
    let started = app
        .call_as(
            &me,
            Method::POST,
            "/api/v1/auth/me/totp",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.headers[header::CACHE_CONTROL], "no-store");
    let secret = started.str("secret");
    let uri = started.str("otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/TaylorDash%3A"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    let wrong = app
        .call_as(
            &me,
            Method::POST,
            "/api/v1/auth/me/totp/confirm",
            Some(json!({"code": "000000"})),
        )
        .await;
    if code(app, &secret, 0) != "000000" {
        wrong.assert_error(StatusCode::UNAUTHORIZED, "INVALID_CODE");
    }
    let confirmed = app
        .call_as(
            &me,
            Method::POST,
            "/api/v1/auth/me/totp/confirm",
            Some(json!({"code": code(app, &secret, 0)})),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let codes: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn second_step(app: &TestApp, challenge: &str, code: &str) -> Reply {
    app.call_as(
        &Cred::Anonymous,
        Method::POST,
        "/api/v1/auth/login/second-factor",
        Some(json!({"challenge_token": challenge, "code": code})),
    )
    .await
}

/// Logs in with the password; expects the second-step challenge and returns its token.
async fn challenge(app: &TestApp, name: &str, step: &str) -> String {
    let r = app.login_reply(name, PASSWORD).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["second_factor"], step);
    assert!(r.body.get("session_token").is_none(), "{}", r.body);
    assert!(!r.headers.contains_key(header::SET_COOKIE));
    r.str("challenge_token")
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.get(&format!("/api/v1/audit?action={action}"))
        .await
        .body["total"]
        .as_i64()
        .expect("total")
}

async fn a_second_factor_guards_the_password(app: TestApp) {
    app.user("vic", "viewer").await;
    let token = app.login("vic").await;
    let (secret, recovery) = enrol(&app, &token).await;
    let status = app.me(token.clone()).await;
    assert_eq!(status.status, StatusCode::OK);
    let status = app
        .call_as(
            &Cred::Bearer(token.clone()),
            Method::GET,
            "/api/v1/auth/me/totp",
            None,
        )
        .await;
    assert_eq!(
        status.body,
        json!({"enabled": true, "pending": false, "recovery_codes_left": 10, "required": false})
    );
    // The password alone is only half a sign-in; the challenge is no session.
    let pending = challenge(&app, "vic", "totp").await;
    app.me(pending.clone())
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    second_step(&app, &pending, "12345x")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CODE");
    // The code confirmed at enrolment was used: it does not sign in.
    second_step(&app, &pending, &code(&app, &secret, 0))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CODE");
    app.clock.advance(chrono::Duration::seconds(30));
    let now = code(&app, &secret, 0);
    let done = second_step(&app, &pending, &now).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body["recovery_codes"].is_null());
    let session = done.str("session_token");
    assert_eq!(app.me(session).await.body["username"], "vic");
    // Used once: the challenge, and the code.
    second_step(&app, &pending, &now)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "SIGN_IN_EXPIRED");
    let again = challenge(&app, "vic", "totp").await;
    second_step(&app, &again, &now)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CODE");
    // A recovery code signs in once, whatever its spelling.
    let spelled = recovery[3].to_uppercase().replace('-', " ");
    let by_recovery = second_step(&app, &again, &spelled).await;
    assert_eq!(by_recovery.status, StatusCode::OK, "{}", by_recovery.body);
    let third = challenge(&app, "vic", "totp").await;
    second_step(&app, &third, &recovery[3])
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CODE");
    // Expired challenges are refused.
    app.clock.advance(chrono::Duration::minutes(6));
    second_step(&app, &third, &code(&app, &secret, 0))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "SIGN_IN_EXPIRED");

    let trail = app.get("/api/v1/audit?action=login_success&limit=2").await;
    let methods: Vec<&Value> = trail.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["details"]["second_factor"])
        .collect();
    assert_eq!(methods, [&json!("recovery_code"), &json!("totp")]);
    assert_eq!(audit_count(&app, "totp_enabled").await, 1);
    assert!(audit_count(&app, "second_factor_failed").await >= 4);
    // Nothing secret is stored in clear: recovery codes are hashes.
    let stored = app.raw_text("SELECT code_hash FROM recovery_codes").await;
    assert_eq!(stored.len(), 10);
    assert!(
        !stored
            .iter()
            .any(|h| recovery.iter().any(|c| h.contains(c.as_str())))
    );

    // New recovery codes replace the old; turning it off needs the password.
    let me = Cred::Bearer(token);
    let renewed = app
        .call_as(
            &me,
            Method::POST,
            "/api/v1/auth/me/totp/recovery-codes",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    app.call_as(
        &me,
        Method::POST,
        "/api/v1/auth/me/totp/disable",
        Some(json!({"password": "not-the-password-1"})),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "INVALID_CURRENT_PASSWORD");
    let off = app
        .call_as(
            &me,
            Method::POST,
            "/api/v1/auth/me/totp/disable",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(
        app.login_reply("vic", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(audit_count(&app, "totp_disabled").await, 1);
}

async fn code_guesses_are_throttled_like_passwords(app: TestApp) {
    app.user("eve", "editor").await;
    let token = app.login("eve").await;
    let (secret, _) = enrol(&app, &token).await;
    app.clock.advance(chrono::Duration::seconds(30));
    let pending = challenge(&app, "eve", "totp").await;
    let right = code(&app, &secret, 0);
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    for _ in 0..4 {
        second_step(&app, &pending, wrong)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CODE");
    }
    // The fifth wrong code ends the challenge, and the username is locked like after five
    // wrong passwords: the right password and code no longer help.
    second_step(&app, &pending, wrong)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "SIGN_IN_EXPIRED");
    second_step(&app, &pending, &right)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "SIGN_IN_EXPIRED");
    app.login_reply("eve", PASSWORD)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    assert_eq!(audit_count(&app, "second_factor_failed").await, 5);
}

async fn admins_can_be_required_to_use_a_second_factor(app: TestApp) {
    app.user("ada", "admin").await;
    app.user("vic", "viewer").await;
    let vic = app.login("vic").await;
    enrol(&app, &vic).await;
    let set = app
        .put(
            "/api/v1/auth/settings",
            json!({"second_factor_for_admins": true}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["second_factor_for_admins"], true);
    assert_eq!(audit_count(&app, "sign_in_settings_changed").await, 1);
    // An admin without a second factor sets it up before any session exists.
    let pending = challenge(&app, "ada", "enrol").await;
    let enrol = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login/enrol",
            Some(json!({"challenge_token": pending})),
        )
        .await;
    assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.body);
    let secret = enrol.str("secret");
    let done = second_step(&app, &pending, &code(&app, &secret, 0)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        done.body["recovery_codes"].as_array().map(Vec::len),
        Some(10)
    );
    let ada = Cred::Bearer(done.str("session_token"));
    let status = app
        .call_as(&ada, Method::GET, "/api/v1/auth/me/totp", None)
        .await;
    assert_eq!(status.body["required"], true);
    app.call_as(
        &ada,
        Method::POST,
        "/api/v1/auth/me/totp/disable",
        Some(json!({"password": PASSWORD})),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "SECOND_FACTOR_REQUIRED");
    // Next time: the code, not enrolment.
    challenge(&app, "ada", "totp").await;

    // A lost phone: an admin resets vic's second factor; vic signs in with the password.
    let vic_id = app
        .get("/api/v1/auth/users")
        .await
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "vic")
        .expect("vic")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let reset = app
        .call_as(
            &ada,
            Method::DELETE,
            &format!("/api/v1/auth/users/{vic_id}/totp"),
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    app.call_as(
        &ada,
        Method::DELETE,
        &format!("/api/v1/auth/users/{vic_id}/totp"),
        None,
    )
    .await
    .assert_error(StatusCode::CONFLICT, "NO_TOTP");
    assert_eq!(
        app.login_reply("vic", PASSWORD).await.status,
        StatusCode::OK
    );
    let trail = app.get("/api/v1/audit?action=totp_disabled").await;
    assert_eq!(trail.body["entries"][0]["actor_name"], "ada");
    assert_eq!(trail.body["entries"][0]["target_name"], "vic");
}

async fn password_sign_in_can_be_turned_off_with_a_break_glass_account(app: TestApp) {
    // Without single sign-on, turning passwords off would lock everyone out: refused.
    app.put("/api/v1/auth/settings", json!({"password_sign_in": false}))
        .await
        .assert_error(StatusCode::CONFLICT, "NO_SINGLE_SIGN_ON");
    app.put("/api/v1/auth/settings", json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "NO_UPDATES");
    let app = TestApp::configured(
        app.db,
        AuthConfig {
            break_glass: vec!["Root".to_owned()],
            ..forward_auth_config()
        },
    );
    app.user("root", "admin").await;
    app.user("vic", "viewer").await;
    let off = app
        .put("/api/v1/auth/settings", json!({"password_sign_in": false}))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(off.body["forward_auth"], true);
    assert_eq!(off.body["break_glass_users"], json!(["Root"]));
    let options = app
        .call_as(
            &Cred::Anonymous,
            Method::GET,
            "/api/v1/auth/sign-in-options",
            None,
        )
        .await;
    assert_eq!(
        options.body,
        json!({"password": false, "forward_auth": true, "oidc": null})
    );
    app.login_reply("vic", PASSWORD)
        .await
        .assert_error(StatusCode::FORBIDDEN, "PASSWORD_SIGN_IN_DISABLED");
    assert_eq!(
        app.login_reply("ROOT", PASSWORD).await.status,
        StatusCode::OK,
        "break-glass"
    );
    // Forward-auth users are not affected.
    let r = app
        .call_as(
            &Cred::Proxy {
                user: "vic".to_owned(),
                groups: String::new(),
                peer: PROXY,
            },
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

on_both!(
    a_second_factor_guards_the_password,
    code_guesses_are_throttled_like_passwords,
    admins_can_be_required_to_use_a_second_factor,
    password_sign_in_can_be_turned_off_with_a_break_glass_account,
);
