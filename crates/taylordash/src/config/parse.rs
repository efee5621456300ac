//! Parsers shared by many keys: text in, a typed value or the reason it is refused out. The
//! reader adds the key's name and source to the reason.

use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// `T::from_str` on the trimmed text; `what` says what was expected ("a port number").
pub(super) fn from_str<T>(what: &'static str) -> impl FnOnce(&str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    move |value| {
        value
            .trim()
            .parse()
            .map_err(|e| format!("'{value}' is not {what}: {e}"))
    }
}

/// The text as it is.
pub(super) fn text(value: &str) -> Result<String, String> {
    Ok(value.to_owned())
}

pub(super) fn path(value: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(value))
}

pub(super) fn boolean(value: &str) -> Result<bool, String> {
    from_str("true or false")(value)
}

/// `from_str`, refusing 0 with the message `zero`.
pub(super) fn nonzero<T>(
    what: &'static str,
    zero: &'static str,
) -> impl FnOnce(&str) -> Result<T, String>
where
    T: FromStr + PartialEq + From<u8>,
    T::Err: Display,
{
    move |value| match from_str(what)(value)? {
        n if n == T::from(0) => Err(zero.into()),
        n => Ok(n),
    }
}

/// A whole number greater than 0.
pub(super) fn positive(value: &str) -> Result<usize, String> {
    nonzero("a whole number", "must be greater than 0")(value)
}

pub(super) fn seconds(value: &str) -> Result<Duration, String> {
    from_str("a number of seconds")(value).map(Duration::from_secs)
}

/// A number of seconds greater than 0.
pub(super) fn positive_seconds(value: &str) -> Result<Duration, String> {
    nonzero("a number of seconds", "must be greater than 0")(value).map(Duration::from_secs)
}

/// A number of whole days.
pub(super) fn days(value: &str) -> Result<Duration, String> {
    from_str::<u64>("a number of days")(value).map(|d| Duration::from_secs(86_400 * d))
}

/// A service beside TaylorDash, `http[s]://host[:port][/prefix]`, normalised.
pub(super) fn service_url(value: &str) -> Result<String, String> {
    observability::outbound::BaseUrl::parse(value).map(|b| b.to_string())
}

/// A file of PEM CA certificates, read and checked now so a bad one stops startup.
pub(super) fn ca_file(value: &str) -> Result<PathBuf, String> {
    let pem = std::fs::read(value).map_err(|e| format!("cannot read {value}: {e}"))?;
    observability::outbound::parse_ca_pem(&pem).map_err(|e| format!("{value}: {e}"))?;
    Ok(PathBuf::from(value))
}
