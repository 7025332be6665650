//! Bridges actix request bodies (which are `!Send`) to the domain's `Send` body
//! stream: the handler forwards chunks through a small bounded channel while the
//! domain consumes them, so at most a few chunks are in memory per upload and the
//! client is throttled by the consumer (back-pressure).

use std::future::Future;

use bytes::Bytes;
use clasp_domain::inspect::{BodyError, BodyStream};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use clasp_domain::{AttachmentError, ValidationError};

use crate::form::{FieldLimits, Form};
use crate::problem::{Problem, ProblemKind};

/// Chunks in flight between the request and the domain. Each is a slice of
/// the connection's read buffer (up to 128 KiB, since the form reader copies
/// nothing), which it keeps alive: four of them at sixteen uploads put the
/// peak RSS 3-8 MiB higher than two, and two are as fast (docs/performance.md,
/// "fourteenth session").
const CHANNEL_CHUNKS: usize = 2;

/// Runs `consume` on a `Send` view of `source`, forwarding chunks until either
/// side finishes. Returns what `consume` returned.
pub async fn bridge<S, E, F, Fut, T>(source: S, consume: F) -> T
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error,
    F: FnOnce(BodyStream) -> Fut,
    Fut: Future<Output = T>,
{
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, BodyError>>(CHANNEL_CHUNKS);
    let stream: BodyStream = Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let forward = forward(source, tx);
    let (_, out) = futures::join!(forward, consume(stream));
    out
}

async fn forward<S, E>(mut source: S, tx: mpsc::Sender<Result<Bytes, BodyError>>)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error,
{
    loop {
        let item = tokio::select! {
            item = source.next() => item,
            () = tx.closed() => return,
        };
        let Some(item) = item else { return };
        let item = item.map_err(|e| BodyError::Interrupted(clasp_domain::error::with_causes(&e)));
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            return;
        }
    }
}

/// The request's declared `Content-Length`, if any: the most a file in its body
/// can weigh, so an upload reserves no more of its tenant's quota.
pub fn content_length(req: &actix_web::HttpRequest) -> Option<u64> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Bounds a multipart upload before a byte of it is read: at most `files`
/// files of `max_file` bytes each, and the form around them within `fields`.
/// A `Content-Length` beyond that is refused at once; a chunked body is cut
/// off once it passes the same number.
pub fn bound_form(
    req: &actix_web::HttpRequest,
    form: &Form,
    max_file: u64,
    files: u64,
    fields: FieldLimits,
) -> Result<(), AttachmentError> {
    let cap = max_file
        .saturating_mul(files)
        .saturating_add(fields.overhead(files));
    form.cap(cap);
    match content_length(req) {
        Some(len) if len > cap => Err(ValidationError::TooLarge { limit: max_file }.into()),
        _ => Ok(()),
    }
}

/// Reads a small JSON body of at most `max_bytes`; an empty body is `default`
/// when there is one.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    mut payload: actix_web::dev::Payload,
    max_bytes: usize,
    default: Option<T>,
) -> Result<T, Problem> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Problem::bad_request(e.to_string()))?;
        if buf.len() + chunk.len() > max_bytes {
            return Err(Problem::new(
                ProblemKind::BodyTooLarge,
                format!("a request body may hold at most {max_bytes} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.iter().all(u8::is_ascii_whitespace)
        && let Some(default) = default
    {
        return Ok(default);
    }
    serde_json::from_slice(&buf)
        .map_err(|e| Problem::bad_request(format!("the body is not the expected JSON: {e}")))
}
