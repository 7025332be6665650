//! Filename sanitising: whatever a client sends, the stored name has no path
//! part, no control or bidi character, fits in 255 bytes, is never empty or a
//! dot name, and sanitising it again changes nothing.
#![no_main]

use clasp_domain::validation::sanitize_filename;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let clean = sanitize_filename(&raw);
    assert!(!clean.is_empty(), "empty name from {raw:?}");
    assert!(clean.len() <= 255, "{} bytes from {raw:?}", clean.len());
    assert!(!clean.contains(['/', '\\']), "path part in {clean:?}");
    assert!(
        !clean.chars().any(|c| c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
        "control or bidi character in {clean:?}"
    );
    assert!(clean != "." && clean != "..", "dot name from {raw:?}");
    assert_eq!(clean, clean.trim(), "surrounding whitespace in {clean:?}");
    assert_eq!(
        sanitize_filename(&clean),
        clean,
        "not stable: {raw:?} gave {clean:?}"
    );
    // A name that is already clean and short is kept as it is.
    if raw.len() <= 255
        && raw == raw.trim()
        && !raw.starts_with('.')
        && !raw.ends_with('.')
        && !raw.is_empty()
        && !raw.contains(['/', '\\'])
        && !raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() && c != ' ')
        && raw.chars().all(|c| c.is_ascii())
    {
        assert_eq!(clean, raw, "a clean name was changed");
    }
});
