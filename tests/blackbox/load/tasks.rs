//! The load test's clients: one task per connection, each choosing its next
//! request, checking the answer and counting what it saw.

use super::*;

/// A small xorshift generator: each task's choices, reproducible.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

/// One instance's credentials and the base URL.
pub(super) struct Ctx {
    pub(super) base: String,
    pub(super) key: String,
    pub(super) cookie: String,
}

/// What the tasks of a round saw.
#[derive(Default)]
pub(super) struct Tally {
    /// Time to answer of every request, in microseconds.
    pub(super) latencies: Vec<u32>,
    /// Answers of another status than the one expected, by status.
    pub(super) unexpected: BTreeMap<u16, usize>,
    /// The first few of them, for the failure message.
    pub(super) samples: Vec<String>,
    pub(super) uploads: usize,
    pub(super) deletes: usize,
    pub(super) bytes_checked: u64,
}

impl Tally {
    pub(super) fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.unexpected {
            *self.unexpected.entry(status).or_default() += n;
        }
        self.samples.extend(other.samples);
        self.samples.truncate(10);
        self.uploads += other.uploads;
        self.deletes += other.deletes;
        self.bytes_checked += other.bytes_checked;
    }
}

/// One client task: its subjects, its attachments, its tally.
pub(super) struct Task {
    pub(super) c: reqwest::Client,
    pub(super) ctx: Arc<Ctx>,
    pub(super) n: usize,
    pub(super) rng: Rng,
    pub(super) ticket: String,
    pub(super) ws_ticket: String,
    pub(super) case: String,
    pub(super) message: u64,
    pub(super) items: Vec<Item>,
    pub(super) uploaded: usize,
    pub(super) tally: Tally,
}

impl Task {
    /// Sends `req`, expecting `want`; the body when it came.
    pub(super) async fn send(
        &mut self,
        req: reqwest::RequestBuilder,
        want: StatusCode,
    ) -> Option<Vec<u8>> {
        self.answer(req, want).await.map(|(_, body)| body)
    }

    /// Sends `req`, expecting `want`; the `ETag` and the body when they came.
    pub(super) async fn answer(
        &mut self,
        req: reqwest::RequestBuilder,
        want: StatusCode,
    ) -> Option<(Option<String>, Vec<u8>)> {
        let began = Instant::now();
        let res = req.send().await;
        let (status, etag, body) = match res {
            Ok(res) => {
                let status = res.status();
                let etag = res
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (status, etag, res.bytes().await.map(|b| b.to_vec()).ok())
            }
            Err(e) => {
                self.tally.samples.push(format!("request failed: {e}"));
                *self.tally.unexpected.entry(0).or_default() += 1;
                return None;
            }
        };
        self.tally
            .latencies
            .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status != want {
            *self.tally.unexpected.entry(status.as_u16()).or_default() += 1;
            if self.tally.samples.len() < 10 {
                self.tally.samples.push(format!(
                    "{status} (wanted {want}): {}",
                    String::from_utf8_lossy(body.as_deref().unwrap_or_default())
                ));
            }
            return None;
        }
        Some((etag, body?))
    }

    pub(super) async fn json(
        &mut self,
        req: reqwest::RequestBuilder,
        want: StatusCode,
    ) -> Option<Value> {
        let body = self.send(req, want).await?;
        serde_json::from_slice(&body).ok()
    }

    pub(super) fn bearer(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(&self.ctx.key)
            .header("x-workspace-id", TENANT)
    }

    pub(super) fn session(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header("cookie", format!("clasp_session={}", self.ctx.cookie))
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ctx.base)
    }

    pub(super) fn mismatch(&mut self, what: String) {
        *self.tally.unexpected.entry(1).or_default() += 1;
        if self.tally.samples.len() < 10 {
            self.tally.samples.push(what);
        }
    }

    /// Uploads a file of `len` bytes through the next dialect in turn.
    pub(super) async fn upload(&mut self, len: usize) {
        self.uploaded += 1;
        let name = format!("t{}-{}.txt", self.n, self.uploaded);
        let data = content(&name, len);
        let sha256 = sha256_hex(data);
        let part = || {
            Part::bytes(data)
                .file_name(name.clone())
                .mime_str("text/plain")
                .unwrap()
        };
        let dialect = [
            Dialect::Tickets,
            Dialect::Cases,
            Dialect::Chat,
            Dialect::Workspaces,
        ][self.uploaded % 4];
        let id = match dialect {
            Dialect::Tickets => {
                let req = self.bearer(
                    self.c
                        .post(self.url(&format!("/v1/tickets/{}/attachments", self.ticket)))
                        .multipart(Form::new().part("file", part())),
                );
                self.json(req, StatusCode::CREATED)
                    .await
                    .map(|v| v["id"].clone())
            }
            Dialect::Cases => {
                let form = Form::new()
                    .text("caseId", self.case.clone())
                    .part("file", part());
                let req = self.bearer(
                    self.c
                        .post(self.url("/api-public/1.0/save_file"))
                        .multipart(form),
                );
                self.json(req, StatusCode::OK)
                    .await
                    .map(|v| v["id"].clone())
            }
            Dialect::Chat => {
                let req = self.session(
                    self.c
                        .post(self.url(&format!("/api/v1/messages/{}/attachments", self.message)))
                        .multipart(Form::new().part("files", part())),
                );
                self.json(req, StatusCode::OK)
                    .await
                    .map(|v| v["attachmentIds"][0].clone())
            }
            Dialect::Workspaces => self.direct_upload(&name, data).await,
        };
        let id = match id {
            Some(Value::String(id)) => id,
            Some(Value::Number(n)) => n.to_string(),
            _ => return,
        };
        self.tally.uploads += 1;
        self.items.push(Item {
            dialect,
            id,
            name,
            len,
            sha256,
        });
    }

    /// The workspaces flow: upload-url, PUT to Clasp's signed URL, confirm.
    pub(super) async fn direct_upload(&mut self, name: &str, data: &'static [u8]) -> Option<Value> {
        let req = self.bearer(
            self.c
                .post(self.url(&format!(
                    "/v1/workspaces/{TENANT}/tickets/{}/attachments/upload-url",
                    self.ws_ticket
                )))
                .json(&json!({"filename": name, "contentType": "text/plain", "size": data.len()})),
        );
        let begun = self.json(req, StatusCode::CREATED).await?;
        let id = begun["attachmentId"].clone();
        let mut put = self.c.put(begun["url"].as_str()?);
        for (header, value) in begun["headers"].as_object()? {
            if !header.eq_ignore_ascii_case("content-length") {
                put = put.header(header, value.as_str()?);
            }
        }
        self.send(put.body(data), StatusCode::OK).await?;
        let req = self.bearer(
            self.c
                .post(self.url(&format!(
                    "/v1/workspaces/{TENANT}/attachments/{}/confirm",
                    id.as_str()?
                )))
                .json(&json!({})),
        );
        let confirmed = self.json(req, StatusCode::OK).await?;
        (confirmed["status"] == "ready").then_some(id)
    }

    /// The metadata of `item` through its dialect.
    pub(super) async fn metadata(&mut self, item: &Item) {
        let (req, want) = match item.dialect {
            Dialect::Tickets => (
                self.bearer(self.c.get(self.url(&format!(
                    "/v1/tickets/{}/attachments/{}",
                    self.ticket, item.id
                )))),
                StatusCode::OK,
            ),
            Dialect::Cases => (
                self.bearer(
                    self.c
                        .get(self.url(&format!("/api-public/1.0/attachment/{}", item.id))),
                ),
                StatusCode::OK,
            ),
            Dialect::Chat => (
                self.session(
                    self.c
                        .get(self.url(&format!("/api/v1/attachments/{}", item.id))),
                ),
                StatusCode::OK,
            ),
            // the redirect dialect: a 307 to a signed URL
            Dialect::Workspaces => (
                self.bearer(
                    self.c
                        .get(self.url(&format!("/api/v1/attachments/{}/download", item.id))),
                ),
                StatusCode::TEMPORARY_REDIRECT,
            ),
        };
        self.send(req, want).await;
    }

    /// A listing of this task's subjects.
    pub(super) async fn listing(&mut self) {
        let req = match self.rng.next(3) {
            0 => self.bearer(
                self.c
                    .get(self.url(&format!("/v1/tickets/{}/attachments", self.ticket))),
            ),
            1 => self.bearer(self.c.get(self.url(&format!(
                "/api-public/1.0/attachments?caseId={}&limit=50",
                self.case
            )))),
            _ => self.bearer(self.c.get(self.url(&format!(
                "/v1/workspaces/{TENANT}/tickets/{}/attachments",
                self.ws_ticket
            )))),
        };
        self.send(req, StatusCode::OK).await;
    }

    /// Downloads `item` through its dialect, whole or the byte range `range`,
    /// and compares the bytes with what was sent.
    pub(super) async fn download(&mut self, item: &Item, range: Option<(usize, usize)>) {
        let url = match item.dialect {
            Dialect::Tickets => {
                let req = self.bearer(self.c.get(self.url(&format!(
                    "/v1/tickets/{}/attachments/{}/download",
                    self.ticket, item.id
                ))));
                let Some(signed) = self.json(req, StatusCode::OK).await else {
                    return;
                };
                signed["signed_url"].as_str().unwrap_or_default().to_owned()
            }
            Dialect::Cases => self.url(&format!(
                "/api-public/1.0/attachment/{}/attachment",
                item.id
            )),
            Dialect::Chat => self.url(&format!("/api/v1/attachments/{}/{}", item.id, item.name)),
            Dialect::Workspaces => {
                let req = self.bearer(self.c.get(self.url(&format!(
                    "/v1/workspaces/{TENANT}/attachments/{}/download",
                    item.id
                ))));
                let Some(signed) = self.json(req, StatusCode::OK).await else {
                    return;
                };
                signed["url"].as_str().unwrap_or_default().to_owned()
            }
        };
        let mut req = match item.dialect {
            Dialect::Chat => self.session(self.c.get(url)),
            _ => self.bearer(self.c.get(url)),
        };
        let want = match range {
            Some((from, to)) => {
                req = req.header("range", format!("bytes={from}-{}", to - 1));
                StatusCode::PARTIAL_CONTENT
            }
            None => StatusCode::OK,
        };
        let Some((etag, bytes)) = self.answer(req, want).await else {
            return;
        };
        // the strong ETag is the SHA-256 the server recorded for the bytes
        if etag != Some(format!("\"{}\"", item.sha256)) {
            self.mismatch(format!(
                "{:?} {}: ETag {etag:?}, not the SHA-256 {} of what was sent",
                item.dialect, item.id, item.sha256
            ));
        }
        let (from, to) = range.unwrap_or((0, item.len));
        if bytes != content(&item.name, item.len)[from..to] {
            self.mismatch(format!(
                "{:?} {} bytes {from}..{to}: {} bytes differ from what was sent",
                item.dialect,
                item.id,
                bytes.len()
            ));
        }
        self.tally.bytes_checked += bytes.len() as u64;
    }

    /// Deletes `item` through its dialect (cases has no delete: the redirect
    /// dialect's), then checks its metadata is gone.
    pub(super) async fn delete(&mut self, item: &Item) {
        let (req, want) =
            match item.dialect {
                Dialect::Tickets => (
                    self.bearer(self.c.delete(self.url(&format!(
                        "/v1/tickets/{}/attachments/{}",
                        self.ticket, item.id
                    )))),
                    StatusCode::NO_CONTENT,
                ),
                Dialect::Chat => (
                    self.session(
                        self.c
                            .delete(self.url(&format!("/api/v1/attachments/{}", item.id))),
                    ),
                    StatusCode::OK,
                ),
                Dialect::Workspaces => (
                    self.bearer(self.c.delete(
                        self.url(&format!("/v1/workspaces/{TENANT}/attachments/{}", item.id)),
                    )),
                    StatusCode::NO_CONTENT,
                ),
                Dialect::Cases => (
                    self.bearer(
                        self.c
                            .delete(self.url(&format!("/api/v1/attachments/{}", item.id))),
                    ),
                    StatusCode::NO_CONTENT,
                ),
            };
        if self.send(req, want).await.is_none() {
            return;
        }
        self.tally.deletes += 1;
        let gone = match item.dialect {
            Dialect::Chat => self.session(
                self.c
                    .get(self.url(&format!("/api/v1/attachments/{}", item.id))),
            ),
            _ => self.bearer(
                self.c
                    .get(self.url(&format!("/api-public/1.0/attachment/{}", item.id))),
            ),
        };
        self.send(gone, StatusCode::NOT_FOUND).await;
    }

    /// One round: operations until `until`, the multi-MiB upload first for a
    /// few tasks.
    pub(super) async fn run(mut self, until: Instant) -> Self {
        if self.n < LARGE_UPLOADERS {
            let len = (2 << 20) + self.rng.next(2 << 20);
            self.upload(len).await;
        }
        while Instant::now() < until {
            let roll = self.rng.next(100);
            let item = if self.items.is_empty() {
                None
            } else {
                Some(self.items[self.rng.next(self.items.len())].clone())
            };
            match (roll, item) {
                (0..25, _) | (_, None) => {
                    let len = 1 + self.rng.next(64 << 10);
                    self.upload(len).await;
                }
                (25..45, Some(item)) => self.metadata(&item).await,
                (45..60, _) => self.listing().await,
                (60..78, Some(item)) => self.download(&item, None).await,
                (78..90, Some(item)) => {
                    let from = self.rng.next(item.len);
                    let to = from + 1 + self.rng.next(item.len - from);
                    self.download(&item, Some((from, to))).await;
                }
                (_, Some(item)) => {
                    self.items.retain(|i| i.id != item.id);
                    self.delete(&item).await;
                }
            }
        }
        self
    }
}
