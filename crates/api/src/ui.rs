//! The web UI (`web/dist`, built by `npm run build` in `web/`): embedded in release builds, read
//! from disk in debug builds (so a UI rebuild needs no Rust rebuild). Hashed `/assets/*` are
//! cached for a year; everything else is revalidated (`no-cache`) by its ETag. The build writes
//! a `.gz` twin next to each compressible file, sent as it is when the client accepts gzip, so
//! nothing is compressed at run time (no `.br` twin: a second compressed copy of the UI would
//! cost the binary about 250 KB, its size budget, for 10-15 % fewer bytes on a local network). Any other GET that is not an API path gets
//! `index.html` (client-side routes); API paths keep their JSON 404.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist/"]
struct Dist;

const INDEX: &str = "index.html";
/// The `route` label of UI responses in the HTTP metrics.
pub const ROUTE_LABEL: &str = "ui";

/// Marks a response as served by the UI (for the metrics label).
#[derive(Clone, Copy)]
pub struct Served;
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Paths the UI never answers: the API and the operational endpoints.
fn reserved(path: &str) -> bool {
    ["/api", "/openapi.json", "/docs", "/metrics", "/health"]
        .iter()
        .any(|p| {
            path == *p
                || path
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// The router's fallback: a UI file, `index.html` for a client-side route, or `None` when the
/// path belongs to the API (the caller answers with its JSON 404).
pub fn fallback(req: &Request) -> Option<Response> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/docs")
        && matches!(*req.method(), Method::GET | Method::HEAD)
    {
        return docs(rest, req.headers());
    }
    if reserved(path) || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let name = path.trim_start_matches('/');
    if !name.is_empty()
        && !name.ends_with(".br")
        && !name.ends_with(".gz")
        && (Dist::get(name).is_some() || Dist::get(&format!("{name}.gz")).is_some())
    {
        return Some(file(name, req.headers()));
    }
    // A missing hashed asset is a 404 (a stale page asking for an old build), not the page.
    if name.starts_with("assets/") {
        return Some(not_found());
    }
    Some(page(req.headers()))
}

/// The API docs page (`/docs/`, Swagger UI reading `/openapi.json`) and its files, part of the
/// build (`web/dist/docs`); an unknown file there is the API's JSON 404.
fn docs(rest: &str, headers: &HeaderMap) -> Option<Response> {
    match rest {
        "" => Some(
            (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, "/docs/")],
            )
                .into_response(),
        ),
        "/" => Some(file("docs/index.html", headers)),
        _ => {
            let name = format!("docs{rest}");
            let known = !name.ends_with(".gz")
                && (Dist::get(&name).is_some() || Dist::get(&format!("{name}.gz")).is_some());
            known.then(|| file(&name, headers))
        }
    }
}

/// `GET /` from a browser (Accept: text/html) gets the UI; API clients keep v1's JSON root.
pub async fn root_html(req: Request, next: Next) -> Response {
    let wants_html = req.uri().path() == "/"
        && matches!(*req.method(), Method::GET | Method::HEAD)
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        page(req.headers())
    } else {
        next.run(req).await
    }
}

fn page(headers: &HeaderMap) -> Response {
    if Dist::get(INDEX).is_some() {
        file(INDEX, headers)
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CACHE_CONTROL, REVALIDATE)],
            crate::error::ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UI_NOT_BUILT",
                "the web UI is not built: run `npm ci && npm run build` in web/",
            ),
        )
            .into_response()
    }
}

fn not_found() -> Response {
    crate::error::ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such file in the UI build",
    )
    .into_response()
}

/// Does the client accept `coding` (`br`, `gzip`) per Accept-Encoding (q=0 refuses)?
pub(crate) fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// One file of the build, in the best encoding the client accepts, with its validators.
fn file(name: &str, headers: &HeaderMap) -> Response {
    let variants = [("gzip", ".gz")];
    let chosen = variants.iter().find_map(|(coding, ext)| {
        if !accepts(headers, coding) {
            return None;
        }
        Dist::get(&format!("{name}{ext}")).map(|f| (Some(*coding), f))
    });
    let has_variants = variants
        .iter()
        .any(|(_, ext)| Dist::get(&format!("{name}{ext}")).is_some());
    let Some((coding, body)) = chosen.or_else(|| Dist::get(name).map(|f| (None, f))) else {
        return match Dist::get(&format!("{name}.gz")) {
            // Hashed assets are embedded compressed only (the build drops their plain copy, which
            // keeps the binary small); the rare client without gzip gets them inflated.
            Some(gz) => inflated(name, headers, gz),
            None => not_found(),
        };
    };
    // The hash of the bytes sent: each encoding has its own tag.
    let etag = format!("\"{}\"", hex::encode(&body.metadata.sha256_hash()[..16]));
    respond(
        name,
        headers,
        coding,
        has_variants,
        etag,
        body.data.into_owned(),
    )
}

/// A file embedded only gzip-compressed, for a client that does not accept gzip.
fn inflated(name: &str, headers: &HeaderMap, gz: rust_embed::EmbeddedFile) -> Response {
    let Some(plain) = gunzip(&gz.data) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "an embedded UI file could not be decompressed",
        )
            .into_response();
    };
    let etag = format!("\"{}-id\"", hex::encode(&gz.metadata.sha256_hash()[..16]));
    respond(name, headers, None, true, etag, plain)
}

/// The response for one representation of a file, with its validators.
fn respond(
    name: &str,
    headers: &HeaderMap,
    coding: Option<&'static str>,
    has_variants: bool,
    etag: String,
    data: Vec<u8>,
) -> Response {
    let cache = if name.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };

    let mut res = Response::new(Body::empty());
    res.extensions_mut().insert(Served);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if has_variants {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return res;
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    if let Some(coding) = coding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(data.len()));
    *res.body_mut() = Body::from(data);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn accept_encoding_is_parsed_with_q_values() {
        assert!(accepts(&with("gzip, deflate, br"), "br"));
        assert!(accepts(&with("gzip;q=0.8, br;q=1.0"), "gzip"));
        assert!(!accepts(&with("gzip, br;q=0"), "br"));
        assert!(accepts(&with("*"), "br"));
        assert!(!accepts(&with("identity"), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn api_paths_are_reserved() {
        for p in [
            "/api",
            "/api/v1/nope",
            "/openapi.json",
            "/docs/",
            "/metrics",
            "/health/live",
        ] {
            assert!(reserved(p), "{p}");
        }
        for p in ["/", "/projects", "/apiary", "/healthy", "/settings"] {
            assert!(!reserved(p), "{p}");
        }
    }
}

/// The content of one gzip member (RFC 1952): header fields skipped, the deflate data inflated.
fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if data.len() < 18 || data[..3] != [0x1f, 0x8b, 8] {
        return None;
    }
    let flags = data[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = usize::from(u16::from_le_bytes([*data.get(at)?, *data.get(at + 1)?]));
        at += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += data.get(at..)?.iter().position(|b| *b == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    let deflated = data.get(at..data.len().checked_sub(8)?)?;
    miniz_oxide::inflate::decompress_to_vec(deflated).ok()
}

#[cfg(test)]
mod gzip_tests {
    #[test]
    fn gunzip_reads_a_member_with_a_file_name_and_refuses_garbage() {
        // `printf 'hello docs' | gzip -n` with the FNAME flag and name "a" added by hand.
        let deflated = miniz_oxide::deflate::compress_to_vec(b"hello docs", 6);
        let mut member = vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, b'a', 0];
        member.extend_from_slice(&deflated);
        member.extend_from_slice(&[0; 8]); // CRC and size (not checked)
        assert_eq!(super::gunzip(&member).as_deref(), Some(&b"hello docs"[..]));
        assert_eq!(super::gunzip(b"not gzip at all, really"), None);
        assert_eq!(super::gunzip(&member[..12]), None);
    }
}
