//! Listing a folder dataset without decoding a pixel: which classes (and MVTec defect types)
//! it has, which image files each split holds with their sizes and modification times, the
//! seeded stratified train/test partition of a folder without `train/` and `test/`, and what
//! was left out and why. Directory reads and `stat` only, so the config check can call it on
//! every edit ([`scan_cached`] keeps the result while no folder it read has changed).
//!
//! Rules: hidden entries (`.DS_Store`, `._x.png`) are passed over silently; a file is an image
//! candidate by its extension ([`IMAGE_EXTENSIONS`], any case), other files are *ignored*
//! (listed, never an error); directory symlinks are followed unless they lead back to a folder
//! already read (a loop), which is a *problem* like a broken link or an empty class folder.
//! Problems are errors or skipped files according to `data.on_bad_image`.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

use super::escaped_name;
use crate::config::DatasetKind;
use crate::data::DataError;

/// File extensions read as images (compared in lower case).
mod mvtec;

pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "gif"];

/// Folders nested deeper than this below a class folder are not read.
const MAX_DEPTH: usize = 32;

/// The class names of an MVTec category: the normal images and every defect type together.
pub const MVTEC_CLASSES: [&str; 2] = ["good", "defect"];

/// Which split a file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

/// How the folder is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `<root>/<class>/…`: split by `data.test_fraction`.
    Classes,
    /// `<root>/train/<class>/…` and `<root>/test/<class>/…`.
    TrainTest,
    /// `<root>/train/good`, `<root>/test/good`, `<root>/test/<defect>`.
    Mvtec,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Classes => "class folders, split by data.test_fraction",
            Layout::TrainTest => "train/ and test/ class folders",
            Layout::Mvtec => "MVTec AD category",
        }
    }
}

/// One image file to decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path below the root, `/`-separated (messages, the cache fingerprint).
    pub rel: String,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 when unknown).
    pub mtime_ns: u128,
    pub split: Split,
    pub class: usize,
    /// The MVTec defect type (index into [`Scan::groups`]) of a test image.
    pub group: Option<usize>,
}

/// A file or folder left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What a folder dataset holds, without its pixels.
#[derive(Clone, Debug)]
pub struct Scan {
    /// The folder as given.
    pub root: PathBuf,
    /// Its canonical path (the cache key).
    pub canonical: PathBuf,
    pub kind: DatasetKind,
    pub layout: Layout,
    pub classes: Vec<String>,
    /// MVTec defect types, sorted; empty for `folder`.
    pub groups: Vec<String>,
    /// Train files first, then test files; within a split by class, then path.
    pub files: Vec<SourceFile>,
    /// Symlink loops, broken links, empty class folders: errors or skipped, by
    /// `data.on_bad_image`.
    pub problems: Vec<Problem>,
    /// Files that are not images by their extension, or outside the class folders.
    pub ignored: Vec<Problem>,
    /// Every folder read, with its modification time: the scan is current while none changed.
    dirs: Vec<(PathBuf, Option<SystemTime>)>,
}

impl Scan {
    /// Images per class in `split`.
    pub fn counts(&self, split: Split) -> Vec<usize> {
        let mut out = vec![0; self.classes.len()];
        for f in self.files.iter().filter(|f| f.split == split) {
            out[f.class] += 1;
        }
        out
    }

    /// Whether every folder read still has the modification time it had.
    fn is_current(&self) -> bool {
        self.dirs
            .iter()
            .all(|(d, t)| fs::metadata(d).ok().and_then(|m| m.modified().ok()) == *t)
    }

    /// A SHA-256 of everything the decoded dataset depends on besides the decode settings:
    /// classes, groups and every file's path, split, class, group, size and modification time.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for c in self.classes.iter().chain(&self.groups) {
            h.update(c.as_bytes());
            h.update([0]);
        }
        h.update([1]);
        for f in &self.files {
            h.update(f.rel.as_bytes());
            h.update([0, f.split as u8]);
            h.update((f.class as u64).to_le_bytes());
            h.update(f.group.map_or(u64::MAX, |g| g as u64).to_le_bytes());
            h.update(f.size.to_le_bytes());
            h.update(f.mtime_ns.to_le_bytes());
        }
        h.finalize().into()
    }
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Whether `path` has one of [`IMAGE_EXTENSIONS`].
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn mtime_ns(m: &fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

fn rel_of(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| escaped_name(c.as_os_str()))
        .collect::<Vec<_>>()
        .join("/")
}

/// An entry of a folder, with the metadata of what it points to (symlinks followed).
struct Entry {
    name: String,
    path: PathBuf,
    meta: fs::Metadata,
}

/// Walks folders, collecting image files, ignored files and problems.
struct Walker<'a> {
    root: &'a Path,
    visited: HashSet<PathBuf>,
    dirs: Vec<(PathBuf, Option<SystemTime>)>,
    problems: Vec<Problem>,
    ignored: Vec<Problem>,
}

impl Walker<'_> {
    fn problem(&mut self, path: &Path, reason: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_path_buf(),
            reason: reason.into(),
        });
    }

    fn ignore(&mut self, path: &Path, reason: &str) {
        self.ignored.push(Problem {
            path: path.to_path_buf(),
            reason: reason.into(),
        });
    }

    /// Marks `dir` read; false (with a problem noted) when it was read already, i.e. a
    /// symlink leads back to it.
    fn enter(&mut self, dir: &Path) -> Result<bool, DataError> {
        let canonical = fs::canonicalize(dir).map_err(|e| DataError::io(dir, e))?;
        if !self.visited.insert(canonical.clone()) {
            self.problem(
                dir,
                format!(
                    "links back to {}, a folder already read (a symlink loop?); not followed",
                    canonical.display()
                ),
            );
            return Ok(false);
        }
        let mtime = fs::metadata(dir).ok().and_then(|m| m.modified().ok());
        self.dirs.push((dir.to_path_buf(), mtime));
        Ok(true)
    }

    /// The visible entries of `dir`, sorted by name. Entries whose target cannot be read
    /// (a broken or looping symlink) become problems.
    fn entries(&mut self, dir: &Path) -> Result<Vec<Entry>, DataError> {
        let rd = fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| DataError::io(dir, e))?;
            let name = escaped_name(&e.file_name());
            if is_hidden(&name) {
                continue;
            }
            let path = e.path();
            match fs::metadata(&path) {
                Ok(meta) => out.push(Entry { name, path, meta }),
                Err(err) => {
                    let what = if e.file_type().is_ok_and(|t| t.is_symlink()) {
                        "a broken or looping symlink"
                    } else {
                        "cannot be read"
                    };
                    self.problem(&path, format!("{what}: {err}"));
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        // A name spelled `\xff` beside a name whose byte is 0xff: never an ambiguous pick.
        if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(DataError::Format {
                path: dir.to_path_buf(),
                message: format!(
                    "{:?} and {:?} both read as `{}`: rename one of them",
                    w[0].path.file_name().unwrap_or_default(),
                    w[1].path.file_name().unwrap_or_default(),
                    w[0].name
                ),
            });
        }
        Ok(out)
    }

    /// Every image file below `dir` (recursively), sorted by path.
    fn images(
        &mut self,
        dir: &Path,
        depth: usize,
    ) -> Result<Vec<(PathBuf, fs::Metadata)>, DataError> {
        let mut out = Vec::new();
        if !self.enter(dir)? {
            return Ok(out);
        }
        for e in self.entries(dir)? {
            if e.meta.is_dir() {
                if depth >= MAX_DEPTH {
                    self.problem(
                        &e.path,
                        format!("nested more than {MAX_DEPTH} folders deep"),
                    );
                    continue;
                }
                out.extend(self.images(&e.path, depth + 1)?);
            } else if e.meta.is_file() && has_image_extension(&e.path) {
                out.push((e.path, e.meta));
            } else if e.meta.is_file() {
                self.ignore(&e.path, "not an image (by its extension)");
            } else {
                self.ignore(&e.path, "not a regular file");
            }
        }
        Ok(out)
    }

    /// The sub-folders of `dir` (class folders); files beside them are ignored.
    fn class_dirs(&mut self, dir: &Path, what: &str) -> Result<Vec<Entry>, DataError> {
        let mut out = Vec::new();
        for e in self.entries(dir)? {
            if e.meta.is_dir() {
                out.push(e);
            } else {
                self.ignore(&e.path, what);
            }
        }
        Ok(out)
    }
}

fn file(
    root: &Path,
    (path, meta): (PathBuf, fs::Metadata),
    split: Split,
    class: usize,
    group: Option<usize>,
) -> SourceFile {
    SourceFile {
        rel: rel_of(root, &path),
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
        path,
        split,
        class,
        group,
    }
}

/// A fixed seed per class for the train/test partition of an unsplit folder: the partition is
/// a property of the dataset (the same test images for every run and seed), and a class's
/// partition does not change when other classes come or go.
fn partition_seed(class: &str) -> u64 {
    let d = Sha256::digest(format!("adalab-folder-split\0{class}").as_bytes());
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// How many of a class's `n` images go to the test split: `round(n · fraction)`, at least one
/// and leaving at least one for training when the class has two or more.
pub fn test_share(n: usize, fraction: f32) -> usize {
    if n < 2 {
        return 0;
    }
    ((n as f64 * f64::from(fraction)).round() as usize).clamp(1, n - 1)
}

fn not_a_folder(root: &Path) -> Result<(), DataError> {
    if root.is_dir() {
        return Ok(());
    }
    Err(DataError::NoDataDir {
        path: root.to_path_buf(),
        reason: if root.exists() {
            "is not a folder"
        } else {
            "does not exist"
        },
    })
}

/// Lists the folder dataset at `root`. `test_fraction` splits a folder without `train/` and
/// `test/`. Errors are about the folder as a whole (missing, unreadable, not the layout);
/// problems with single entries are in [`Scan::problems`].
pub fn scan(kind: DatasetKind, root: &Path, test_fraction: f32) -> Result<Scan, DataError> {
    not_a_folder(root)?;
    let canonical = fs::canonicalize(root).map_err(|e| DataError::io(root, e))?;
    let mut w = Walker {
        root,
        visited: HashSet::new(),
        dirs: Vec::new(),
        problems: Vec::new(),
        ignored: Vec::new(),
    };
    w.enter(root)?;
    let (layout, classes, groups, files) = match kind {
        DatasetKind::Mvtec => mvtec::scan_mvtec(&mut w)?,
        _ => scan_classes(&mut w, test_fraction)?,
    };
    Ok(Scan {
        root: root.to_path_buf(),
        canonical,
        kind,
        layout,
        classes,
        groups,
        files,
        problems: w.problems,
        ignored: w.ignored,
        dirs: w.dirs,
    })
}

type Listed = (Layout, Vec<String>, Vec<String>, Vec<SourceFile>);

fn scan_classes(w: &mut Walker, test_fraction: f32) -> Result<Listed, DataError> {
    let root = w.root;
    let top = w.class_dirs(root, "outside the class folders")?;
    let train = top
        .iter()
        .find(|e| e.name == "train")
        .map(|e| e.path.clone());
    let test = top
        .iter()
        .find(|e| e.name == "test")
        .map(|e| e.path.clone());
    let no_classes = || {
        DataError::format(
            root,
            "holds no class folders (expected <folder>/<class>/*.png, or \
             <folder>/train/<class>/… and <folder>/test/<class>/…)",
        )
    };
    match (train, test) {
        (Some(train), Some(test)) => {
            // Fixed split: classes are the union of both trees' class folders.
            let mut per_split = Vec::new();
            for (split, dir) in [(Split::Train, train), (Split::Test, test)] {
                w.enter(&dir)?;
                let dirs = w.class_dirs(&dir, "outside the class folders")?;
                let mut listed = Vec::new();
                for e in dirs {
                    let images = w.images(&e.path, 0)?;
                    listed.push((e.name, e.path, images));
                }
                per_split.push((split, listed));
            }
            let mut names: Vec<String> = per_split
                .iter()
                .flat_map(|(_, l)| l.iter().map(|(n, _, _)| n.clone()))
                .collect();
            names.sort();
            names.dedup();
            // A class with no image in either split is an empty class folder.
            let total = |name: &str| {
                per_split
                    .iter()
                    .flat_map(|(_, l)| l.iter())
                    .filter(|(n, _, _)| n == name)
                    .map(|(_, _, i)| i.len())
                    .sum::<usize>()
            };
            let empty: Vec<String> = names.iter().filter(|n| total(n) == 0).cloned().collect();
            for (_, l) in &per_split {
                for (n, p, _) in l {
                    if empty.contains(n) {
                        w.problem(p, "empty class folder (no image files); class left out");
                    }
                }
            }
            names.retain(|n| !empty.contains(n));
            if names.is_empty() {
                return Err(no_classes());
            }
            let mut files = Vec::new();
            for (split, listed) in per_split {
                let mut in_split: Vec<SourceFile> = Vec::new();
                for (n, _, images) in listed {
                    let Some(class) = names.iter().position(|x| *x == n) else {
                        continue;
                    };
                    in_split.extend(
                        images
                            .into_iter()
                            .map(|i| file(root, i, split, class, None)),
                    );
                }
                in_split.sort_by(|a, b| (a.class, &a.rel).cmp(&(b.class, &b.rel)));
                files.extend(in_split);
            }
            Ok((Layout::TrainTest, names, Vec::new(), files))
        }
        (Some(_), None) | (None, Some(_)) => Err(DataError::format(
            root,
            "has only one of train/ and test/: give both (a fixed split) or neither (class \
             folders, split by data.test_fraction)",
        )),
        (None, None) => {
            let mut names = Vec::new();
            let mut per_class = Vec::new();
            for e in top {
                let images = w.images(&e.path, 0)?;
                if images.is_empty() {
                    w.problem(
                        &e.path,
                        "empty class folder (no image files); class left out",
                    );
                    continue;
                }
                names.push(e.name);
                per_class.push(images);
            }
            if names.is_empty() {
                return Err(no_classes());
            }
            let (mut train, mut test) = (Vec::new(), Vec::new());
            for (class, images) in per_class.into_iter().enumerate() {
                let n = images.len();
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut StdRng::seed_from_u64(partition_seed(&names[class])));
                let mut is_test = vec![false; n];
                for &i in &order[..test_share(n, test_fraction)] {
                    is_test[i] = true;
                }
                for (i, img) in images.into_iter().enumerate() {
                    let split = if is_test[i] {
                        Split::Test
                    } else {
                        Split::Train
                    };
                    let f = file(root, img, split, class, None);
                    if is_test[i] {
                        test.push(f);
                    } else {
                        train.push(f);
                    }
                }
            }
            train.extend(test);
            Ok((Layout::Classes, names, Vec::new(), train))
        }
    }
}

type ScanKey = (PathBuf, DatasetKind, u32);

fn scan_memo() -> &'static Mutex<HashMap<ScanKey, Arc<Scan>>> {
    static MEMO: OnceLock<Mutex<HashMap<ScanKey, Arc<Scan>>>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(HashMap::new()))
}

/// [`scan`], remembered per folder while no folder it read has a new modification time
/// (adding, removing or renaming a file changes its folder's). A changed file's contents are
/// not seen here; the pixel cache checks every file's size and time itself.
pub fn scan_cached(
    kind: DatasetKind,
    root: &Path,
    test_fraction: f32,
) -> Result<Arc<Scan>, DataError> {
    let key = (root.to_path_buf(), kind, test_fraction.to_bits());
    if let Some(s) = scan_memo().lock().ok().and_then(|m| m.get(&key).cloned()) {
        if s.is_current() {
            return Ok(s);
        }
    }
    scan_fresh(kind, root, test_fraction)
}

/// [`scan`] now (every file's size and time read again), remembered for [`scan_cached`]. What
/// loading uses: a file rewritten in place changes no folder's time, only its own.
pub fn scan_fresh(
    kind: DatasetKind,
    root: &Path,
    test_fraction: f32,
) -> Result<Arc<Scan>, DataError> {
    let key = (root.to_path_buf(), kind, test_fraction.to_bits());
    let s = Arc::new(scan(kind, root, test_fraction)?);
    if let Ok(mut m) = scan_memo().lock() {
        m.insert(key, s.clone());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
    }

    #[test]
    fn class_folders_split_by_fraction() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..10 {
            touch(&d.path().join(format!("cat/{i}.png")));
            touch(&d.path().join(format!("dog/{i}.JPG")));
        }
        touch(&d.path().join("dog/sub/deep.png"));
        touch(&d.path().join("dog/README.txt"));
        touch(&d.path().join("dog/.DS_Store"));
        touch(&d.path().join("notes.md"));
        fs::create_dir_all(d.path().join("empty")).unwrap();
        let s = scan(DatasetKind::Folder, d.path(), 0.2).unwrap();
        assert_eq!(s.layout, Layout::Classes);
        assert_eq!(s.classes, ["cat", "dog"]);
        assert_eq!(s.counts(Split::Train), [8, 9]);
        assert_eq!(s.counts(Split::Test), [2, 2]);
        assert!(s.files.iter().any(|f| f.rel == "dog/sub/deep.png"));
        assert_eq!(s.ignored.len(), 2, "{:?}", s.ignored);
        assert_eq!(s.problems.len(), 1);
        assert!(s.problems[0].reason.contains("empty class folder"));
        // The partition is fixed: the same files every time.
        let again = scan(DatasetKind::Folder, d.path(), 0.2).unwrap();
        assert_eq!(s.files, again.files);
        assert_eq!(s.fingerprint(), again.fingerprint());
    }

    #[test]
    fn shares() {
        assert_eq!(test_share(0, 0.2), 0);
        assert_eq!(test_share(1, 0.2), 0);
        assert_eq!(test_share(2, 0.2), 1);
        assert_eq!(test_share(10, 0.2), 2);
        assert_eq!(test_share(10, 0.99), 9);
        assert_eq!(test_share(500, 0.2), 100);
    }

    #[test]
    fn train_test_trees_and_one_sided_error() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("train/a/1.png"));
        touch(&d.path().join("train/b/1.png"));
        touch(&d.path().join("test/a/2.png"));
        touch(&d.path().join("test/c/2.png"));
        let s = scan(DatasetKind::Folder, d.path(), 0.2).unwrap();
        assert_eq!(s.layout, Layout::TrainTest);
        assert_eq!(s.classes, ["a", "b", "c"]);
        assert_eq!(s.counts(Split::Train), [1, 1, 0]);
        assert_eq!(s.counts(Split::Test), [1, 0, 1]);
        fs::remove_dir_all(d.path().join("test")).unwrap();
        let e = scan(DatasetKind::Folder, d.path(), 0.2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("only one of train/ and test/"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_problems_not_hangs() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("a/1.png"));
        touch(&d.path().join("b/1.png"));
        std::os::unix::fs::symlink(d.path().join("a"), d.path().join("a/loop")).unwrap();
        std::os::unix::fs::symlink("self", d.path().join("b/self")).unwrap();
        let s = scan(DatasetKind::Folder, d.path(), 0.5).unwrap();
        assert_eq!(s.files.len(), 2);
        let reasons: Vec<&str> = s.problems.iter().map(|p| p.reason.as_str()).collect();
        assert!(
            reasons.iter().any(|r| r.contains("symlink loop")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("broken or looping symlink")),
            "{reasons:?}"
        );
    }

    #[test]
    fn mvtec_layout() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("train/good/000.png"));
        touch(&d.path().join("train/good/001.png"));
        touch(&d.path().join("test/good/000.png"));
        touch(&d.path().join("test/scratch/000.png"));
        touch(&d.path().join("test/crack/000.png"));
        touch(&d.path().join("test/crack/001.png"));
        touch(&d.path().join("ground_truth/crack/000_mask.png"));
        touch(&d.path().join("license.txt"));
        let s = scan(DatasetKind::Mvtec, d.path(), 0.2).unwrap();
        assert_eq!(s.classes, ["good", "defect"]);
        assert_eq!(s.groups, ["crack", "scratch"]);
        assert_eq!(s.counts(Split::Train), [2, 0]);
        assert_eq!(s.counts(Split::Test), [1, 3]);
        let g: Vec<Option<usize>> = s.files.iter().map(|f| f.group).collect();
        assert_eq!(g, [None, None, None, Some(0), Some(0), Some(1)]);
        // The MVTec root instead of a category: say so.
        let e = scan(DatasetKind::Mvtec, d.path().parent().unwrap(), 0.2);
        assert!(e.is_err());
        let parent = tempfile::tempdir().unwrap();
        touch(&parent.path().join("bottle/train/good/0.png"));
        let e = scan(DatasetKind::Mvtec, parent.path(), 0.2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("MVTec AD root") && e.contains("bottle"), "{e}");
    }

    #[test]
    fn cached_scan_sees_new_files() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("a/1.png"));
        touch(&d.path().join("b/1.png"));
        let s = scan_cached(DatasetKind::Folder, d.path(), 0.2).unwrap();
        let t = scan_cached(DatasetKind::Folder, d.path(), 0.2).unwrap();
        assert!(Arc::ptr_eq(&s, &t));
        // Make sure the folder's modification time moves even on coarse clocks.
        std::thread::sleep(std::time::Duration::from_millis(20));
        touch(&d.path().join("a/2.png"));
        let u = scan_cached(DatasetKind::Folder, d.path(), 0.2).unwrap();
        assert_eq!(u.files.len(), 3);
    }
}
