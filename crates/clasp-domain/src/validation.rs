//! What an acceptable upload is: size, media type, magic bytes, filename.

/// 30 MiB, the documented maximum of every dialect.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 31_457_280;

/// The media types every dialect documents as accepted.
pub const DEFAULT_ALLOWED_TYPES: [&str; 14] = [
    "text/plain",
    "text/html",
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "application/zip",
    "application/x-7z-compressed",
    "application/gzip",
];

/// The image types that get a thumbnail.
pub const THUMBNAIL_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The edge, in pixels, of the square every thumbnail fits in.
pub const THUMBNAIL_EDGE: u32 = 256;

/// Longest user id an API key may upload for, in bytes of UTF-8.
pub const MAX_USER_ID_BYTES: usize = 255;

/// Longest filename kept, in bytes of UTF-8.
pub const MAX_FILENAME_BYTES: usize = 255;

/// How many leading bytes are enough to recognise any format we check.
pub const SNIFF_BYTES: usize = 8192;

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// More bytes than the limit arrived.
    #[error("file is larger than the {limit} byte limit")]
    TooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// The media type is not on the allowlist.
    #[error("file type {0} is not allowed")]
    DisallowedType(String),
    /// The bytes are recognisably another format than declared.
    #[error("file content is {sniffed} but was declared as {declared}")]
    MagicMismatch {
        /// What the client said.
        declared: String,
        /// What the bytes are.
        sniffed: String,
    },
    /// The bytes are a program or a script: never accepted, whatever the
    /// declared type.
    #[error("file content is {0}, which is never accepted")]
    Executable(String),
    /// A declared checksum is not a SHA-256 in a form Clasp reads.
    #[error("declared checksum is not a SHA-256 digest")]
    MalformedChecksum,
    /// The user an upload is made for is empty, too long, or holds control
    /// characters.
    #[error(
        "the user an upload is made for must be 1 to {MAX_USER_ID_BYTES} bytes without control characters"
    )]
    InvalidUploader,
    /// A direct upload declared no bytes at all.
    #[error("a file must have at least one byte")]
    EmptyFile,
    /// The declared size does not fit the limit or the bytes.
    #[error("declared size {declared} does not match the {actual} bytes received")]
    SizeMismatch {
        /// What the client said.
        declared: u64,
        /// What arrived.
        actual: u64,
    },
    /// A resumable upload was sent in more requests than it may take.
    #[error("a resumable upload takes at most {limit} requests carrying bytes; send larger parts")]
    TooManyParts {
        /// The limit in force.
        limit: u32,
    },
}

/// How long a direct-upload URL works by default: 15 minutes.
pub const DEFAULT_UPLOAD_URL_TTL: time::Duration = time::Duration::minutes(15);

/// The configurable rules for uploads. Defaults follow the dialects' documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPolicy {
    /// Largest accepted file in bytes, enforced while streaming.
    pub max_bytes: u64,
    /// Accepted media types (essence only, lowercase).
    pub allowed_types: Vec<String>,
    /// How long an upload URL of a direct upload works; a `Pending` attachment
    /// not confirmed by then is abandoned and swept.
    pub upload_url_ttl: time::Duration,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            allowed_types: DEFAULT_ALLOWED_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            upload_url_ttl: DEFAULT_UPLOAD_URL_TTL,
        }
    }
}

impl UploadPolicy {
    /// Decides the media type of an upload before any byte arrives: the declared
    /// type (parameters dropped), or — when the client declared none or only
    /// `application/octet-stream` — the type its filename's extension implies.
    /// The result must be on the allowlist.
    pub fn resolve_type(
        &self,
        declared: Option<&str>,
        filename: &str,
    ) -> Result<String, ValidationError> {
        let essence = declared
            .and_then(|d| d.parse::<mime::Mime>().ok())
            .map(|m| m.essence_str().to_ascii_lowercase())
            .filter(|e| e != "application/octet-stream");
        let chosen = match essence {
            Some(e) => e,
            None => mime_guess::from_path(filename)
                .first()
                .map(|m| m.essence_str().to_ascii_lowercase())
                .unwrap_or_else(|| {
                    declared.map_or("application/octet-stream".to_owned(), str::to_owned)
                }),
        };
        if self.allowed_types.contains(&chosen) {
            Ok(chosen)
        } else {
            Err(ValidationError::DisallowedType(chosen))
        }
    }

    /// Checks a size a client declares up front (direct-upload flows): at least
    /// one byte, at most the limit.
    pub fn check_declared_size(&self, size: u64) -> Result<(), ValidationError> {
        if size == 0 {
            Err(ValidationError::EmptyFile)
        } else if size > self.max_bytes {
            Err(ValidationError::TooLarge {
                limit: self.max_bytes,
            })
        } else {
            Ok(())
        }
    }
}

/// What the leading bytes of a file are, when recognisable.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    infer::get(head).map(|t| t.mime_type())
}

/// Checks that the leading bytes agree with the declared type, by the type's
/// rule in [`crate::magic`] (types without one are taken as declared).
/// Returns the sniffed type, if any.
pub fn check_magic(declared: &str, head: &[u8]) -> Result<Option<String>, ValidationError> {
    if let Some(program) = crate::safety::executable(head) {
        return Err(ValidationError::Executable(program.to_owned()));
    }
    let sniffed = sniff(head);
    crate::magic::matches(declared, head, sniffed).map_err(|what| {
        ValidationError::MagicMismatch {
            declared: declared.to_owned(),
            sniffed: what,
        }
    })?;
    Ok(sniffed.map(str::to_owned))
}

/// The name a file stored as `content_type` is served under: `filename` unless
/// its extension says another type (see [`crate::safety::name_for_type`]).
pub fn served_name(filename: &str, content_type: &str) -> String {
    crate::safety::name_for_type(filename, content_type, crate::magic::family(content_type))
}

/// Makes a client-supplied filename safe to store and to echo in headers: path
/// parts and control characters go, it keeps at most 255 bytes (cut on a
/// character boundary, keeping the extension when it can), and it is never empty.
/// It is stable: a sanitised name sanitises to itself (the fuzz target
/// `sanitize_filename` checks it).
pub fn sanitize_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect();
    // Dots and spaces go from both ends together: trimming one then the other
    // left names like "a. ." as "a.", which the next pass would change again.
    let trimmed = cleaned.trim_matches(dot_or_space);
    if trimmed.is_empty() {
        return "file".to_owned();
    }
    if trimmed.len() <= MAX_FILENAME_BYTES {
        return trimmed.to_owned();
    }
    let ext = trimmed
        .rfind('.')
        .map(|i| &trimmed[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut stem_budget = MAX_FILENAME_BYTES - ext.len();
    while !trimmed.is_char_boundary(stem_budget) {
        stem_budget -= 1;
    }
    format!(
        "{}{}",
        trimmed[..stem_budget].trim_end_matches(dot_or_space),
        ext
    )
}

fn dot_or_space(c: char) -> bool {
    c == '.' || c.is_whitespace()
}

/// The prefix of a declared MD5 where the attachment keeps its declared checksum.
pub const MD5_PREFIX: &str = "md5:";

/// Reads a client-declared checksum as the attachment keeps it: 32 hex digits
/// are an MD5 (what S3 and many clients compute), kept as `md5:` and the hex;
/// anything else must be a SHA-256 ([`parse_sha256`]), kept as its hex.
pub fn parse_checksum(declared: &str) -> Result<String, ValidationError> {
    let d = declared.trim();
    if is_md5(d) {
        return Ok(format!("{MD5_PREFIX}{}", d.to_ascii_lowercase()));
    }
    parse_sha256(d)
}

/// Whether `text` could be an MD5: 32 hex digits.
pub fn is_md5(text: &str) -> bool {
    text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// Reads a client-declared SHA-256 given as hex or as (standard or URL-safe) base64.
pub fn parse_sha256(declared: &str) -> Result<String, ValidationError> {
    use base64::Engine;
    let d = declared.trim();
    if d.len() == 64 && d.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(d.to_ascii_lowercase());
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    engines
        .iter()
        .filter_map(|e| e.decode(d).ok())
        .find(|b| b.len() == 32)
        .map(hex::encode)
        .ok_or(ValidationError::MalformedChecksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn allowlist_and_resolution() {
        let p = UploadPolicy::default();
        assert_eq!(
            p.resolve_type(Some("image/png"), "a.png").unwrap(),
            "image/png"
        );
        assert_eq!(
            p.resolve_type(Some("Text/Plain; charset=utf-8"), "a")
                .unwrap(),
            "text/plain"
        );
        assert_eq!(p.resolve_type(None, "doc.pdf").unwrap(), "application/pdf");
        assert_eq!(
            p.resolve_type(Some("application/octet-stream"), "x.zip")
                .unwrap(),
            "application/zip"
        );
        assert!(
            matches!(p.resolve_type(Some("application/x-msdownload"), "a.exe"), Err(ValidationError::DisallowedType(t)) if t == "application/x-msdownload")
        );
        assert!(p.resolve_type(None, "noext").is_err());
        assert!(p.resolve_type(Some("image/svg+xml"), "a.svg").is_err());
    }

    #[test]
    fn declared_sizes_are_positive_and_within_the_limit() {
        let p = UploadPolicy {
            max_bytes: 10,
            ..UploadPolicy::default()
        };
        assert_eq!(p.check_declared_size(0), Err(ValidationError::EmptyFile));
        assert_eq!(p.check_declared_size(1), Ok(()));
        assert_eq!(p.check_declared_size(10), Ok(()));
        assert_eq!(
            p.check_declared_size(11),
            Err(ValidationError::TooLarge { limit: 10 })
        );
        assert_eq!(
            UploadPolicy::default().upload_url_ttl,
            time::Duration::minutes(15)
        );
    }

    #[test]
    fn magic_must_agree_where_a_type_has_one() {
        assert_eq!(
            check_magic("image/png", PNG).unwrap().as_deref(),
            Some("image/png")
        );
        assert!(matches!(
            check_magic("image/png", b"hello world"),
            Err(ValidationError::MagicMismatch { .. })
        ));
        assert!(
            matches!(check_magic("image/jpeg", PNG), Err(ValidationError::MagicMismatch { sniffed, .. }) if sniffed == "image/png")
        );
        assert!(check_magic("application/pdf", b"%PDF-1.7\n").is_ok());
        assert!(check_magic("text/plain", b"BMW drivers").is_ok());
        assert!(
            check_magic("text/plain", PNG).is_err(),
            "text is UTF-8 without NUL"
        );
        assert!(
            check_magic("application/x-unchecked", PNG).is_ok(),
            "a type without a rule is taken as declared"
        );
        assert!(check_magic("application/zip", b"PK\x03\x04\x14\0\0\0").is_ok());
        assert!(check_magic("application/gzip", b"\x1f\x8b\x08\0").is_ok());
    }

    #[test]
    fn filenames_are_sanitised() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\me\\shot.png"), "shot.png");
        assert_eq!(sanitize_filename("a\r\nb\"\0.txt"), "ab\".txt");
        assert_eq!(sanitize_filename("evil\u{202E}gnp.exe"), "evilgnp.exe");
        assert_eq!(sanitize_filename(""), "file");
        assert_eq!(sanitize_filename("dir/"), "file");
        assert_eq!(sanitize_filename(".."), "file");
        let long = format!("{}.png", "é".repeat(200));
        let s = sanitize_filename(&long);
        assert!(s.len() <= 255 && s.ends_with(".png"), "{s}");
        assert_eq!(sanitize_filename("résumé 2025.pdf"), "résumé 2025.pdf");
    }

    /// Found by the fuzz target `sanitize_filename`: dots and spaces mixed at an
    /// end, or a cut that ended in a space, gave names that changed again when
    /// sanitised a second time.
    #[test]
    fn sanitised_names_sanitise_to_themselves() {
        assert_eq!(sanitize_filename("a. ."), "a");
        assert_eq!(sanitize_filename("\n&.  ."), "&");
        assert_eq!(sanitize_filename(". . a"), "a");
        let cut_at_a_space = format!("{} {}", "a".repeat(254), "b".repeat(10));
        assert_eq!(sanitize_filename(&cut_at_a_space), "a".repeat(254));
        for raw in ["a. .", ". . a", " .x. ", cut_at_a_space.as_str(), "x.png"] {
            let once = sanitize_filename(raw);
            assert_eq!(sanitize_filename(&once), once, "{raw:?}");
        }
    }

    #[test]
    fn checksums_parse_in_hex_and_base64() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(parse_sha256(hex).unwrap(), hex);
        assert_eq!(
            parse_sha256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").unwrap(),
            hex
        );
        assert!(parse_sha256("abc").is_err());
    }
}
