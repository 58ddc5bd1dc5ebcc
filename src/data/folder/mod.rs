//! Datasets of your own image files: `folder` (one sub-folder per class, torchvision's
//! `ImageFolder` layout, optionally under `train/` and `test/`) and `mvtec` (an MVTec AD–style
//! category: `train/good`, `test/good`, `test/<defect>`). Owns listing them ([`scan`]),
//! decoding and resizing ([`decode`], in parallel with rayon), the decoded cache ([`cache`])
//! and turning the result into the same [`Dataset`] the built-in loaders return, so the split,
//! training, scoring, the store and the lab's previews work unchanged.
//!
//! Bad input never panics and never silently shrinks the dataset: with
//! `data.on_bad_image = "error"` the first bad file (corrupt, truncated, not an image despite
//! its extension, over the pixel cap, a symlink loop, an empty class folder) is an error naming
//! it; with `"skip"` it is left out and listed in [`FolderReport::skipped`]. Progress of long
//! loads goes to a callback ([`LoadEvent`]).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

pub mod cache;
pub mod decode;
pub mod files;
pub mod scan;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

pub use cache::{cache_dir, Extras};
pub use scan::{scan_cached, Layout, Problem, Scan, Split, IMAGE_EXTENSIONS, MVTEC_CLASSES};

use super::{DataError, Dataset, Images};
use crate::config::{BadImagePolicy, DataConfig, DatasetKind};

/// Files decoded between two progress events.
const CHUNK: usize = 256;

/// Whether a load came from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// Read from the cache file; nothing decoded.
    Hit,
    /// Decoded; there was no cache file; one was written.
    Built,
    /// Decoded because the cache file was stale or corrupt (why); it was rewritten.
    Rebuilt(String),
    /// Decoded and not written (caching off, no cache folder, or writing failed: why).
    NotWritten(String),
}

/// Progress of a folder load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadEvent {
    /// The folder was listed: `files` images to read.
    Listed { files: usize },
    /// `done` of `total` images decoded.
    Decoded { done: usize, total: usize },
}

/// How to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Read and write the decoded cache.
    pub cache: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { cache: true }
    }
}

/// What a folder load found besides the images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderReport {
    pub root: PathBuf,
    pub layout: Layout,
    /// Image files listed.
    pub files: usize,
    pub cache: CacheStatus,
    pub cache_file: Option<PathBuf>,
    /// Source sizes (width, height) → images.
    pub sizes: BTreeMap<(u32, u32), usize>,
    /// Files and folders left out (symlink loops, empty classes, undecodable files), and why.
    pub skipped: Vec<Problem>,
    /// Non-image files and files outside the class folders (never an error).
    pub ignored: Vec<Problem>,
}

impl FolderReport {
    /// `skipped 3 files (first: PATH: REASON)`, when any were.
    pub fn skipped_summary(&self) -> Option<String> {
        let first = self.skipped.first()?;
        let n = self.skipped.len();
        Some(format!(
            "skipped {n} file{} (first: {first})",
            if n == 1 { "" } else { "s" }
        ))
    }

    /// `28×28: 500, 64×48: 3`.
    pub fn sizes_text(&self) -> String {
        let mut v: Vec<(&(u32, u32), &usize)> = self.sizes.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .map(|((w, h), n)| format!("{w}×{h}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A folder dataset and its report.
#[derive(Clone, Debug)]
pub struct FolderLoad {
    pub dataset: Dataset,
    pub report: FolderReport,
}

fn bad(p: &Problem) -> DataError {
    DataError::BadImage {
        path: p.path.clone(),
        reason: p.reason.clone(),
    }
}

/// A file name as text: UTF-8 as it is, every byte that is not UTF-8 as `\xNN` (so folders
/// `\xff` and `\xfe` stay two classes, addressed as `data.anomalous=\xff`).
pub fn escaped_name(name: &std::ffi::OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in name.as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        name.to_string_lossy().into_owned()
    }
}

/// Reads the header of every image of a scan ([`decode::check_header`]: format, claimed size,
/// a JPEG cut short): the first bad file is an error naming it, before a run exists. Files
/// that passed are remembered by path, size and time, so the check on every edit reads each
/// file once.
pub fn check_headers(s: &Scan) -> Result<(), DataError> {
    type Seen = std::collections::HashSet<(std::path::PathBuf, u64, u128)>;
    static PASSED: std::sync::OnceLock<std::sync::Mutex<Seen>> = std::sync::OnceLock::new();
    let passed = PASSED.get_or_init(Default::default);
    for f in &s.files {
        let key = (f.path.clone(), f.size, f.mtime_ns);
        if passed.lock().is_ok_and(|p| p.contains(&key)) {
            continue;
        }
        decode::check_header(&f.path, f.size).map_err(|reason| DataError::BadImage {
            path: f.path.clone(),
            reason,
        })?;
        if let Ok(mut p) = passed.lock() {
            p.insert(key);
        }
    }
    Ok(())
}

/// Lists the folder `cfg` names (remembered while its folders are unchanged); at most 256
/// classes (labels are bytes).
pub fn scan_for(cfg: &DataConfig) -> Result<Arc<Scan>, DataError> {
    scan_with(cfg, scan_cached)
}

fn scan_with(
    cfg: &DataConfig,
    how: fn(DatasetKind, &std::path::Path, f32) -> Result<Arc<Scan>, DataError>,
) -> Result<Arc<Scan>, DataError> {
    let root = cfg.folder_path().ok_or(DataError::NoPath {
        dataset: cfg.dataset.as_str(),
    })?;
    let s = how(cfg.dataset, root, cfg.test_fraction)?;
    if s.classes.len() > 256 {
        return Err(DataError::format(
            root,
            format!(
                "has {} class folders; at most 256 are supported",
                s.classes.len()
            ),
        ));
    }
    Ok(s)
}

/// An empty dataset of `cfg`'s kind, shape and the scan's classes.
fn empty(cfg: &DataConfig, s: &Scan) -> Dataset {
    Dataset {
        kind: cfg.dataset,
        class_names: s.classes.clone(),
        shape: cfg.input_shape(),
        train: Images::default(),
        test: Images::default(),
        groups: s.groups.clone(),
        test_group: Vec::new(),
    }
}

/// Loads the folder dataset `cfg` names: from the cache when it matches the files, else by
/// decoding every image (in parallel, reporting progress) and writing the cache.
pub fn load_folder(
    cfg: &DataConfig,
    opts: &LoadOptions,
    progress: &mut dyn FnMut(LoadEvent),
) -> Result<FolderLoad, DataError> {
    // Listed afresh: the cache's fingerprint needs every file's current size and time.
    let s = scan_with(cfg, scan::scan_fresh)?;
    let strict = cfg.on_bad_image == BadImagePolicy::Error;
    if strict {
        if let Some(p) = s.problems.first() {
            return Err(bad(p));
        }
    }
    progress(LoadEvent::Listed {
        files: s.files.len(),
    });
    let (c, side, _) = cfg.input_shape();
    let mut ds = empty(cfg, &s);
    let settings = format!(
        "{} channels={c} size={side} test_fraction={}",
        cfg.dataset, cfg.test_fraction
    );
    let fingerprint = s.fingerprint();
    let dir = cache_dir();
    let file = dir
        .as_ref()
        .filter(|_| opts.cache)
        .map(|d| cache::cache_file(d, &s.canonical, &settings));
    let mut report = FolderReport {
        root: s.root.clone(),
        layout: s.layout,
        files: s.files.len(),
        cache: CacheStatus::Hit,
        cache_file: file.clone(),
        sizes: BTreeMap::new(),
        skipped: s.problems.clone(),
        ignored: s.ignored.clone(),
    };
    let miss = match &file {
        Some(f) => match cache::read(f, &fingerprint, &ds) {
            Ok((cached, extras)) => {
                if strict {
                    if let Some(p) = extras.skipped.first() {
                        return Err(bad(p));
                    }
                }
                report.sizes = extras.sizes;
                report.skipped.extend(extras.skipped);
                return Ok(FolderLoad {
                    dataset: cached,
                    report,
                });
            }
            Err(m) => Some(m),
        },
        None => None,
    };

    let total = s.files.len();
    let mut extras = Extras::default();
    let mvtec = cfg.dataset == DatasetKind::Mvtec;
    let mut done = 0;
    for chunk in s.files.chunks(CHUNK) {
        let decoded: Vec<_> = chunk
            .par_iter()
            .map(|f| decode::decode_file(&f.path, c, side as u32))
            .collect();
        for (f, d) in chunk.iter().zip(decoded) {
            let d = match d {
                Ok(d) => d,
                Err(reason) => {
                    let p = Problem {
                        path: f.path.clone(),
                        reason,
                    };
                    if strict {
                        return Err(bad(&p));
                    }
                    extras.skipped.push(p);
                    continue;
                }
            };
            *extras.sizes.entry((d.width, d.height)).or_insert(0) += 1;
            let images = match f.split {
                Split::Train => &mut ds.train,
                Split::Test => {
                    if mvtec {
                        ds.test_group.push(f.group);
                    }
                    &mut ds.test
                }
            };
            images.pixels.extend_from_slice(&d.pixels);
            images.labels.push(f.class as u8);
        }
        done += chunk.len();
        progress(LoadEvent::Decoded { done, total });
    }
    report.cache = match (&file, miss) {
        (None, _) => CacheStatus::NotWritten(match dir {
            None => "no cache folder (set ADALAB_CACHE)".into(),
            Some(_) => "caching is off".into(),
        }),
        (Some(f), miss) => match cache::write(f, &fingerprint, &ds, &extras) {
            Err(e) => CacheStatus::NotWritten(format!("{}: {e}", f.display())),
            Ok(()) => match miss {
                Some(cache::Miss::Invalid(why)) => CacheStatus::Rebuilt(why),
                _ => CacheStatus::Built,
            },
        },
    };
    report.sizes = extras.sizes;
    report.skipped.extend(extras.skipped);
    Ok(FolderLoad {
        dataset: ds,
        report,
    })
}
