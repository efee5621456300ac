//! What makes a component a real thing of the lab: the address that opens it (`url`), the host
//! it runs on, an icon, and a description. The rules here hold wherever a component is created
//! or changed.

use std::fmt;
use std::net::IpAddr;

use uuid::Uuid;

use crate::validate::{self, ValidationError};

/// Longest `url` accepted, in characters.
pub const URL_MAX: usize = 2048;
/// Longest `host` accepted: a DNS name's limit.
pub const HOST_MAX: usize = 253;

/// The icons shipped with TaylorDash, by name. The web UI draws each; a component names one of
/// these or an uploaded image (an artifact of its project).
pub const ICONS: &[&str] = &[
    "access-point",
    "backup",
    "camera",
    "cloud",
    "container",
    "database",
    "desktop",
    "dns",
    "docker",
    "firewall",
    "game",
    "git",
    "home-assistant",
    "kubernetes",
    "laptop",
    "light",
    "mail",
    "media",
    "microcontroller",
    "modem",
    "monitoring",
    "nas",
    "phone",
    "plug",
    "power",
    "printer",
    "proxmox",
    "raspberry-pi",
    "router",
    "sensor",
    "server",
    "speaker",
    "storage",
    "switch",
    "tv",
    "ups",
    "vm",
    "vpn",
    "web",
];

/// A component's icon: one of [`ICONS`], or an image uploaded as an artifact of the component's
/// project (its id). On the wire and in the database it is one string: the icon's name or the
/// artifact's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Icon {
    Builtin(&'static str),
    Artifact(Uuid),
}

impl Icon {
    /// Parses the wire/database form; the error names the field `icon` and lists the choices.
    pub fn parse(value: &str) -> Result<Icon, ValidationError> {
        let value = value.trim();
        if let Some(name) = ICONS.iter().find(|n| **n == value) {
            return Ok(Icon::Builtin(name));
        }
        if let Ok(id) = value.parse::<Uuid>() {
            return Ok(Icon::Artifact(id));
        }
        Err(ValidationError::new(
            "icon",
            format!(
                "must be one of the built-in icons ({}) or the id of an image artifact of the \
                 project",
                ICONS.join(", ")
            ),
        ))
    }

    /// The artifact holding the image, for an uploaded icon.
    pub fn artifact(&self) -> Option<Uuid> {
        match self {
            Icon::Artifact(id) => Some(*id),
            Icon::Builtin(_) => None,
        }
    }
}

impl fmt::Display for Icon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icon::Builtin(name) => f.write_str(name),
            Icon::Artifact(id) => write!(f, "{id}"),
        }
    }
}

/// The address that opens the component: an absolute `http` or `https` URL with a host and
/// without credentials (every viewer sees it). Returned normalised (`Url::as_str`).
pub fn url(value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    validate::max_chars("url", value, URL_MAX)?;
    // The URL parser silently drops tabs and line breaks; refuse them (and other controls)
    // instead of storing something else than what was sent.
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "url",
            "must not contain control characters",
        ));
    }
    let parsed = url::Url::parse(value)
        .map_err(|e| ValidationError::new("url", format!("is not a valid URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ValidationError::new(
            "url",
            format!(
                "must start with http:// or https:// (found {}:)",
                parsed.scheme()
            ),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ValidationError::new("url", "must name a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ValidationError::new(
            "url",
            "must not contain a user name or password (every viewer sees it)",
        ));
    }
    Ok(parsed.into())
}

/// A host name or an IP address (no port, no brackets).
pub fn host(value: &str) -> Result<String, ValidationError> {
    host_named("host", value)
}

/// [`host`] for another field (a check's target).
pub fn host_named(field: &'static str, value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.parse::<IpAddr>().is_ok() {
        return Ok(value.to_owned());
    }
    validate::max_chars(field, value, HOST_MAX)?;
    let name = value.strip_suffix('.').unwrap_or(value);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || !name.split('.').all(label_ok) {
        return Err(ValidationError::new(
            field,
            "must be an IP address or a host name (letters, digits, '-' and '_' in dot-separated \
             labels of at most 63 characters)",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icons_are_built_in_names_or_artifact_ids() {
        assert_eq!(Icon::parse("nas").unwrap(), Icon::Builtin("nas"));
        let id = Uuid::new_v4();
        assert_eq!(Icon::parse(&id.to_string()).unwrap(), Icon::Artifact(id));
        assert_eq!(
            Icon::parse(&id.to_string()).unwrap().to_string(),
            id.to_string()
        );
        let e = Icon::parse("unicorn").unwrap_err();
        assert_eq!(e.field, "icon");
        assert!(e.message.contains("raspberry-pi"), "{}", e.message);
        assert!(
            ICONS.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        assert_eq!(
            url(" https://nas.lan:5001 ").unwrap(),
            "https://nas.lan:5001/"
        );
        assert_eq!(
            url("http://10.0.0.2/admin?x=1").unwrap(),
            "http://10.0.0.2/admin?x=1"
        );
        for bad in [
            "javascript:alert(1)",
            "ftp://nas.lan/",
            "nas.lan",
            "https://user:pw@nas.lan/",
            "https://nas.lan/\tx",
            "http://",
        ] {
            assert_eq!(url(bad).unwrap_err().field, "url", "{bad}");
        }
        assert!(url(&format!("https://a.lan/{}", "x".repeat(URL_MAX))).is_err());
    }

    #[test]
    fn hosts_are_names_or_addresses() {
        for ok in [
            "nas",
            "nas.lan",
            "pi-hole.home.arpa.",
            "10.0.0.1",
            "::1",
            "my_box",
        ] {
            assert_eq!(host(ok).unwrap(), ok);
        }
        for bad in ["", "nas lan", "-nas", "a..b", "nas:8080", "[::1]", "é.lan"] {
            assert_eq!(host(bad).unwrap_err().field, "host", "{bad}");
        }
        assert!(host(&format!("{}.lan", "a".repeat(64))).is_err());
    }
}
