//! Download bodies that take turns on their worker.

use clasp_domain::ports::BlobStream;
use futures::StreamExt;

/// Bytes a download sends before it lets the other connections of its worker
/// go first. A chunk a store has ready at once (a local file in the page
/// cache, an object from a fast bucket) and a socket that its client drains
/// fast never make a download wait, so without a yield one download could
/// send a whole 30 MiB file before the worker's other downloads sent a byte
/// (tokio's cooperative budget allows 128 writes): at 16 in flight on one
/// worker the slowest took seven to eight times the mean, nginx's three to
/// four (docs/performance.md, "a download's fair share of its worker").
/// nginx's `sendfile_max_chunk` is 2 MiB for the same reason; smaller bodies
/// never yield.
const FAIR_SHARE_BYTES: u64 = 2 * 1024 * 1024;

/// `body`, yielding its worker once every [`FAIR_SHARE_BYTES`]: every
/// download answer streams through this, whatever store the bytes come from.
pub(crate) fn taking_turns(body: BlobStream) -> BlobStream {
    futures::stream::unfold((body, 0u64), |(mut body, mut unyielded)| async move {
        let item = body.next().await?;
        if unyielded >= FAIR_SHARE_BYTES {
            unyielded = 0;
            tokio::task::yield_now().await;
        }
        if let Ok(chunk) = &item {
            unyielded += chunk.len() as u64;
        }
        Some((item, (body, unyielded)))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is how a test fails")]

    use bytes::Bytes;
    use clasp_domain::ports::BlobError;

    use super::*;

    /// A download lets the worker's other connections go first once every
    /// [`FAIR_SHARE_BYTES`], however fast its chunks are ready, and a body
    /// smaller than that never waits.
    #[tokio::test]
    async fn a_long_download_yields_its_worker_every_fair_share() {
        let share = usize::try_from(FAIR_SHARE_BYTES).unwrap();
        for (len, yields) in [(2 * share + 17, 2), (share, 0), (2 * share + 7, 2)] {
            let chunks: Vec<Result<Bytes, BlobError>> = vec![0u8; len]
                .chunks(256 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let mut stream = taking_turns(futures::stream::iter(chunks).boxed());
            let (mut read, mut waits) = (0, 0);
            loop {
                match futures::poll!(stream.next()) {
                    std::task::Poll::Ready(Some(chunk)) => read += chunk.unwrap().len(),
                    std::task::Poll::Ready(None) => break,
                    std::task::Poll::Pending => {
                        waits += 1;
                        tokio::task::yield_now().await;
                    }
                }
            }
            assert_eq!(read, len, "{len}");
            assert_eq!(waits, yields, "{len}");
        }
    }
}
