use super::*;
use crate::validation::{DEFAULT_ALLOWED_TYPES, SNIFF_BYTES, check_magic};

/// The head of a PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

/// A zip of stored `entries`, as its head: local headers and data only (a
/// head holds no central directory). `descriptor` sets flag bit 3 on every
/// entry, with its sizes left zero in the local header.
fn zip(entries: &[(&str, &[u8])], descriptor: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        let size = if descriptor { 0 } else { data.len() as u32 };
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes()); // version
        out.extend_from_slice(&(if descriptor { 8u16 } else { 0 }).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&[0; 8]); // time, date, crc
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        if descriptor {
            out.extend_from_slice(b"PK\x07\x08");
            out.extend_from_slice(&[0; 12]);
        }
    }
    out
}

fn ooxml(folder: &str) -> Vec<u8> {
    let types: &[u8] = br#"<?xml version="1.0"?><Types/>"#;
    zip(
        &[
            ("[Content_Types].xml", types),
            ("_rels/.rels", b"<Relationships/>"),
            (&format!("{folder}document.xml"), b"<doc/>"),
        ],
        false,
    )
}

fn accepted(declared: &str, head: &[u8]) -> bool {
    check_magic(declared, head).is_ok()
}

#[test]
fn every_default_type_has_a_rule() {
    for t in DEFAULT_ALLOWED_TYPES {
        assert!(has_rule(t), "{t}");
    }
    assert!(!has_rule("application/x-unknown-thing"));
    assert!(checked_types().count() >= 29);
}

#[test]
fn office_documents_are_zips_of_their_own_kind() {
    assert!(accepted(DOCX, &ooxml("word/")));
    assert!(accepted(XLSX, &ooxml("xl/")));
    assert!(accepted(PPTX, &ooxml("ppt/")));
    assert!(!accepted(DOCX, &ooxml("xl/")), "an xlsx declared as docx");
    let no_types = zip(&[("word/document.xml", b"<doc/>")], false);
    assert!(
        !accepted(DOCX, &no_types),
        "a zip without [Content_Types].xml"
    );
    let later = zip(
        &[
            ("word/document.xml", b"<d/>"),
            ("[Content_Types].xml", b"<T/>"),
        ],
        false,
    );
    assert!(accepted(DOCX, &later), "either order");
    let streamed = zip(
        &[
            ("[Content_Types].xml", b"<T/>"),
            ("xl/workbook.xml", b"<w/>"),
        ],
        true,
    );
    assert!(accepted(XLSX, &streamed), "sizes in data descriptors");
    // openpyxl writes [Content_Types].xml last: past the head of a large sheet
    let mut sheet = zip(
        &[
            ("docProps/app.xml", b"<a/>"),
            ("xl/worksheets/sheet1.xml", &[b'x'; SNIFF_BYTES]),
        ],
        false,
    );
    sheet.truncate(SNIFF_BYTES);
    assert!(
        accepted(XLSX, &sheet),
        "a head cut before [Content_Types].xml"
    );
    assert!(!accepted(DOCX, &sheet), "but of its own kind");
    let mut whole = zip(&[("xl/workbook.xml", b"<w/>")], false);
    whole.extend_from_slice(b"PK\x01\x02");
    whole.resize(SNIFF_BYTES, 0);
    assert!(
        !accepted(XLSX, &whole),
        "a whole archive in the head without [Content_Types].xml"
    );
    assert!(!accepted(DOCX, b"%PDF-1.7\n"), "a pdf declared as docx");
    assert!(
        accepted("application/zip", &ooxml("word/")),
        "an office file is a zip"
    );

    let odt = "application/vnd.oasis.opendocument.text";
    let ods = "application/vnd.oasis.opendocument.spreadsheet";
    let made = zip(
        &[("mimetype", odt.as_bytes()), ("content.xml", b"<c/>")],
        false,
    );
    assert!(accepted(odt, &made));
    assert!(
        !accepted(ods, &made),
        "a text document declared as a spreadsheet"
    );
    let late = zip(
        &[("content.xml", b"<c/>"), ("mimetype", odt.as_bytes())],
        false,
    );
    assert!(!accepted(odt, &late), "mimetype must come first");
}

#[test]
fn text_is_utf8_without_nul() {
    for t in ["text/plain", "text/csv", "text/html"] {
        assert!(accepted(t, "name;città\n1;2\n".as_bytes()), "{t}");
        assert!(accepted(t, b""), "{t}: empty");
        assert!(!accepted(t, b"a,b\0c\n"), "{t}: a NUL");
        assert!(!accepted(t, b"caf\xe9\n"), "{t}: Latin-1");
    }
    assert!(!accepted("text/csv", PNG), "a png declared as csv");
    let mut cut = "é".repeat(SNIFF_BYTES / 2 - 1).into_bytes();
    cut.extend_from_slice("x€".as_bytes());
    cut.truncate(SNIFF_BYTES);
    assert_eq!(cut.last(), Some(&0xe2), "the head ends inside a character");
    assert!(accepted("text/plain", &cut));
}

#[test]
fn mail_starts_with_header_fields() {
    let mail =
        b"Return-Path: <a@example.com>\r\nReceived: from x\r\n\tby y\r\nSubject: hi\r\n\r\nbody";
    assert!(accepted("message/rfc822", mail));
    assert!(!accepted("message/rfc822", b"just some text\nwith lines\n"));
    assert!(
        !accepted("message/rfc822", b"X-Custom: only\r\n\r\nbody"),
        "no usual field"
    );
    assert!(!accepted("message/rfc822", b"From: a\0b\r\n\r\n"));
}

#[test]
fn audio_and_video_by_their_magic() {
    let wav = [
        b"RIFF".as_slice(),
        &[36, 0, 0, 0],
        b"WAVEfmt ",
        &[16, 0, 0, 0, 1, 0, 1, 0],
    ]
    .concat();
    let mp3 = [
        b"ID3\x04\x00\x00\x00\x00\x00\x00".as_slice(),
        &[0xff, 0xfb, 0x90, 0x00],
    ]
    .concat();
    let ogg = [b"OggS\x00\x02".as_slice(), &[0; 22], b"\x01vorbis"].concat();
    let m4a = [
        &[0, 0, 0, 0x20][..],
        b"ftypM4A \x00\x00\x00\x00M4A mp42isom",
    ]
    .concat();
    for (declared, good) in [
        ("audio/wav", &wav),
        ("audio/x-wav", &wav),
        ("audio/mpeg", &mp3),
        ("audio/ogg", &ogg),
        ("audio/mp4", &m4a),
        ("audio/x-m4a", &m4a),
    ] {
        assert!(accepted(declared, good), "{declared}");
    }
    assert!(!accepted("audio/mpeg", &wav), "a wav declared as mp3");
    assert!(
        !accepted("audio/wav", b"plain words"),
        "text declared as wav"
    );
}

#[test]
fn a_mismatch_says_what_the_bytes_are() {
    let err = check_magic("text/csv", PNG).unwrap_err();
    assert!(err.to_string().contains("image/png"), "{err}");
    let err = check_magic("text/plain", b"\0\x01\x02").unwrap_err();
    assert!(err.to_string().contains("binary data"), "{err}");
}
