//! The uploads the crash test sends: one slow upload per dialect, whose bytes
//! and pace follow from its name, and what each answered.

use super::*;

/// 64-bit FNV-1a of `name`: the seed of its content and pace.
pub(super) fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// 4 MiB of pseudo-random lowercase text, from which every file is cut.
pub(super) fn text() -> &'static [u8] {
    static TEXT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut out = Vec::with_capacity(4 << 20);
        while out.len() < 4 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend(x.to_le_bytes().map(|b| b'a' + b % 26));
        }
        out
    })
}

/// The content of the file named `name`: its name on the first line, then
/// text — one file in three 1.1–1.5 MiB (above the 1 MiB part size, so a cut
/// upload leaves staged parts on disk), the others 64–320 KiB; derived from
/// the name alone, so any file seen later can be checked against what was sent.
pub(super) fn content(name: &str) -> Vec<u8> {
    let x = seed(name);
    let len = if x.is_multiple_of(3) {
        1_150_000 + usize::try_from(x % 400_000).unwrap()
    } else {
        65_536 + usize::try_from(x % 262_144).unwrap()
    };
    let from = usize::try_from((x >> 20) % (1 << 20)).unwrap();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&text()[from..from + len - out.len()]);
    out
}

/// Whether `bytes` are exactly the content of the file named on their first
/// line; answers that name.
pub(super) fn whole(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let name = std::str::from_utf8(&bytes[..end]).ok()?;
    (content(name) == bytes).then(|| name.to_owned())
}

/// How long sending `name` takes: 0.3–5.3 s.
pub(super) fn pace(name: &str) -> Duration {
    Duration::from_millis(300 + (seed(name) >> 24) % 5000)
}

pub(super) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `data` as a body sent chunk by chunk over `over`, as a slow client would.
pub(super) fn slow_body(data: Arc<Vec<u8>>, over: Duration) -> reqwest::Body {
    let chunks = data.len().div_ceil(CHUNK);
    let pause = over / u32::try_from(chunks).unwrap();
    let stream = futures::stream::unfold(0, move |i| {
        let data = data.clone();
        async move {
            if i == chunks {
                return None;
            }
            tokio::time::sleep(pause).await;
            let chunk = data[i * CHUNK..((i + 1) * CHUNK).min(data.len())].to_vec();
            Some((Ok::<_, std::io::Error>(chunk), i + 1))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// The multipart part of file `name`, sent slowly.
pub(super) fn slow_part(name: &str) -> Part {
    let data = content(name);
    let len = data.len() as u64;
    Part::stream_with_length(slow_body(Arc::new(data), pace(name)), len)
        .file_name(name.to_owned())
        .mime_str("text/plain")
        .unwrap()
}

/// An answer that is not the success expected: the test fails with it.
pub(super) fn unexpected(what: &str, status: StatusCode, body: &str) -> String {
    format!("{what} answered {status}: {body}")
}

/// Reads a success response, or says why it is not one; `Ok(None)` when the
/// connection broke (the process was killed).
pub(super) async fn answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    want: StatusCode,
    what: &str,
) -> Result<Option<Value>, String> {
    let Ok(res) = sent else { return Ok(None) };
    let status = res.status();
    let Ok(body) = res.text().await else {
        return Ok(None);
    };
    if status != want {
        return Err(unexpected(what, status, &body));
    }
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| format!("{what}: {e}: {body}"))
}

/// Runs one upload request of `dialect` for the files `names`.
pub(super) async fn upload(
    c: reqwest::Client,
    ctx: Ctx,
    dialect: Dialect,
    names: Vec<String>,
) -> Result<Outcome, String> {
    let id_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match dialect {
        Dialect::Tickets => {
            let form = Form::new().part("file", slow_part(&names[0]));
            let sent = c
                .post(format!(
                    "{}/v1/tickets/{}/attachments",
                    ctx.base, ctx.ticket
                ))
                .bearer_auth(&ctx.key)
                .multipart(form)
                .send()
                .await;
            Ok(
                match answer(sent, StatusCode::CREATED, "tickets upload").await? {
                    Some(v) => Outcome::Completed(vec![(id_of(&v["id"]), names[0].clone())]),
                    None => Outcome::Interrupted,
                },
            )
        }
        Dialect::Cases => {
            let form = Form::new()
                .text("caseId", ctx.case.clone())
                .part("file", slow_part(&names[0]));
            let sent = c
                .post(format!("{}/api-public/1.0/save_file", ctx.base))
                .bearer_auth(&ctx.key)
                .multipart(form)
                .send()
                .await;
            Ok(
                match answer(sent, StatusCode::OK, "cases save_file").await? {
                    Some(v) => Outcome::Completed(vec![(id_of(&v["id"]), names[0].clone())]),
                    None => Outcome::Interrupted,
                },
            )
        }
        Dialect::Chat => {
            let form = names.iter().fold(Form::new(), |form, name| {
                form.part("files", slow_part(name))
            });
            let sent = ctx
                .chat(c.post(format!(
                    "{}/api/v1/messages/{}/attachments",
                    ctx.base, ctx.message
                )))
                .multipart(form)
                .send()
                .await;
            Ok(match answer(sent, StatusCode::OK, "chat upload").await? {
                Some(v) => Outcome::Completed(
                    v["attachments"]
                        .as_array()
                        .ok_or_else(|| format!("chat upload: no attachments in {v}"))?
                        .iter()
                        .map(|a| {
                            (
                                a["attachmentId"].to_string(),
                                a["fileName"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect(),
                ),
                None => Outcome::Interrupted,
            })
        }
        Dialect::Workspaces => workspaces_upload(c, ctx, &names[0]).await,
    }
}

/// The workspaces flow for file `name`: upload-url, a slow PUT to Clasp's
/// signed upload URL, confirm.
pub(super) async fn workspaces_upload(
    c: reqwest::Client,
    ctx: Ctx,
    name: &str,
) -> Result<Outcome, String> {
    let data = content(name);
    let ws = format!("{}/v1/workspaces/{TENANT}", ctx.base);
    let sent = c
        .post(format!(
            "{ws}/tickets/{}/attachments/upload-url",
            ctx.ws_ticket
        ))
        .bearer_auth(&ctx.key)
        .header("x-workspace-id", TENANT)
        .json(&json!({"filename": name, "contentType": "text/plain", "size": data.len()}))
        .send()
        .await;
    let Some(begun) = answer(sent, StatusCode::CREATED, "workspaces upload-url").await? else {
        return Ok(Outcome::Interrupted);
    };
    let id = begun["attachmentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut put = c
        .put(begun["url"].as_str().unwrap_or_default())
        .header("content-length", data.len());
    for (header, value) in begun["headers"].as_object().into_iter().flatten() {
        if !header.eq_ignore_ascii_case("content-length") {
            put = put.header(header, value.as_str().unwrap_or_default());
        }
    }
    let pace = pace(name);
    let sent = put.body(slow_body(Arc::new(data), pace)).send().await;
    match sent {
        Err(_) => return Ok(Outcome::Begun(id)),
        Ok(res) if res.status() != StatusCode::OK => {
            let status = res.status();
            return Err(unexpected(
                "workspaces PUT",
                status,
                &res.text().await.unwrap_or_default(),
            ));
        }
        Ok(_) => {}
    }
    let sent = c
        .post(format!("{ws}/attachments/{id}/confirm"))
        .bearer_auth(&ctx.key)
        .header("x-workspace-id", TENANT)
        .json(&json!({}))
        .send()
        .await;
    Ok(
        match answer(sent, StatusCode::OK, "workspaces confirm").await? {
            Some(v) if v["status"] == "ready" => Outcome::Completed(vec![(id, name.to_owned())]),
            Some(v) => return Err(format!("workspaces confirm answered {v}")),
            None => Outcome::Begun(id),
        },
    )
}
