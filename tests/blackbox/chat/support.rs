//! What the chat tests share: sessions, forms, requests, and a PNG that
//! decompresses to far more than it weighs.

use super::*;

/// A workdir with tenant `slug` and a session in it, in the rooms 6 and 9 the
/// tests post into; returns the cookie value.
pub(crate) fn session(work: &Workdir, slug: &str, user: &str) -> String {
    work.admin(&["admin", "tenant", "create", "--slug", slug]);
    work.admin(&[
        "admin", "session", "create", "--tenant", slug, "--user", user, "--rooms", "6,9",
    ])
}

pub(crate) fn cookie(value: &str) -> String {
    format!("clasp_session={value}")
}

pub(crate) fn file(name: &str, content_type: &str, data: Vec<u8>) -> Part {
    Part::bytes(data)
        .file_name(name.to_owned())
        .mime_str(content_type)
        .unwrap()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex_lower(&Sha256::digest(data))
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `width`×`height` RGB gradient as PNG.
pub fn png_picture(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Bits of a deflate stream, least significant first.
#[derive(Default)]
pub(super) struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl BitWriter {
    fn bits(&mut self, value: u64, len: u32) {
        self.acc |= value << self.len;
        self.len += len;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// A Huffman code, which deflate packs most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let reversed = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
        self.bits(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A real decompression bomb: a 20000×20000 grey PNG whose IDAT inflates to
/// all 400 MB of its rows, in about 2.5 MB — built in milliseconds from
/// fixed-Huffman back-references (258 zero bytes per 13 bits).
pub(crate) fn png_bomb() -> Vec<u8> {
    const EDGE: u32 = 20_000;
    let raw = u64::from(EDGE) * (u64::from(EDGE) + 1); // a filter byte per row
    let mut deflate = BitWriter::default();
    deflate.bits(1, 1); // the final block
    deflate.bits(1, 2); // of fixed Huffman codes
    deflate.code(0x30, 8); // literal 0
    let mut left = raw - 1;
    while left >= 258 {
        deflate.code(0xc5, 8); // length 258
        deflate.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        deflate.code(0x30, 8);
    }
    deflate.code(0, 7); // end of block
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(deflate.finish());
    let adler = ((raw % 65_521) << 16) | 1; // all zeros: a = 1, b = n
    zlib.extend((adler as u32).to_be_bytes());
    let mut bomb = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bomb, EDGE, EDGE);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_chunk(png::chunk::IDAT, &zlib).unwrap();
        writer.write_chunk(png::chunk::IEND, &[]).unwrap();
    }
    bomb
}

pub(crate) async fn upload(
    c: &reqwest::Client,
    server: &Server,
    path: &str,
    session: &str,
    form: Form,
) -> (StatusCode, Value) {
    let res = c
        .post(server.url(path))
        .header("cookie", cookie(session))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

pub(crate) async fn metadata(
    c: &reqwest::Client,
    server: &Server,
    session: &str,
    number: i64,
) -> (StatusCode, Value) {
    let res = c
        .get(server.url(&format!("/api/v1/attachments/{number}")))
        .header("cookie", cookie(session))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

pub(crate) async fn fetch(c: &reqwest::Client, url: String, session: &str) -> reqwest::Response {
    c.get(url)
        .header("cookie", cookie(session))
        .send()
        .await
        .unwrap()
}

pub(crate) fn assert_error(status: StatusCode, body: &Value, want: StatusCode) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["httpStatusCode"], want.as_u16(), "{body}");
    assert!(body["errorText"].as_str().is_some_and(|t| !t.is_empty()));
}
