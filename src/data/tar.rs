//! A minimal reader for (gzipped) tar archives: regular files and directories, ustar prefixes,
//! GNU long names and base-256 sizes; enough for the CIFAR-10 tarball without another crate.
//! Entry paths must be relative and free of `..`.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::DataError;

const BLOCK: usize = 512;

fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        // GNU base-256: big-endian binary in the remaining bytes.
        return Some(
            field[1..]
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | b as u64),
        );
    }
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn safe_relative(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
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
    let mut r = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    let bad = |m: String| DataError::format(archive, m);
    let read_err = |e: std::io::Error| bad(format!("corrupt or truncated archive: {e}"));
    let mut written = Vec::new();
    let mut long_name: Option<String> = None;
    let mut header = [0u8; BLOCK];
    loop {
        r.read_exact(&mut header).map_err(read_err)?;
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let size = parse_size(&header[124..136])
            .ok_or_else(|| bad("bad entry size in tar header".into()))?;
        let kind = header[156];
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let mut name = match long_name.take() {
            Some(n) => n,
            None => {
                let mut n = String::from_utf8_lossy(cstr(&header[0..100])).into_owned();
                if &header[257..262] == b"ustar" {
                    let prefix = String::from_utf8_lossy(cstr(&header[345..500])).into_owned();
                    if !prefix.is_empty() {
                        n = format!("{prefix}/{n}");
                    }
                }
                n
            }
        };
        match kind {
            b'L' => {
                let mut buf = vec![0u8; padded as usize];
                r.read_exact(&mut buf).map_err(read_err)?;
                long_name = Some(String::from_utf8_lossy(cstr(&buf[..size as usize])).into_owned());
                continue;
            }
            b'0' | 0 | b'5' => {
                if name.ends_with('/') {
                    name.pop();
                }
                let rel = safe_relative(&name)
                    .ok_or_else(|| bad(format!("unsafe entry path {name:?}")))?;
                let target = dest.join(rel);
                if kind == b'5' {
                    std::fs::create_dir_all(&target).map_err(|e| DataError::io(&target, e))?;
                    std::io::copy(&mut (&mut r).take(padded), &mut std::io::sink())
                        .map_err(read_err)?;
                    continue;
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
                }
                let mut out =
                    std::fs::File::create(&target).map_err(|e| DataError::io(&target, e))?;
                let copied =
                    std::io::copy(&mut (&mut r).take(size), &mut out).map_err(|e| {
                        match e.kind() {
                            std::io::ErrorKind::InvalidInput
                            | std::io::ErrorKind::InvalidData
                            | std::io::ErrorKind::UnexpectedEof => read_err(e),
                            _ => DataError::io(&target, e),
                        }
                    })?;
                if copied != size {
                    return Err(bad(format!("truncated archive: entry {name} ends early")));
                }
                std::io::copy(&mut (&mut r).take(padded - size), &mut std::io::sink())
                    .map_err(read_err)?;
                written.push(target);
            }
            _ => {
                // Links, pax headers and the like: skip their data.
                std::io::copy(&mut (&mut r).take(padded), &mut std::io::sink())
                    .map_err(read_err)?;
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

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
        assert!(safe_relative("../x").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert_eq!(safe_relative("./a/b").unwrap(), PathBuf::from("a/b"));
    }
}
