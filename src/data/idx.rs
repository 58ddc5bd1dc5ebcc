//! Fashion-MNIST in its original IDX format (gzipped or not).
//!
//! The loader accepts any image count (tests use tiny fixtures), but insists on 28×28 images,
//! the IDX magic numbers (2051 for images, 2049 for labels), complete data with no trailing
//! bytes, matching image/label counts and labels below 10.

use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{DataError, Dataset, Images};
use crate::config::DatasetKind;

pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
];

/// The four files, without `.gz`: (train images, train labels, test images, test labels).
pub(crate) const FASHION_MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

const IMAGE_MAGIC: u32 = 2051;
const LABEL_MAGIC: u32 = 2049;
const SIDE: usize = 28;

/// `<dir>/<base>.gz` if present, else `<dir>/<base>`; `None` if neither exists.
pub(crate) fn find_idx_file(dir: &Path, base: &str) -> Option<PathBuf> {
    [dir.join(format!("{base}.gz")), dir.join(base)]
        .into_iter()
        .find(|p| p.is_file())
}

/// How much larger than its compressed size a gzip file can decode to (deflate's limit is
/// about 1032:1), with room for headers.
const MAX_GZIP_RATIO: u64 = 1100;

/// How much larger than its compressed size a gzip file's buffer is reserved up front, at most.
const RESERVE_RATIO: u64 = 16;

/// The whole length (header included) an IDX file's header promises, when the magic is known.
fn promised_len(head: &[u8]) -> Option<u64> {
    if head.len() < 8 {
        return None;
    }
    let n = u64::from(be_u32(head, 4));
    match be_u32(head, 0) {
        LABEL_MAGIC => Some(8 + n),
        IMAGE_MAGIC if head.len() >= 16 => {
            let (r, c) = (u64::from(be_u32(head, 8)), u64::from(be_u32(head, 12)));
            n.checked_mul(r)?.checked_mul(c)?.checked_add(16)
        }
        _ => None,
    }
}

/// Reads up to `limit` bytes of `r`.
fn read_up_to(r: &mut impl Read, limit: u64, out: &mut Vec<u8>) -> std::io::Result<()> {
    r.take(limit).read_to_end(out).map(|_| ())
}

/// Reads an IDX file, gunzipped when it starts with the gzip magic bytes. Reading stops one
/// byte past the length the header promises, so a decompression bomb costs no memory; a gzip
/// file must be one complete member with nothing after it. The IDX parsers then check magic
/// numbers and lengths. `data check` and training load through this one reader.
///
/// A gzip file is inflated as it is read (its compressed bytes are never held whole) into a
/// buffer reserved for what the header promises: fresh memory is costly to touch, and a
/// growing buffer would touch it several times over.
pub(crate) fn read_idx(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |e: std::io::Error| DataError::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut magic = Vec::with_capacity(2);
    read_up_to(&mut file, 2, &mut magic).map_err(io)?;
    if magic != [0x1f, 0x8b] {
        let mut raw = Vec::with_capacity(usize::try_from(file_len).unwrap_or(0));
        raw.extend_from_slice(&magic);
        file.read_to_end(&mut raw).map_err(io)?;
        return Ok(raw);
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    // Read errors of the file itself are I/O errors; what the decoder refuses is bad data.
    let corrupt = |e: std::io::Error| match e.kind() {
        ErrorKind::InvalidInput | ErrorKind::InvalidData | ErrorKind::UnexpectedEof => {
            DataError::format(path, format!("corrupt or truncated gzip data: {e}"))
        }
        _ => DataError::io(path, e),
    };
    let mut dec = flate2::bufread::GzDecoder::new(BufReader::with_capacity(1 << 18, file));
    let mut out = Vec::with_capacity(16);
    read_up_to(&mut dec, 16, &mut out).map_err(corrupt)?;
    let Some(promised) = promised_len(&out) else {
        // Too short or an unknown magic number: the parser says which.
        return Ok(out);
    };
    let most = file_len.saturating_mul(MAX_GZIP_RATIO) + 4096;
    if promised > most {
        return Err(DataError::format(
            path,
            format!(
                "the header promises {promised} bytes, more than a {file_len}-byte gzip file \
                 can hold"
            ),
        ));
    }
    // One byte more than promised shows trailing data without reading it all. Room for all
    // of it up front, so the buffer is not copied as it grows; but never more than
    // `RESERVE_RATIO` times the file (honest IDX files inflate 2–5×): a larger promise gets
    // its memory only as the data arrives.
    let room = (promised + 1).min(file_len.saturating_mul(RESERVE_RATIO) + 4096);
    out.reserve_exact(usize::try_from(room).unwrap_or(0).saturating_sub(out.len()));
    read_up_to(&mut dec, promised + 1 - out.len() as u64, &mut out).map_err(corrupt)?;
    if out.len() as u64 > promised {
        return Err(DataError::format(
            path,
            format!("unexpected trailing bytes after the {promised} bytes the header promises"),
        ));
    }
    // The member must end here (its CRC is checked on the way) and nothing may follow it.
    let mut probe = [0u8; 1];
    if dec.read(&mut probe).map_err(corrupt)? != 0 {
        return Err(DataError::format(path, "unexpected trailing bytes"));
    }
    let mut rest = dec.into_inner();
    let read = rest.stream_position().map_err(io)?;
    if read < file_len {
        return Err(DataError::format(
            path,
            format!(
                "{} bytes after the end of the gzip stream (a second member or garbage)",
                file_len - read
            ),
        ));
    }
    Ok(out)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn describe_magic(m: u32) -> &'static str {
    match m {
        IMAGE_MAGIC => " (an IDX image file)",
        LABEL_MAGIC => " (an IDX label file)",
        _ => "",
    }
}

fn check_magic(path: &Path, bytes: &[u8], expected: u32, header: usize) -> Result<(), DataError> {
    let what = if expected == IMAGE_MAGIC {
        "image"
    } else {
        "label"
    };
    if bytes.len() < header {
        return Err(DataError::format(
            path,
            format!(
                "truncated IDX {what} file: {} bytes, shorter than its {header}-byte header",
                bytes.len()
            ),
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != expected {
        return Err(DataError::format(
            path,
            format!(
                "wrong magic number {magic}{}; expected {expected} (an IDX {what} file)",
                describe_magic(magic)
            ),
        ));
    }
    Ok(())
}

fn check_length(
    path: &Path,
    bytes: &[u8],
    header: usize,
    expected: usize,
    what: &str,
) -> Result<(), DataError> {
    let have = bytes.len() - header;
    if have < expected {
        return Err(DataError::format(
            path,
            format!(
                "truncated: header promises {what} ({expected} bytes) but only {have} bytes follow"
            ),
        ));
    }
    if have > expected {
        return Err(DataError::format(
            path,
            format!("{} unexpected trailing bytes after {what}", have - expected),
        ));
    }
    Ok(())
}

/// Parses an IDX image file (magic 2051) of 28×28 images; returns the pixel bytes (the file's
/// buffer without its header, not a copy).
pub(crate) fn parse_images(path: &Path, mut bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    check_magic(path, &bytes, IMAGE_MAGIC, 16)?;
    let n = be_u32(&bytes, 4) as usize;
    let (rows, cols) = (be_u32(&bytes, 8) as usize, be_u32(&bytes, 12) as usize);
    if (rows, cols) != (SIDE, SIDE) {
        return Err(DataError::format(
            path,
            format!("images are {rows}×{cols}; Fashion-MNIST images must be {SIDE}×{SIDE}"),
        ));
    }
    check_length(
        path,
        &bytes,
        16,
        n * rows * cols,
        &format!("{n} images of {rows}×{cols}"),
    )?;
    bytes.drain(..16);
    Ok(bytes)
}

/// Parses an IDX label file (magic 2049); every label must be below `classes`.
pub(crate) fn parse_labels(
    path: &Path,
    bytes: &[u8],
    classes: usize,
) -> Result<Vec<u8>, DataError> {
    check_magic(path, bytes, LABEL_MAGIC, 8)?;
    let n = be_u32(bytes, 4) as usize;
    check_length(path, bytes, 8, n, &format!("{n} labels"))?;
    let labels = &bytes[8..];
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= classes)
    {
        return Err(DataError::format(
            path,
            format!(
                "label {l} of item {i} is out of range (the dataset has {classes} classes, 0..={})",
                classes - 1
            ),
        ));
    }
    Ok(labels.to_vec())
}

fn load_pair(dir: &Path, images: &str, labels: &str) -> Result<Images, DataError> {
    let find = |base: &str, what: &str| {
        find_idx_file(dir, base).ok_or_else(|| DataError::MissingFile {
            path: dir.join(format!("{base}.gz")),
            dataset: DatasetKind::FashionMnist.as_str().into(),
            what: what.into(),
        })
    };
    let img_path = find(images, "image")?;
    let lbl_path = find(labels, "label")?;
    let pixels = parse_images(&img_path, read_idx(&img_path)?)?;
    let labels = parse_labels(
        &lbl_path,
        &read_idx(&lbl_path)?,
        FASHION_MNIST_CLASSES.len(),
    )?;
    let n_img = pixels.len() / (SIDE * SIDE);
    if n_img != labels.len() {
        return Err(DataError::format(
            &img_path,
            format!(
                "count mismatch: {n_img} images but {} has {} labels",
                lbl_path.display(),
                labels.len()
            ),
        ));
    }
    Ok(Images { pixels, labels })
}

/// Loads Fashion-MNIST from a directory holding the four IDX files: the test files on a
/// thread of their own while this one decompresses the (six times larger) training files.
/// When both fail, the training files' error is the one reported.
pub fn load_fashion_mnist(dir: &Path) -> Result<Dataset, DataError> {
    let (train, test) = std::thread::scope(|s| {
        let test = std::thread::Builder::new()
            .name("adalab-load".into())
            .spawn_scoped(s, || {
                load_pair(dir, FASHION_MNIST_FILES[2], FASHION_MNIST_FILES[3])
            });
        let train = load_pair(dir, FASHION_MNIST_FILES[0], FASHION_MNIST_FILES[1]);
        let test = match test {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            // No thread to be had: the test files on this one.
            Err(_) => load_pair(dir, FASHION_MNIST_FILES[2], FASHION_MNIST_FILES[3]),
        };
        (train, test)
    });
    let (train, test) = (train?, test?);
    Ok(Dataset {
        kind: DatasetKind::FashionMnist,
        class_names: FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        shape: (1, SIDE, SIDE),
        train,
        test,
        groups: Vec::new(),
        test_group: Vec::new(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn idx_images(n: u32, rows: u32, cols: u32, data_len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [IMAGE_MAGIC, n, rows, cols] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend((0..data_len).map(|i| (i % 251) as u8));
        v
    }

    pub(crate) fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&LABEL_MAGIC.to_be_bytes());
        v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// Writes a valid tiny Fashion-MNIST (n_train, n_test images, labels cycling) into `dir`.
    pub(crate) fn write_fixture(dir: &Path, n_train: usize, n_test: usize, gzip: bool) {
        let px = SIDE * SIDE;
        let files = [
            idx_images(n_train as u32, 28, 28, n_train * px),
            idx_labels(&(0..n_train).map(|i| (i % 10) as u8).collect::<Vec<_>>()),
            idx_images(n_test as u32, 28, 28, n_test * px),
            idx_labels(&(0..n_test).map(|i| (i % 10) as u8).collect::<Vec<_>>()),
        ];
        for (name, bytes) in FASHION_MNIST_FILES.iter().zip(files) {
            if gzip {
                std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    fn err_of(dir: &Path) -> String {
        load_fashion_mnist(dir).unwrap_err().to_string()
    }

    #[test]
    fn loads_gzipped_and_plain() {
        for gzip in [true, false] {
            let d = tempfile::tempdir().unwrap();
            write_fixture(d.path(), 20, 10, gzip);
            let ds = load_fashion_mnist(d.path()).unwrap();
            assert_eq!(ds.train.len(), 20);
            assert_eq!(ds.test.len(), 10);
            assert_eq!(ds.train.pixels.len(), 20 * 784);
            assert_eq!(ds.test.class_counts(10), vec![1; 10]);
            assert_eq!(ds.class_names[9], "ankle boot");
        }
    }

    #[test]
    fn wrong_magic() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, false);
        // A label file where the image file should be.
        std::fs::write(d.path().join(FASHION_MNIST_FILES[0]), idx_labels(&[0; 10])).unwrap();
        let e = err_of(d.path());
        assert!(e.contains("train-images-idx3-ubyte"), "{e}");
        assert!(e.contains("wrong magic number 2049"), "{e}");
    }

    #[test]
    fn truncated_images_gz_and_plain() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, false);
        std::fs::write(
            d.path().join(FASHION_MNIST_FILES[2]),
            idx_images(10, 28, 28, 9 * 784 + 5),
        )
        .unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("t10k-images-idx3-ubyte") && e.contains("truncated"),
            "{e}"
        );

        // Truncated gzip stream.
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, true);
        let p = d.path().join(format!("{}.gz", FASHION_MNIST_FILES[0]));
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("train-images-idx3-ubyte.gz") && e.contains("truncated"),
            "{e}"
        );

        // Shorter than the header.
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, false);
        std::fs::write(d.path().join(FASHION_MNIST_FILES[1]), [0, 0, 8]).unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("train-labels-idx1-ubyte") && e.contains("truncated"),
            "{e}"
        );
    }

    #[test]
    fn wrong_dims_and_trailing_bytes() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, false);
        std::fs::write(
            d.path().join(FASHION_MNIST_FILES[0]),
            idx_images(10, 32, 32, 10 * 1024),
        )
        .unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("train-images-idx3-ubyte") && e.contains("32×32"),
            "{e}"
        );

        std::fs::write(
            d.path().join(FASHION_MNIST_FILES[0]),
            idx_images(10, 28, 28, 10 * 784 + 3),
        )
        .unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("train-images-idx3-ubyte") && e.contains("3 unexpected trailing bytes"),
            "{e}"
        );
    }

    #[test]
    fn gzip_bombs_trailing_data_and_second_members_are_refused() {
        let p = |d: &tempfile::TempDir| d.path().join(format!("{}.gz", FASHION_MNIST_FILES[0]));
        // A valid header for 10 images, then 64 MiB of zeros: refused after reading one byte
        // past the promised 7,856 bytes, not after inflating 64 MiB.
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, true);
        let mut bomb = idx_images(10, 28, 28, 10 * 784);
        bomb.resize(bomb.len() + (64 << 20), 0);
        std::fs::write(p(&d), gz(&bomb)).unwrap();
        let e = read_idx(&p(&d)).unwrap_err().to_string();
        assert!(e.contains("trailing bytes"), "{e}");
        // A header promising far more than the file can expand to.
        let huge = idx_images(4_000_000, 28, 28, 100);
        std::fs::write(p(&d), gz(&huge)).unwrap();
        let e = read_idx(&p(&d)).unwrap_err().to_string();
        assert!(
            e.contains("more than a") && e.contains("gzip file can hold"),
            "{e}"
        );
        // Garbage after the gzip stream, and a second gzip member: what `data check`'s
        // checksums reject, loading rejects too.
        let good = gz(&idx_images(10, 28, 28, 10 * 784));
        let mut garbage = good.clone();
        garbage.extend_from_slice(b"garbage");
        std::fs::write(p(&d), &garbage).unwrap();
        let e = err_of(d.path());
        assert!(e.contains("after the end of the gzip stream"), "{e}");
        let mut two = good.clone();
        two.extend_from_slice(&gz(b"more"));
        std::fs::write(p(&d), &two).unwrap();
        let e = err_of(d.path());
        assert!(e.contains("second member"), "{e}");
        std::fs::write(p(&d), &good).unwrap();
        assert!(load_fashion_mnist(d.path()).is_ok());
    }

    #[test]
    fn count_mismatch() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, false);
        std::fs::write(d.path().join(FASHION_MNIST_FILES[1]), idx_labels(&[1; 9])).unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("train-images-idx3-ubyte") && e.contains("train-labels-idx1-ubyte"),
            "{e}"
        );
        assert!(
            e.contains("count mismatch: 10 images but") && e.contains("9 labels"),
            "{e}"
        );
    }

    #[test]
    fn label_out_of_range() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10, 10, false);
        let mut labels = vec![0u8; 10];
        labels[4] = 10;
        std::fs::write(d.path().join(FASHION_MNIST_FILES[3]), idx_labels(&labels)).unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("t10k-labels-idx1-ubyte")
                && e.contains("label 10 of item 4 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn empty_dir_and_missing_file() {
        let d = tempfile::tempdir().unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("train-images-idx3-ubyte.gz") && e.contains("missing image file"),
            "{e}"
        );

        write_fixture(d.path(), 10, 10, true);
        std::fs::remove_file(d.path().join(format!("{}.gz", FASHION_MNIST_FILES[3]))).unwrap();
        let e = err_of(d.path());
        assert!(
            e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("missing label file"),
            "{e}"
        );
    }
}
