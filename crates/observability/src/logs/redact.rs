//! Secret redaction, applied to every log record before it is printed or stored: values of
//! fields whose name says they are secret, and `name=value` / `name: value` / `Bearer value`
//! spans inside free text (messages, details, URLs with `?token=`).

use std::borrow::Cow;

pub const REDACTED: &str = "[REDACTED]";

/// Paths whose next segment is a secret: a service check's push URL
/// (`/api/v1/checks/push/<token>`) and a public status page's link (`/status/<token>`, also
/// under `/api/v1`). `/status/` counts only after something other than a letter (the start,
/// a space, a quote, `v1`, a port), so a topic such as `tracker/events/status/...` keeps its
/// words.
const SECRET_PATHS: &[&str] = &["/checks/push/", "/status/"];

/// Words that mark a field name, or a `name=value` pair in text, as secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "access_key",
    "session_key",
];

/// Is a field with this name secret? `key` alone or as a suffix counts (`api_key`, `x-api-key`),
/// except the event idempotency key, which is an identifier.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if name == "idempotency_key" {
        return false;
    }
    name == "key"
        || name.ends_with("_key")
        || name.ends_with("-key")
        || SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// `text` with the value of every `secret=value`, `secret: value`, `"secret":"value"` and
/// `Bearer value` / `Basic value` replaced by [`REDACTED`].
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    // Every rule below needs one of these bytes (a `name=value`/`name: value` separator, the
    // space after `Bearer`, a path's slash); most field values (a method, a status, an id) have
    // none, and need no search at all.
    if !bytes.iter().any(|b| matches!(b, b'=' | b':' | b' ' | b'/')) {
        return Cow::Borrowed(text);
    }
    let lower = text.to_ascii_lowercase();
    // Byte ranges of values to replace, in order, not overlapping.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let add = |start: usize, end: usize, spans: &mut Vec<(usize, usize)>| {
        if end > start && !spans.iter().any(|&(s, e)| start < e && s < end) {
            spans.push((start, end));
        }
    };
    // `name=value` / `name: value` need a separator.
    let separated = bytes.iter().any(|b| matches!(b, b'=' | b':'));
    for word in SECRET_WORDS.iter().chain(&["key"]).filter(|_| separated) {
        let mut from = 0;
        while let Some(found) = lower[from..].find(word) {
            let at = from + found;
            from = at + word.len();
            let mut i = at + word.len();
            // Optional closing quote of a JSON key, spaces, then `=` or `:`.
            if bytes.get(i) == Some(&b'"') {
                i += 1;
            }
            while bytes.get(i) == Some(&b' ') {
                i += 1;
            }
            if !matches!(bytes.get(i), Some(b'=' | b':')) {
                continue;
            }
            // `key` alone only as a whole word ending a name (`api_key=`, `key=`), not `monkey=`.
            if *word == "key" && at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            i += 1;
            while bytes.get(i) == Some(&b' ') {
                i += 1;
            }
            let quoted = bytes.get(i) == Some(&b'"');
            if quoted {
                i += 1;
            }
            let start = i;
            while let Some(&b) = bytes.get(i) {
                let stop = if quoted {
                    b == b'"'
                } else {
                    b.is_ascii_whitespace() || matches!(b, b'&' | b'"' | b',' | b';' | b'}' | b')')
                };
                if stop {
                    break;
                }
                i += 1;
            }
            // A scheme word (`Bearer abc`) after the separator: the credential follows it.
            let value = &lower[start..i];
            if (value == "bearer" || value == "basic") && bytes.get(i) == Some(&b' ') {
                continue;
            }
            add(start, i, &mut spans);
        }
    }
    for scheme in ["bearer ", "basic "] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(scheme) {
            let start = from + found + scheme.len();
            from = start;
            let mut i = start;
            while let Some(&b) = bytes.get(i) {
                if b.is_ascii_whitespace() || matches!(b, b'"' | b',' | b';') {
                    break;
                }
                i += 1;
            }
            add(start, i, &mut spans);
        }
    }
    // A push check's URL and a status page's link carry their secret as a path segment.
    for path in SECRET_PATHS {
        let mut from = 0;
        while let Some(found) = lower[from..].find(path) {
            let at = from + found;
            let start = at + path.len();
            from = start;
            if *path == "/status/" && at > 0 && bytes[at - 1].is_ascii_alphabetic() {
                continue;
            }
            let mut i = start;
            while let Some(&b) = bytes.get(i) {
                if b.is_ascii_whitespace() || matches!(b, b'/' | b'?' | b'"' | b',' | b';') {
                    break;
                }
                i += 1;
            }
            add(start, i, &mut spans);
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (s, e) in spans {
        out.push_str(&text[last..s]);
        out.push_str(REDACTED);
        last = e;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// Redacts a JSON value in place: secret-named keys lose their value, strings are scanned.
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_name(k) {
                    *v = serde_json::Value::String(REDACTED.into());
                } else {
                    redact_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = redact_text(s) {
                *s = r;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_tokens_in_paths_are_redacted() {
        assert_eq!(
            redact_text("POST /api/v1/checks/push/AbC123xyz 200"),
            "POST /api/v1/checks/push/[REDACTED] 200"
        );
        assert_eq!(redact_text("/api/v1/checks/{id}"), "/api/v1/checks/{id}");
    }

    #[test]
    fn status_page_links_are_redacted() {
        assert_eq!(
            redact_text("GET /api/v1/status/0123abcd 200"),
            "GET /api/v1/status/[REDACTED] 200"
        );
        assert_eq!(
            redact_text("opened http://lab:8000/status/0123abcd?refresh=5"),
            "opened http://lab:8000/status/[REDACTED]?refresh=5"
        );
        assert_eq!(redact_text("/status/abc"), "/status/[REDACTED]");
        assert_eq!(
            redact_text("tracker/events/status/page"),
            "tracker/events/status/page"
        );
        assert_eq!(
            redact_text("/api/v1/status/{token}"),
            "/api/v1/status/[REDACTED]"
        );
    }

    #[test]
    fn secret_names() {
        for name in [
            "password",
            "new_password",
            "api_key",
            "X-API-Key",
            "authorization",
            "Cookie",
            "setup_token",
            "key",
            "client_secret",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["idempotency_key", "user_id", "monkey", "status_code"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn text_values_are_redacted() {
        let cases = [
            ("login password=hunter2 ok", "login password=[REDACTED] ok"),
            (
                "open http://h/setup?token=abc123&x=1",
                "open http://h/setup?token=[REDACTED]&x=1",
            ),
            (
                r#"{"password": "p w", "user": "ada"}"#,
                r#"{"password": "[REDACTED]", "user": "ada"}"#,
            ),
            (
                "Authorization: Bearer td_abcdef",
                "Authorization: Bearer [REDACTED]",
            ),
            ("cookie: td_session=xyz; other", "cookie: [REDACTED]; other"),
            (
                "api_key=k1 monkey=banana",
                "api_key=[REDACTED] monkey=banana",
            ),
            ("nothing secret here", "nothing secret here"),
            ("X-API-Key: s3cret", "X-API-Key: [REDACTED]"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_text(input), want, "{input}");
        }
    }

    #[test]
    fn json_is_redacted_deeply() {
        let mut v = serde_json::json!({
            "headers": {"authorization": "Bearer x", "accept": "json"},
            "list": ["password=1", "fine"],
            "token": 5,
        });
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "headers": {"authorization": REDACTED, "accept": "json"},
                "list": ["password=[REDACTED]", "fine"],
                "token": REDACTED,
            })
        );
    }
}
