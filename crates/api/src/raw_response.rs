//! Responses written below the router, in the same shape as every other error: JSON
//! `{"detail", "code"}` with the security headers.
//!
//! Two kinds exist: the server loop's refusal of a connection over the limit, and the answers
//! hyper writes on its own when it cannot parse a request head (400 for a malformed request line,
//! header or bytes in the target, 414 for a target over 64 KiB, 431 for more than 100 headers or
//! an oversized head). hyper has no hook for the latter, so [`ParseErrorRewriter`] recognises
//! them on the way out — an exact, body-less head that the router never produces, since every
//! router error has a JSON body — and writes ours instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::security::SECURITY_HEADERS;

/// A complete HTTP/1.1 response that closes the connection: `status` is the status line's tail
/// (`"400 Bad Request"`), `extra` any further headers.
pub(crate) fn json_response(
    status: &str,
    code: &str,
    detail: &str,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let body = serde_json::json!({ "detail": detail, "code": code }).to_string();
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\ncache-control: no-store\r\n",
        body.len()
    );
    for (name, value) in SECURITY_HEADERS.iter().chain(extra) {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The JSON answer for one of hyper's automatic responses, if `head` is one.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    // hyper's form: `HTTP/1.1 <status> <reason>\r\nconnection: close\r\ncontent-length: 0\r\n
    // date: <29 characters>\r\n\r\n`, written in one piece, about 100 bytes.
    if head.len() > 160 || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.strip_suffix("\r\n\r\n")?.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?;
    let mut rest: Vec<&str> = lines.collect();
    rest.sort_unstable();
    let [close, length, date] = rest.as_slice() else {
        return None;
    };
    if *close != "connection: close"
        || *length != "content-length: 0"
        || !date.starts_with("date: ")
    {
        return None;
    }
    let (code, detail) = match status.get(..3)? {
        "400" => (
            "MALFORMED_REQUEST",
            "the request is not valid HTTP/1.1 (request line, a header, or a byte not allowed in \
             the target; encode the path and query with percent escapes)",
        ),
        "414" => (
            "URI_TOO_LONG",
            "the request target is longer than 64 KiB; send large inputs in a body",
        ),
        "431" => (
            "HEADERS_TOO_LARGE",
            "the request has more than 100 headers or its head is too large",
        ),
        _ => return None,
    };
    Some(json_response(status, code, detail, &[]))
}

/// Wraps a connection's stream; see the module documentation. Reads pass through untouched.
pub(crate) struct ParseErrorRewriter<S> {
    inner: S,
    /// Our answer being written in place of hyper's, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> ParseErrorRewriter<S> {
    pub(crate) fn new(inner: S) -> Self {
        ParseErrorRewriter {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> ParseErrorRewriter<S> {
    /// Writes the pending answer; `Ready(Ok(()))` once all of it is out.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ParseErrorRewriter<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ParseErrorRewriter<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            match replacement(buf) {
                Some(ours) => self.pending = Some((ours, 0)),
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        // hyper calls again with the same bytes until we report them written.
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // An automatic answer is a head alone: one non-empty slice.
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (non_empty.next(), non_empty.next())
            && (self.pending.is_some() || replacement(only).is_some())
        {
            return self.poll_write(cx, only);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_400: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\
        date: Mon, 07 Dec 2026 04:52:03 GMT\r\n\r\n";

    #[test]
    fn hypers_automatic_answers_become_json() {
        let ours = String::from_utf8(replacement(HYPER_400).unwrap()).unwrap();
        assert!(ours.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{ours}");
        assert!(ours.contains("content-type: application/json\r\n"));
        assert!(ours.contains("x-content-type-options: nosniff\r\n"));
        let (head, body) = ours.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], "MALFORMED_REQUEST");
    }

    #[test]
    fn anything_else_passes_untouched() {
        // A response of our own (has a body and a content type), body bytes that merely look
        // like a head, and statuses hyper never writes itself.
        for bytes in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\ncontent-length: 0\r\n\
              date: Mon, 07 Dec 2026 04:52:03 GMT\r\n\r\n",
            b"some body bytes",
        ] {
            assert!(replacement(bytes).is_none(), "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[tokio::test]
    async fn a_partial_write_finishes_before_hyper_is_told() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(16);
        let mut w = ParseErrorRewriter::new(client);
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut server, &mut out)
                .await
                .unwrap();
            out
        });
        w.write_all(HYPER_400).await.unwrap();
        w.shutdown().await.unwrap();
        drop(w);
        let out = String::from_utf8(reader.await.unwrap()).unwrap();
        assert!(out.contains("\"code\":\"MALFORMED_REQUEST\""), "{out}");
    }
}
