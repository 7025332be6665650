//! `save_file`: one file uploaded to a case, with its description, locale and
//! tags in the form fields before it; the file must be the form's last part.

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use clasp_domain::services::NewUpload;
use clasp_domain::{Scope, Subject};
use futures::StreamExt;
use uuid::Uuid;

use super::{AttachmentJson, Cases, DEFAULT_LOCALE};
use crate::extract::Bearer;
use crate::form::{self, FieldLimits, Fields, Form};
use crate::problem::{Problem, ProblemKind};
use crate::wire::Reply;
use crate::{Services, body};

/// The text fields before the file (a case id, a description, a locale, tags,
/// and fields the seed does not define, read and ignored).
const TEXT_FIELDS: FieldLimits = FieldLimits {
    max_fields: 64,
    max_bytes: 64 * 1024,
};

/// Why the form's body stream ended early.
#[derive(Debug, thiserror::Error)]
enum FormError {
    /// The multipart body itself is broken.
    #[error(transparent)]
    Multipart(#[from] form::FormError),
    /// A field follows `file`.
    #[error("the field {0:?} follows file, which must be the last field")]
    NotLast(String),
}

fn missing(name: &'static str) -> Problem {
    Problem::new(
        ProblemKind::MissingField,
        format!("the form field {name} is required (before file, which comes last)"),
    )
    .at(name)
}

fn once(slot: &mut Option<String>, name: &str, value: String) -> Result<(), Problem> {
    if slot.replace(value).is_some() {
        return Err(
            Problem::new(ProblemKind::InvalidField, format!("{name} is given twice"))
                .at(name.to_owned()),
        );
    }
    Ok(())
}

#[utoipa::path(post, path = "/api-public/1.0/save_file", request_body(content = super::SaveFileForm, content_type = "multipart/form-data"), responses(
    (status = 200, description = "Stored", body = super::AttachmentJson),
    (status = 400, description = "Bad form, missing or bad `caseId`, `file` not last, too large, type not allowed", body = super::ErrorJson),
    (status = 422, description = "The virus scanner found malware (`infectedFile`); nothing is served", body = super::ErrorJson),
    (status = 503, description = "Too many uploads at once (see `Retry-After`), or the virus scanner gave no verdict", body = super::ErrorJson),
    crate::openapi::BearerRefusals<super::ErrorJson>,
))]
/// Uploads a file to a case; `file` must be the form's last part.
pub(super) async fn save_file(
    p: Bearer<Cases>,
    req: HttpRequest,
    services: Data<Services>,
    mut form: Form,
) -> Reply<Cases> {
    // Before a byte of the body is read.
    services.attachments.authorize(&p, Scope::Write)?;
    let attachments = services.attachments.for_tenant(p.tenant_id).await?;
    let max = attachments.policy().max_bytes;
    body::bound_form(&req, &form, max, 1, TEXT_FIELDS)?;

    let (mut case_id, mut description, mut locale) = (None, None, None);
    let mut tags = Vec::new();
    let mut fields = Fields::new(TEXT_FIELDS);
    let file = loop {
        let field = form.next().await.ok_or_else(|| missing("file"))??;
        let name = field.name().to_owned();
        match name.as_str() {
            "file" => break field,
            "caseId" => once(&mut case_id, &name, fields.text(field).await?)?,
            "description" => once(&mut description, &name, fields.text(field).await?)?,
            "templateLocale" => once(&mut locale, &name, fields.text(field).await?)?,
            "bulkTags[]" => tags.push(fields.text(field).await?),
            // Fields the seed does not define are read (bounded) and ignored.
            _ => drop(fields.text(field).await?),
        }
    };
    let case_id = case_id.ok_or_else(|| missing("caseId"))?;
    let case_id = Uuid::parse_str(case_id.trim()).map_err(|_| {
        Problem::new(ProblemKind::InvalidField, "caseId must be a UUID").at("caseId")
    })?;
    let upload = NewUpload {
        subject: Subject {
            case_id: Some(case_id.to_string()),
            ..Subject::default()
        },
        filename: file.filename(),
        content_type: file.media_type(),
        description: description.filter(|d| !d.is_empty()),
        tags: tags.into_iter().filter(|t| !t.is_empty()).collect(),
        locale: Some(
            locale
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_LOCALE.to_owned()),
        ),
        size_hint: body::content_length(&req),
        ..NewUpload::default()
    };

    // The file's bytes, then a check that nothing follows them: a field after
    // the file ends the body with an error, so the upload is refused before it
    // becomes visible.
    let not_last = Rc::new(RefCell::new(None));
    let noticed = Rc::clone(&not_last);
    let rest = futures::stream::once(async move {
        match form.next().await {
            None => None,
            Some(Ok(next)) => {
                let name = next.name().to_owned();
                noticed.replace(Some(name.clone()));
                Some(Err(FormError::NotLast(name)))
            }
            Some(Err(e)) => Some(Err(FormError::Multipart(e))),
        }
    })
    .filter_map(futures::future::ready);
    let source = Box::pin(file.map(|r| r.map_err(FormError::from)).chain(rest));
    let created = body::bridge(source, |stream| attachments.upload(&p, upload, stream)).await;
    if let Some(name) = not_last.take() {
        return Err(Problem::new(
            ProblemKind::FileNotLast,
            format!("file must be the last field of the form, but {name:?} follows it"),
        )
        .at("file")
        .into());
    }
    Ok(HttpResponse::Ok().json(AttachmentJson::from(&created?)))
}
