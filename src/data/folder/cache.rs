//! The decoded, resized cache of a folder dataset: one file per folder and decode settings
//! (`<cache dir>/<key>.bin`, the cache dir being `$ADALAB_CACHE` or the user cache dir), so a
//! second load reads one file instead of decoding thousands.
//!
//! Layout (little endian): magic `ADALABIC`, format version (u32), the SHA-256 fingerprint of
//! the source files (every path, size and modification time, see
//! [`super::scan::Scan::fingerprint`]), the payload length (u64) and its CRC-32, then the
//! payload: shape, class and group names, train and test labels, groups and pixels, the image
//! sizes seen and the files skipped. A cache whose fingerprint differs (files added, removed,
//! touched) is stale; one that is short, has another magic or version, or fails its checksum
//! is corrupt; either way it is rebuilt, never trusted. Writes go to a temporary file that is
//! synced and renamed into place.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::scan::Problem;
use crate::data::{Dataset, Images};

const MAGIC: &[u8; 8] = b"ADALABIC";
/// Bumped whenever the payload or the decoding changes.
pub const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 32 + 8 + 4;

/// What a folder load keeps besides the dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// Source image sizes (width, height) → how many images had it.
    pub sizes: BTreeMap<(u32, u32), usize>,
    /// Files left out (`data.on_bad_image = "skip"`), and why.
    pub skipped: Vec<Problem>,
}

/// Where cache files go: `$ADALAB_CACHE`, else `<user cache dir>/images`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("ADALAB_CACHE").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("", "", "adalab").map(|p| p.cache_dir().join("images"))
}

/// The cache file of a folder (its canonical path) decoded with `settings` (kind, channels,
/// size, test fraction…), in `dir`.
pub fn cache_file(dir: &Path, canonical: &Path, settings: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(format!("v{VERSION}\0").as_bytes());
    h.update(canonical.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    h.update(settings.as_bytes());
    let d = h.finalize();
    let hex: String = d[..10].iter().map(|b| format!("{b:02x}")).collect();
    let name = canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(32)
        .collect();
    dir.join(format!("{safe}-{hex}.bin"))
}

/// Why a cache was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Miss {
    /// There is none.
    Absent,
    /// There is one, but it is stale or corrupt (the reason).
    Invalid(String),
}

/// A writer that counts and checksums what goes through it.
struct Summing<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Summing<W> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc.update(b);
        self.len += b.len() as u64;
        self.inner.write_all(b)
    }
    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.put(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> io::Result<()> {
        self.put(&v.to_le_bytes())
    }
    fn str(&mut self, s: &str) -> io::Result<()> {
        self.u32(s.len() as u32)?;
        self.put(s.as_bytes())
    }
}

fn write_payload<W: Write>(w: &mut Summing<W>, ds: &Dataset, x: &Extras) -> io::Result<()> {
    let (c, h, wd) = ds.shape;
    for v in [c, h, wd] {
        w.u32(v as u32)?;
    }
    for names in [&ds.class_names, &ds.groups] {
        w.u32(names.len() as u32)?;
        for n in names {
            w.str(n)?;
        }
    }
    for (i, img) in [&ds.train, &ds.test].into_iter().enumerate() {
        w.u64(img.len() as u64)?;
        w.put(&img.labels)?;
        if i == 1 {
            w.u64(ds.test_group.len() as u64)?;
            for g in &ds.test_group {
                w.u32(g.map_or(u32::MAX, |g| g as u32))?;
            }
        }
        w.put(&img.pixels)?;
    }
    w.u32(x.sizes.len() as u32)?;
    for (&(sw, sh), &n) in &x.sizes {
        w.u32(sw)?;
        w.u32(sh)?;
        w.u64(n as u64)?;
    }
    w.u32(x.skipped.len() as u32)?;
    for p in &x.skipped {
        w.str(&p.path.to_string_lossy())?;
        w.str(&p.reason)?;
    }
    Ok(())
}

/// Writes the cache atomically: a temporary file beside `path`, synced, then renamed.
pub fn write(path: &Path, fingerprint: &[u8; 32], ds: &Dataset, x: &Extras) -> io::Result<()> {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d)?;
    }
    let tmp = path.with_extension(format!("bin.tmp{}", std::process::id()));
    let result = (|| {
        let f = File::create(&tmp)?;
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(fingerprint);
        head.extend_from_slice(&[0; 12]);
        let mut w = Summing {
            inner: BufWriter::with_capacity(1 << 20, f),
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        w.inner.write_all(&head)?;
        write_payload(&mut w, ds, x)?;
        let Summing { inner, crc, len } = w;
        let mut f = inner.into_inner().map_err(|e| e.into_error())?;
        let crc = crc.finalize();
        f.seek(SeekFrom::Start((HEADER - 12) as u64))?;
        f.write_all(&len.to_le_bytes())?;
        f.write_all(&crc.to_le_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads values off a byte slice; running out is an error.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or("corrupt: the payload ends early")?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn count(&mut self) -> Result<usize, String> {
        usize::try_from(self.u64()?).map_err(|_| "corrupt: a count out of range".to_string())
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "corrupt: bad text".to_string())
    }
    fn names(&mut self) -> Result<Vec<String>, String> {
        let n = self.u32()?;
        (0..n).map(|_| self.str()).collect()
    }
}

fn parse(b: &[u8], template: &Dataset) -> Result<(Dataset, Extras), String> {
    let mut r = Reader { b, at: 0 };
    let shape = (r.u32()? as usize, r.u32()? as usize, r.u32()? as usize);
    if shape != template.shape {
        return Err(format!(
            "holds {:?} images, {:?} are wanted",
            shape, template.shape
        ));
    }
    let len = shape.0 * shape.1 * shape.2;
    let class_names = r.names()?;
    let groups = r.names()?;
    let mut images = Vec::new();
    let mut test_group = Vec::new();
    for i in 0..2 {
        let n = r.count()?;
        let labels = r.take(n)?.to_vec();
        if labels.iter().any(|&l| l as usize >= class_names.len()) {
            return Err("corrupt: a label out of range".into());
        }
        if i == 1 {
            let k = r.count()?;
            if k != 0 && k != n {
                return Err("corrupt: group count".into());
            }
            for _ in 0..k {
                let g = r.u32()?;
                test_group.push(match g {
                    u32::MAX => None,
                    g if (g as usize) < groups.len() => Some(g as usize),
                    _ => return Err("corrupt: a group out of range".into()),
                });
            }
        }
        let pixels = r
            .take(n.checked_mul(len).ok_or("corrupt: a count out of range")?)?
            .to_vec();
        images.push(Images { pixels, labels });
    }
    let mut x = Extras::default();
    for _ in 0..r.u32()? {
        let (w, h, n) = (r.u32()?, r.u32()?, r.count()?);
        x.sizes.insert((w, h), n);
    }
    for _ in 0..r.u32()? {
        let path = PathBuf::from(r.str()?);
        let reason = r.str()?;
        x.skipped.push(Problem { path, reason });
    }
    if r.at != b.len() {
        return Err("corrupt: trailing bytes".into());
    }
    let test = images.pop().expect("two splits");
    let train = images.pop().expect("two splits");
    Ok((
        Dataset {
            kind: template.kind,
            class_names,
            shape,
            train,
            test,
            groups,
            test_group,
        },
        x,
    ))
}

/// Reads the cache at `path` when it matches `fingerprint` and holds images of
/// `template.shape` (the template's kind is kept; its images are not used).
pub fn read(
    path: &Path,
    fingerprint: &[u8; 32],
    template: &Dataset,
) -> Result<(Dataset, Extras), Miss> {
    let b = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Miss::Absent),
        Err(e) => return Err(Miss::Invalid(format!("cannot be read: {e}"))),
    };
    let bad = |m: &str| Err(Miss::Invalid(m.to_string()));
    if b.len() < HEADER || &b[..8] != MAGIC {
        return bad("corrupt: not an adalab image cache");
    }
    if b[8..12] != VERSION.to_le_bytes() {
        return bad("written by another version of adalab");
    }
    if b[12..44] != fingerprint[..] {
        return bad("the image files changed since it was written");
    }
    let len = u64::from_le_bytes(b[44..52].try_into().expect("8"));
    let crc = u32::from_le_bytes(b[52..56].try_into().expect("4"));
    let payload = &b[HEADER..];
    if payload.len() as u64 != len {
        return bad("corrupt: truncated or padded");
    }
    if crc32fast::hash(payload) != crc {
        return bad("corrupt: checksum mismatch");
    }
    parse(payload, template).map_err(Miss::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatasetKind;

    fn ds() -> Dataset {
        Dataset {
            kind: DatasetKind::Mvtec,
            class_names: vec!["good".into(), "defect".into()],
            shape: (1, 2, 2),
            train: Images {
                pixels: vec![1, 2, 3, 4],
                labels: vec![0],
            },
            test: Images {
                pixels: vec![5, 6, 7, 8, 9, 10, 11, 12],
                labels: vec![0, 1],
            },
            groups: vec!["crack".into()],
            test_group: vec![None, Some(0)],
        }
    }

    #[test]
    fn round_trip_stale_and_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let p = cache_file(d.path(), Path::new("/data/bottle"), "mvtec 1 2");
        assert!(p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("bottle-"));
        let fp = [7u8; 32];
        let mut x = Extras::default();
        x.sizes.insert((900, 900), 3);
        x.skipped.push(Problem {
            path: "/data/bottle/test/crack/9.png".into(),
            reason: "cannot decode".into(),
        });
        assert_eq!(read(&p, &fp, &ds()).unwrap_err(), Miss::Absent);
        write(&p, &fp, &ds(), &x).unwrap();
        let (back, bx) = read(&p, &fp, &ds()).unwrap();
        assert_eq!(back.test.pixels, ds().test.pixels);
        assert_eq!(back.test_group, ds().test_group);
        assert_eq!(back.groups, ["crack"]);
        assert_eq!(bx, x);
        let Err(Miss::Invalid(why)) = read(&p, &[8u8; 32], &ds()) else {
            panic!("a changed fingerprint must not hit")
        };
        assert!(why.contains("changed"), "{why}");
        // One flipped payload byte: the checksum catches it.
        let mut b = fs::read(&p).unwrap();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        fs::write(&p, &b).unwrap();
        let Err(Miss::Invalid(why)) = read(&p, &fp, &ds()) else {
            panic!("corrupt cache trusted")
        };
        assert!(why.contains("checksum"), "{why}");
        fs::write(&p, &b[..HEADER + 3]).unwrap();
        assert!(matches!(read(&p, &fp, &ds()), Err(Miss::Invalid(_))));
        // No temporary files left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
