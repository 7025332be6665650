//! The image thumbnailer on real images of every supported type, and on the
//! images it must refuse without harm.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

use std::io::Cursor;

use bytes::Bytes;
use clasp_domain::ports::{ThumbnailError, Thumbnailer};
use clasp_storage::ImageThumbnailer;
use image::{DynamicImage, ImageFormat, RgbaImage};

/// A `width`×`height` gradient encoded as `format`.
fn picture(width: u32, height: u32, format: ImageFormat) -> Bytes {
    let img = RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255])
    });
    let img = match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(img).to_rgb8()),
        _ => DynamicImage::ImageRgba8(img),
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    Bytes::from(out.into_inner())
}

fn decode_webp(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory_with_format(bytes, ImageFormat::WebP).unwrap()
}

#[tokio::test]
async fn every_supported_type_shrinks_to_fit_256_pixels_keeping_its_shape() {
    let cases = [
        ("image/png", ImageFormat::Png),
        ("image/jpeg", ImageFormat::Jpeg),
        ("image/gif", ImageFormat::Gif),
        ("image/webp", ImageFormat::WebP),
    ];
    for (content_type, format) in cases {
        let thumb = ImageThumbnailer::default()
            .thumbnail(picture(600, 300, format), content_type)
            .await
            .unwrap();
        let decoded = decode_webp(&thumb);
        assert_eq!(
            (decoded.width(), decoded.height()),
            (256, 128),
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn small_images_keep_their_size() {
    let thumb = ImageThumbnailer::default()
        .thumbnail(picture(40, 20, ImageFormat::Png), "image/png")
        .await
        .unwrap();
    let decoded = decode_webp(&thumb);
    assert_eq!((decoded.width(), decoded.height()), (40, 20));
}

#[tokio::test]
async fn a_huge_image_is_refused_before_it_is_decoded() {
    // A header announcing 20000×20000 pixels, and almost no data.
    let mut bomb = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bomb, 20_000, 20_000);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_chunk(png::chunk::IDAT, &[0x78, 0x01, 0x03, 0x00])
            .unwrap();
    }
    let refused = ImageThumbnailer::default()
        .thumbnail(Bytes::from(bomb), "image/png")
        .await;
    assert!(
        matches!(refused, Err(ThumbnailError::TooLarge(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn broken_and_unsupported_images_get_no_thumbnail() {
    let mut truncated = picture(300, 300, ImageFormat::Png).to_vec();
    truncated.truncate(truncated.len() / 2);
    for (bytes, content_type) in [
        (Bytes::from(truncated), "image/png"),
        (
            Bytes::from_static(b"\xff\xd8\xff\xe0 not really a jpeg"),
            "image/jpeg",
        ),
        (Bytes::from_static(b"GIF89a"), "image/gif"),
    ] {
        let refused = ImageThumbnailer::default()
            .thumbnail(bytes, content_type)
            .await;
        assert!(
            matches!(refused, Err(ThumbnailError::Undecodable(_))),
            "{content_type}: {refused:?}"
        );
    }
    let refused = ImageThumbnailer::default()
        .thumbnail(Bytes::from_static(b"%PDF-1.7"), "application/pdf")
        .await;
    assert_eq!(
        refused,
        Err(ThumbnailError::Unsupported("application/pdf".into()))
    );
}
