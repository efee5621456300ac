//! Passkeys (WebAuthn) through the API with a software authenticator (a real P-256 key with
//! ring, answers built byte for byte as the specification lays them out): registration,
//! passwordless sign-in, a passkey as the second step after a password, management — and the
//! refusals: a replayed challenge, another origin, a tampered signature, no user verification,
//! a counter that did not grow, someone else's passkey.

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use services::identity::webauthn::{b64, b64_encode};
use sha2::{Digest, Sha256};

use crate::support::*;

/// What `TestApp::builder` sends as `Host`: the relying party is `localhost`.
const ORIGIN: &str = "http://localhost:8000";
const RP_ID: &str = "localhost";

/// An authenticator holding one ES256 credential.
struct Authenticator {
    key: EcdsaKeyPair,
    credential_id: Vec<u8>,
    counter: u32,
}

impl Authenticator {
    fn new() -> Authenticator {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key pair");
        let mut credential_id = vec![0u8; 24];
        ring::rand::SecureRandom::fill(&rng, &mut credential_id).expect("random");
        Authenticator {
            key,
            credential_id,
            counter: 0,
        }
    }

    fn id(&self) -> String {
        b64_encode(&self.credential_id)
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(&point[1..33]);
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(&point[33..65]);
        cose
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> String {
        b64_encode(
            json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
                .to_string()
                .as_bytes(),
        )
    }

    /// `navigator.credentials.create`'s answer to `options`.
    fn register(&self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("challenge");
        let mut auth = Sha256::digest(RP_ID.as_bytes()).to_vec();
        auth.push(0x45); // user present, verified, attested credential data
        auth.extend_from_slice(&self.counter.to_be_bytes());
        auth.extend_from_slice(&[0u8; 16]);
        auth.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth.extend_from_slice(&self.credential_id);
        auth.extend_from_slice(&self.cose_key());
        // {"fmt": "none", "attStmt": {}, "authData": auth}
        let mut object = vec![0xa3, 0x63];
        object.extend_from_slice(b"fmt");
        object.push(0x64);
        object.extend_from_slice(b"none");
        object.push(0x67);
        object.extend_from_slice(b"attStmt");
        object.push(0xa0);
        object.push(0x68);
        object.extend_from_slice(b"authData");
        object.extend_from_slice(&[0x59, (auth.len() >> 8) as u8, auth.len() as u8]);
        object.extend_from_slice(&auth);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "clientDataJSON": Self::client_data("webauthn.create", challenge, ORIGIN),
                "attestationObject": b64_encode(&object),
            },
        })
    }

    /// `navigator.credentials.get`'s answer to `options`, with these flags, the counter moved
    /// on by one, from `origin`.
    fn assert(&mut self, options: &Value, flags: u8, origin: &str) -> Value {
        self.counter += 1;
        let challenge = options["challenge"].as_str().expect("challenge");
        let mut auth = Sha256::digest(RP_ID.as_bytes()).to_vec();
        auth.push(flags);
        auth.extend_from_slice(&self.counter.to_be_bytes());
        let client_data = Self::client_data("webauthn.get", challenge, origin);
        let mut message = auth.clone();
        message.extend_from_slice(&Sha256::digest(b64(&client_data).expect("b64")));
        let signature = self.key.sign(&SystemRandom::new(), &message).expect("sign");
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "clientDataJSON": client_data,
                "authenticatorData": b64_encode(&auth),
                "signature": b64_encode(signature.as_ref()),
                "userHandle": null,
            },
        })
    }
}

const PRESENT: u8 = 0x01;
const VERIFIED: u8 = 0x05;

async fn register(app: &TestApp, cred: &Cred, authenticator: &Authenticator, name: &str) -> Reply {
    let options = app
        .call_as(cred, Method::POST, "/api/v1/auth/me/passkeys/options", None)
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let credential = authenticator.register(&options.body["public_key"]);
    app.call_as(
        cred,
        Method::POST,
        "/api/v1/auth/me/passkeys",
        Some(json!({"name": name, "credential": credential})),
    )
    .await
}

async fn login_options(app: &TestApp) -> Value {
    let r = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login/passkey/options",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["public_key"].clone()
}

async fn passkey_login(app: &TestApp, credential: Value) -> Reply {
    app.call_as(
        &Cred::Anonymous,
        Method::POST,
        "/api/v1/auth/login/passkey",
        Some(json!({"credential": credential})),
    )
    .await
}

async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/audit?action={action}&limit=100"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["entries"].as_array().expect("entries").clone()
}

async fn passkeys_register_and_sign_in_without_a_password(app: TestApp) {
    let alice_id = app.user("alice", "viewer").await;
    let alice = Cred::Bearer(app.login("alice").await);
    let mut key = Authenticator::new();

    let options = app
        .call_as(
            &alice,
            Method::POST,
            "/api/v1/auth/me/passkeys/options",
            None,
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    assert_eq!(options.headers[header::CACHE_CONTROL], "no-store");
    let o = &options.body["public_key"];
    assert_eq!(o["rp"]["id"], RP_ID, "{o}");
    assert_eq!(o["user"]["name"], "alice");
    assert_eq!(
        b64(o["user"]["id"].as_str().expect("user id")).expect("b64"),
        uuid::Uuid::parse_str(&alice_id)
            .expect("uuid")
            .as_bytes()
            .to_vec()
    );
    assert_eq!(
        b64(o["challenge"].as_str().expect("challenge"))
            .expect("b64")
            .len(),
        32
    );
    assert_eq!(o["pubKeyCredParams"][0]["alg"], -7);
    assert_eq!(o["attestation"], "none");

    let credential = key.register(o);
    let body = json!({"name": "  Laptop  ", "credential": credential});
    let made = app
        .call_as(
            &alice,
            Method::POST,
            "/api/v1/auth/me/passkeys",
            Some(body.clone()),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["name"], "Laptop");
    assert_eq!(made.body["algorithm"], -7);
    let passkey_id = made.str("id");
    // The challenge works once: the same answer again is refused, nothing stored twice.
    app.call_as(&alice, Method::POST, "/api/v1/auth/me/passkeys", Some(body))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "SIGN_IN_EXPIRED");
    // Registered already (to anyone): the options exclude it, a second registration is refused.
    let again = register(&app, &alice, &key, "Again").await;
    again.assert_error(StatusCode::CONFLICT, "PASSKEY_EXISTS");
    let list = app
        .call_as(&alice, Method::GET, "/api/v1/auth/me/passkeys", None)
        .await;
    assert_eq!(list.body["count"], 1, "{}", list.body);
    assert_eq!(audit(&app, "passkey_added").await.len(), 1);

    // Passwordless: any passkey of this site, the person verified.
    let options = login_options(&app).await;
    assert_eq!(options["rpId"], RP_ID);
    assert_eq!(options["userVerification"], "required");
    let answer = key.assert(&options, VERIFIED, ORIGIN);
    let r = passkey_login(&app, answer.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["username"], "alice");
    let me = app.me(r.str("session_token")).await;
    assert_eq!(me.body["signed_in_by"], "passkey", "{}", me.body);
    let signed_in = audit(&app, "login_success").await;
    assert!(
        signed_in
            .iter()
            .any(|e| e["details"]["method"] == "passkey"),
        "{signed_in:?}"
    );
    // The same answer again: its challenge is used up.
    passkey_login(&app, answer)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "SIGN_IN_EXPIRED");

    // Refusals, each on a fresh challenge.
    let options = login_options(&app).await;
    let other_site = key.assert(&options, VERIFIED, "https://evil.example");
    passkey_login(&app, other_site)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "PASSKEY_WRONG_ORIGIN");
    let options = login_options(&app).await;
    let mut tampered = key.assert(&options, VERIFIED, ORIGIN);
    let mut auth = b64(tampered["response"]["authenticatorData"]
        .as_str()
        .expect("auth"))
    .expect("b64");
    auth[36] ^= 0x40;
    tampered["response"]["authenticatorData"] = json!(b64_encode(&auth));
    passkey_login(&app, tampered)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "PASSKEY_INVALID");
    let options = login_options(&app).await;
    let unverified = key.assert(&options, PRESENT, ORIGIN);
    passkey_login(&app, unverified)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "PASSKEY_NOT_VERIFIED");
    // A copy of the key whose counter is where the server saw it last (1): not grown.
    let options = login_options(&app).await;
    key.counter = 0;
    let cloned = key.assert(&options, VERIFIED, ORIGIN);
    passkey_login(&app, cloned)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "PASSKEY_CLONED");
    let options = login_options(&app).await;
    let unknown = Authenticator::new().assert(&options, VERIFIED, ORIGIN);
    passkey_login(&app, unknown)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "PASSKEY_UNKNOWN");
    let failed = audit(&app, "login_failed").await;
    assert!(failed.len() >= 4, "refusals are audited: {failed:?}");
    // Garbage is a clear 400, not a 500.
    let options = login_options(&app).await;
    let mut garbage = key.assert(&options, VERIFIED, ORIGIN);
    garbage["response"]["clientDataJSON"] = json!("!!!");
    passkey_login(&app, garbage)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "PASSKEY_MALFORMED");

    // A disabled account cannot sign in with its passkey.
    key.counter = 100;
    app.put(
        &format!("/api/v1/auth/users/{alice_id}"),
        json!({"is_active": false}),
    )
    .await;
    let options = login_options(&app).await;
    let answer = key.assert(&options, VERIFIED, ORIGIN);
    passkey_login(&app, answer)
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCOUNT_DISABLED");
    app.put(
        &format!("/api/v1/auth/users/{alice_id}"),
        json!({"is_active": true}),
    )
    .await;
    // Deactivation ended alice's sessions: back in with the passkey.
    let options = login_options(&app).await;
    let r = passkey_login(&app, key.assert(&options, VERIFIED, ORIGIN)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let alice = Cred::Bearer(r.str("session_token"));

    // Rename and remove; someone else's passkey is not found.
    let bob = Cred::Bearer({
        app.user("bob", "editor").await;
        app.login("bob").await
    });
    let path = format!("/api/v1/auth/me/passkeys/{passkey_id}");
    app.call_as(&bob, Method::DELETE, &path, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.call_as(&bob, Method::PUT, &path, Some(json!({"name": "mine"})))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.call_as(&alice, Method::PUT, &path, Some(json!({"name": ""})))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let renamed = app
        .call_as(&alice, Method::PUT, &path, Some(json!({"name": "Phone"})))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Phone");
    let gone = app.call_as(&alice, Method::DELETE, &path, None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    let options = login_options(&app).await;
    let answer = key.assert(&options, VERIFIED, ORIGIN);
    passkey_login(&app, answer)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "PASSKEY_UNKNOWN");
    assert_eq!(audit(&app, "passkey_removed").await.len(), 1);
    assert_eq!(audit(&app, "passkey_renamed").await.len(), 1);
}

async fn a_passkey_is_the_second_step_after_a_password(app: TestApp) {
    app.user("carol", "editor").await;
    let carol = Cred::Bearer(app.login("carol").await);
    let mut key = Authenticator::new();
    let made = register(&app, &carol, &key, "Key").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);

    let r = app.login_reply("carol", PASSWORD).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["second_factor"], "passkey");
    assert_eq!(r.body["passkey"], true);
    let token = r.str("challenge_token");
    let code = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login/second-factor",
            Some(json!({"challenge_token": token, "code": "123456"})),
        )
        .await;
    code.assert_error(StatusCode::BAD_REQUEST, "PASSKEY_NEEDED");

    let options = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login/second-factor/passkey/options",
            Some(json!({"challenge_token": token})),
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let o = options.body["public_key"].clone();
    assert_eq!(o["allowCredentials"][0]["id"], key.id(), "{o}");
    // Another account's passkey does not answer for carol.
    app.user("dave", "viewer").await;
    let dave = Cred::Bearer(app.login("dave").await);
    let mut daves = Authenticator::new();
    assert_eq!(
        register(&app, &dave, &daves, "Dave's").await.status,
        StatusCode::CREATED
    );
    let finish = |credential: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call_as(
                &Cred::Anonymous,
                Method::POST,
                "/api/v1/auth/login/second-factor/passkey",
                Some(json!({"challenge_token": token, "credential": credential})),
            )
            .await
        }
    };
    finish(daves.assert(&o, PRESENT, ORIGIN))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "PASSKEY_UNKNOWN");
    // As a second factor, presence is enough (the password was the first).
    let done = finish(key.assert(&o, PRESENT, ORIGIN)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let me = app.me(done.str("session_token")).await;
    assert_eq!(me.body["username"], "carol");
    assert_eq!(me.body["signed_in_by"], "password");
    // The sign-in is used up.
    finish(key.assert(&o, PRESENT, ORIGIN))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "SIGN_IN_EXPIRED");
    let signed_in = audit(&app, "login_success").await;
    assert!(
        signed_in
            .iter()
            .any(|e| e["details"]["second_factor"] == "passkey"),
        "{signed_in:?}"
    );

    // An admin's reset of the second factor removes the passkeys: the password alone again.
    let carol_id = me.str("id");
    let reset = app
        .delete(&format!("/api/v1/auth/users/{carol_id}/totp"))
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    assert_eq!(
        app.login_reply("carol", PASSWORD).await.status,
        StatusCode::OK
    );
}

on_both!(
    passkeys_register_and_sign_in_without_a_password,
    a_passkey_is_the_second_step_after_a_password,
);
