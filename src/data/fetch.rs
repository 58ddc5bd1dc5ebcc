//! Downloading a dataset from its manifest: each file goes to `<name>.part`, is checked for size
//! and checksum, and only then renamed into place; mirrors are tried in order; a corrupt download
//! is deleted. Archives are extracted after verification and then deleted.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::locate::{env_data_dir, holds_dataset, user_data_dir};
use super::manifest::{manifest_for, verify, FileSpec, Manifest};
use super::tar::extract_tar_gz;
use super::DataError;
use crate::config::DatasetKind;

/// What a download is doing, for progress displays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchEvent {
    /// A file is already present and verified (or extracted): nothing to do.
    Present { file: String },
    /// Starting to download `file` from `url`; `total` from Content-Length when known.
    Start {
        file: String,
        url: String,
        total: Option<u64>,
    },
    /// `done` bytes of `file` received so far.
    Progress { file: String, done: u64 },
    /// A URL failed (network error or bad checksum); the next mirror is tried.
    Failed {
        file: String,
        url: String,
        error: String,
    },
    /// `file` downloaded and verified at `path`.
    Verified { file: String, path: PathBuf },
    /// Extracting an archive.
    Extracting { file: String },
}

/// Where to put the dataset and where to get it from.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// Destination (parent or dataset folder); default `$ADALAB_DATA`, else the user data dir.
    pub dest: Option<PathBuf>,
    /// Base URLs replacing the manifest's mirrors (file URL = base + file name).
    pub mirrors: Option<Vec<String>>,
    /// Connect / first-byte / per-read timeout; default 30 s.
    pub timeout: Option<Duration>,
}

/// The folder `fetch` writes `kind` into: `<dest>/<dataset>` (or `dest` itself when it is already
/// named after the dataset), with `dest` = explicit dir, else `$ADALAB_DATA`, else the user data dir.
pub fn default_destination(
    kind: DatasetKind,
    explicit: Option<&Path>,
) -> Result<PathBuf, DataError> {
    let base = explicit
        .map(Path::to_path_buf)
        .or_else(env_data_dir)
        .or_else(user_data_dir)
        .ok_or_else(|| DataError::Manifest {
            name: kind.as_str().into(),
            message:
                "no destination: give --data-dir or set ADALAB_DATA (no user data dir is known)"
                    .into(),
        })?;
    Ok(if base.file_name().is_some_and(|n| n == kind.as_str()) {
        base
    } else {
        base.join(kind.as_str())
    })
}

/// Downloads `kind` (per its embedded manifest) and returns the dataset folder.
pub fn fetch(
    kind: DatasetKind,
    opts: &FetchOptions,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<PathBuf, DataError> {
    let manifest = manifest_for(kind).ok_or_else(|| DataError::Manifest {
        name: kind.as_str().into(),
        message: if kind.is_folder() {
            "a folder dataset is your own images: point data.path (or --data-dir) at them"
        } else {
            "the synthetic dataset is generated, there is nothing to fetch"
        }
        .into(),
    })??;
    let dest = default_destination(kind, opts.dest.as_deref())?;
    let existed = dest.is_dir();
    if let Err(e) = fetch_manifest(&manifest, &dest, opts, on_event) {
        if !existed {
            // Leave no empty dataset folder behind (fails, harmlessly, when files did land).
            let _ = std::fs::remove_dir(&dest);
        }
        return Err(e);
    }
    if !holds_dataset(kind, &dest) {
        return Err(DataError::format(
            &dest,
            "download finished but the dataset files are not there",
        ));
    }
    Ok(dest)
}

/// Downloads every file of `manifest` into `dest` (which is created).
pub fn fetch_manifest(
    manifest: &Manifest,
    dest: &Path,
    opts: &FetchOptions,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<(), DataError> {
    std::fs::create_dir_all(dest).map_err(|e| DataError::io(dest, e))?;
    let mirrors = opts.mirrors.as_ref().unwrap_or(&manifest.mirrors);
    let timeout = opts.timeout.unwrap_or(Duration::from_secs(30));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(timeout))
        .timeout_recv_response(Some(timeout))
        .timeout_per_read(Some(timeout))
        .build()
        .into();
    for spec in &manifest.files {
        fetch_file(&agent, spec, mirrors, dest, on_event)?;
    }
    Ok(())
}

fn contents_present(spec: &FileSpec, dest: &Path) -> bool {
    !spec.contents.is_empty()
        && spec
            .contents
            .iter()
            .all(|c| std::fs::metadata(dest.join(&c.name)).is_ok_and(|m| m.len() == c.size))
}

fn url_for(base: &str, file: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{file}")
    } else {
        format!("{base}/{file}")
    }
}

fn fetch_file(
    agent: &ureq::Agent,
    spec: &FileSpec,
    mirrors: &[String],
    dest: &Path,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<(), DataError> {
    let file = spec.name.clone();
    let target = dest.join(&spec.name);
    if contents_present(spec, dest) || (target.is_file() && verify(&target, spec)?.is_ok()) {
        if target.is_file() && spec.extract.is_some() {
            extract(spec, &target, dest, on_event)?;
        }
        on_event(FetchEvent::Present { file });
        return Ok(());
    }
    let part = dest.join(format!("{}.part", spec.name));
    let mut attempts = Vec::new();
    let mut first_mismatch = None;
    for base in mirrors {
        let url = url_for(base, &spec.name);
        match download(agent, &url, &part, &file, on_event) {
            Err(error) => {
                let _ = std::fs::remove_file(&part);
                on_event(FetchEvent::Failed {
                    file: file.clone(),
                    url: url.clone(),
                    error: error.clone(),
                });
                attempts.push((url, error));
            }
            Ok(()) => match verify(&part, spec)? {
                Ok(()) => {
                    std::fs::rename(&part, &target).map_err(|e| DataError::io(&target, e))?;
                    on_event(FetchEvent::Verified {
                        file: file.clone(),
                        path: target.clone(),
                    });
                    if spec.extract.is_some() {
                        extract(spec, &target, dest, on_event)?;
                    }
                    return Ok(());
                }
                Err((algorithm, expected, actual)) => {
                    std::fs::remove_file(&part).map_err(|e| DataError::io(&part, e))?;
                    let error =
                        format!("{algorithm} mismatch: expected {expected}, got {actual}; deleted");
                    on_event(FetchEvent::Failed {
                        file: file.clone(),
                        url: url.clone(),
                        error: error.clone(),
                    });
                    attempts.push((url.clone(), error));
                    first_mismatch.get_or_insert(DataError::Checksum {
                        path: target.clone(),
                        url,
                        algorithm,
                        expected,
                        actual,
                    });
                }
            },
        }
    }
    Err(first_mismatch.unwrap_or(DataError::Download { file, attempts }))
}

/// Streams `url` into `part`; errors are returned as text (the caller records them per URL).
fn download(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    file: &str,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<(), String> {
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let total = resp.body().content_length();
    on_event(FetchEvent::Start {
        file: file.to_string(),
        url: url.to_string(),
        total,
    });
    let mut out = std::fs::File::create(part).map_err(|e| format!("{}: {e}", part.display()))?;
    let mut reader = resp.body_mut().as_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("reading the response: {e}"))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", part.display()))?;
        done += n as u64;
        on_event(FetchEvent::Progress {
            file: file.to_string(),
            done,
        });
    }
    out.sync_all()
        .map_err(|e| format!("{}: {e}", part.display()))?;
    Ok(())
}

fn extract(
    spec: &FileSpec,
    archive: &Path,
    dest: &Path,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<(), DataError> {
    on_event(FetchEvent::Extracting {
        file: spec.name.clone(),
    });
    extract_tar_gz(archive, dest)?;
    for c in &spec.contents {
        let p = dest.join(&c.name);
        let len = std::fs::metadata(&p)
            .map_err(|e| DataError::io(&p, e))?
            .len();
        if len != c.size {
            return Err(DataError::format(
                &p,
                format!(
                    "extracted from {} with {len} bytes, expected {}",
                    spec.name, c.size
                ),
            ));
        }
    }
    std::fs::remove_file(archive).map_err(|e| DataError::io(archive, e))
}
