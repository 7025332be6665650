//! The multipart reader against the bodies clients send and the ones
//! attackers do, cut into chunks at every size that could split a delimiter.

use actix_web::FromRequest;
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures::StreamExt;
use futures::executor::block_on;

use super::{Form, FormError, MAX_HEAD_BYTES};

const BOUNDARY: &str = "----cut7MA4YWxkTrZu0gW";

/// What a part held: its name, file name, media type and bytes.
type Read = (String, String, Option<String>, Vec<u8>);

/// A form over `chunks`, sent with `content_type`.
fn form_of(content_type: &str, chunks: Vec<Bytes>) -> Form {
    let req = actix_web::test::TestRequest::default()
        .insert_header(("Content-Type", content_type))
        .to_http_request();
    let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, PayloadError>));
    let boxed: super::reader::Source = Box::pin(stream);
    let mut payload = Payload::from(boxed);
    match block_on(Form::from_request(&req, &mut payload)) {
        Ok(form) => form,
        Err(e) => panic!("extracting a form cannot fail: {e}"),
    }
}

/// A form of `body` with [`BOUNDARY`], cut into chunks of `size` bytes.
fn chunked(body: &[u8], size: usize) -> Form {
    let chunks = body.chunks(size).map(Bytes::copy_from_slice).collect();
    form_of(&format!("multipart/form-data; boundary={BOUNDARY}"), chunks)
}

/// Every part of `form`, read whole, or the first error.
fn read_all(mut form: Form) -> Result<Vec<Read>, FormError> {
    block_on(async {
        let mut parts = Vec::new();
        while let Some(part) = form.next().await {
            let mut part = part?;
            let mut bytes = Vec::new();
            while let Some(chunk) = part.next().await {
                bytes.extend_from_slice(&chunk?);
            }
            parts.push((
                part.name().to_owned(),
                part.filename(),
                part.media_type(),
                bytes,
            ));
        }
        Ok(parts)
    })
}

/// The next part of `form`, which must have one.
async fn first_part(form: &mut Form) -> super::Part {
    match form.next().await {
        Some(Ok(part)) => part,
        Some(Err(e)) => panic!("a part, not {e}"),
        None => panic!("a part, not the form's end"),
    }
}

/// File bytes that hold every near-miss of the delimiter: line breaks, dashes,
/// the boundary without its dashes, and the delimiter cut one byte short.
fn tricky_file() -> Vec<u8> {
    let mut file = b"\r\r\n\r\n-\r\n--\r\n-x".to_vec();
    file.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..BOUNDARY.len() - 1]).as_bytes());
    file.extend_from_slice(b"!\r");
    file.extend_from_slice(format!("--{BOUNDARY}\n").as_bytes());
    file.extend((0..=255u8).cycle().take(600));
    file.extend_from_slice(b"\r\n-");
    file
}

/// A browser-like form: a preamble, two fields, one padded delimiter, a file,
/// the closing delimiter and an epilogue.
fn sample() -> (Vec<u8>, Vec<Read>) {
    let file = tricky_file();
    let mut body = b"a preamble, ignored\r\n".to_vec();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
             --{BOUNDARY} \t\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\nan epilogue").as_bytes());
    let expected = vec![
        ("note".into(), String::new(), None, b"hello".to_vec()),
        ("empty".into(), String::new(), None, Vec::new()),
        (
            "file".into(),
            "a.bin".into(),
            Some("application/octet-stream".into()),
            file,
        ),
    ];
    (body, expected)
}

#[test]
fn a_form_reads_the_same_whatever_chunks_it_arrives_in() {
    let (body, expected) = sample();
    for size in [1, 2, 3, 5, 7, 13, 24, 25, 26, 27, 64, 1000, body.len()] {
        assert_eq!(
            read_all(chunked(&body, size)).ok(),
            Some(expected.clone()),
            "chunks of {size}"
        );
    }
    for cut in 1..body.len() {
        let chunks = vec![
            Bytes::copy_from_slice(&body[..cut]),
            Bytes::copy_from_slice(&body[cut..]),
        ];
        let form = form_of(&format!("multipart/form-data; boundary={BOUNDARY}"), chunks);
        assert_eq!(read_all(form).ok(), Some(expected.clone()), "cut at {cut}");
    }
}

#[test]
fn a_file_opening_the_body_and_quoted_boundaries_are_read() {
    let body = b"--a b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--a b--";
    let form = form_of(
        "multipart/form-data; boundary=\"a b\"",
        vec![Bytes::from_static(body)],
    );
    let parts = read_all(form).ok();
    assert_eq!(
        parts.map(|p| p.into_iter().map(|r| r.3).collect()),
        Some(vec![b"x".to_vec()])
    );
}

#[test]
fn a_files_bytes_are_handed_on_as_they_arrived_without_a_copy() {
    let head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
    let data = Bytes::from((0..=255u8).cycle().take(256 * 1024).collect::<Vec<_>>());
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let chunks = vec![Bytes::from(head), data.clone(), Bytes::from(tail)];
    let mut form = form_of(&format!("multipart/form-data; boundary={BOUNDARY}"), chunks);
    block_on(async {
        let mut part = first_part(&mut form).await;
        let mut seen = 0;
        while let Some(chunk) = part.next().await {
            let chunk = chunk.unwrap_or_else(|e| panic!("{e}"));
            let start = chunk.as_ptr() as usize - data.as_ptr() as usize;
            assert!(start + chunk.len() <= data.len(), "a copy at {seen}");
            seen += chunk.len();
        }
        assert_eq!(seen, data.len());
    });
}

/// The error reading `body` in chunks of `size` ends in.
fn failure(body: &[u8], size: usize) -> String {
    match read_all(chunked(body, size)) {
        Ok(parts) => panic!("read {} parts of a broken form", parts.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_body_ending_anywhere_before_its_closing_delimiter_is_incomplete() {
    let (body, _) = sample();
    let close = body.len() - "--\r\nan epilogue".len();
    for end in 0..close {
        for size in [1, 7, body.len()] {
            let failed = failure(&body[..end], size);
            assert_eq!(
                failed,
                FormError::Incomplete.to_string(),
                "ends at {end}, chunks of {size}"
            );
        }
    }
}

#[test]
fn an_endless_preamble_or_header_fails_once_past_its_bound() {
    let preamble = vec![b'p'; MAX_HEAD_BYTES + 1];
    assert_eq!(failure(&preamble, 100), FormError::HeadTooLong.to_string());
    let mut header = format!("--{BOUNDARY}\r\nX-Long: ").into_bytes();
    header.extend(std::iter::repeat_n(b'h', MAX_HEAD_BYTES));
    assert_eq!(failure(&header, 1), FormError::HeadTooLong.to_string());
    let mut padding = format!("--{BOUNDARY}").into_bytes();
    padding.extend(std::iter::repeat_n(b' ', MAX_HEAD_BYTES + 1));
    assert_eq!(failure(&padding, 4096), FormError::HeadTooLong.to_string());
}

#[test]
fn parts_without_a_name_nested_forms_and_odd_delimiters_are_refused() {
    let part = |headers: &str| format!("--{BOUNDARY}\r\n{headers}\r\n\r\nx\r\n--{BOUNDARY}--");
    let cases = [
        (part("Content-Type: text/plain"), FormError::Unnamed),
        (
            part("Content-Disposition: attachment; name=\"a\""),
            FormError::Unnamed,
        ),
        (part("Content-Disposition: form-data"), FormError::Unnamed),
        (
            part(
                "Content-Disposition: form-data; name=\"a\"\r\nContent-Type: multipart/mixed; boundary=x",
            ),
            FormError::Nested,
        ),
        (part("Content-Disposition form-data"), FormError::BadHeaders),
        (format!("--{BOUNDARY}x\r\n"), FormError::BadDelimiter),
        (
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--{BOUNDARY}!"
            ),
            FormError::BadDelimiter,
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(failure(body.as_bytes(), 3), expected.to_string(), "{body}");
    }
    let many = (0..33).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
    let body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n{many}\r\nx");
    assert_eq!(
        failure(body.as_bytes(), 50),
        FormError::TooManyHeaders.to_string()
    );
}

#[test]
fn a_body_past_its_cap_fails_while_it_is_read() {
    let (body, _) = sample();
    let form = chunked(&body, 64);
    form.cap(body.len() as u64 - 1);
    assert_eq!(
        read_all(form).err().map(|e| e.to_string()),
        Some(FormError::TooLarge.to_string())
    );
    let form = chunked(&body, 64);
    form.cap(body.len() as u64);
    assert!(read_all(form).is_ok());
}

#[test]
fn a_request_that_is_no_form_fails_at_its_first_part() {
    for content_type in [
        "application/json",
        "multipart/form-data",
        "multipart/form-data; boundary=\"\"",
        &format!("multipart/form-data; boundary={}", "b".repeat(201)),
    ] {
        let mut form = form_of(content_type, vec![Bytes::from_static(b"--b\r\n")]);
        let first = block_on(form.next()).map(|r| r.err().map(|e| e.to_string()));
        assert_eq!(
            first,
            Some(Some(FormError::NotMultipart.to_string())),
            "{content_type}"
        );
        assert!(block_on(form.next()).is_none());
    }
}

#[test]
fn the_next_part_skips_what_is_left_of_the_one_before() {
    let (body, _) = sample();
    let mut form = chunked(&body, 10);
    block_on(async {
        let first = first_part(&mut form).await;
        let mut skipped = first;
        let mut names = Vec::new();
        while let Some(part) = form.next().await {
            let part = part.unwrap_or_else(|e| panic!("{e}"));
            names.push(part.name().to_owned());
            assert!(skipped.next().await.is_none(), "a part read past is over");
            skipped = part;
        }
        assert_eq!(names, ["empty", "file"]);
    });
}

#[test]
fn a_broken_form_stays_broken() {
    let body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxy");
    let mut form = chunked(body.as_bytes(), 100);
    block_on(async {
        let mut part = first_part(&mut form).await;
        assert_eq!(
            part.next().await.and_then(Result::ok).as_deref(),
            Some(&b"xy"[..])
        );
        let failed = part
            .next()
            .await
            .and_then(Result::err)
            .map(|e| e.to_string());
        assert_eq!(failed, Some(FormError::Incomplete.to_string()));
        assert!(matches!(part.next().await, Some(Err(FormError::Broken))));
        assert!(matches!(form.next().await, Some(Err(FormError::Broken))));
    });
}
