//! CIFAR-10, binary version: `data_batch_{1..5}.bin`, `test_batch.bin`, `batches.meta.txt`,
//! either in `<dir>/cifar-10-batches-bin/` (as the tarball extracts) or directly in `<dir>`.
//!
//! Each record is 1 label byte then 3,072 pixel bytes (1,024 R, 1,024 G, 1,024 B, each 32×32
//! row-major), which is exactly our planar N, C, H, W layout. The published files hold 10,000
//! records each; the loader accepts any non-zero whole number of records (tests use small
//! fixtures) but rejects a size that is not a multiple of 3,073 and labels above 9.

use std::path::{Path, PathBuf};

use super::{DataError, Dataset, Images};
use crate::config::DatasetKind;

pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

pub(crate) const CIFAR_FOLDER: &str = "cifar-10-batches-bin";
pub(crate) const TRAIN_BATCHES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub(crate) const TEST_BATCH: &str = "test_batch.bin";
const META: &str = "batches.meta.txt";
const PIXELS: usize = 3 * 32 * 32;
const RECORD: usize = 1 + PIXELS;

/// The folder that holds the batch files: `<dir>/cifar-10-batches-bin` if it exists, else `dir`.
pub(crate) fn batches_dir(dir: &Path) -> PathBuf {
    let nested = dir.join(CIFAR_FOLDER);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// Parses one batch file's bytes, appending to `out`.
pub(crate) fn parse_batch(
    path: &Path,
    bytes: &[u8],
    classes: usize,
    out: &mut Images,
) -> Result<(), DataError> {
    if bytes.is_empty() {
        return Err(DataError::format(path, "empty CIFAR-10 batch file"));
    }
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::format(
            path,
            format!(
                "size {} bytes is not a multiple of the 3073-byte CIFAR-10 record ({} whole records and {} bytes left over: truncated or not a CIFAR-10 binary batch)",
                bytes.len(),
                bytes.len() / RECORD,
                bytes.len() % RECORD
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    out.labels.reserve(n);
    out.pixels.reserve(n * PIXELS);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        let label = rec[0];
        if label as usize >= classes {
            return Err(DataError::format(
                path,
                format!(
                    "label {label} of record {i} is out of range (the dataset has {classes} classes, 0..={})",
                    classes - 1
                ),
            ));
        }
        out.labels.push(label);
        out.pixels.extend_from_slice(&rec[1..]);
    }
    Ok(())
}

fn read_batch(dir: &Path, name: &str, classes: usize, out: &mut Images) -> Result<(), DataError> {
    let path = dir.join(name);
    if !path.is_file() {
        return Err(DataError::MissingFile {
            path,
            dataset: DatasetKind::Cifar10.as_str().into(),
            what: "batch".into(),
        });
    }
    let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
    parse_batch(&path, &bytes, classes, out)
}

/// Class names from `batches.meta.txt` (one per line, blank lines ignored), or the standard names.
fn class_names(dir: &Path) -> Result<Vec<String>, DataError> {
    let path = dir.join(META);
    if !path.is_file() {
        return Ok(CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != CIFAR10_CLASSES.len() {
        return Err(DataError::format(
            &path,
            format!(
                "expected 10 class names, one per line, found {}",
                names.len()
            ),
        ));
    }
    Ok(names)
}

/// Loads CIFAR-10 from `dir` (or `dir/cifar-10-batches-bin`).
pub fn load_cifar10(dir: &Path) -> Result<Dataset, DataError> {
    let root = batches_dir(dir);
    let class_names = class_names(&root)?;
    let mut train = Images::default();
    for name in TRAIN_BATCHES {
        read_batch(&root, name, class_names.len(), &mut train)?;
    }
    let mut test = Images::default();
    read_batch(&root, TEST_BATCH, class_names.len(), &mut test)?;
    Ok(Dataset {
        kind: DatasetKind::Cifar10,
        class_names,
        shape: (3, 32, 32),
        train,
        test,
        groups: Vec::new(),
        test_group: Vec::new(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `n` records with labels cycling 0..10; pixel bytes encode (record, channel).
    pub(crate) fn batch(n: usize, first_label: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n * RECORD);
        for i in 0..n {
            v.push(((first_label + i) % 10) as u8);
            for c in 0..3 {
                v.extend(std::iter::repeat_n((i * 3 + c) as u8, 1024));
            }
        }
        v
    }

    pub(crate) fn write_fixture(dir: &Path, per_batch: usize) {
        let root = dir.join(CIFAR_FOLDER);
        std::fs::create_dir_all(&root).unwrap();
        for (b, name) in TRAIN_BATCHES.iter().enumerate() {
            std::fs::write(root.join(name), batch(per_batch, b)).unwrap();
        }
        std::fs::write(root.join(TEST_BATCH), batch(per_batch, 0)).unwrap();
        std::fs::write(root.join(META), CIFAR10_CLASSES.join("\n") + "\n\n").unwrap();
    }

    #[test]
    fn loads_published_layout_with_10000_records_per_batch() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 10_000);
        let ds = load_cifar10(d.path()).unwrap();
        assert_eq!(ds.train.len(), 50_000);
        assert_eq!(ds.test.len(), 10_000);
        assert_eq!(ds.train.class_counts(10), vec![5_000; 10]);
        assert_eq!(ds.test.class_counts(10), vec![1_000; 10]);
        assert_eq!(ds.class_names, CIFAR10_CLASSES);
        // Record 7 of the test batch: planar R, G, B planes.
        let img = &ds.test.pixels[7 * PIXELS..8 * PIXELS];
        assert!(img[..1024].iter().all(|&p| p == 21));
        assert!(img[1024..2048].iter().all(|&p| p == 22));
        assert!(img[2048..].iter().all(|&p| p == 23));
        assert_eq!(ds.test.labels[7], 7);
    }

    #[test]
    fn files_directly_in_dir_and_default_names() {
        let d = tempfile::tempdir().unwrap();
        for name in TRAIN_BATCHES.iter().chain([&TEST_BATCH]) {
            std::fs::write(d.path().join(name), batch(3, 0)).unwrap();
        }
        let ds = load_cifar10(d.path()).unwrap();
        assert_eq!((ds.train.len(), ds.test.len()), (15, 3));
        assert_eq!(ds.class_names[4], "deer");
    }

    #[test]
    fn size_not_multiple_of_record() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 4);
        let mut b = batch(4, 0);
        b.truncate(b.len() - 100);
        std::fs::write(d.path().join(CIFAR_FOLDER).join("data_batch_3.bin"), b).unwrap();
        let e = load_cifar10(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("data_batch_3.bin") && e.contains("not a multiple of the 3073-byte"),
            "{e}"
        );
    }

    #[test]
    fn label_out_of_range() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 4);
        let mut b = batch(4, 0);
        b[2 * RECORD] = 200;
        std::fs::write(d.path().join(CIFAR_FOLDER).join(TEST_BATCH), b).unwrap();
        let e = load_cifar10(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("label 200 of record 2 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn missing_batch_and_empty_dir() {
        let d = tempfile::tempdir().unwrap();
        let e = load_cifar10(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("data_batch_1.bin") && e.contains("missing batch file"),
            "{e}"
        );

        write_fixture(d.path(), 2);
        std::fs::remove_file(d.path().join(CIFAR_FOLDER).join("data_batch_5.bin")).unwrap();
        let e = load_cifar10(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("data_batch_5.bin") && e.contains("missing batch file"),
            "{e}"
        );
    }

    #[test]
    fn bad_meta() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), 2);
        std::fs::write(d.path().join(CIFAR_FOLDER).join(META), "cat\ndog\n").unwrap();
        let e = load_cifar10(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("batches.meta.txt") && e.contains("expected 10 class names"),
            "{e}"
        );
    }
}
