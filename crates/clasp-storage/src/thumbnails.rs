//! The [`Thumbnailer`] port on the `image` crate: decode, shrink to fit a
//! [`THUMBNAIL_EDGE`] square, encode as lossless WebP.
//!
//! Decoding is CPU work, so it runs on tokio's blocking pool, never on a thread
//! that serves requests. Images are untrusted: the decoder refuses one whose
//! header announces more than [`MAX_IMAGE_EDGE`] pixels a side, or whose decoding
//! would allocate more than [`MAX_DECODE_BYTES`], before it allocates anything —
//! so a tiny file that claims 20000×20000 pixels (a decompression bomb) costs
//! nothing.

use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use clasp_domain::ports::{ThumbnailError, Thumbnailer};
use clasp_domain::validation::THUMBNAIL_EDGE;
use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits};
use tokio::sync::Semaphore;

/// Widest and tallest image decoded, in pixels.
pub const MAX_IMAGE_EDGE: u32 = 10_000;

/// Most memory one decode may allocate: 128 MiB.
pub const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;

/// Thumbnails of PNG, JPEG, GIF (first frame) and WebP images. At most one
/// decode per core runs at a time (each may take up to [`MAX_DECODE_BYTES`]), so
/// a burst of image uploads queues instead of exhausting memory or starving
/// the blocking pool.
#[derive(Debug, Clone)]
pub struct ImageThumbnailer {
    decodes: Arc<Semaphore>,
}

impl Default for ImageThumbnailer {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            decodes: Arc::new(Semaphore::new(cores)),
        }
    }
}

#[async_trait]
impl Thumbnailer for ImageThumbnailer {
    async fn thumbnail(&self, image: Bytes, content_type: &str) -> Result<Bytes, ThumbnailError> {
        let format = match content_type {
            "image/png" => ImageFormat::Png,
            "image/jpeg" => ImageFormat::Jpeg,
            "image/gif" => ImageFormat::Gif,
            "image/webp" => ImageFormat::WebP,
            other => return Err(ThumbnailError::Unsupported(other.to_owned())),
        };
        let _turn = self
            .decodes
            .acquire()
            .await
            .map_err(|e| ThumbnailError::Backend(e.to_string()))?;
        tokio::task::spawn_blocking(move || render(&image, format))
            .await
            .map_err(|e| ThumbnailError::Backend(e.to_string()))?
    }
}

/// Decodes within the limits, shrinks and encodes; blocking.
fn render(bytes: &[u8], format: ImageFormat) -> Result<Bytes, ThumbnailError> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_EDGE);
    limits.max_image_height = Some(MAX_IMAGE_EDGE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| match e {
        ImageError::Limits(_) => ThumbnailError::TooLarge(e.to_string()),
        other => ThumbnailError::Undecodable(other.to_string()),
    })?;
    let small = if decoded.width() > THUMBNAIL_EDGE || decoded.height() > THUMBNAIL_EDGE {
        decoded.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE)
    } else {
        decoded
    };
    let rgba = DynamicImage::ImageRgba8(small.to_rgba8());
    let mut out = Cursor::new(Vec::new());
    rgba.write_to(&mut out, ImageFormat::WebP)
        .map_err(|e| ThumbnailError::Backend(e.to_string()))?;
    Ok(Bytes::from(out.into_inner()))
}
