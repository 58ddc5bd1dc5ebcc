//! `adalab data …`: fetch, check and locate datasets.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::DatasetKind;
use crate::data::{
    fetch, load, locate, manifest_for, search_paths, verify_files, FetchEvent, FetchOptions,
    FileStatus,
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
    /// Verify a dataset's files (checksums when known, structure always) and print class counts.
    Check {
        /// The dataset to check; all of them when omitted.
        #[arg(value_parser = parse_kind)]
        dataset: Option<DatasetKind>,
        /// Look here first (parent or dataset folder).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print where each dataset is found, or everywhere it was looked for.
    Path {
        /// Look here first (parent or dataset folder).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    let mut out = super::out();
    match cmd {
        DataCommand::Fetch {
            dataset,
            data_dir,
            mirror,
        } => run_fetch(dataset, data_dir, mirror),
        DataCommand::Check { dataset, data_dir } => {
            let kinds = match dataset {
                Some(k) => vec![k],
                None => DatasetKind::ALL.to_vec(),
            };
            let mut failed = 0;
            for k in kinds {
                if let Err(e) = check(k, data_dir.as_deref(), dataset.is_some()) {
                    crate::say!("{k}: {e:#}");
                    failed += 1;
                }
            }
            anyhow::ensure!(failed == 0, "{failed} dataset check(s) failed");
            Ok(())
        }
        DataCommand::Path { data_dir } => {
            for k in DatasetKind::ALL {
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
