//! QR codes as PNG images, drawn by us: the `qrcode` crate lays out the modules, the `png`
//! crate encodes an 8-bit grey image (no general image library needed). The cashier's
//! images, xxpay's `/api/qrcode/create_qrcode` and hrss's `qrImage` data URLs are drawn here.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use qrcode::{Color, EcLevel, QrCode};

const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the content does not fit in a QR code")]
    TooLong,
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// A PNG of a QR code of `content`, `scale` pixels per module.
pub fn png(content: &str, scale: usize) -> Result<Vec<u8>, QrError> {
    let code = QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M)
        .map_err(|_| QrError::TooLong)?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * scale;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules, i / modules);
        for dy in 0..scale {
            let start = ((my + QUIET_ZONE) * scale + dy) * side + (mx + QUIET_ZONE) * scale;
            pixels[start..start + scale].fill(0);
        }
    }
    let side = u32::try_from(side).map_err(|_| QrError::TooLong)?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| QrError::Png(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| QrError::Png(e.to_string()))?;
    writer.finish().map_err(|e| QrError::Png(e.to_string()))?;
    Ok(out)
}

/// A PNG of a QR code of `content` as a reply to a payer's browser or a merchant's page,
/// which may keep it a day (the content of a link does not change).
pub fn image_response(content: &str) -> Result<Response, QrError> {
    let bytes = png(content, 6)?;
    Ok((
        [
            (CONTENT_TYPE, "image/png"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}

/// `data:image/png;base64,…` of a QR code of `content`.
pub fn data_url(content: &str, scale: usize) -> Result<String, QrError> {
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(content, scale)?)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cashier_link_becomes_a_png_data_url_that_a_scanner_reads_back() {
        let content = "http://127.0.0.1:8080/cashier/P2612061000000042000123/0123456789abcdef0123456789abcdef";
        let url = data_url(content, 4).unwrap();
        let encoded = url.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let (width, height) = (info.width as usize, info.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            pixels[y * width + x]
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, text) = grids[0].decode().unwrap();
        assert_eq!(text, content);
        assert!(matches!(
            data_url(&"x".repeat(5000), 4),
            Err(QrError::TooLong)
        ));
    }

    #[test]
    fn a_cashier_url_becomes_a_png() {
        let image = png("http://127.0.0.1:8080/cashier/P2611290000000001000001", 6).unwrap();
        assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(image));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert!(info.width >= (21 + 8) * 6);
    }

    #[test]
    fn content_too_long_for_a_code_is_an_error() {
        assert!(matches!(png(&"x".repeat(5000), 6), Err(QrError::TooLong)));
    }
}
