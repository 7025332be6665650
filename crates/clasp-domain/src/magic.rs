//! What the leading bytes of a file of each media type must look like: one rule
//! per type an operator may allow, so that an allowlist admits files that are
//! what they say. A type without a rule is accepted as declared, and may only be
//! allowed together with `trust_declared_types` (see [`has_rule`]).
//!
//! Rules look at the head of a file ([`crate::validation::SNIFF_BYTES`]):
//! - binary formats by their magic numbers (the `infer` crate),
//! - OOXML documents (docx, xlsx, pptx) as zip archives whose local file
//!   headers in the head name `[Content_Types].xml` and a part of the
//!   document's own kind (`word/`, `xl/`, `ppt/`),
//! - OpenDocument files as zip archives whose first entry is `mimetype`,
//!   stored, holding exactly the type,
//! - text (plain, csv, html, e-mail) as valid UTF-8 without NUL; a character
//!   cut by the end of the head is not held against it, and an e-mail must
//!   start with RFC 5322 header fields.
//!
//! Written here rather than with a zip crate: the head is a prefix of the
//! archive, without the central directory a zip reader starts from; only the
//! local headers can be read, and their layout is four fixed fields.

/// A rule of one media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// One of these formats, as `infer` recognises them.
    Sniffed(&'static [&'static str]),
    /// An OOXML document with parts under this folder.
    Ooxml(&'static str),
    /// An OpenDocument file of the declared type.
    OpenDocument,
    /// UTF-8 text without NUL.
    Text,
    /// An RFC 5322 message.
    Email,
}

const ISO_MEDIA: &[&str] = &["video/mp4", "video/x-m4v", "video/quicktime", "audio/m4a"];
const ZIP_FAMILY: &[&str] = &[
    "application/zip",
    "application/epub+zip",
    DOCX,
    XLSX,
    PPTX,
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";

/// Every media type Clasp has a rule for, with it.
const RULES: &[(&str, Rule)] = &[
    ("image/png", Rule::Sniffed(&["image/png"])),
    ("image/jpeg", Rule::Sniffed(&["image/jpeg"])),
    ("image/gif", Rule::Sniffed(&["image/gif"])),
    ("image/webp", Rule::Sniffed(&["image/webp"])),
    ("application/pdf", Rule::Sniffed(&["application/pdf"])),
    ("video/mp4", Rule::Sniffed(ISO_MEDIA)),
    ("video/quicktime", Rule::Sniffed(ISO_MEDIA)),
    (
        "video/webm",
        Rule::Sniffed(&["video/webm", "video/x-matroska"]),
    ),
    ("video/ogg", Rule::Sniffed(&["audio/ogg", "audio/opus"])),
    ("audio/mpeg", Rule::Sniffed(&["audio/mpeg"])),
    ("audio/mp4", Rule::Sniffed(&["audio/m4a", "video/mp4"])),
    ("audio/x-m4a", Rule::Sniffed(&["audio/m4a", "video/mp4"])),
    ("audio/ogg", Rule::Sniffed(&["audio/ogg", "audio/opus"])),
    ("audio/wav", Rule::Sniffed(&["audio/x-wav"])),
    ("audio/x-wav", Rule::Sniffed(&["audio/x-wav"])),
    ("audio/wave", Rule::Sniffed(&["audio/x-wav"])),
    ("application/zip", Rule::Sniffed(ZIP_FAMILY)),
    (
        "application/x-7z-compressed",
        Rule::Sniffed(&["application/x-7z-compressed"]),
    ),
    ("application/gzip", Rule::Sniffed(&["application/gzip"])),
    (DOCX, Rule::Ooxml("word/")),
    (XLSX, Rule::Ooxml("xl/")),
    (PPTX, Rule::Ooxml("ppt/")),
    (
        "application/vnd.oasis.opendocument.text",
        Rule::OpenDocument,
    ),
    (
        "application/vnd.oasis.opendocument.spreadsheet",
        Rule::OpenDocument,
    ),
    (
        "application/vnd.oasis.opendocument.presentation",
        Rule::OpenDocument,
    ),
    ("text/plain", Rule::Text),
    ("text/csv", Rule::Text),
    ("text/html", Rule::Text),
    ("message/rfc822", Rule::Email),
];

fn rule(media_type: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(t, _)| *t == media_type)
        .map(|(_, rule)| *rule)
}

/// Whether Clasp can check that a file's bytes are of `media_type`: only such
/// types may be allowed without `trust_declared_types`.
pub fn has_rule(media_type: &str) -> bool {
    rule(media_type).is_some()
}

/// Every media type with a rule, for the documentation and for refusing an
/// allowlist naming a type Clasp cannot check.
pub fn checked_types() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|(t, _)| *t)
}

/// The formats whose bytes may carry a file of `media_type` when their names
/// differ (an `.mov` name on a `video/mp4` file).
pub(crate) fn family(media_type: &str) -> &'static [&'static str] {
    match rule(media_type) {
        Some(Rule::Sniffed(family)) => family,
        _ => &[],
    }
}

/// Whether `head` may start a file of `declared`: `Ok` when it may, or when
/// `declared` has no rule; otherwise what the bytes look like instead.
pub(crate) fn matches(declared: &str, head: &[u8], sniffed: Option<&str>) -> Result<(), String> {
    let what = || sniffed.unwrap_or("unrecognised data").to_owned();
    let ok = match rule(declared) {
        None => true,
        Some(Rule::Sniffed(accepted)) => sniffed.is_some_and(|s| accepted.contains(&s)),
        Some(Rule::Ooxml(folder)) => {
            // Writers differ in where `[Content_Types].xml` goes: Office
            // first, openpyxl last. So it must be in the head only when the
            // whole archive's entries are.
            let (names, whole) = zip_entry_names(head);
            names.iter().any(|n| n.starts_with(folder))
                && (!whole || names.iter().any(|n| n == "[Content_Types].xml"))
        }
        Some(Rule::OpenDocument) => open_document_type(head) == Some(declared),
        Some(Rule::Text) => is_text(head),
        Some(Rule::Email) => is_text(head) && starts_with_header_fields(head),
    };
    if ok {
        Ok(())
    } else if sniffed.is_none() && !is_text(head) {
        Err("binary data".to_owned())
    } else {
        Err(what())
    }
}

/// UTF-8 without NUL, forgiving a character the end of the head cut off.
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // `error_len() == None`: the bytes end inside a character
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

/// Whether a message starts with header fields (`Name: value`) and has at
/// least one of the fields every mail carries.
fn starts_with_header_fields(head: &[u8]) -> bool {
    const USUAL: [&str; 8] = [
        "from",
        "to",
        "subject",
        "date",
        "received",
        "message-id",
        "mime-version",
        "return-path",
    ];
    let text = String::from_utf8_lossy(head);
    let mut usual = false;
    for line in text.lines().take(200) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue; // a folded field goes on
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return false;
        }
        usual |= USUAL.contains(&name.to_ascii_lowercase().as_str());
    }
    usual
}

/// The names of the zip entries whose local headers the head holds, and
/// whether those are all the archive's (the head is the whole file, or
/// reaches its central directory). An entry whose size is only in its data descriptor (flag bit 3)
/// cannot be skipped; the scan then looks for the next local header signature
/// in its data.
fn zip_entry_names(head: &[u8]) -> (Vec<String>, bool) {
    const LOCAL: &[u8] = b"PK\x03\x04";
    let mut names = Vec::new();
    let mut at = 0;
    while head.get(at..at + 4) == Some(LOCAL) && names.len() < 64 {
        let Some(fixed) = head.get(at..at + 30) else {
            break;
        };
        let u16_at = |o: usize| usize::from(u16::from_le_bytes([fixed[o], fixed[o + 1]]));
        let flags = u16_at(6);
        let compressed = u32::from_le_bytes([fixed[18], fixed[19], fixed[20], fixed[21]]) as usize;
        let (name_len, extra_len) = (u16_at(26), u16_at(28));
        let Some(name) = head.get(at + 30..at + 30 + name_len) else {
            break;
        };
        names.push(String::from_utf8_lossy(name).into_owned());
        let data = at + 30 + name_len + extra_len;
        at = if flags & 0x08 != 0 {
            match head
                .get(data..)
                .and_then(|rest| rest.windows(4).position(|w| w == LOCAL))
            {
                Some(next) => data + next,
                None => break,
            }
        } else {
            data.saturating_add(compressed)
        };
    }
    // A head shorter than a sniff is the whole file.
    let whole = head.len() < crate::validation::SNIFF_BYTES
        || matches!(head.get(at..at + 4), Some(b"PK\x01\x02" | b"PK\x05\x06"));
    (names, whole)
}

/// The type an OpenDocument file names in its first entry, `mimetype`.
fn open_document_type(head: &[u8]) -> Option<&str> {
    if head.get(..4)? != b"PK\x03\x04" || head.get(8..10)? != [0, 0] {
        return None; // not a zip, or `mimetype` not stored
    }
    let size = usize::try_from(u32::from_le_bytes(head.get(18..22)?.try_into().ok()?)).ok()?;
    let name_len = usize::from(u16::from_le_bytes(head.get(26..28)?.try_into().ok()?));
    let extra_len = usize::from(u16::from_le_bytes(head.get(28..30)?.try_into().ok()?));
    if head.get(30..30 + name_len)? != b"mimetype" {
        return None;
    }
    let start = 30 + name_len + extra_len;
    std::str::from_utf8(head.get(start..start + size)?).ok()
}

#[cfg(test)]
mod tests;
