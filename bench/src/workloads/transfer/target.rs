//! What the transfer workloads send: Clasp instances with their key, the
//! bytes, and the load operations that upload them.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::TICKET;
use crate::load;
use crate::procs::Clasp;

/// Bytes that look like a PDF to Clasp's magic check and are incompressible.
pub(crate) fn pdf_bytes(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"%PDF-1.7\n");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A Clasp instance under load, with what its workloads need.
pub(crate) struct Target {
    pub(crate) clasp: Clasp,
    client: reqwest::Client,
    pub(super) auth: HeaderMap,
}

impl Target {
    pub(crate) fn new(clasp: Clasp, client: &reqwest::Client) -> Result<Target> {
        let mut auth = HeaderMap::new();
        auth.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", clasp.key))?,
        );
        Ok(Target {
            clasp,
            client: client.clone(),
            auth,
        })
    }

    /// What a tus creation to this instance sends besides the length: its
    /// key, and metadata naming the file and the ticket.
    pub(super) fn tus_headers(&self) -> Result<HeaderMap> {
        use base64::Engine;
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let mut headers = self.auth.clone();
        let meta = format!(
            "filename {},filetype {},ticketId {}",
            b64("bench.pdf"),
            b64("application/pdf"),
            b64(TICKET)
        );
        headers.insert("upload-metadata", HeaderValue::from_str(&meta)?);
        Ok(headers)
    }

    /// Clasp's tus endpoint.
    pub(super) fn tus_endpoint(&self) -> String {
        format!("{}/tus/", self.clasp.server.base)
    }

    pub(super) fn attachments(&self) -> String {
        format!("{}/v1/tickets/{TICKET}/attachments", self.clasp.server.base)
    }

    /// Uploads `bytes` as a PDF; answers the attachment's id.
    pub(super) async fn upload(&self, bytes: &[u8]) -> Result<String> {
        let (body, mut headers) = load::multipart("bench.pdf", "application/pdf", bytes);
        headers.extend(self.auth.clone());
        let answer = load::send(
            &self.client,
            Method::POST,
            &self.attachments(),
            headers,
            body,
        )
        .await?;
        id_of(&answer)
    }

    pub(super) async fn signed_url(&self, id: &str) -> Result<String> {
        let url = format!("{}/{id}/download", self.attachments());
        let answer = load::send(
            &self.client,
            Method::GET,
            &url,
            self.auth.clone(),
            Bytes::new(),
        )
        .await?;
        let json: serde_json::Value = serde_json::from_slice(&answer)?;
        json["signed_url"]
            .as_str()
            .map(str::to_owned)
            .context("no signed_url in the download answer")
    }

    pub(crate) async fn delete_all(&self, ids: &Mutex<Vec<String>>) -> Result<()> {
        let ids = std::mem::take(&mut *ids.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
        for id in ids {
            let url = format!("{}/{id}", self.attachments());
            load::send(
                &self.client,
                Method::DELETE,
                &url,
                self.auth.clone(),
                Bytes::new(),
            )
            .await?;
        }
        Ok(())
    }

    /// A load operation uploading `bytes` as multipart; ids go to `ids`.
    pub(crate) fn upload_op(
        self: &Arc<Self>,
        bytes: &Bytes,
        ids: &Arc<Mutex<Vec<String>>>,
    ) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<u64>> + Send + Sync + Clone + 'static
    {
        let (body, mut headers) = load::multipart("bench.pdf", "application/pdf", bytes);
        headers.extend(self.auth.clone());
        let len = bytes.len() as u64;
        let target = Arc::clone(self);
        let ids = Arc::clone(ids);
        move |_| {
            let target = Arc::clone(&target);
            let ids = Arc::clone(&ids);
            let body = body.clone();
            let headers = headers.clone();
            Box::pin(async move {
                let answer = load::send(
                    &target.client,
                    Method::POST,
                    &target.attachments(),
                    headers,
                    body,
                )
                .await?;
                let id = id_of(&answer)?;
                ids.lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .push(id);
                Ok(len)
            })
        }
    }
}

fn id_of(answer: &[u8]) -> Result<String> {
    let json: serde_json::Value = serde_json::from_slice(answer)?;
    json["id"]
        .as_str()
        .map(str::to_owned)
        .context("no id in the upload answer")
}

/// A load operation PUTting `bytes` to `url_of(worker)` (nginx: a new file
/// each time, or its body sink).
pub(super) fn put_op(
    client: &reqwest::Client,
    url_of: impl Fn(usize) -> String + Send + Sync + Clone + 'static,
    bytes: &Bytes,
) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<u64>> + Send + Sync + Clone + 'static
{
    let client = client.clone();
    let bytes = bytes.clone();
    move |worker| {
        let client = client.clone();
        let url = url_of(worker);
        let bytes = bytes.clone();
        Box::pin(async move {
            let len = bytes.len() as u64;
            load::send(&client, Method::PUT, &url, HeaderMap::new(), bytes).await?;
            Ok(len)
        })
    }
}

/// A load operation uploading `bytes` to the tus endpoint `endpoint` as its
/// clients do: a creation `POST` declaring the length (with `headers`: a
/// credential, `Upload-Metadata`), then `PATCH`es of at most `chunk` bytes.
/// The last answer's `Clasp-Attachment-Id`, if any, goes to `ids`.
pub(super) fn tus_op(
    client: &reqwest::Client,
    endpoint: &str,
    headers: HeaderMap,
    (bytes, chunk): (&Bytes, usize),
    ids: &Arc<Mutex<Vec<String>>>,
) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<u64>> + Send + Sync + Clone + 'static
{
    let client = client.clone();
    let endpoint = endpoint.to_owned();
    let bytes = bytes.clone();
    let ids = Arc::clone(ids);
    move |_| {
        let client = client.clone();
        let endpoint = endpoint.clone();
        let headers = headers.clone();
        let bytes = bytes.clone();
        let ids = Arc::clone(&ids);
        Box::pin(async move {
            let len = bytes.len() as u64;
            let created = client
                .post(&endpoint)
                .headers(headers.clone())
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", len)
                .send()
                .await?
                .error_for_status()?;
            let location = created
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .context("a tus creation without Location")?;
            let upload = reqwest::Url::parse(&endpoint)?.join(location)?;
            let mut offset = 0;
            while offset < bytes.len() {
                let end = (offset + chunk.max(1)).min(bytes.len());
                let answer = client
                    .patch(upload.clone())
                    .headers(headers.clone())
                    .header("Tus-Resumable", "1.0.0")
                    .header("Upload-Offset", offset)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/offset+octet-stream",
                    )
                    .body(bytes.slice(offset..end))
                    .send()
                    .await?
                    .error_for_status()?;
                if let Some(id) = answer
                    .headers()
                    .get("clasp-attachment-id")
                    .and_then(|v| v.to_str().ok())
                {
                    ids.lock()
                        .map_err(|_| anyhow::anyhow!("poisoned"))?
                        .push(id.to_owned());
                }
                offset = end;
            }
            Ok(len)
        })
    }
}

/// Removes what a tus server stored under `dir` (between measurements).
pub(super) fn empty_dir(dir: &std::path::Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        std::fs::remove_file(entry?.path())?;
    }
    Ok(())
}
