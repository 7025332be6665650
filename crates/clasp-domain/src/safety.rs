//! What is never handed to a browser or an operating system as it came:
//! executable content, whatever type it is declared as, and names whose
//! extension says another type than the file is stored as (a text file named
//! `invoice.exe` would be run, not read, by whoever opens the download), and
//! the `Content-Disposition` every download is offered with.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 5987 `attr-char`s stay as they are; everything else is percent-encoded.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// An RFC 6266 `Content-Disposition` for serving `filename`: `inline` for types
/// a browser may show in place, `attachment` otherwise; a quoted ASCII fallback
/// that can hold no quote, backslash or control character, plus `filename*`
/// when the name is not plain ASCII. Clasp's own downloads and the presigned
/// URLs of an object store both say it so.
pub fn content_disposition(filename: &str, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if fallback == filename {
        format!("{kind}; filename=\"{fallback}\"")
    } else {
        let encoded = utf8_percent_encode(filename, ATTR_CHAR_ESCAPES);
        format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

/// Whether a browser would render or run a file of `content_type` as a page
/// or a script (HTML, XHTML, XML, SVG, JavaScript): a store that cannot add
/// `nosniff` or a sandbox to its answers must serve such files as plain
/// `application/octet-stream` downloads instead.
pub fn active_in_browser(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "text/xml"
            | "application/xml"
            | "image/svg+xml"
            | "text/javascript"
            | "application/javascript"
            | "application/ecmascript"
            | "text/ecmascript"
    ) || essence.ends_with("+xml") && essence != "application/epub+zip"
}

/// The executable or script formats a file's leading bytes show, if any:
/// programs (PE, ELF, Mach-O, Java classes, Android dex, WebAssembly, by
/// their magic) and scripts that start as shell and batch scripts do.
pub fn executable(head: &[u8]) -> Option<&'static str> {
    const PROGRAMS: [&str; 7] = [
        "application/vnd.microsoft.portable-executable",
        "application/x-executable",
        "application/x-mach-binary",
        "application/java",
        "application/vnd.android.dex",
        "application/vnd.android.dey",
        "application/wasm",
    ];
    if let Some(kind) = infer::get(head).map(|t| t.mime_type())
        && PROGRAMS.contains(&kind)
    {
        return Some(kind);
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if text.starts_with(b"#!") {
        return Some("a script (#!)");
    }
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let first = &text[start..];
    let batch = first.len() >= 5 && first[..5].eq_ignore_ascii_case(b"@echo");
    batch.then_some("a batch script (@echo)")
}

/// Extensions a desktop runs, installs or renders rather than opens as data:
/// a file may be served under one only when it is stored as that very type.
const RUNNABLE: [&str; 41] = [
    "app",
    "apk",
    "application",
    "bash",
    "bat",
    "cmd",
    "com",
    "command",
    "cpl",
    "dll",
    "exe",
    "gadget",
    "hta",
    "htm",
    "html",
    "inf",
    "jar",
    "js",
    "jse",
    "lnk",
    "mht",
    "mhtml",
    "msi",
    "msp",
    "pif",
    "ps1",
    "psm1",
    "reg",
    "scf",
    "scr",
    "sh",
    "shtml",
    "svg",
    "svgz",
    "url",
    "vbe",
    "vbs",
    "wsf",
    "wsh",
    "xht",
    "xhtml",
];

/// The extension Clasp gives a file of `content_type` whose name's extension
/// says another type.
fn extension_of(content_type: &str) -> &str {
    match content_type {
        "text/plain" => "txt",
        "text/html" => "html",
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/ogg" => "ogv",
        "video/quicktime" => "mov",
        "application/zip" => "zip",
        "application/x-7z-compressed" => "7z",
        "application/gzip" => "gz",
        other => mime_guess::get_mime_extensions_str(other)
            .and_then(|all| all.first().copied())
            .unwrap_or("bin"),
    }
}

/// Whether a name ending in `.ext` may carry a file stored as `content_type`,
/// whose bytes may also be of the formats `family`.
fn agrees(ext: &str, content_type: &str, family: &[&str]) -> bool {
    let named: Vec<String> = mime_guess::from_ext(ext)
        .iter()
        .map(|m| m.essence_str().to_ascii_lowercase())
        .collect();
    if RUNNABLE.contains(&ext) {
        // (mime_guess types `.cmd`, `.scr` and `.reg` as plain text, and a
        // desktop runs them all the same)
        return content_type != "text/plain" && named.iter().any(|t| t == content_type);
    }
    let harmless_text = |t: &String| {
        t.starts_with("text/") && !matches!(t.as_str(), "text/html" | "text/javascript")
    };
    named.is_empty()
        || named
            .iter()
            .any(|t| t == content_type || family.contains(&t.as_str()))
        || (content_type == "text/plain" && named.iter().all(harmless_text))
}

/// `filename` as a file stored as `content_type` is served under: as it is
/// when its extension agrees with the type (or it has none, or one no type is
/// known by), else with its last extension replaced by the type's own
/// (`invoice.exe` stored as `text/plain` is served as `invoice.txt`).
/// `family` lists the formats the type's bytes may also be (an `.mov` name
/// stays on a `video/mp4` file).
pub fn name_for_type(filename: &str, content_type: &str, family: &[&str]) -> String {
    let Some((stem, ext)) = filename
        .rsplit_once('.')
        .filter(|(stem, _)| !stem.is_empty())
    else {
        return filename.to_owned();
    };
    if agrees(&ext.to_ascii_lowercase(), content_type, family) {
        filename.to_owned()
    } else {
        format!("{stem}.{}", extension_of(content_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_and_scripts_are_found_by_their_bytes() {
        let pe = [b"MZ".as_slice(), &[0x90; 62], b"PE\0\0"].concat();
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        for (head, found) in [
            (pe.as_slice(), true),
            (elf.as_slice(), true),
            (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01".as_slice(), true),
            (b"#!/bin/sh\nrm -rf ~\n", true),
            (b"\xEF\xBB\xBF#!/usr/bin/env python\n", true),
            (b"  @ECHO OFF\r\ndel *.*\r\n", true),
            (b"@echo off", true),
            (b"hello, world\n", false),
            (b"\x89PNG\r\n\x1a\n", false),
            (b"# notes, not #!\n", false),
            (b"", false),
        ] {
            assert_eq!(executable(head).is_some(), found, "{head:?}");
        }
    }

    #[test]
    fn dispositions_are_safe() {
        assert_eq!(
            content_disposition("a.png", true),
            "inline; filename=\"a.png\""
        );
        assert_eq!(
            content_disposition("résumé \"x\".pdf", false),
            "attachment; filename=\"r_sum_ _x_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
        );
        let d = content_disposition("a\\b\r\n.txt", false);
        assert!(
            !d.contains('\\') && !d.contains('\r') && !d.contains('\n'),
            "{d}"
        );
    }

    #[test]
    fn pages_and_scripts_are_active_in_a_browser() {
        for active in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "application/atom+xml",
            "text/javascript",
        ] {
            assert!(active_in_browser(active), "{active}");
        }
        for inert in [
            "text/plain",
            "image/png",
            "application/pdf",
            "video/mp4",
            "application/zip",
        ] {
            assert!(!active_in_browser(inert), "{inert}");
        }
    }

    #[test]
    fn names_agree_with_their_stored_type() {
        for (name, stored, family, served) in [
            ("invoice.exe", "text/plain", &[][..], "invoice.txt"),
            ("invoice.cmd", "text/plain", &[], "invoice.txt"),
            ("page.html", "text/plain", &[], "page.txt"),
            ("page.html", "text/html", &[], "page.html"),
            ("logo.svg", "image/png", &["image/png"], "logo.png"),
            ("photo.jpeg", "image/png", &["image/png"], "photo.png"),
            ("photo.PNG", "image/png", &["image/png"], "photo.PNG"),
            ("notes.md", "text/plain", &[], "notes.md"),
            ("data.csv", "text/plain", &[], "data.csv"),
            ("server.log", "text/plain", &[], "server.log"),
            (
                "clip.mov",
                "video/mp4",
                &["video/mp4", "video/quicktime"],
                "clip.mov",
            ),
            ("clip.ogg", "video/ogg", &["audio/ogg"], "clip.ogg"),
            (
                "a.tar.gz",
                "application/gzip",
                &["application/gzip"],
                "a.tar.gz",
            ),
            ("README", "text/plain", &[], "README"),
            (".profile", "text/plain", &[], ".profile"),
            ("weird.qqqq", "image/png", &["image/png"], "weird.qqqq"),
            ("run.sh", "text/plain", &[], "run.txt"),
        ] {
            assert_eq!(
                name_for_type(name, stored, family),
                served,
                "{name} as {stored}"
            );
        }
    }
}
