//! The small form fields around a file, read the same way by every multipart
//! dialect: each one bounded in size, and how many a form may carry bounded
//! too, so no field around the file can make a request unbounded.

use bytes::BytesMut;
use futures::StreamExt;

use super::Part;
use crate::problem::{Problem, ProblemKind};

/// How many fields a form may carry besides its files, and how large each may be.
#[derive(Debug, Clone, Copy)]
pub struct FieldLimits {
    /// Fields besides the files.
    pub max_fields: usize,
    /// Bytes of one such field.
    pub max_bytes: usize,
}

impl FieldLimits {
    /// The most bytes a form of `files` files may hold besides the files' own
    /// bytes: every field at its largest, and every part's boundary and headers.
    pub fn overhead(self, files: u64) -> u64 {
        let fields = self.max_fields as u64;
        let parts = fields.saturating_add(files).saturating_add(1);
        parts
            .saturating_mul(super::MAX_HEAD_BYTES as u64)
            .saturating_add(fields.saturating_mul(self.max_bytes as u64))
    }
}

/// The fields of one form read so far, against its [`FieldLimits`].
#[derive(Debug)]
pub struct Fields {
    limits: FieldLimits,
    seen: usize,
}

impl Fields {
    /// No field read yet.
    pub fn new(limits: FieldLimits) -> Self {
        Self { limits, seen: 0 }
    }

    fn count(&mut self) -> Result<(), Problem> {
        self.seen += 1;
        if self.seen > self.limits.max_fields {
            return Err(Problem::bad_request(format!(
                "a form may carry at most {} fields besides its files",
                self.limits.max_fields
            )));
        }
        Ok(())
    }

    /// The field's value: UTF-8, within the size bound.
    pub async fn text(&mut self, field: Part) -> Result<String, Problem> {
        self.text_of_at_most(field, self.limits.max_bytes).await
    }

    /// The field's value: UTF-8, of at most `max` bytes (and within the bound).
    pub async fn text_of_at_most(&mut self, field: Part, max: usize) -> Result<String, Problem> {
        let (name, bytes) = self.read(field, max.min(self.limits.max_bytes)).await?;
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            Problem::new(
                ProblemKind::InvalidField,
                format!("{name} is not UTF-8 text"),
            )
            .at(name)
        })
    }

    /// Reads and discards a field Clasp does not use, within the bounds.
    pub async fn skip(&mut self, field: Part) -> Result<(), Problem> {
        self.read(field, self.limits.max_bytes).await.map(drop)
    }

    async fn read(&mut self, mut field: Part, max: usize) -> Result<(String, BytesMut), Problem> {
        self.count()?;
        let name = field.name().to_owned();
        let mut buf = BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > max {
                return Err(Problem::new(
                    ProblemKind::InvalidField,
                    format!("{name} may hold at most {max} bytes"),
                )
                .at(name));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok((name, buf))
    }
}
