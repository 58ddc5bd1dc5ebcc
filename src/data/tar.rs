//! Extracting the CIFAR-10 tarball (gzipped tar) with the `tar` crate: regular files and
//! folders are written, other entries (links, devices) skipped. Entry paths must be relative
//! and free of `..`.

use std::path::{Component, Path, PathBuf};

use super::DataError;

fn safe_relative(name: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Extracts the gzipped tar `archive` into `dest`; returns the files written.
pub(crate) fn extract_tar_gz(archive: &Path, dest: &Path) -> Result<Vec<PathBuf>, DataError> {
    let file = std::fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    let mut tar = tar::Archive::new(gz);
    let bad = |m: String| DataError::format(archive, m);
    let read_err = |e: std::io::Error| bad(format!("corrupt or truncated archive: {e}"));
    let mut written = Vec::new();
    for entry in tar.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let kind = entry.header().entry_type();
        if !kind.is_file() && !kind.is_dir() {
            // Links, devices and the like: not part of a dataset.
            continue;
        }
        let name = entry.path().map_err(read_err)?.into_owned();
        let rel = safe_relative(&name).ok_or_else(|| {
            bad(format!(
                "unsafe entry path {:?}",
                name.display().to_string()
            ))
        })?;
        let target = dest.join(rel);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| DataError::io(&target, e))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
        }
        let size = entry.size();
        let mut out = std::fs::File::create(&target).map_err(|e| DataError::io(&target, e))?;
        let copied = std::io::copy(&mut entry, &mut out).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::UnexpectedEof => read_err(e),
            _ => DataError::io(&target, e),
        })?;
        if copied != size {
            return Err(bad(format!(
                "truncated archive: entry {} ends early",
                name.display()
            )));
        }
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    const BLOCK: usize = 512;

    fn header(name: &str, size: usize, kind: u8) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        let s = format!("{size:011o}");
        h[124..135].copy_from_slice(s.as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    /// A gzipped tar holding `entries` (name, bytes), with a directory entry first.
    pub(crate) fn tar_gz(dir: &str, entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&header(&format!("{dir}/"), 0, b'5'));
        for (name, bytes) in entries {
            t.extend_from_slice(&header(&format!("{dir}/{name}"), bytes.len(), b'0'));
            t.extend_from_slice(bytes);
            t.resize(t.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        t.extend_from_slice(&[0u8; 2 * BLOCK]);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&t).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn extracts_and_rejects_truncation() {
        let d = tempfile::tempdir().unwrap();
        let archive = d.path().join("a.tar.gz");
        let gz = tar_gz(
            "top",
            &[("one.bin", vec![1; 700]), ("two.txt", b"hi\n".to_vec())],
        );
        std::fs::write(&archive, &gz).unwrap();
        let out = d.path().join("out");
        let files = extract_tar_gz(&archive, &out).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            std::fs::read(out.join("top/one.bin")).unwrap(),
            vec![1; 700]
        );
        assert_eq!(std::fs::read(out.join("top/two.txt")).unwrap(), b"hi\n");

        std::fs::write(&archive, &gz[..gz.len() / 2]).unwrap();
        let e = extract_tar_gz(&archive, &d.path().join("out2"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.tar.gz") && e.contains("truncated"), "{e}");
    }

    #[test]
    fn rejects_escaping_paths() {
        assert!(safe_relative(Path::new("../x")).is_none());
        assert!(safe_relative(Path::new("/etc/passwd")).is_none());
        assert_eq!(
            safe_relative(Path::new("./a/b")).unwrap(),
            PathBuf::from("a/b")
        );
    }

    /// An archive with an entry that climbs out of the destination is refused.
    #[test]
    fn refuses_an_escaping_entry() {
        let d = tempfile::tempdir().unwrap();
        let archive = d.path().join("a.tar.gz");
        let mut t = Vec::new();
        t.extend_from_slice(&header("top/../../evil", 2, b'0'));
        t.extend_from_slice(b"hi");
        t.resize(t.len().div_ceil(BLOCK) * BLOCK, 0);
        t.extend_from_slice(&[0u8; 2 * BLOCK]);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&t).unwrap();
        std::fs::write(&archive, e.finish().unwrap()).unwrap();
        let err = extract_tar_gz(&archive, &d.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsafe entry path"), "{err}");
        assert!(!d.path().join("evil").exists());
    }
}
