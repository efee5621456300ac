//! One backup as a streamed tar archive (POSIX ustar, with pax extended headers where ustar's
//! fields are too small: a path that does not fit its 100 + 155 bytes, a file of 8 GiB or more),
//! for downloading it in one piece.

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

/// The largest size ustar's 11 octal digits hold: 8 GiB - 1.
const USTAR_MAX_SIZE: u64 = 0o77_777_777_777;

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// A size too large for octal digits, in the base-256 form GNU tar and pax-aware readers take:
/// the first byte's high bit set, the value big-endian in the rest of the field.
fn base256(field: &mut [u8], value: u64) {
    field.fill(0);
    let at = field.len() - 8;
    field[at..].copy_from_slice(&value.to_be_bytes());
    field[0] |= 0x80;
}

/// One pax record, `"<length> <key>=<value>\n"`, whose length counts its own digits.
fn pax_record(key: &str, value: &str) -> String {
    let base = key.len() + value.len() + 3; // space, '=', newline
    let mut length = base + base.to_string().len();
    if length.to_string().len() > base.to_string().len() {
        length += 1;
    }
    format!("{length} {key}={value}\n")
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The header blocks of a regular file: a pax extended header (type `x`) carrying the path or
/// the size when ustar's fields cannot hold them, then the ustar header itself (whose name is
/// then a truncated stand-in, and whose size is also written in base-256 for GNU readers).
pub(crate) fn headers(path: &str, size: u64, mtime: i64) -> Vec<u8> {
    let split = split_path(path);
    let mut records = String::new();
    if split.is_none() {
        records.push_str(&pax_record("path", path));
    }
    if size > USTAR_MAX_SIZE {
        records.push_str(&pax_record("size", &size.to_string()));
    }
    let mut out = Vec::with_capacity(3 * BLOCK);
    if !records.is_empty() {
        let base = path.rsplit('/').next().unwrap_or(path);
        let pax_name = format!("PaxHeaders/{}", truncate(base, 80));
        out.extend_from_slice(&block("", &pax_name, records.len() as u64, mtime, b'x'));
        out.extend_from_slice(records.as_bytes());
        out.extend_from_slice(&padding(records.len() as u64));
    }
    let (prefix, name) =
        split.unwrap_or(("", truncate(path.rsplit('/').next().unwrap_or(path), 100)));
    out.extend_from_slice(&block(prefix, name, size, mtime, b'0'));
    out
}

/// One ustar header block.
fn block(prefix: &str, name: &str, size: u64, mtime: i64, kind: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    if size > USTAR_MAX_SIZE {
        base256(&mut h[124..136], size);
    } else {
        octal(&mut h[124..136], size);
    }
    octal(&mut h[136..148], u64::try_from(mtime).unwrap_or(0));
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    h
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
        length += headers(path, *size, mtime).len() as u64 + size + padding(*size).len() as u64;
    }
    let objects = target.objects.clone();
    let body = stream::iter(entries)
        .then(move |(key, path, size)| {
            let objects = objects.clone();
            async move {
                let head = Bytes::from(headers(&path, size, mtime));
                let head = stream::once(async move { Ok(head) });
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
        let all = headers("a/manifest.json", 1234, 0);
        assert_eq!(all.len(), BLOCK, "no pax header when ustar suffices");
        let h: [u8; BLOCK] = all.try_into().expect("one block");
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
        // Too long for ustar: a pax header carries it.
        assert_eq!(headers(&"x".repeat(300), 0, 0).len(), 3 * BLOCK);
        assert_eq!(padding(512).len(), 0);
        assert_eq!(padding(1).len(), 511);
    }

    #[test]
    fn pax_records_count_their_own_length() {
        for value in ["", "a", &"b".repeat(90), &"c".repeat(95), &"d".repeat(995)] {
            let record = pax_record("path", value);
            let (length, _) = record.split_once(' ').expect("length");
            assert_eq!(
                length.parse::<usize>().expect("number"),
                record.len(),
                "{record}"
            );
        }
    }

    /// A 9 GiB file (a hole in a sparse archive) under a path too long for ustar, between two
    /// small files: GNU tar and Python's tarfile list the right names and sizes.
    #[test]
    fn large_files_and_long_paths_read_back_with_tar() {
        use std::io::{Seek, SeekFrom, Write};
        let dir = std::env::temp_dir().join(format!("td-tar-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let archive = dir.join("backup.tar");
        let big: u64 = 9 << 30;
        let long = format!(
            "taylordash-20261207T000000Z/objects/{}/{}",
            "d".repeat(120),
            "f".repeat(150)
        );
        let entries: [(&str, u64); 3] = [
            ("taylordash-20261207T000000Z/manifest.json", 2),
            (&long, big),
            ("taylordash-20261207T000000Z/tables/users.json", 3),
        ];
        let mut file = std::fs::File::create(&archive).expect("archive");
        for (path, size) in entries {
            file.write_all(&headers(path, size, 1_765_065_600))
                .expect("header");
            if size == big {
                // The file's content: 9 GiB of zeros, left as a hole.
                file.seek(SeekFrom::Current(i64::try_from(size).expect("fits")))
                    .expect("seek");
            } else {
                file.write_all(&vec![b'x'; size as usize]).expect("content");
            }
            file.write_all(&padding(size)).expect("padding");
        }
        file.write_all(&[0u8; 2 * BLOCK]).expect("end");
        drop(file);

        let listing = std::process::Command::new("tar")
            .args(["--list", "--verbose", "--file"])
            .arg(&archive)
            .output()
            .expect("GNU tar runs");
        let text = String::from_utf8_lossy(&listing.stdout);
        assert!(
            listing.status.success(),
            "{}",
            String::from_utf8_lossy(&listing.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].contains(&big.to_string()) && lines[1].ends_with(&long),
            "{text}"
        );
        assert!(lines[2].ends_with("tables/users.json"), "{text}");

        let python = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, tarfile\n\
                 for m in tarfile.open(sys.argv[1]):\n    print(m.size, m.name)",
            ])
            .arg(&archive)
            .output()
            .expect("python3 runs");
        let text = String::from_utf8_lossy(&python.stdout);
        assert!(
            python.status.success(),
            "{}",
            String::from_utf8_lossy(&python.stderr)
        );
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "2 taylordash-20261207T000000Z/manifest.json".to_owned(),
                format!("{big} {long}"),
                "3 taylordash-20261207T000000Z/tables/users.json".to_owned(),
            ]
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
