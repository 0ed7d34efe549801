//! §4.3's `qrImage`: the cashier link as a QR code in a PNG, as a `data:` URL. The
//! `qrcode` crate lays out the modules and the `png` crate writes an 8-bit grey image.

use base64::Engine;
use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module: small enough to keep the data URL a few kilobytes, large enough
/// for a kiosk screen.
const SCALE: usize = 4;
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the content does not fit in a QR code")]
    TooLong,
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// `data:image/png;base64,…` of a QR code of `content`.
pub fn data_url(content: &str) -> Result<String, QrError> {
    let png = png(content)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

fn png(content: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M)
        .map_err(|_| QrError::TooLong)?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules, i / modules);
        for dy in 0..SCALE {
            let start = ((my + QUIET_ZONE) * SCALE + dy) * side + (mx + QUIET_ZONE) * SCALE;
            pixels[start..start + SCALE].fill(0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cashier_link_becomes_a_png_data_url_that_a_scanner_reads_back() {
        let content = "http://127.0.0.1:8080/cashier/P2612061000000042000123/0123456789abcdef0123456789abcdef";
        let url = data_url(content).unwrap();
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
        assert!(matches!(data_url(&"x".repeat(5000)), Err(QrError::TooLong)));
    }
}
