//! QR codes as PNG images, drawn by us: the `qrcode` crate lays out the modules, the `png`
//! crate encodes an 8-bit grey image (no general image library needed).

use qrcode::{Color, EcLevel, QrCode};

const SCALE: usize = 6;
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the content does not fit in a QR code")]
    TooLong,
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

pub fn png(content: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M)
        .map_err(|_| QrError::TooLong)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules, i / modules);
        for dy in 0..SCALE {
            let row = (my + QUIET_ZONE) * SCALE + dy;
            let start = row * side + (mx + QUIET_ZONE) * SCALE;
            pixels[start..start + SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).map_err(|_| QrError::TooLong)?;
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
    fn a_cashier_url_becomes_a_png() {
        let image = png("http://127.0.0.1:8080/cashier/P2611290000000001000001").unwrap();
        assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(image));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert!(info.width >= (21 + 8) * 6);
    }

    #[test]
    fn content_too_long_for_a_code_is_an_error() {
        assert!(matches!(png(&"x".repeat(5000)), Err(QrError::TooLong)));
    }
}
