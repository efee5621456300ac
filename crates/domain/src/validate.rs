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
    Ok(trimmed.to_owned())
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
        max_chars(field, v, max)?;
    }
    Ok(value)
}

pub(crate) fn metadata(value: &JsonObject) -> Result<(), ValidationError> {
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
