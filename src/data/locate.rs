//! Finding a dataset on disk and loading it.
//!
//! Search order, first hit wins: the explicit directory (`--data-dir` / `data_dir`), then
//! `$ADALAB_DATA`, then `./data/<dataset>`, then the user data dir
//! (`directories::ProjectDirs::from("", "", "adalab").data_dir()/<dataset>`), then, for
//! Fashion-MNIST, Debian's `/usr/share/datasets/fashion-mnist` (package `dataset-fashion-mnist`).
//! The explicit dir and `$ADALAB_DATA` may name the parent (holding `<dataset>/`) or the dataset
//! folder itself. A candidate is a hit when it holds any of the dataset's files; loading then
//! reports whatever is missing or malformed.
//!
//! A folder dataset (`folder`, `mvtec`) is not searched for: it is the folder the config names
//! (`data.path`, else `data.data_dir` / `--data-dir`).

use std::path::{Path, PathBuf};

use super::cifar::{batches_dir, load_cifar10, TEST_BATCH, TRAIN_BATCHES};
use super::folder::{load_folder, FolderReport, LoadEvent, LoadOptions};
use super::idx::{find_idx_file, load_fashion_mnist, FASHION_MNIST_FILES};
use super::synthetic::generate_synthetic;
use super::{DataError, Dataset};
use crate::config::{DataConfig, DatasetKind};

pub(crate) const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// The user data dir for `kind`: `<ProjectDirs data_dir>/<dataset>`.
pub(crate) fn user_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "adalab").map(|p| p.data_dir().to_path_buf())
}

/// `$ADALAB_DATA`, when set and non-empty.
pub(crate) fn env_data_dir() -> Option<PathBuf> {
    std::env::var_os("ADALAB_DATA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

pub(crate) fn search_paths_with(
    kind: DatasetKind,
    explicit: Option<&Path>,
    env: Option<&Path>,
    user: Option<&Path>,
) -> Vec<PathBuf> {
    let name = kind.as_str();
    let mut out = Vec::new();
    for base in [explicit, env].into_iter().flatten() {
        out.push(base.join(name));
        out.push(base.to_path_buf());
    }
    out.push(Path::new("data").join(name));
    if let Some(u) = user {
        out.push(u.join(name));
    }
    if kind == DatasetKind::FashionMnist {
        out.push(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    out
}

/// Every directory searched for `kind`, in order (empty for the synthetic dataset; the folder
/// itself for a folder dataset).
pub fn search_paths(kind: DatasetKind, explicit: Option<&Path>) -> Vec<PathBuf> {
    if kind.is_folder() {
        return explicit.map(Path::to_path_buf).into_iter().collect();
    }
    if kind == DatasetKind::Synthetic {
        return Vec::new();
    }
    search_paths_with(
        kind,
        explicit,
        env_data_dir().as_deref(),
        user_data_dir().as_deref(),
    )
}

/// Whether `dir` holds any of `kind`'s files.
pub(crate) fn holds_dataset(kind: DatasetKind, dir: &Path) -> bool {
    match kind {
        DatasetKind::FashionMnist => FASHION_MNIST_FILES
            .iter()
            .any(|f| find_idx_file(dir, f).is_some()),
        DatasetKind::Cifar10 => {
            let root = batches_dir(dir);
            TRAIN_BATCHES
                .iter()
                .chain([&TEST_BATCH])
                .any(|f| root.join(f).is_file())
        }
        DatasetKind::Synthetic | DatasetKind::Folder | DatasetKind::Mvtec => true,
    }
}

fn not_found(kind: DatasetKind, searched: Vec<PathBuf>) -> DataError {
    let name = kind.as_str();
    let mut hint = format!(
        "Download it with `adalab data fetch {name}`, or point --data-dir / ADALAB_DATA at a folder holding the files"
    );
    if kind == DatasetKind::FashionMnist {
        hint.push_str(", or install the Debian package: `apt install dataset-fashion-mnist`");
    }
    hint.push('.');
    DataError::NotFound {
        dataset: name.to_string(),
        searched,
        hint,
    }
}

pub(crate) fn locate_in(kind: DatasetKind, candidates: Vec<PathBuf>) -> Result<PathBuf, DataError> {
    match candidates.iter().find(|d| holds_dataset(kind, d)) {
        Some(d) => Ok(d.clone()),
        None => Err(not_found(kind, candidates)),
    }
}

/// The directory holding `kind`'s files. The synthetic dataset needs none: it gets an empty path.
/// An explicit folder (`--data-dir`, `data.data_dir`) that does not exist is an error naming
/// it; one that exists but lacks the dataset falls through to the other places. A folder
/// dataset is the explicit folder itself.
pub fn locate(kind: DatasetKind, explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if kind == DatasetKind::Synthetic {
        return Ok(PathBuf::new());
    }
    if kind.is_folder() {
        let dir = explicit.ok_or(DataError::NoPath {
            dataset: kind.as_str(),
        })?;
        check_explicit(Some(dir))?;
        return Ok(dir.to_path_buf());
    }
    check_explicit(explicit)?;
    locate_in(kind, search_paths(kind, explicit))
}

fn check_explicit(explicit: Option<&Path>) -> Result<(), DataError> {
    match explicit {
        Some(d) if !d.is_dir() => Err(DataError::NoDataDir {
            path: d.to_path_buf(),
            reason: if d.exists() {
                "is not a folder"
            } else {
                "does not exist"
            },
        }),
        _ => Ok(()),
    }
}

/// Loads `kind` from `dir` (ignored for the synthetic dataset, which is generated). A folder
/// dataset is read with the default settings (`data.size`, `data.channels` unset; bad images
/// are errors).
pub fn load(kind: DatasetKind, dir: &Path) -> Result<Dataset, DataError> {
    match kind {
        DatasetKind::FashionMnist => load_fashion_mnist(dir),
        DatasetKind::Cifar10 => load_cifar10(dir),
        DatasetKind::Synthetic => Ok(generate_synthetic()),
        DatasetKind::Folder | DatasetKind::Mvtec => {
            let cfg = DataConfig {
                dataset: kind,
                path: Some(dir.to_path_buf()),
                ..DataConfig::default()
            };
            Ok(load_folder(&cfg, &LoadOptions::default(), &mut |_| {})?.dataset)
        }
    }
}

/// Finds and loads the dataset `cfg` names (generating the synthetic one).
pub fn load_for(cfg: &DataConfig) -> Result<Dataset, DataError> {
    load_reporting(cfg, &mut |_| {}).map(|(ds, _)| ds)
}

/// [`load_for`] with progress and, for a folder dataset, what the load found (cache hit,
/// skipped files, image sizes).
pub fn load_reporting(
    cfg: &DataConfig,
    progress: &mut dyn FnMut(LoadEvent),
) -> Result<(Dataset, Option<FolderReport>), DataError> {
    if cfg.dataset.is_folder() {
        let l = load_folder(cfg, &LoadOptions::default(), progress)?;
        return Ok((l.dataset, Some(l.report)));
    }
    let dir = locate(cfg.dataset, cfg.data_dir.as_deref())?;
    Ok((load(cfg.dataset, &dir)?, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_parent_or_folder() {
        let p = search_paths_with(
            DatasetKind::FashionMnist,
            Some(Path::new("/x")),
            Some(Path::new("/env")),
            Some(Path::new("/home/u/.local/share/adalab")),
        );
        let want: Vec<PathBuf> = [
            "/x/fashion-mnist",
            "/x",
            "/env/fashion-mnist",
            "/env",
            "data/fashion-mnist",
            "/home/u/.local/share/adalab/fashion-mnist",
            DEBIAN_FASHION_MNIST,
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(p, want);
        let c = search_paths_with(DatasetKind::Cifar10, None, None, None);
        assert_eq!(c, [PathBuf::from("data/cifar-10")]);
    }

    #[test]
    fn first_hit_wins_and_not_found_lists_places() {
        let parent = tempfile::tempdir().unwrap();
        let nested = parent.path().join("fashion-mnist");
        std::fs::create_dir(&nested).unwrap();
        crate::data::idx::tests::write_fixture(&nested, 10, 10, true);
        let direct = tempfile::tempdir().unwrap();
        crate::data::idx::tests::write_fixture(direct.path(), 10, 10, false);

        let k = DatasetKind::FashionMnist;
        let found = locate_in(
            k,
            search_paths_with(k, Some(parent.path()), Some(direct.path()), None),
        )
        .unwrap();
        assert_eq!(found, nested);
        let found = locate_in(k, search_paths_with(k, None, Some(direct.path()), None)).unwrap();
        assert_eq!(found, direct.path());
        // An explicit folder that does not exist is an error naming it, not a fall-back.
        let e = locate(k, Some(Path::new("/nonexistent")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent") && e.contains("does not exist"),
            "{e}"
        );
        assert_eq!(load(k, &found).unwrap().train.len(), 10);

        let empty = tempfile::tempdir().unwrap();
        let e = locate_in(
            DatasetKind::Cifar10,
            search_paths_with(DatasetKind::Cifar10, Some(empty.path()), None, None),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cifar-10 not found"), "{e}");
        assert!(
            e.contains(&empty.path().join("cifar-10").display().to_string()),
            "{e}"
        );
        assert!(
            e.contains("data/cifar-10") && e.contains("adalab data fetch cifar-10"),
            "{e}"
        );
        let e = locate_in(k, search_paths_with(k, Some(empty.path()), None, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(DEBIAN_FASHION_MNIST) && e.contains("apt install dataset-fashion-mnist"),
            "{e}"
        );
    }

    #[test]
    fn synthetic_needs_no_files() {
        let cfg = DataConfig {
            dataset: DatasetKind::Synthetic,
            normal: crate::config::ClassRef::Name("ring".into()),
            anomalous: crate::config::ClassRef::Name("disc".into()).into(),
            ..DataConfig::default()
        };
        let ds = load_for(&cfg).unwrap();
        let s = crate::data::make_split(&ds, &cfg, 0).unwrap();
        assert_eq!(s.train_y.len(), 9000);
        assert_eq!(s.test_anomalous.len(), 2000);
    }
}
