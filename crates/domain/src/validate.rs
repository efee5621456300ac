//! Field validation shared by every way data enters the system.

use crate::JsonObject;

/// One invalid field: which one, and why. Shown to API clients as a 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        ValidationError {
            field,
            message: message.into(),
        }
    }
}

/// Largest serialized `metadata` object accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// A required display name: trimmed, non-empty, at most `max` characters.
pub(crate) fn name(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    max_chars(field, trimmed, max)?;
    if let Some(c) = trimmed
        .chars()
        .find(|c| c.is_control() || is_bidi_control(*c))
    {
        return Err(ValidationError::new(
            field,
            format!(
                "must not contain control or text-direction characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Free text (descriptions, types): at most `max` characters, no control characters but tab
/// and line breaks. NUL in particular cannot be stored in PostgreSQL text or published in an
/// event, so it is refused here, where every way data enters the system passes.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    max_chars(field, value, max)?;
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ValidationError::new(
            field,
            format!(
                "must not contain control characters other than tab and line breaks (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// Explicit text-direction controls (embeddings, overrides, isolates): in a name they make one
/// string display as another (e.g. U+202E reverses what follows).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether JSON text contains the escape `\u0000` (a NUL character in a string), as opposed to
/// an escaped backslash followed by `u0000`. PostgreSQL cannot store NUL in JSON or text, so
/// such documents are refused where they enter: request bodies and bus messages.
pub fn json_text_has_nul(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, b) in json.iter().enumerate() {
        match b {
            b'\\' => backslashes += 1,
            b'u' if backslashes % 2 == 1 && json[i + 1..].starts_with(b"0000") => return true,
            _ => backslashes = 0,
        }
    }
    false
}

pub(crate) fn max_chars(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ValidationError> {
    if value.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn optional_text(
    field: &'static str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    if let Some(v) = &value {
        text(field, v, max)?;
    }
    Ok(value)
}

pub(crate) fn metadata(value: &JsonObject) -> Result<(), ValidationError> {
    if value
        .iter()
        .any(|(k, v)| k.contains('\0') || value_has_nul(v))
    {
        return Err(ValidationError::new(
            "metadata",
            "must not contain the NUL character (U+0000)",
        ));
    }
    // Serializing a Map cannot fail; an error here would only mean an empty size.
    let size = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0);
    if size > MAX_METADATA_BYTES {
        return Err(ValidationError::new(
            "metadata",
            format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

fn value_has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(value_has_nul),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('\0') || value_has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_control_and_direction_characters() {
        assert!(name("name", "ok name", 10).is_ok());
        for bad in ["a\0b", "a\tb", "a\u{7f}b", "evil\u{202E}txt", "x\u{2066}y"] {
            let e = name("name", bad, 40).unwrap_err();
            assert_eq!(e.field, "name");
            assert!(e.message.contains("U+"), "{}", e.message);
        }
    }

    #[test]
    fn free_text_keeps_line_breaks_but_not_nul() {
        assert!(text("description", "line one\n\tline two\r\n", 100).is_ok());
        assert!(text("description", "nul \0 here", 100).is_err());
        assert!(text("description", "bell \u{7}", 100).is_err());
        assert!(optional_text("description", Some("a\0".into()), 100).is_err());
    }

    #[test]
    fn metadata_refuses_nul_anywhere() {
        let mut m = JsonObject::new();
        m.insert("a".into(), serde_json::json!({"b": ["fine", "no\u{0}pe"]}));
        assert!(metadata(&m).is_err());
        let mut k = JsonObject::new();
        k.insert("key\0".into(), serde_json::json!(1));
        assert!(metadata(&k).is_err());
        let mut ok = JsonObject::new();
        ok.insert("a".into(), serde_json::json!({"b": "\\u0000 is just text"}));
        assert!(metadata(&ok).is_ok());
    }

    #[test]
    fn nul_escapes_are_told_from_escaped_backslashes() {
        assert!(json_text_has_nul(br#"{"a":"x\u0000"}"#));
        assert!(json_text_has_nul(br#"{"a":"\u00001"}"#));
        assert!(json_text_has_nul(br#"{"a":"\\\u0000"}"#));
        assert!(!json_text_has_nul(br#"{"a":"\\u0000"}"#));
        assert!(!json_text_has_nul(br#"{"a":"\u0041"}"#));
        assert!(!json_text_has_nul(br"\\"));
    }
}
