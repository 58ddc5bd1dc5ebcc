//! Named experiment profiles: `./profiles/<name>.toml`, then the user's, then the shipped ones.

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

/// The three profile folders, searched in this order.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileDirs {
    pub local: PathBuf,
    pub user: PathBuf,
    pub shipped: PathBuf,
}

impl ProfileDirs {
    /// `./profiles`, the given user folder and the shipped folder.
    pub fn new(user: PathBuf) -> ProfileDirs {
        ProfileDirs {
            local: PathBuf::from("profiles"),
            user,
            shipped: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/profiles")),
        }
    }

    fn ordered(&self) -> [(ProfileSource, &Path); 3] {
        [
            (ProfileSource::Local, self.local.as_path()),
            (ProfileSource::User, self.user.as_path()),
            (ProfileSource::Shipped, self.shipped.as_path()),
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
        let mut searched = Vec::new();
        for (_, dir) in self.ordered() {
            let p = dir.join(&file);
            if p.is_file() {
                let config = Config::load(&p)?;
                return Ok((name_or_path.to_string(), p, config));
            }
            searched.push(dir.to_path_buf());
        }
        Err(StoreError::UnknownProfile {
            name: name_or_path.to_string(),
            searched,
        })
    }

    /// Every profile by name; a name in several folders is listed once, from the folder that
    /// wins the lookup. Sorted by name. Files that fail to load are listed with the error.
    pub fn list(&self) -> Vec<ProfileEntry> {
        let mut out: Vec<ProfileEntry> = Vec::new();
        for (source, dir) in self.ordered() {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect();
            files.sort();
            for path in files {
                let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                    continue;
                };
                if validate_name("profile name", &name).is_err()
                    || out.iter().any(|e| e.name == name)
                {
                    continue;
                }
                let (description, error) = match Config::load(&path) {
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
