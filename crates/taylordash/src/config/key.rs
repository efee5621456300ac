//! How a key is declared and how its value is found.
//!
//! `Reader::key` starts a key's declaration: dotted name, environment variable and help text;
//! `.or_env`, `.flag`, `.secret` and `.default` add the rest, and `.parse` ends it: the reader
//! takes the value from the highest layer that sets it (default → TOML file → environment →
//! flag), parses it with the key's parser (an error names the key and the layer), and records
//! the key, its source and its value (secrets redacted) for `config check`. So the order in which
//! `Config::read` declares the keys is the order `config check` lists them in.
//!
//! Every environment variable `VAR` may instead name a file with `VAR_FILE` (Docker and compose
//! secrets, `/run/secrets/...`): the file's content, without its trailing line break, is the
//! value, and `config check` says which file it came from. Setting both is an error.

use std::path::{Path, PathBuf};

use super::{ConfigError, Flags, Source};

/// How `config check` shows a secret.
#[derive(Debug, Clone, Copy)]
pub(super) enum Redact {
    /// All of it: `********`.
    All,
    /// A URL's password only, so the target stays visible: `postgres://app:********@db/td`.
    UrlPassword,
}

/// One declared key and what was found for it, kept for `config check`.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub name: &'static str,
    /// Its environment variables: the current name (the one shown), then older ones.
    pub env: Vec<&'static str>,
    pub help: &'static str,
    /// The value as shown (secrets redacted) and its source; `None`: unset.
    pub shown: Option<(String, Source)>,
}

/// Looks up and parses the values of declared keys.
pub(super) struct Reader<'a> {
    file: Option<File>,
    env: &'a dyn Fn(&str) -> Option<String>,
    flags: &'a Flags,
    found: Vec<Found>,
}

/// A TOML file's values under their dotted names (`[database] url` → `database.url`).
struct File {
    path: PathBuf,
    /// Values in file order; `true` once a declared key has taken it.
    values: Vec<(String, toml::Value, bool)>,
}

impl<'a> Reader<'a> {
    /// Reads `file` (if any); the environment and flags are read key by key.
    pub fn new(
        file: Option<&Path>,
        flags: &'a Flags,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Ok(Reader {
            file: file.map(File::read).transpose()?,
            env,
            flags,
            found: Vec::new(),
        })
    }

    /// Starts declaring a key: its dotted name, its environment variable and what it is for.
    pub fn key(
        &mut self,
        name: &'static str,
        env: &'static str,
        help: &'static str,
    ) -> Key<'_, 'a> {
        Key {
            reader: self,
            name,
            env: vec![env],
            flag: None,
            redact: None,
            help,
        }
    }

    /// An error about a declared key that spans keys (e.g. one set without the other).
    pub fn invalid(&self, name: &'static str, message: impl Into<String>) -> ConfigError {
        let origin = self
            .found
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.shown.as_ref())
            .map_or(Source::Default, |(_, source)| source.clone());
        ConfigError::Invalid {
            key: name,
            origin,
            message: message.into(),
        }
    }

    /// Every key declared, in order; an error if the file sets a key nobody declared.
    pub fn finish(self) -> Result<Vec<Found>, ConfigError> {
        if let Some(file) = &self.file
            && let Some((unknown, _, _)) = file.values.iter().find(|(_, _, taken)| !taken)
        {
            return Err(ConfigError::UnknownKey {
                key: unknown.clone(),
                path: file.path.clone(),
                known: self
                    .found
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(self.found)
    }
}

/// Where [`Flags`] holds a flag's value.
type FlagValue = fn(&Flags) -> &Option<String>;

/// A key being declared; `.parse` ends the declaration and returns the value.
#[must_use = "a key is read by `.parse`"]
pub(super) struct Key<'r, 'a> {
    reader: &'r mut Reader<'a>,
    name: &'static str,
    /// The current name first, then older names still honoured.
    env: Vec<&'static str>,
    flag: Option<(&'static str, FlagValue)>,
    redact: Option<Redact>,
    help: &'static str,
}

/// A key with a default: it always has a value.
#[must_use = "a key is read by `.parse`"]
pub(super) struct WithDefault<'r, 'a> {
    key: Key<'r, 'a>,
    default: &'static str,
}

impl<'r, 'a> Key<'r, 'a> {
    /// An older environment variable, read when the current one is unset.
    pub fn or_env(mut self, older: &'static str) -> Self {
        self.env.push(older);
        self
    }

    /// The command-line flag that sets the key (the highest layer) and where [`Flags`] holds it.
    pub fn flag(mut self, flag: &'static str, value: FlagValue) -> Self {
        self.flag = Some((flag, value));
        self
    }

    /// The value is secret: `config check` shows it redacted. (Its parser returns a
    /// [`super::Secret`], so it is redacted in `Debug` output too.)
    pub fn secret(mut self, redact: Redact) -> Self {
        self.redact = Some(redact);
        self
    }

    /// The value when no layer sets one (parsed like any other, so it must be valid).
    pub fn default(self, value: &'static str) -> WithDefault<'r, 'a> {
        WithDefault {
            key: self,
            default: value,
        }
    }

    /// Reads and parses the value; `None` when no layer sets it.
    pub fn parse<T>(
        self,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.read(None, parse)
    }

    fn read<T>(
        self,
        default: Option<&'static str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Key {
            reader,
            name,
            env,
            flag,
            redact,
            help,
        } = self;
        let mut value = default.map(|d| (d.to_owned(), Source::Default));
        if let Some(file) = &mut reader.file
            && let Some(v) = file.take(name)?
        {
            value = Some((v, Source::File(file.path.clone())));
        }
        // An empty variable counts as unset, as compose files often pass `VAR=`.
        let get = |var: &str| (reader.env)(var).filter(|v| !v.is_empty());
        for var in env.iter().copied() {
            let file_var = format!("{var}_FILE");
            match (get(var), get(&file_var)) {
                (None, None) => continue,
                (Some(_), Some(_)) => {
                    return Err(ConfigError::Invalid {
                        key: name,
                        origin: Source::Env(var),
                        message: format!("set {var} or {file_var}, not both"),
                    });
                }
                (Some(v), None) => value = Some((v, Source::Env(var))),
                (None, Some(path)) => {
                    let origin = Source::EnvFile(file_var, PathBuf::from(&path));
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                            key: name,
                            origin: origin.clone(),
                            message: format!("cannot read {path}: {e}"),
                        })?;
                    value = Some((text.trim_end_matches(['\r', '\n']).to_owned(), origin));
                }
            }
            break;
        }
        if let Some((flag, get)) = flag
            && let Some(v) = get(reader.flags)
        {
            value = Some((v.clone(), Source::Flag(flag)));
        }
        reader.found.push(Found {
            name,
            env,
            help,
            shown: value.as_ref().map(|(v, source)| {
                let shown = redact.map_or_else(|| v.clone(), |r| redacted(r, v));
                (shown, source.clone())
            }),
        });
        let Some((v, origin)) = value else {
            return Ok(None);
        };
        parse(&v).map(Some).map_err(|message| ConfigError::Invalid {
            key: name,
            origin,
            // Should a parser quote a secret value, the message shows it redacted.
            message: match redact {
                Some(r) if !v.is_empty() => message.replace(&v, &redacted(r, &v)),
                _ => message,
            },
        })
    }
}

impl WithDefault<'_, '_> {
    /// Reads and parses the value (the default when no layer sets one).
    pub fn parse<T>(self, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, ConfigError> {
        let name = self.key.name;
        let value = self.key.read(Some(self.default), parse)?;
        // Unreachable: the default is a value; kept as an error rather than a panic.
        value.ok_or_else(|| ConfigError::Invalid {
            key: name,
            origin: Source::Default,
            message: "a value is required".into(),
        })
    }
}

fn redacted(redact: Redact, value: &str) -> String {
    if let Redact::UrlPassword = redact
        && let Some((scheme, rest)) = value.split_once("://")
    {
        return match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:********@{host}")
            }
            None => value.to_owned(),
        };
    }
    "********".to_owned()
}

impl File {
    fn read(path: &Path) -> Result<File, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Toml {
            path: path.to_owned(),
            error: e.to_string(),
        })?;
        let mut values = Vec::new();
        flatten("", table, &mut values);
        Ok(File {
            path: path.to_owned(),
            values,
        })
    }

    /// The file's value for `name` as text (the last one, should a name be given twice).
    fn take(&mut self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let mut last = None;
        for (key, value, taken) in &mut self.values {
            if key == name {
                *taken = true;
                last = Some(&*value);
            }
        }
        let text = match last {
            None => return Ok(None),
            Some(toml::Value::String(s)) => s.clone(),
            Some(toml::Value::Integer(i)) => i.to_string(),
            Some(toml::Value::Float(f)) => f.to_string(),
            Some(toml::Value::Boolean(b)) => b.to_string(),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    key: name,
                    origin: Source::File(self.path.clone()),
                    message: "must be a string, number or boolean".into(),
                });
            }
        };
        Ok(Some(text))
    }
}

/// `[database] url = ...` → `("database.url", ...)`.
fn flatten(prefix: &str, table: toml::Table, out: &mut Vec<(String, toml::Value, bool)>) {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&name, t, out),
            other => out.push((name, other, false)),
        }
    }
}
