//! `adalab data …`: fetch, check and locate datasets (and check image folders).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{BadImagePolicy, DataConfig, DatasetKind};
use crate::data::folder::load_folder;
use crate::data::{
    fetch, load, locate, manifest_for, search_paths, verify_files, FetchEvent, FetchOptions,
    FileStatus, FolderLoad, LoadEvent, LoadOptions,
};

fn parse_kind(s: &str) -> Result<DatasetKind, String> {
    DatasetKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = DatasetKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "unknown dataset {s:?}; expected one of {}",
            names.join(", ")
        )
    })
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DataCommand {
    /// Download a dataset, verify its checksums and put it in place.
    Fetch {
        /// fashion-mnist or cifar-10.
        #[arg(value_parser = parse_kind)]
        dataset: DatasetKind,
        /// Destination (parent or dataset folder); default $ADALAB_DATA, else the user data dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Base URL to download from instead of the manifest's mirrors (repeatable; env ADALAB_MIRROR).
        #[arg(long)]
        mirror: Vec<String>,
    },
    /// Verify a dataset's files (checksums when known, structure always) and print class counts;
    /// for `folder` / `mvtec`, decode every image of the folder given with --data-dir.
    Check {
        /// The dataset to check; all built-in ones when omitted.
        #[arg(value_parser = parse_kind)]
        dataset: Option<DatasetKind>,
        /// Look here first (parent or dataset folder); the folder itself for folder / mvtec.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Check the dataset of this profile (name or TOML file) and print the split it draws
        /// (`train 6,000 sneaker (all); test 1,000 normal + 9,000 anomalous (rest: …)`).
        #[arg(long, value_name = "NAME", conflicts_with = "dataset")]
        profile: Option<String>,
        /// With --profile: override a config field, e.g. --set data.anomalous=rest.
        #[arg(long = "set", value_name = "KEY=VALUE", requires = "profile")]
        set: Vec<String>,
    },
    /// Print where each dataset is found, or everywhere it was looked for.
    Path {
        /// Look here first (parent or dataset folder).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: DataCommand, home: Option<&Path>) -> anyhow::Result<()> {
    let mut out = super::out();
    match cmd {
        DataCommand::Check {
            profile: Some(profile),
            set,
            data_dir,
            ..
        } => check_profile(&profile, set, data_dir, home),
        DataCommand::Fetch {
            dataset,
            data_dir,
            mirror,
        } => run_fetch(dataset, data_dir, mirror),
        DataCommand::Check {
            dataset, data_dir, ..
        } => {
            let kinds = match dataset {
                Some(k) => vec![k],
                None => DatasetKind::ALL
                    .into_iter()
                    .filter(|k| !k.is_folder())
                    .collect(),
            };
            let mut failed = 0;
            for k in kinds {
                let checked = if k.is_folder() {
                    check_folder(k, data_dir.as_deref())
                } else {
                    check(k, data_dir.as_deref(), dataset.is_some())
                };
                if let Err(e) = checked {
                    crate::say!("{k}: {e:#}");
                    failed += 1;
                }
            }
            anyhow::ensure!(failed == 0, "{failed} dataset check(s) failed");
            Ok(())
        }
        DataCommand::Path { data_dir } => {
            for k in DatasetKind::ALL {
                if k.is_folder() {
                    match &data_dir {
                        Some(d) => writeln!(out, "{k}: {} (given)", d.display())?,
                        None => writeln!(out, "{k}: the folder named by data.path or --data-dir")?,
                    }
                    continue;
                }
                match locate(k, data_dir.as_deref()) {
                    Ok(_) if k == DatasetKind::Synthetic => {
                        writeln!(out, "{k}: generated in memory, no files")?
                    }
                    Ok(p) => writeln!(out, "{k}: {}", p.display())?,
                    Err(_) => {
                        writeln!(out, "{k}: not found; searched:")?;
                        for p in search_paths(k, data_dir.as_deref()) {
                            writeln!(out, "  - {}", p.display())?;
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

fn run_fetch(
    kind: DatasetKind,
    data_dir: Option<PathBuf>,
    mut mirror: Vec<String>,
) -> anyhow::Result<()> {
    if mirror.is_empty() {
        if let Ok(m) = std::env::var("ADALAB_MIRROR") {
            mirror.extend(m.split_whitespace().map(String::from));
        }
    }
    let opts = FetchOptions {
        dest: data_dir,
        mirrors: (!mirror.is_empty()).then_some(mirror),
        timeout: None,
    };
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut on_event = |ev: FetchEvent| match ev {
        FetchEvent::Present { file } => crate::say!("{file}: already present and verified"),
        FetchEvent::Start { file, url, total } => {
            crate::say!("downloading {file} from {url}");
            if tty {
                let b = indicatif::ProgressBar::new(total.unwrap_or(0));
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                ) {
                    b.set_style(style);
                }
                bar = Some(b);
            }
        }
        FetchEvent::Progress { done, .. } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        FetchEvent::Failed { file, url, error } => {
            if let Some(b) = bar.take() {
                b.abandon();
            }
            crate::say!("{file}: {url} failed: {error}");
        }
        FetchEvent::Verified { file, path } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            crate::say!("{file}: verified, saved as {}", path.display());
        }
        FetchEvent::Extracting { file } => crate::say!("{file}: extracting"),
    };
    let dir = fetch(kind, &opts, &mut on_event)?;
    let mut out = super::out();
    let ds = load(kind, &dir).with_context(|| format!("checking the downloaded {kind}"))?;
    writeln!(
        out,
        "{kind}: {} train + {} test images in {}",
        ds.train.len(),
        ds.test.len(),
        dir.display()
    )?;
    Ok(())
}

/// `data check --profile`: the profile's dataset checked like `data check DATASET`, then the
/// profile's config checked against it (the same check a run makes) and its split printed.
fn check_profile(
    profile: &str,
    set: Vec<String>,
    data_dir: Option<PathBuf>,
    home: Option<&Path>,
) -> anyhow::Result<()> {
    let store = crate::store::Store::open(home)?;
    let args = super::run::RunArgs {
        profile: Some(profile.to_string()),
        set,
        data_dir,
        ..Default::default()
    };
    let (_, config, info) = super::run::resolve_checked(&store.profile_dirs(), &args)?;
    let kind = config.data.dataset;
    let dir = config.data.data_dir.clone();
    if kind.is_folder() {
        check_folder(kind, dir.as_deref().or(config.data.path.as_deref()))?;
    } else {
        check(kind, dir.as_deref(), true)?;
    }
    let mut out = super::out();
    writeln!(out, "profile {profile}: split: {}", info.split.describe())?;
    Ok(())
}

fn check(kind: DatasetKind, explicit: Option<&Path>, asked: bool) -> anyhow::Result<()> {
    let mut out = super::out();
    let dir = match locate(kind, explicit) {
        Ok(d) => d,
        // When checking everything, a dataset that is simply not there is not a failure.
        Err(_) if !asked => {
            writeln!(
                out,
                "{kind}: not installed (`adalab data path` lists where it was looked for)"
            )?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    if kind != DatasetKind::Synthetic {
        writeln!(out, "{kind}: {}", dir.display())?;
    } else {
        writeln!(out, "{kind}: generated")?;
    }
    let mut bad = 0;
    if let Some(manifest) = manifest_for(kind) {
        for (path, status) in verify_files(&manifest?, &dir)? {
            match status {
                FileStatus::Verified => {
                    writeln!(out, "  ok        {} (size and checksum)", path.display())?
                }
                FileStatus::Extracted => writeln!(out, "  ok        {} (size)", path.display())?,
                FileStatus::Absent => {}
                FileStatus::Mismatch {
                    algorithm,
                    expected,
                    actual,
                } => {
                    bad += 1;
                    writeln!(
                        out,
                        "  CORRUPT   {}: {algorithm} expected {expected}, got {actual}",
                        path.display()
                    )?;
                }
            }
        }
    }
    let ds = load(kind, &dir)?;
    anyhow::ensure!(bad == 0, "{kind}: {bad} file(s) fail verification");
    let train = ds.train.class_counts(ds.class_names.len());
    let test = ds.test.class_counts(ds.class_names.len());
    let width = ds
        .class_names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "  {:>2}  {:<width$}  {:>7}  {:>7}",
        "#", "class", "train", "test"
    )?;
    for (i, name) in ds.class_names.iter().enumerate() {
        writeln!(
            out,
            "  {i:>2}  {name:<width$}  {:>7}  {:>7}",
            train[i], test[i]
        )?;
    }
    writeln!(
        out,
        "  {:>2}  {:<width$}  {:>7}  {:>7}",
        "",
        "total",
        ds.train.len(),
        ds.test.len()
    )?;
    Ok(())
}

/// `data check folder|mvtec --data-dir PATH`: decodes every image (bad ones are listed, not
/// fatal, and make the check fail), without writing the cache; prints classes, counts per
/// split, the image sizes seen and what was skipped or ignored.
fn check_folder(kind: DatasetKind, dir: Option<&Path>) -> anyhow::Result<()> {
    let Some(dir) = dir else {
        anyhow::bail!("give the folder: adalab data check {kind} --data-dir PATH");
    };
    let cfg = DataConfig {
        dataset: kind,
        path: Some(dir.to_path_buf()),
        on_bad_image: BadImagePolicy::Skip,
        ..DataConfig::default()
    };
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut on_event = |ev: LoadEvent| match ev {
        LoadEvent::Listed { files } => {
            if tty && files >= 200 {
                let b = indicatif::ProgressBar::new(files as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "decoding {bar:40} {pos}/{len} images, eta {eta}",
                ) {
                    b.set_style(style);
                }
                bar = Some(b);
            }
        }
        LoadEvent::Decoded { done, .. } => {
            if let Some(b) = &bar {
                b.set_position(done as u64);
            }
        }
    };
    let loaded = load_folder(&cfg, &LoadOptions { cache: false }, &mut on_event);
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    let FolderLoad {
        dataset: ds,
        report,
    } = loaded?;
    let mut out = super::out();
    writeln!(
        out,
        "{kind}: {} ({})",
        report.root.display(),
        report.layout.describe()
    )?;
    let train = ds.train.class_counts(ds.class_names.len());
    let test = ds.test.class_counts(ds.class_names.len());
    let width = ds
        .class_names
        .iter()
        .chain(&ds.groups)
        .map(|n| n.chars().count() + 2)
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "  {:>3}  {:<width$}  {:>7}  {:>7}",
        "#", "class", "train", "test"
    )?;
    for (i, name) in ds.class_names.iter().enumerate() {
        writeln!(
            out,
            "  {i:>3}  {name:<width$}  {:>7}  {:>7}",
            train[i], test[i]
        )?;
        if kind == DatasetKind::Mvtec && i == 1 {
            for (g, group) in ds.groups.iter().enumerate() {
                let n = ds.test_group.iter().filter(|x| **x == Some(g)).count();
                let label = format!("  {group}");
                writeln!(out, "  {:>3}  {label:<width$}  {:>7}  {n:>7}", "", "")?;
            }
        }
    }
    writeln!(
        out,
        "  {:>3}  {:<width$}  {:>7}  {:>7}",
        "",
        "total",
        ds.train.len(),
        ds.test.len()
    )?;
    writeln!(
        out,
        "  images: {}×{}×{} after resizing (data.channels, data.size); sizes seen: {}",
        ds.shape.0,
        ds.shape.1,
        ds.shape.2,
        if report.sizes.is_empty() {
            "none".to_string()
        } else {
            report.sizes_text()
        }
    )?;
    if let Some(first) = report.ignored.first() {
        writeln!(
            out,
            "  ignored {} file(s) not read as images (first: {first})",
            report.ignored.len()
        )?;
    }
    for p in &report.skipped {
        writeln!(out, "  BAD       {p}")?;
    }
    anyhow::ensure!(
        report.skipped.is_empty(),
        "{}: {} file(s) or folder(s) cannot be used; with data.on_bad_image = \"error\" (the \
         default) a run stops at the first, with \"skip\" it leaves them out",
        report.root.display(),
        report.skipped.len()
    );
    Ok(())
}
