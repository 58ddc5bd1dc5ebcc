//! Fashion-MNIST in its original IDX format (gzipped or not).
//!
//! The loader accepts any image count (tests use tiny fixtures), but insists on 28×28 images,
//! the IDX magic numbers (2051 for images, 2049 for labels), complete data with no trailing
//! bytes, matching image/label counts and labels below 10.

use std::io::Read;
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

/// Reads a file, gunzipping it when it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, format!("corrupt or truncated gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
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

/// Parses an IDX image file (magic 2051) of 28×28 images; returns the pixel bytes.
pub(crate) fn parse_images(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    check_magic(path, bytes, IMAGE_MAGIC, 16)?;
    let n = be_u32(bytes, 4) as usize;
    let (rows, cols) = (be_u32(bytes, 8) as usize, be_u32(bytes, 12) as usize);
    if (rows, cols) != (SIDE, SIDE) {
        return Err(DataError::format(
            path,
            format!("images are {rows}×{cols}; Fashion-MNIST images must be {SIDE}×{SIDE}"),
        ));
    }
    check_length(
        path,
        bytes,
        16,
        n * rows * cols,
        &format!("{n} images of {rows}×{cols}"),
    )?;
    Ok(bytes[16..].to_vec())
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
    let pixels = parse_images(&img_path, &read_maybe_gz(&img_path)?)?;
    let labels = parse_labels(
        &lbl_path,
        &read_maybe_gz(&lbl_path)?,
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

/// Loads Fashion-MNIST from a directory holding the four IDX files.
pub fn load_fashion_mnist(dir: &Path) -> Result<Dataset, DataError> {
    let train = load_pair(dir, FASHION_MNIST_FILES[0], FASHION_MNIST_FILES[1])?;
    let test = load_pair(dir, FASHION_MNIST_FILES[2], FASHION_MNIST_FILES[3])?;
    Ok(Dataset {
        kind: DatasetKind::FashionMnist,
        class_names: FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        shape: (1, SIDE, SIDE),
        train,
        test,
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
