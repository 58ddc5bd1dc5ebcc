//! The real Fashion-MNIST files, when present: via `ADALAB_DATA`, else `../shared/data`.
//! Prints `skipped:` and passes when neither has them.

use std::path::PathBuf;

use adalab::config::{DataConfig, DatasetKind};
use adalab::data::{load, locate, make_split};

fn find() -> Option<PathBuf> {
    let mut bases = Vec::new();
    if let Some(d) = std::env::var_os("ADALAB_DATA").filter(|v| !v.is_empty()) {
        bases.push(PathBuf::from(d));
    }
    bases.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data"
    )));
    bases.into_iter().find_map(|b| {
        locate(DatasetKind::FashionMnist, Some(&b))
            .ok()
            .filter(|p| p.starts_with(&b))
    })
}

#[test]
fn real_fashion_mnist_default_split() {
    let Some(dir) = find() else {
        println!("skipped: Fashion-MNIST not found via ADALAB_DATA or ../shared/data");
        return;
    };
    let ds = load(DatasetKind::FashionMnist, &dir).unwrap();
    assert_eq!(ds.train.class_counts(10), vec![6000; 10]);
    assert_eq!(ds.test.class_counts(10), vec![1000; 10]);
    assert_eq!(ds.shape, (1, 28, 28));

    let cfg = DataConfig::default(); // sneaker -> ankle boot, 8000 reference, 1000 normal
    let a = make_split(&ds, &cfg, 0).unwrap();
    let b = make_split(&ds, &cfg, 1).unwrap();
    let a2 = make_split(&ds, &cfg, 0).unwrap();
    assert_eq!(a.train_y.len(), 9000);
    assert_eq!(a.train_y.iter().filter(|&&y| y < 8).count(), 8000);
    assert_eq!(a.normal_rows.len(), 1000);
    assert!(a.normal_rows.iter().all(|&r| a.train_y[r] == 8));
    assert_eq!(a.class_names.last().map(String::as_str), Some("sneaker"));
    assert!(!a.class_names.iter().any(|n| n == "ankle boot"));
    assert_eq!(a.test_anomalous.len(), 2000);
    assert_eq!(a.test_anomalous.iter().filter(|&&x| x).count(), 1000);
    assert_eq!(a.train_x.len(), 9000 * 784);
    assert_eq!(a.test_x.len(), 2000 * 784);
    assert!(a.train_x.iter().all(|&p| (0.0..=1.0).contains(&p)));
    // The anomalous class never reaches training: no training image equals an ankle-boot train image.
    let boots: std::collections::HashSet<&[u8]> = ds
        .train
        .pixels
        .chunks_exact(784)
        .zip(&ds.train.labels)
        .filter(|(_, &l)| l == 9)
        .map(|(p, _)| p)
        .collect();
    let leaked = a
        .train_x
        .chunks_exact(784)
        .filter(|img| {
            let bytes: Vec<u8> = img.iter().map(|&p| (p * 255.0).round() as u8).collect();
            boots.contains(&bytes[..])
        })
        .count();
    assert_eq!(leaked, 0);
    assert_eq!(a.train_x, a2.train_x);
    assert_ne!(a.train_x, b.train_x);
    assert_ne!(a.train_y, b.train_y);
}

#[test]
fn uncompressed_files_are_checksummed_too() {
    use std::io::Read;
    let Some(dir) = find() else {
        println!("skipped: Fashion-MNIST not found via ADALAB_DATA or ../shared/data");
        return;
    };
    let plain = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".gz") else {
            continue;
        };
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
            .read_to_end(&mut bytes)
            .unwrap();
        std::fs::write(plain.path().join(stem), bytes).unwrap();
    }
    let manifest = adalab::data::manifest_for(DatasetKind::FashionMnist)
        .unwrap()
        .unwrap();
    let statuses = adalab::data::verify_files(&manifest, plain.path()).unwrap();
    assert_eq!(statuses.len(), 4);
    assert!(statuses
        .iter()
        .all(|(_, s)| *s == adalab::data::FileStatus::Verified));
    // One flipped pixel bit in the test images is caught.
    let p = plain.path().join("t10k-images-idx3-ubyte");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[16 + 784 * 500 + 300] ^= 0x04;
    std::fs::write(&p, bytes).unwrap();
    let statuses = adalab::data::verify_files(&manifest, plain.path()).unwrap();
    let bad: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| matches!(s, adalab::data::FileStatus::Mismatch { .. }))
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(bad, ["t10k-images-idx3-ubyte"]);
}
