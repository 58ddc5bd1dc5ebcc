//! Decoding one image file with the `image` crate (PNG, JPEG, BMP, TIFF, GIF; 8/16-bit, grey,
//! grey+alpha, RGB, RGBA, palette), converting it to the configured channels and resizing it
//! to a square, as planar bytes.
//!
//! The format comes from the file's first bytes, not its name. The pixel count is read from
//! the header and capped ([`MAX_PIXELS`]) before anything is decoded, so a tiny file that
//! claims 100000×100000 pixels costs nothing; `image`'s own [`image::Limits`] bound what the
//! decoder allocates. Every failure (and a decoder panic) is a reason string for the caller to
//! attach to the file.
//!
//! Resizing uses `image`'s triangle (bilinear) filter. Its kernel widens with the downscale
//! factor, so shrinking a 1024² photo to 64² averages every source pixel (antialiased, like
//! torchvision's `Resize(antialias=True)`) instead of sampling a few; at the sizes this lab
//! trains on (28–128) it is not the bottleneck (decoding is), so the extra dependency and
//! unsafe SIMD code of `fast_image_resize` buy nothing here. Non-square images are resized to
//! a square without keeping the aspect ratio (torchvision's `Resize((s, s))`). Alpha is
//! dropped, as PIL's `convert("RGB")` does.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};

/// Largest image accepted: 64 Mpixel (8192×8192), far above any photo this lab resizes to a
/// few dozen pixels, far below what a decompression bomb claims.
pub const MAX_PIXELS: u64 = 64 * 1024 * 1024;
/// Largest image file read.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// What the decoder may allocate (the image itself included).
const MAX_ALLOC: u64 = 1 << 30;

/// One decoded image: `channels × size × size` bytes, planar, and the size it had on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, String> {
    let r = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?;
    if r.format().is_none() {
        return Err("not a PNG, JPEG, BMP, TIFF or GIF image (its first bytes match none)".into());
    }
    Ok(r)
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(65_535);
    l.max_image_height = Some(65_535);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

/// What a JPEG cut short is told.
const JPEG_CUT: &str = "is cut short: its JPEG data stops before the end-of-image marker \
                        (a truncated file)";

/// Whether JPEG data reaches its end-of-image marker (`FF D9`): marker segments are skipped by
/// their lengths (an EXIF thumbnail's own markers with them), entropy-coded data is scanned
/// for the next marker (`FF` followed by anything but a stuffed `00`, a restart marker or
/// fill). Bytes after the end marker (some cameras append data) do not matter. The `image`
/// crate's JPEG decoder fills a cut scan with grey instead of failing.
pub fn jpeg_reaches_end(b: &[u8]) -> bool {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return false;
    }
    let mut i = 2;
    loop {
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        if i >= b.len() {
            return false;
        }
        let marker = b[i];
        i += 1;
        match marker {
            0xD9 => return true,
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {
                if i + 2 > b.len() {
                    return false;
                }
                let len = usize::from(u16::from_be_bytes([b[i], b[i + 1]]));
                if len < 2 || i + len > b.len() {
                    return false;
                }
                i += len;
                if marker == 0xDA {
                    // The scan's entropy-coded data, up to the next real marker.
                    loop {
                        while i < b.len() && b[i] != 0xFF {
                            i += 1;
                        }
                        if i + 1 >= b.len() {
                            return false;
                        }
                        match b[i + 1] {
                            0x00 | 0xD0..=0xD7 => i += 2,
                            0xFF => i += 1,
                            _ => break,
                        }
                    }
                }
            }
        }
    }
}

/// The size a header claims, checked against [`MAX_PIXELS`] and for emptiness.
fn check_dimensions(width: u32, height: u32) -> Result<(), String> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(format!(
            "is {width}×{height} = {:.0} Mpixel, more than the {} Mpixel limit (a decompression \
             bomb, or a photo far larger than needed)",
            pixels as f64 / (1 << 20) as f64,
            MAX_PIXELS >> 20
        ));
    }
    if width == 0 || height == 0 {
        return Err(format!("is {width}×{height}: no pixels"));
    }
    Ok(())
}

/// Bytes of a file's start read by [`check_header`]: the header of every format read here,
/// and a JPEG's usual EXIF block.
const HEAD_BYTES: u64 = 64 << 10;
/// Bytes of a JPEG's end where [`check_header`] looks for the end-of-image marker first.
const TAIL_BYTES: u64 = 4 << 10;

/// What the config check reads of each image of a folder dataset (cheap: its first
/// [`HEAD_BYTES`] and, for a JPEG, its last [`TAIL_BYTES`]): that it is an image of a known
/// format, the size its header claims (no decompression bomb, not empty) and, for a JPEG,
/// that it is not cut short. A file that passes can still fail to decode (a PNG cut in its
/// pixel data); the run then fails naming it (or skips it with `on_bad_image = "skip"`).
pub fn check_header(path: &Path, len: u64) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "is {len} bytes, more than the {} MiB an image file may have",
            MAX_FILE_BYTES >> 20
        ));
    }
    let read = |e: std::io::Error| format!("cannot read: {e}");
    let mut f = std::fs::File::open(path).map_err(read)?;
    let mut head = Vec::new();
    let mut jpeg = false;
    // A few KiB hold most headers; a JPEG's EXIF block may push its size further.
    for want in [4 << 10, HEAD_BYTES] {
        head.clear();
        f.seek(SeekFrom::Start(0)).map_err(read)?;
        (&mut f).take(want).read_to_end(&mut head).map_err(read)?;
        let mut r = reader(&head)?;
        jpeg = r.format() == Some(image::ImageFormat::Jpeg);
        r.no_limits();
        match r.into_dimensions() {
            Ok((w, h)) => {
                check_dimensions(w, h)?;
                break;
            }
            // A header longer than what was read: read more, else leave it to the decoder.
            Err(_) if (head.len() as u64) < len => {}
            Err(e) => return Err(format!("cannot read the image header: {e}")),
        }
    }
    if jpeg {
        let mut tail = Vec::new();
        f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
            .map_err(read)?;
        f.take(TAIL_BYTES).read_to_end(&mut tail).map_err(read)?;
        let ends = tail.windows(2).any(|w| w == [0xFF, 0xD9]);
        // No end marker near the end: read it all (data appended after the image, or cut).
        if !ends && !jpeg_reaches_end(&std::fs::read(path).map_err(read)?) {
            return Err(JPEG_CUT.into());
        }
    }
    Ok(())
}

/// Decodes image bytes to `channels` (1 or 3) planes of `size`×`size`.
pub fn decode_bytes(bytes: &[u8], channels: usize, size: u32) -> Result<Decoded, String> {
    // The header alone, without limits, so a bomb gets the message below.
    let mut header = reader(bytes)?;
    let jpeg = header.format() == Some(image::ImageFormat::Jpeg);
    header.no_limits();
    let (width, height) = header
        .into_dimensions()
        .map_err(|e| format!("cannot read the image header: {e}"))?;
    check_dimensions(width, height)?;
    if jpeg && !jpeg_reaches_end(bytes) {
        return Err(JPEG_CUT.into());
    }
    let mut r = reader(bytes)?;
    r.limits(limits());
    let img = r.decode().map_err(|e| format!("cannot decode: {e}"))?;
    let out = match channels {
        1 => {
            let g = img.to_luma8();
            let g = if g.dimensions() == (size, size) {
                g
            } else {
                image::imageops::resize(&g, size, size, FilterType::Triangle)
            };
            g.into_raw()
        }
        _ => {
            let rgb = match img {
                DynamicImage::ImageRgb8(b) => b,
                other => other.to_rgb8(),
            };
            let rgb = if rgb.dimensions() == (size, size) {
                rgb
            } else {
                image::imageops::resize(&rgb, size, size, FilterType::Triangle)
            };
            let plane = (size * size) as usize;
            let raw = rgb.into_raw();
            let mut planar = vec![0u8; 3 * plane];
            for (i, px) in raw.chunks_exact(3).enumerate() {
                planar[i] = px[0];
                planar[plane + i] = px[1];
                planar[2 * plane + i] = px[2];
            }
            planar
        }
    };
    Ok(Decoded {
        pixels: out,
        width,
        height,
    })
}

/// Reads and decodes one file; see [`decode_bytes`]. A panic inside a decoder is caught and
/// becomes a reason too.
pub fn decode_file(path: &Path, channels: usize, size: u32) -> Result<Decoded, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "is {len} bytes, more than the {} MiB an image file may have",
            MAX_FILE_BYTES >> 20
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    std::panic::catch_unwind(|| decode_bytes(&bytes, channels, size))
        .unwrap_or_else(|_| Err("the image decoder failed (panicked) on this file".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    fn png(img: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn rgb_to_planar_grey_and_resized() {
        let mut img = RgbImage::new(4, 2);
        img.put_pixel(0, 0, Rgb([255, 0, 0]));
        img.put_pixel(1, 0, Rgb([0, 255, 0]));
        let bytes = png(&DynamicImage::ImageRgb8(img));
        let d = decode_bytes(&bytes, 3, 4).unwrap();
        assert_eq!((d.width, d.height), (4, 2));
        assert_eq!(d.pixels.len(), 3 * 16);
        let d = decode_bytes(&bytes, 1, 2).unwrap();
        assert_eq!(d.pixels.len(), 4);
        // Same size: planes are copied exactly.
        let mut sq = RgbImage::new(2, 2);
        sq.put_pixel(1, 0, Rgb([10, 20, 30]));
        let d = decode_bytes(&png(&DynamicImage::ImageRgb8(sq)), 3, 2).unwrap();
        assert_eq!(d.pixels, [0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0]);
    }

    #[test]
    fn bad_bytes_are_reasons() {
        assert!(decode_bytes(b"hello, world", 1, 8)
            .unwrap_err()
            .contains("not a PNG"));
        let bytes = png(&DynamicImage::ImageRgb8(RgbImage::new(16, 16)));
        let e = decode_bytes(&bytes[..bytes.len() / 2], 1, 8).unwrap_err();
        assert!(e.contains("cannot decode"), "{e}");
    }

    fn jpeg(side: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(side, side, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut out, ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn a_jpeg_cut_in_its_scan_is_an_error_and_data_after_its_end_is_not() {
        let whole = jpeg(96);
        assert!(jpeg_reaches_end(&whole));
        decode_bytes(&whole, 3, 8).unwrap();
        // The decoder alone would fill the missing half with grey.
        let cut = &whole[..whole.len() / 2];
        assert!(!jpeg_reaches_end(cut));
        let e = decode_bytes(cut, 3, 8).unwrap_err();
        assert!(e.contains("cut short"), "{e}");
        let mut appended = whole.clone();
        appended.extend_from_slice(&[0x12; 10_000]);
        decode_bytes(&appended, 3, 8).unwrap();
        // The check reads the head and the tail only, and says the same.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.jpg");
        std::fs::write(&p, cut).unwrap();
        let e = check_header(&p, cut.len() as u64).unwrap_err();
        assert!(e.contains("cut short"), "{e}");
        let p = dir.path().join("appended.jpg");
        std::fs::write(&p, &appended).unwrap();
        check_header(&p, appended.len() as u64).unwrap();
        let p = dir.path().join("text.png");
        std::fs::write(&p, b"hello").unwrap();
        assert!(check_header(&p, 5).unwrap_err().contains("not a PNG"));
    }
}
