//! A closed-loop load generator: `concurrency` workers, each sending one request
//! after another for a while, over a shared keep-alive connection pool. Every
//! request must succeed — a benchmark that counts failures as work measures
//! nothing.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

/// What one timed run did.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// From the first request's start to the last one's end.
    pub elapsed: Duration,
    /// Requests completed.
    pub requests: u64,
    /// Body bytes moved (sent or received).
    pub bytes: u64,
    /// The 99th percentile latency.
    pub p99: Duration,
    /// With the generator confined to CPUs of its own, the share of their
    /// time they were busy (anything on them: the generator and the kernel's
    /// work for its sockets). Near 1, the generator may be what limits the
    /// figure; well under, it waited for the server.
    pub generator_busy: Option<f64>,
}

impl Sample {
    /// Throughput in MiB per second.
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / 1_048_576.0 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Requests per second.
    pub fn per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The 99th percentile of `latencies`, sorted.
fn p99(latencies: &[Duration]) -> Duration {
    let n = latencies.len();
    if n == 0 {
        return Duration::ZERO;
    }
    latencies[((n * 99).div_ceil(100)).clamp(1, n) - 1]
}

/// Runs `concurrency` workers; each calls `op(worker)` again and again until
/// `duration` has passed (every worker makes at least one request). `op`
/// answers how many body bytes its request moved.
pub async fn run<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Result<Sample>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency.max(1) {
        let op = Arc::clone(&op);
        workers.push(tokio::spawn(async move {
            let mut bytes = 0;
            let mut latencies = Vec::new();
            loop {
                let begun = Instant::now();
                bytes += op(worker).await?;
                latencies.push(begun.elapsed());
                if start.elapsed() >= duration {
                    return Ok::<_, anyhow::Error>((bytes, latencies));
                }
            }
        }));
    }
    let mut sample = Sample::default();
    let mut all = Vec::new();
    for worker in workers {
        let (bytes, latencies) = worker.await.context("a load worker panicked")??;
        sample.bytes += bytes;
        sample.requests += latencies.len() as u64;
        all.extend(latencies);
    }
    sample.elapsed = start.elapsed();
    all.sort();
    sample.p99 = p99(&all);
    Ok(sample)
}

/// An HTTP client for the load: one keep-alive connection per worker.
pub fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// GETs `url` and reads the whole body as it streams, without keeping it;
/// answers its length.
pub async fn get(client: &reqwest::Client, url: &str, headers: HeaderMap) -> Result<u64> {
    let mut response = client.get(url).headers(headers).send().await?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET {url}: {status}");
    }
    let mut bytes = 0;
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len() as u64;
    }
    Ok(bytes)
}

/// Sends `body` with `method` to `url`; answers the response body (small: a
/// JSON object or nothing), failing on any non-2xx status.
pub async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Bytes> {
    let response = client
        .request(method.clone(), url)
        .headers(headers)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let answer = response.bytes().await?;
    if !status.is_success() {
        bail!(
            "{method} {url}: {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(answer)
}

/// The boundary of [`multipart`] bodies.
const BOUNDARY: &str = "clasp-bench-boundary-7f3a9c";

/// A `multipart/form-data` body with one part, `file`, holding `bytes`, and
/// the `Content-Type` header naming its boundary; built once per workload so
/// each request only clones a reference-counted buffer.
pub fn multipart(filename: &str, content_type: &str, bytes: &[u8]) -> (Bytes, HeaderMap) {
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let mut headers = HeaderMap::new();
    if let Ok(value) = format!("multipart/form-data; boundary={BOUNDARY}").parse() {
        headers.insert(CONTENT_TYPE, value);
    }
    (Bytes::from(body), headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_worker_works_until_the_time_is_up() {
        let sample = run(4, Duration::from_millis(30), |_| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(10)
        })
        .await;
        let sample = sample.unwrap_or_default();
        assert!(sample.requests >= 4 * 2, "{sample:?}");
        assert!(sample.elapsed >= Duration::from_millis(30), "{sample:?}");
        assert_eq!(sample.bytes, sample.requests * 10);
        assert!(sample.p99 >= Duration::from_millis(5));
        assert!(sample.per_sec() > 0.0 && sample.mib_per_sec() > 0.0);
    }

    #[tokio::test]
    async fn a_failed_request_fails_the_run() {
        let outcome = run(2, Duration::from_millis(10), |w| async move {
            if w == 1 { bail!("refused") } else { Ok(1) }
        })
        .await;
        assert!(outcome.is_err());
    }
}
