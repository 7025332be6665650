//! Content-Disposition building: for any filename, the header value is
//! printable ASCII (a valid header), parses back with actix's own parser to the
//! same disposition, its quoted fallback holds no quote, backslash or control
//! character, and its `filename*` decodes to exactly the original name.
#![no_main]

use actix_web::http::header::{ContentDisposition, DispositionType, HeaderValue};
use clasp_domain::safety::content_disposition;
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else {
        return;
    };
    let inline = flag & 1 == 1;
    let filename = String::from_utf8_lossy(rest);
    let value = content_disposition(&filename, inline);

    assert!(
        value.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "not printable ASCII: {value:?}"
    );
    let header = HeaderValue::from_str(&value).expect("a valid header value");
    let parsed = ContentDisposition::from_raw(&header)
        .unwrap_or_else(|e| panic!("{value:?} does not parse back: {e}"));
    let kind = if inline {
        DispositionType::Inline
    } else {
        DispositionType::Attachment
    };
    assert_eq!(parsed.disposition, kind, "{value:?}");

    let fallback = parsed.get_filename().expect("a filename parameter");
    assert!(
        !fallback.contains(['"', '\\']) && !fallback.chars().any(|c| c.is_control()),
        "unsafe fallback {fallback:?}"
    );
    assert_eq!(
        fallback.chars().count(),
        filename.chars().count(),
        "{value:?}"
    );

    // The exact name travels in `filename*` whenever the fallback differs.
    match value.split_once("; filename*=UTF-8''") {
        Some((_, encoded)) => {
            let decoded = percent_decode_str(encoded)
                .decode_utf8()
                .expect("filename* is UTF-8");
            assert_eq!(decoded, filename, "{value:?}");
            let ext = parsed.get_filename_ext().expect("actix sees filename*");
            assert_eq!(ext.value, filename.as_bytes(), "{value:?}");
        }
        None => assert_eq!(fallback, filename, "{value:?}"),
    }
});
