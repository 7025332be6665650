//! Bridges actix request bodies (which are `!Send`) to the domain's `Send` body
//! stream: the handler forwards chunks through a small bounded channel while the
//! domain consumes them, so at most a few chunks are in memory per upload and the
//! client is throttled by the consumer (back-pressure).

use std::future::Future;

use bytes::Bytes;
use clasp_domain::inspect::{BodyError, BodyStream};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::problem::{Problem, ProblemKind};

/// Chunks in flight between the request and the domain.
const CHANNEL_CHUNKS: usize = 4;

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

/// Room for multipart boundaries and part headers on top of the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The request's declared `Content-Length`, if any: the most a file in its body
/// can weigh, so an upload reserves no more of its tenant's quota.
pub fn content_length(req: &actix_web::HttpRequest) -> Option<u64> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Refuses a request at once when its declared `Content-Length` cannot fit a file
/// within `max_bytes`, before a byte of the body is read.
pub fn refuse_oversized(
    req: &actix_web::HttpRequest,
    max_bytes: u64,
) -> Result<(), clasp_domain::AttachmentError> {
    match content_length(req) {
        Some(len) if len > max_bytes.saturating_add(MULTIPART_OVERHEAD) => {
            Err(clasp_domain::ValidationError::TooLarge { limit: max_bytes }.into())
        }
        _ => Ok(()),
    }
}

/// Reads a small JSON body of at most `max_bytes`; an empty body is `default`
/// when there is one.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    mut payload: actix_web::web::Payload,
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
