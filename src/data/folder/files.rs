//! Image files named one by one or by folder (recursive), decoded to a detector's input: what
//! `adalab score` and the lab's folder scoring read. Same decoding, conversion and resizing as
//! the `folder` dataset ([`super::decode`]); bad files are problems that name the file.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::decode::decode_file;
use super::scan::{Problem, IMAGE_EXTENSIONS};

/// Folders nested deeper than this below a named folder are not read.
const MAX_DEPTH: usize = 32;

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The image files `paths` name: a file as it is (whatever its extension), a folder by every
/// file with an image extension below it (sorted, symlinked folders followed unless they loop).
/// A path that does not exist, an unreadable folder or a loop is a problem.
pub fn list_images(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Problem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Err(e) => problems.push(Problem {
                path: p.clone(),
                reason: format!("cannot read: {e}"),
            }),
            Ok(m) if m.is_dir() => {
                let mut seen = HashSet::new();
                let mut found = Vec::new();
                walk(p, 0, &mut seen, &mut found, &mut problems);
                found.sort();
                files.extend(found);
            }
            Ok(_) => files.push(p.clone()),
        }
    }
    (files, problems)
}

fn walk(
    dir: &Path,
    depth: usize,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
    problems: &mut Vec<Problem>,
) {
    let canon = match dir.canonicalize() {
        Ok(c) => c,
        Err(e) => {
            problems.push(Problem {
                path: dir.to_path_buf(),
                reason: format!("cannot read: {e}"),
            });
            return;
        }
    };
    if !seen.insert(canon) {
        problems.push(Problem {
            path: dir.to_path_buf(),
            reason: "leads back to a folder already read (a symlink loop)".into(),
        });
        return;
    }
    if depth > MAX_DEPTH {
        problems.push(Problem {
            path: dir.to_path_buf(),
            reason: format!("is nested more than {MAX_DEPTH} folders deep"),
        });
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem {
                path: dir.to_path_buf(),
                reason: format!("cannot list: {e}"),
            });
            return;
        }
    };
    for e in entries.flatten() {
        let p = e.path();
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, depth + 1, seen, out, problems),
            Ok(_) if is_image(&p) => out.push(p),
            Ok(_) => {}
            Err(err) => {
                if is_image(&p) {
                    problems.push(Problem {
                        path: p,
                        reason: format!("cannot read: {err}"),
                    });
                }
            }
        }
    }
}

/// Images decoded for a model: `channels × size × size` per image, scaled to [0, 1].
#[derive(Clone, Debug, Default)]
pub struct DecodedImages {
    pub files: Vec<PathBuf>,
    pub x: Vec<f32>,
    /// Files that could not be decoded, and why.
    pub bad: Vec<Problem>,
}

/// Decodes `files` to `channels` planes of `size`×`size`, scaled by 1/255 like a dataset
/// split. `progress(done, total)` after each block. Files that fail are listed in `bad`.
pub fn decode_images(
    files: &[PathBuf],
    channels: usize,
    size: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> DecodedImages {
    let mut out = DecodedImages::default();
    let total = files.len();
    let mut done = 0;
    for block in files.chunks(256) {
        let decoded: Vec<_> = block
            .par_iter()
            .map(|f| decode_file(f, channels, size as u32))
            .collect();
        for (f, d) in block.iter().zip(decoded) {
            match d {
                Ok(d) => {
                    out.x.extend(d.pixels.iter().map(|&p| p as f32 / 255.0));
                    out.files.push(f.clone());
                }
                Err(reason) => out.bad.push(Problem {
                    path: f.clone(),
                    reason,
                }),
            }
        }
        done += block.len();
        progress(done, total);
    }
    out
}
