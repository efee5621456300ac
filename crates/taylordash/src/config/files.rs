//! Configuration of files and backups: where objects go (S3-compatible server or a local
//! directory), the artifact upload limit and the backup schedule.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ConfigError, Layers, Secret};

/// An S3-compatible server.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub path_style: bool,
}

#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// `None`: a directory (`dir`, default `data_dir/objects`).
    pub s3: Option<S3Settings>,
    pub dir: Option<PathBuf>,
    pub max_upload_bytes: u64,
    /// `None`: no scheduled backups.
    pub backup_interval: Option<Duration>,
    pub backup_keep: usize,
}

impl FilesConfig {
    /// What to open, given the data directory.
    pub fn objects(&self, data_dir: &Path) -> objects::ObjectsConfig {
        match &self.s3 {
            Some(s3) => objects::ObjectsConfig::S3(objects::S3Config {
                endpoint: s3.endpoint.clone(),
                bucket: s3.bucket.clone(),
                region: s3.region.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3.secret_access_key.expose().to_owned(),
                path_style: s3.path_style,
            }),
            None => objects::ObjectsConfig::Local {
                root: self.dir.clone().unwrap_or_else(|| data_dir.join("objects")),
            },
        }
    }
}

pub(super) fn parse(l: &Layers) -> Result<FilesConfig, ConfigError> {
    let endpoint = l.string("objects.s3_endpoint").map(|e| e.trim().to_owned());
    if let Some(e) = &endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        return Err(l.invalid(
            "objects.s3_endpoint",
            format!("'{e}' is not a URL like http://minio:9000"),
        ));
    }
    let bucket = l.string("objects.s3_bucket");
    let s3 = if endpoint.is_some() || bucket.is_some() {
        let access_key_id = l.string("objects.s3_access_key_id").ok_or_else(|| {
            l.invalid(
                "objects.s3_access_key_id",
                "S3 is configured (S3_ENDPOINT/S3_BUCKET): set S3_ACCESS_KEY_ID \
                 (or MINIO_ROOT_USER)",
            )
        })?;
        let secret = l.string("objects.s3_secret_access_key").ok_or_else(|| {
            l.invalid(
                "objects.s3_secret_access_key",
                "S3 is configured (S3_ENDPOINT/S3_BUCKET): set S3_SECRET_ACCESS_KEY \
                 (or MINIO_ROOT_PASSWORD)",
            )
        })?;
        let bucket = bucket.unwrap_or_else(|| "taylordash".into());
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid_bucket {
            return Err(l.invalid(
                "objects.s3_bucket",
                format!("'{bucket}' is not a bucket name (3-63 of a-z, 0-9, '-', '.')"),
            ));
        }
        Some(S3Settings {
            endpoint,
            bucket,
            region: l
                .string("objects.s3_region")
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id,
            secret_access_key: Secret(secret),
            path_style: l.parse("objects.s3_path_style", "true or false")?,
        })
    } else {
        None
    };
    let max_upload_bytes: u64 = l.parse("artifacts.max_upload_bytes", "a number of bytes")?;
    if max_upload_bytes == 0 {
        return Err(l.invalid("artifacts.max_upload_bytes", "must be greater than 0"));
    }
    let backup_interval = match l.string("backup.interval_hours") {
        None => None,
        Some(_) => {
            let hours: f64 = l.parse("backup.interval_hours", "a number of hours")?;
            if !(hours.is_finite() && hours > 0.0) {
                return Err(l.invalid("backup.interval_hours", "must be greater than 0"));
            }
            Some(Duration::from_secs_f64(hours * 3600.0))
        }
    };
    let backup_keep: usize = l.parse("backup.keep", "a whole number")?;
    if backup_keep == 0 {
        return Err(l.invalid("backup.keep", "must be at least 1"));
    }
    Ok(FilesConfig {
        s3,
        dir: l.string("objects.dir").map(PathBuf::from),
        max_upload_bytes,
        backup_interval,
        backup_keep,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Config, Flags};
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load_from(None, &Flags::default(), |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_to_a_directory_under_the_data_dir() {
        let c = load(&[]).expect("defaults");
        assert!(c.files.s3.is_none());
        assert_eq!(c.files.max_upload_bytes, 100 * 1024 * 1024);
        assert!(c.files.backup_interval.is_none());
        match c.files.objects(Path::new("/d")) {
            objects::ObjectsConfig::Local { root } => assert_eq!(root, Path::new("/d/objects")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn s3_with_minio_credentials_as_fallback() {
        let c = load(&[
            ("S3_ENDPOINT", "http://minio:9000"),
            ("MINIO_ROOT_USER", "minio"),
            ("MINIO_ROOT_PASSWORD", "minio-secret-123"),
        ])
        .expect("s3");
        let s3 = c.files.s3.clone().expect("s3 configured");
        assert_eq!(s3.bucket, "taylordash");
        assert_eq!(s3.access_key_id, "minio");
        assert!(s3.path_style);
        assert!(!c.describe().contains("minio-secret-123"));
        assert!(!format!("{:?}", c.files).contains("minio-secret-123"));
        // The S3_* names win over the MinIO ones.
        let c = load(&[
            ("S3_BUCKET", "files"),
            ("S3_ACCESS_KEY_ID", "app"),
            ("S3_SECRET_ACCESS_KEY", "app-secret"),
            ("MINIO_ROOT_USER", "root"),
            ("MINIO_ROOT_PASSWORD", "root-secret"),
        ])
        .expect("s3");
        assert_eq!(c.files.s3.expect("s3").access_key_id, "app");
    }

    #[test]
    fn s3_without_credentials_or_with_bad_values_is_refused() {
        let err = load(&[("S3_ENDPOINT", "http://minio:9000")]).unwrap_err();
        assert!(err.to_string().contains("S3_ACCESS_KEY_ID"), "{err}");
        let err = load(&[("S3_ENDPOINT", "minio:9000")]).unwrap_err();
        assert!(err.to_string().contains("objects.s3_endpoint"), "{err}");
        let err = load(&[
            ("S3_BUCKET", "Bad_Bucket"),
            ("S3_ACCESS_KEY_ID", "a"),
            ("S3_SECRET_ACCESS_KEY", "b"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("objects.s3_bucket"), "{err}");
    }

    #[test]
    fn limits_and_schedule_are_checked() {
        assert!(load(&[("TAYLORDASH_ARTIFACT_MAX_BYTES", "0")]).is_err());
        assert!(load(&[("TAYLORDASH_BACKUP_INTERVAL_HOURS", "-1")]).is_err());
        assert!(load(&[("TAYLORDASH_BACKUP_KEEP", "0")]).is_err());
        let c = load(&[("TAYLORDASH_BACKUP_INTERVAL_HOURS", "0.5")]).expect("schedule");
        assert_eq!(c.files.backup_interval, Some(Duration::from_secs(1800)));
    }
}
