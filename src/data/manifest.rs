//! Download manifests (`data/<dataset>.toml`, embedded in the binary) and file verification.

use std::io::Read;
use std::path::{Path, PathBuf};

use md5::Md5;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::DataError;
use crate::config::DatasetKind;

const FASHION_MNIST_TOML: &str = include_str!("../../data/fashion-mnist.toml");
const CIFAR10_TOML: &str = include_str!("../../data/cifar-10.toml");

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub homepage: String,
    /// Base URLs, tried in order; a file's URL is base + file name.
    pub mirrors: Vec<String>,
    pub files: Vec<FileSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub name: String,
    pub size: u64,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub md5: Option<String>,
    /// `"tar.gz"`: extract into the dataset folder after verification, then delete.
    #[serde(default)]
    pub extract: Option<String>,
    /// For archives: the files they hold (relative to the dataset folder) and their sizes.
    #[serde(default)]
    pub contents: Vec<ContentSpec>,
    /// For `.gz` files: size and SHA-256 of the decompressed file, which may be used in its
    /// place (under the name without `.gz`).
    #[serde(default)]
    pub gunzipped: Option<Gunzipped>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gunzipped {
    pub size: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentSpec {
    pub name: String,
    pub size: u64,
}

impl Manifest {
    /// Parses a manifest and checks that every file has a checksum.
    pub fn parse(name: &str, text: &str) -> Result<Manifest, DataError> {
        let bad = |message: String| DataError::Manifest {
            name: name.to_string(),
            message,
        };
        let m: Manifest = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if m.mirrors.is_empty() {
            return Err(bad("no mirrors".into()));
        }
        for f in &m.files {
            if f.sha256.is_none() && f.md5.is_none() {
                return Err(bad(format!("file {} has neither sha256 nor md5", f.name)));
            }
            if let Some(x) = &f.extract {
                if x != "tar.gz" {
                    return Err(bad(format!("file {}: unsupported extract = {x:?}", f.name)));
                }
            }
        }
        Ok(m)
    }
}

/// The embedded manifest for `kind` (`None` for the synthetic dataset).
pub fn manifest_for(kind: DatasetKind) -> Option<Result<Manifest, DataError>> {
    let text = match kind {
        DatasetKind::FashionMnist => FASHION_MNIST_TOML,
        DatasetKind::Cifar10 => CIFAR10_TOML,
        DatasetKind::Synthetic | DatasetKind::Folder | DatasetKind::Mvtec => return None,
    };
    Some(Manifest::parse(
        &format!("data/{}.toml", kind.as_str()),
        text,
    ))
}

/// Size, SHA-256 and MD5 (lower-case hex) of a file, streamed.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String, String), DataError> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let (mut sha, mut md5) = (Sha256::new(), Md5::new());
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        md5.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&sha.finalize()), hex(&md5.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A failed verification: (algorithm, expected, actual).
pub(crate) type Mismatch = (String, String, String);

/// Checks a file's size and checksums against its spec.
pub(crate) fn verify(path: &Path, spec: &FileSpec) -> Result<Result<(), Mismatch>, DataError> {
    let (size, sha, md5) = hash_file(path)?;
    if size != spec.size {
        return Ok(Err((
            "size".into(),
            format!("{} bytes", spec.size),
            format!("{size} bytes"),
        )));
    }
    if let Some(want) = &spec.sha256 {
        if !want.eq_ignore_ascii_case(&sha) {
            return Ok(Err(("SHA-256".into(), want.to_lowercase(), sha)));
        }
    }
    if let Some(want) = &spec.md5 {
        if !want.eq_ignore_ascii_case(&md5) {
            return Ok(Err(("MD5".into(), want.to_lowercase(), md5)));
        }
    }
    Ok(Ok(()))
}

/// Outcome of checking one manifest file in a dataset folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Size and checksums match.
    Verified,
    /// An archive's listed contents are present with the right sizes.
    Extracted,
    /// Not present (e.g. the un-gzipped variant is used instead).
    Absent,
    /// Present but wrong.
    Mismatch {
        algorithm: String,
        expected: String,
        actual: String,
    },
}

/// Checks each manifest file found in `dir` (archives via their listed contents).
pub fn verify_files(
    manifest: &Manifest,
    dir: &Path,
) -> Result<Vec<(PathBuf, FileStatus)>, DataError> {
    let mut out = Vec::new();
    for spec in &manifest.files {
        let path = dir.join(&spec.name);
        if path.is_file() {
            let status = match verify(&path, spec)? {
                Ok(()) => FileStatus::Verified,
                Err((algorithm, expected, actual)) => FileStatus::Mismatch {
                    algorithm,
                    expected,
                    actual,
                },
            };
            out.push((path, status));
            continue;
        }
        if let (Some(g), Some(plain)) = (&spec.gunzipped, spec.name.strip_suffix(".gz")) {
            let p = dir.join(plain);
            if p.is_file() {
                let plain_spec = FileSpec {
                    name: plain.to_string(),
                    size: g.size,
                    sha256: Some(g.sha256.clone()),
                    md5: None,
                    extract: None,
                    contents: Vec::new(),
                    gunzipped: None,
                };
                let status = match verify(&p, &plain_spec)? {
                    Ok(()) => FileStatus::Verified,
                    Err((algorithm, expected, actual)) => FileStatus::Mismatch {
                        algorithm,
                        expected,
                        actual,
                    },
                };
                out.push((p, status));
                continue;
            }
        }
        if spec.contents.is_empty() {
            out.push((path, FileStatus::Absent));
            continue;
        }
        for c in &spec.contents {
            let p = dir.join(&c.name);
            let status = match std::fs::metadata(&p) {
                Ok(m) if m.len() == c.size => FileStatus::Extracted,
                Ok(m) => FileStatus::Mismatch {
                    algorithm: "size".into(),
                    expected: format!("{} bytes", c.size),
                    actual: format!("{} bytes", m.len()),
                },
                Err(_) => FileStatus::Absent,
            };
            out.push((p, status));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifests_parse() {
        let f = manifest_for(DatasetKind::FashionMnist).unwrap().unwrap();
        assert_eq!(f.files.len(), 4);
        assert!(
            f.mirrors[0].starts_with("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
        );
        let c = manifest_for(DatasetKind::Cifar10).unwrap().unwrap();
        assert_eq!(c.files[0].size, 170_052_171);
        assert_eq!(c.files[0].contents.len(), 6);
        assert!(manifest_for(DatasetKind::Synthetic).is_none());
        let e = Manifest::parse(
            "x.toml",
            "name = 'x'\nmirrors = ['a']\n[[files]]\nname = 'f'\nsize = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("x.toml") && e.contains("neither sha256 nor md5"),
            "{e}"
        );
    }

    #[test]
    fn hashes_known_value() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let (n, sha, md5) = hash_file(&p).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(md5, "900150983cd24fb0d6963f7d28e17f72");
    }
}
