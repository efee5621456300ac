//! One backup as a streamed tar archive (POSIX ustar), for downloading it in one piece.

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use objects::ObjectError;

use crate::{MANIFEST, Result, Target, manifest};

const BLOCK: usize = 512;

/// Splits `path` into ustar's (prefix, name) fields.
fn split_path(path: &str) -> Option<(&str, &str)> {
    if path.len() <= 100 {
        return Some(("", path));
    }
    path.char_indices()
        .filter(|(_, c)| *c == '/')
        .map(|(i, _)| (&path[..i], &path[i + 1..]))
        .find(|(prefix, name)| prefix.len() <= 155 && name.len() <= 100 && !name.is_empty())
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// The header block of a regular file.
pub(crate) fn header(path: &str, size: u64, mtime: i64) -> Option<[u8; BLOCK]> {
    let (prefix, name) = split_path(path)?;
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], u64::try_from(mtime).unwrap_or(0));
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    Some(h)
}

fn padding(size: u64) -> Bytes {
    let rest = (size % BLOCK as u64) as usize;
    Bytes::from(vec![0u8; if rest == 0 { 0 } else { BLOCK - rest }])
}

/// The backup `name` as a tar stream of `<name>/manifest.json`, its tables and objects.
/// Returns the stream and its exact length.
pub async fn tar_stream(
    target: &Target,
    name: &str,
) -> Result<(BoxStream<'static, Result<Bytes, ObjectError>>, u64)> {
    let m = manifest(target, name).await?;
    let manifest_bytes = target
        .objects
        .get_bytes(&target.key(name, MANIFEST))
        .await?;
    let mtime = m.created_at.timestamp();
    let mut entries: Vec<(String, String, u64)> = vec![(
        target.key(name, MANIFEST),
        format!("{name}/{MANIFEST}"),
        manifest_bytes.len() as u64,
    )];
    for t in &m.tables {
        entries.push((
            target.key(name, &t.file),
            format!("{name}/{}", t.file),
            t.bytes,
        ));
    }
    for o in &m.objects {
        entries.push((
            target.key(name, &o.file),
            format!("{name}/{}", o.file),
            o.size,
        ));
    }
    let mut length = 2 * BLOCK as u64;
    for (_, path, size) in &entries {
        if split_path(path).is_none() {
            return Err(crate::BackupError::Invalid(format!(
                "{path} is too long for a tar archive"
            )));
        }
        length += BLOCK as u64 + size + padding(*size).len() as u64;
    }
    let objects = target.objects.clone();
    let body = stream::iter(entries)
        .then(move |(key, path, size)| {
            let objects = objects.clone();
            async move {
                let head = header(&path, size, mtime).unwrap_or([0u8; BLOCK]);
                let head = stream::once(async move { Ok(Bytes::copy_from_slice(&head)) });
                let content = match objects.get(&key, None).await {
                    Ok(d) => d.stream,
                    Err(e) => stream::once(async move { Err(e) }).boxed(),
                };
                let pad = stream::once(async move { Ok(padding(size)) });
                head.chain(content).chain(pad).boxed()
            }
        })
        .flatten()
        .chain(stream::once(async {
            Ok(Bytes::from(vec![0u8; 2 * BLOCK]))
        }))
        .boxed();
    Ok((body, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_have_valid_checksums_and_split_long_paths() {
        let h = header("a/manifest.json", 1234, 0).expect("header");
        assert_eq!(&h[..15], b"a/manifest.json");
        assert_eq!(&h[124..136], b"00000002322\0");
        let stored = std::str::from_utf8(&h[148..154]).expect("ascii");
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        let sum: u64 = copy.iter().map(|b| u64::from(*b)).sum();
        assert_eq!(u64::from_str_radix(stored, 8).expect("octal"), sum);
        let long = format!(
            "taylordash-20261129T053000Z/objects/artifacts/{}/{}",
            "a".repeat(36),
            "b".repeat(36)
        );
        let (prefix, name) = split_path(&long).expect("fits");
        assert!(prefix.len() <= 155 && name.len() <= 100);
        assert_eq!(format!("{prefix}/{name}"), long);
        assert!(header(&"x".repeat(300), 0, 0).is_none());
        assert_eq!(padding(512).len(), 0);
        assert_eq!(padding(1).len(), 511);
    }
}
