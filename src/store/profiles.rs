//! Named experiment profiles: `./profiles/<name>.toml`, then the user's, then the shipped ones
//! (compiled into the binary by `build.rs`, so an installed adalab has them anywhere).

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::{fsutil, validate_name, Store};
use crate::config::Config;

/// Where a profile was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProfileSource {
    /// `./profiles/` under the current directory.
    Local,
    /// The user profile folder (`<config>/profiles/`).
    User,
    /// Shipped with adalab.
    Shipped,
    /// Given as a file path.
    File,
}

impl fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileSource::Local => "local",
            ProfileSource::User => "user",
            ProfileSource::Shipped => "shipped",
            ProfileSource::File => "file",
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProfileEntry {
    pub name: String,
    /// The config's `description`, or why the file could not be loaded.
    pub description: String,
    pub source: ProfileSource,
    pub path: PathBuf,
    /// Set when the file does not load or validate.
    pub error: Option<String>,
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/shipped.rs"));
}

/// Between a profile's name and what a run changed from it in the run's name.
pub const EDIT_SEP: &str = " · ";

/// Keys that say where things are, not what the experiment is: a change leaves the name.
const UNNAMED_KEYS: [&str; 2] = ["description", "data.data_dir"];

/// What `config` changes from the profile's `base`, as `key=value` words in the order of the
/// config's keys: `head=arcface` (a `.kind` key by its section's name), `train.epochs=6`.
pub fn changes(base: &Config, config: &Config) -> Vec<String> {
    crate::config::KEYS
        .iter()
        .filter(|k| !UNNAMED_KEYS.contains(&k.name))
        .filter_map(|k| {
            let now = (k.get)(config);
            if now == (k.get)(base) {
                return None;
            }
            let key = match k.name {
                "data.dataset" => "dataset",
                n => n.strip_suffix(".kind").unwrap_or(n),
            };
            let value: String = now
                .unwrap_or_else(|| "unset".into())
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            Some(format!("{key}={value}"))
        })
        .collect()
}

/// The name a run is recorded under, one rule for `adalab run`, studies and the lab: the
/// profile's name when the config is the profile's, else the profile's name and what changed
/// (`fashion-sneaker-boot-adacos-fixed-geom · head=arcface`).
pub fn run_name(profile: &str, base: &Config, config: &Config) -> String {
    join_run_name(profile, &changes(base, config))
}

/// `profile · a=1 b=2` (the profile alone without changes).
pub fn join_run_name(profile: &str, changes: &[String]) -> String {
    if changes.is_empty() {
        profile.to_string()
    } else {
        format!("{profile}{EDIT_SEP}{}", changes.join(" "))
    }
}

/// The config key a word of [`changes`] names: `head` → `head.kind`, `dataset` →
/// `data.dataset`, `train.epochs` → itself; `None` when it names no key.
pub fn change_key(word: &str) -> Option<&'static str> {
    use crate::config::KEYS;
    let full = |name: &str| KEYS.iter().find(|k| k.name == name).map(|k| k.name);
    match word {
        "dataset" => full("data.dataset"),
        w => full(w).or_else(|| full(&format!("{w}.kind"))),
    }
}

/// The config a run named `profile · changes` was started with: the profile's `base` with
/// each `key=value` of `changes` applied (the inverse of [`changes`]). Errors name the word
/// that does not apply.
pub fn apply_changes(
    base: &Config,
    changes: &[String],
) -> Result<Config, crate::config::ConfigError> {
    use crate::config::ConfigError;
    let mut c = base.clone();
    for word in changes {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| ConfigError::new(word.as_str(), "a change must look like key=value"))?;
        let key = change_key(k).ok_or_else(|| ConfigError::new(k, "no such config key"))?;
        c.set(key, v)?;
    }
    Ok(c)
}

/// A run's name split into the profile it started from and what it changed.
pub fn split_run_name(name: &str) -> (&str, Vec<String>) {
    match name.split_once(EDIT_SEP) {
        Some((p, rest)) => (
            p.trim(),
            rest.split_whitespace().map(str::to_string).collect(),
        ),
        None => (name.trim(), Vec::new()),
    }
}

/// The profile `adalab run` and the lab start from when none is named.
pub const DEFAULT_PROFILE: &str = "fashion-sneaker-boot-adacos-fixed-geom";

/// Where the shipped profiles come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Shipped {
    /// Compiled into this binary.
    Builtin,
    /// A folder (tests use one).
    Dir(PathBuf),
}

impl Shipped {
    /// `(name, text, path shown)` of each shipped profile, sorted by name.
    fn files(&self) -> Vec<(String, Result<String, String>, PathBuf)> {
        match self {
            Shipped::Builtin => embedded::PROFILES
                .iter()
                .map(|(n, t)| (n.to_string(), Ok(t.to_string()), builtin_path(n)))
                .collect(),
            Shipped::Dir(d) => toml_files(d)
                .into_iter()
                .filter_map(|p| {
                    let name = p.file_stem()?.to_string_lossy().into_owned();
                    let text = std::fs::read_to_string(&p).map_err(|e| e.to_string());
                    Some((name, text, p))
                })
                .collect(),
        }
    }

    fn describe(&self) -> PathBuf {
        match self {
            Shipped::Builtin => PathBuf::from("(shipped with adalab)"),
            Shipped::Dir(d) => d.clone(),
        }
    }
}

/// How a built-in profile's path is shown.
fn builtin_path(name: &str) -> PathBuf {
    PathBuf::from(format!("(shipped)/{name}.toml"))
}

/// Shipped study files: `(name, text)`.
pub fn shipped_studies() -> &'static [(&'static str, &'static str)] {
    embedded::STUDIES
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    files
}

fn load_text(text: Result<String, String>, path: &Path) -> Result<Config, StoreError> {
    let text = text.map_err(|e| StoreError::invalid(path, format!("cannot read: {e}")))?;
    let cfg = Config::from_toml_str(&text).map_err(|e| e.in_file(path))?;
    cfg.validate().map_err(|e| e.in_file(path))?;
    Ok(cfg)
}

/// The profile folders, searched in this order: local, user, shipped.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileDirs {
    pub local: PathBuf,
    pub user: PathBuf,
    pub shipped: Shipped,
}

impl ProfileDirs {
    /// `./profiles`, the given user folder and the built-in profiles.
    pub fn new(user: PathBuf) -> ProfileDirs {
        ProfileDirs {
            local: PathBuf::from("profiles"),
            user,
            shipped: Shipped::Builtin,
        }
    }

    /// Every profile file of every source, in lookup order.
    #[allow(clippy::type_complexity)]
    fn sources(
        &self,
    ) -> Vec<(
        ProfileSource,
        Vec<(String, Result<String, String>, PathBuf)>,
    )> {
        let dir = |d: &Path| {
            toml_files(d)
                .into_iter()
                .filter_map(|p| {
                    let name = p.file_stem()?.to_string_lossy().into_owned();
                    let text = std::fs::read_to_string(&p).map_err(|e| e.to_string());
                    Some((name, text, p))
                })
                .collect()
        };
        vec![
            (ProfileSource::Local, dir(&self.local)),
            (ProfileSource::User, dir(&self.user)),
            (ProfileSource::Shipped, self.shipped.files()),
        ]
    }

    /// `name_or_path` is an existing TOML file, or a profile name looked up in order.
    /// Returns the name, the file and the loaded, validated config.
    pub fn resolve(&self, name_or_path: &str) -> Result<(String, PathBuf, Config), StoreError> {
        let as_path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains('/')
            || name_or_path.contains(std::path::MAIN_SEPARATOR)
            || name_or_path.ends_with(".toml");
        if as_path.is_file() || looks_like_path {
            if !as_path.is_file() {
                return Err(StoreError::invalid(as_path, "no such profile file"));
            }
            let config = Config::load(as_path)?;
            let name = as_path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "profile".into());
            let name = if validate_name("profile name", &name).is_ok() {
                name
            } else {
                sanitize(&name)
            };
            return Ok((name, as_path.to_path_buf(), config));
        }
        validate_name("profile name", name_or_path)?;
        let file = format!("{name_or_path}.toml");
        for dir in [&self.local, &self.user] {
            let p = dir.join(&file);
            if p.is_file() {
                let config = Config::load(&p)?;
                return Ok((name_or_path.to_string(), p, config));
            }
        }
        if let Some((_, text, path)) = self
            .shipped
            .files()
            .into_iter()
            .find(|(n, _, _)| n == name_or_path)
        {
            let config = load_text(text, &path)?;
            return Ok((name_or_path.to_string(), path, config));
        }
        Err(StoreError::UnknownProfile {
            name: name_or_path.to_string(),
            searched: vec![
                self.local.clone(),
                self.user.clone(),
                self.shipped.describe(),
            ],
        })
    }

    /// Every profile by name; a name in several folders is listed once, from the folder that
    /// wins the lookup. Sorted by name. Files that fail to load are listed with the error.
    pub fn list(&self) -> Vec<ProfileEntry> {
        let mut out: Vec<ProfileEntry> = Vec::new();
        for (source, files) in self.sources() {
            for (name, text, path) in files {
                if validate_name("profile name", &name).is_err()
                    || out.iter().any(|e| e.name == name)
                {
                    continue;
                }
                let (description, error) = match load_text(text, &path) {
                    Ok(c) => (c.description, None),
                    Err(e) => (format!("(unreadable: {e})"), Some(e.to_string())),
                };
                out.push(ProfileEntry {
                    name,
                    description,
                    source,
                    path,
                    error,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Where the profiles are looked for, for messages.
    pub fn searched(&self) -> Vec<PathBuf> {
        vec![
            self.local.clone(),
            self.user.clone(),
            self.shipped.describe(),
        ]
    }

    /// Saves a config as a user profile (atomically). An existing user profile is replaced
    /// only with `overwrite`.
    pub fn save(
        &self,
        name: &str,
        config: &Config,
        overwrite: bool,
    ) -> Result<PathBuf, StoreError> {
        validate_name("profile name", name)?;
        config.validate()?;
        std::fs::create_dir_all(&self.user)
            .map_err(|e| StoreError::io(&self.user, "create folder", e))?;
        let path = self.user.join(format!("{name}.toml"));
        if path.exists() && !overwrite {
            return Err(StoreError::ProfileExists {
                name: name.to_string(),
                path,
            });
        }
        fsutil::write_atomic(&path, config.to_toml_string().as_bytes())?;
        Ok(path)
    }
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_start_matches('-').to_string();
    if s.is_empty() {
        "profile".into()
    } else {
        s
    }
}

/// [`ProfileDirs::resolve`] with the default folders (see [`Store::open`]).
pub fn resolve_profile(name_or_path: &str) -> Result<(String, PathBuf, Config), StoreError> {
    Store::open(None)?.profile_dirs().resolve(name_or_path)
}

/// [`ProfileDirs::list`] with the default folders.
pub fn list_profiles() -> Result<Vec<ProfileEntry>, StoreError> {
    Ok(Store::open(None)?.profile_dirs().list())
}

/// Saves a user profile in the default user folder, refusing to replace one.
pub fn save_profile(name: &str, config: &Config) -> Result<PathBuf, StoreError> {
    Store::open(None)?.profile_dirs().save(name, config, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HeadKind;

    #[test]
    fn a_run_is_named_after_its_profile_and_what_it_changed() {
        let base = Config::default();
        let name = "fashion-sneaker-boot-adacos-fixed-geom";
        assert_eq!(run_name(name, &base, &base), name);
        // Where the files are or what the profile says of itself is no change of the run.
        let mut moved = base.clone();
        moved.data.data_dir = Some("/data".into());
        moved.description = "mine".into();
        assert_eq!(run_name(name, &base, &moved), name);
        let mut c = base.clone();
        c.head.kind = HeadKind::Arcface;
        assert_eq!(run_name(name, &base, &c), format!("{name} · head=arcface"));
        c.train.epochs = base.train.epochs + 2;
        let full = run_name(name, &base, &c);
        assert_eq!(
            full,
            format!(
                "{name} · head=arcface train.epochs={}",
                base.train.epochs + 2
            )
        );
        let (p, changes) = split_run_name(&full);
        assert_eq!(p, name);
        assert_eq!(join_run_name(p, &changes), full);
        assert_eq!(split_run_name(name), (name, Vec::new()));
    }

    #[test]
    fn a_runs_changes_apply_back_to_its_profile() {
        let base = Config::default();
        let mut c = base.clone();
        c.head.kind = HeadKind::Arcface;
        c.train.epochs = base.train.epochs + 2;
        c.data.dataset = crate::config::DatasetKind::Cifar10;
        let words = changes(&base, &c);
        assert_eq!(apply_changes(&base, &words).unwrap(), c);
        assert_eq!(change_key("head"), Some("head.kind"));
        assert_eq!(change_key("dataset"), Some("data.dataset"));
        let e = apply_changes(&base, &["nosuch=1".into()]).unwrap_err();
        assert_eq!(e.key, "nosuch");
        let e = apply_changes(&base, &["train.epochs=many".into()]).unwrap_err();
        assert_eq!(e.key, "train.epochs");
    }
}
