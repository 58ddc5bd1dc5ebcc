//! Finding study files (`./profiles/studies`, `<config>/studies`, the shipped ones) and the
//! store's side of a study: its folder, the copy of its file, its runs.

use std::path::{Path, PathBuf};

use super::Study;
use crate::store::error::StoreError;
use crate::store::profiles::{shipped_studies, ProfileDirs};
use crate::store::{validate_name, LoadedRun, RunEntry, Store};

/// Where study files are looked up: `./profiles/studies`, `<config>/studies`, the shipped ones.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyDirs {
    pub local: PathBuf,
    pub user: PathBuf,
}

/// A study file found by name or path: its name, text and where it came from.
pub fn find_study(
    dirs: &StudyDirs,
    name_or_path: &str,
) -> Result<(String, String, PathBuf), StoreError> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() || name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        let text =
            std::fs::read_to_string(as_path).map_err(|e| StoreError::io(as_path, "read", e))?;
        let name = as_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "study".into());
        return Ok((name, text, as_path.to_path_buf()));
    }
    validate_name("study name", name_or_path)?;
    let file = format!("{name_or_path}.toml");
    for dir in [&dirs.local, &dirs.user] {
        let p = dir.join(&file);
        if p.is_file() {
            let text = std::fs::read_to_string(&p).map_err(|e| StoreError::io(&p, "read", e))?;
            return Ok((name_or_path.to_string(), text, p));
        }
    }
    if let Some((n, t)) = shipped_studies().iter().find(|(n, _)| *n == name_or_path) {
        return Ok((
            n.to_string(),
            t.to_string(),
            PathBuf::from(format!("(shipped)/studies/{n}.toml")),
        ));
    }
    Err(StoreError::UnknownStudy {
        name: name_or_path.to_string(),
        searched: vec![
            dirs.local.clone(),
            dirs.user.clone(),
            PathBuf::from("(shipped with adalab)"),
        ],
    })
}

/// Every study file by name (local, user, shipped; the first of a name wins): name and
/// description (or why it cannot be read).
pub fn list_studies(dirs: &StudyDirs, profiles: &ProfileDirs) -> Vec<(String, String, PathBuf)> {
    let mut out: Vec<(String, String, PathBuf)> = Vec::new();
    let mut push = |name: String, text: &str, path: PathBuf| {
        if out.iter().any(|(n, _, _)| *n == name) {
            return;
        }
        let desc = match Study::parse(&name, text, &path, profiles) {
            Ok(s) => format!(
                "{} ({} cells × {} seeds)",
                s.description,
                s.cells.len(),
                s.seeds
            ),
            Err(e) => format!("(unreadable: {e})"),
        };
        out.push((name, desc, path));
    };
    for dir in [&dirs.local, &dirs.user] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for p in files {
            let (Some(name), Ok(text)) = (
                p.file_stem().map(|s| s.to_string_lossy().into_owned()),
                std::fs::read_to_string(&p),
            ) else {
                continue;
            };
            push(name, &text, p);
        }
    }
    for (n, t) in shipped_studies() {
        push(
            n.to_string(),
            t,
            PathBuf::from(format!("(shipped)/studies/{n}.toml")),
        );
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

impl Store {
    /// Where study files are looked up.
    pub fn study_dirs(&self) -> StudyDirs {
        StudyDirs {
            local: PathBuf::from("profiles").join("studies"),
            user: self.config_dir().join("studies"),
        }
    }

    /// Finds and parses a study by name or path.
    pub fn load_study(&self, name_or_path: &str) -> Result<Study, StoreError> {
        let (name, text, path) = find_study(&self.study_dirs(), name_or_path)?;
        Study::parse(&name, &text, &path, &self.profile_dirs())
    }

    /// Parses the study file at `path` under the name `name` (unless the file names itself):
    /// the copies kept beside a study's runs and Slurm submissions are all `study.toml`.
    pub fn load_study_file(&self, path: &Path, name: &str) -> Result<Study, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| StoreError::io(path, "read", e))?;
        Study::parse(name, &text, path, &self.profile_dirs())
    }

    /// The study a name shows: its file on the search path (what `study run` runs), else,
    /// when that file is gone, the copy kept beside its runs. `study show`, `study plot` and
    /// the lab read studies through this, so they agree on the cells and the scorer.
    pub fn load_study_or_kept(&self, name: &str) -> Result<Study, StoreError> {
        match self.load_study(name) {
            Ok(s) => Ok(s),
            Err(e) => match self.study_dir(name).map(|d| d.join("study.toml")) {
                Ok(kept) if kept.is_file() => self.load_study_file(&kept, name),
                _ => Err(e),
            },
        }
    }

    /// `<root>/studies/<name>/`: the study's own files (its file as last run, Slurm scripts,
    /// task lists and logs).
    pub fn study_dir(&self, name: &str) -> Result<PathBuf, StoreError> {
        validate_name("study name", name)?;
        Ok(self.root().join("studies").join(name))
    }

    /// Keeps the study file beside its runs (`study.toml`), so the runs can be told apart from
    /// a later edit of the file.
    pub fn save_study_file(&self, study: &Study) -> Result<PathBuf, StoreError> {
        let dir = self.study_dir(&study.name)?;
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, "create folder", e))?;
        let p = dir.join("study.toml");
        crate::store::write_atomic(&p, study.text.as_bytes())?;
        Ok(p)
    }

    /// The runs of a study (readable ones), newest first.
    pub fn study_runs(&self, name: &str) -> Result<Vec<LoadedRun>, StoreError> {
        Ok(self
            .list_runs()?
            .into_iter()
            .filter_map(|e| match e {
                RunEntry::Ok(r) if r.record.study.as_ref().is_some_and(|s| s.name == name) => {
                    Some(*r)
                }
                _ => None,
            })
            .collect())
    }

    /// The variants of a study that have runs: each set of `--set` overrides (empty: the file
    /// as written) and how many runs it has, the file as written first.
    pub fn study_variants(&self, name: &str) -> Result<Vec<(Vec<String>, usize)>, StoreError> {
        let mut out: Vec<(Vec<String>, usize)> = Vec::new();
        for r in self.study_runs(name)? {
            let o = r.record.study.map(|s| s.overrides).unwrap_or_default();
            match out.iter_mut().find(|(k, _)| *k == o) {
                Some((_, n)) => *n += 1,
                None => out.push((o, 1)),
            }
        }
        out.sort();
        Ok(out)
    }
}
