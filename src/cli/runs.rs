//! `adalab runs …`: list, show, compare, export, tag, annotate and delete saved runs.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{bail, Context};

use super::report::{csv, json, markdown, table};
use crate::store::query::{Query, SortKey};
use crate::store::{LoadedRun, RunEntry, Store};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List {
        /// Keep runs where KEY=VALUE (or !=, and >, >=, <, <= for numbers); keys: status,
        /// head, dataset, scorer, tag, profile, auc (the primary scorer's), auc.SCORER, or a
        /// config key such as train.epochs; a word without an operator matches id, profile,
        /// tags and note (repeatable; all must match).
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filter: Vec<String>,
        /// Sort order.
        #[arg(long, value_parser = parse_sort, default_value = "date")]
        sort: SortKey,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one run: config, per-epoch metrics, results.
    Show {
        /// Run id (or a unique prefix).
        id: String,
    },
    /// Compare runs: differing config keys, then metrics with deltas against the first.
    Compare {
        #[arg(required = true, num_args = 2..)]
        ids: Vec<String>,
    },
    /// Export runs (all when no id is given); CSV has a column per config key.
    Export {
        ids: Vec<String>,
        /// Keep runs that match, as in `runs list --filter` (`auc>0.9`, `head=arcface`).
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filter: Vec<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
    },
    /// Export a run's detector: DIR/detector.safetensors (weights and fitted scorer) and
    /// DIR/detector.toml (readable description); README documents the format.
    ExportDetector {
        id: String,
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: std::path::PathBuf,
        /// Replace files already in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Add tags to a run (or remove them with --remove).
    Tag {
        id: String,
        #[arg(required = true)]
        tags: Vec<String>,
        #[arg(long)]
        remove: bool,
    },
    /// Set a run's note (an empty text clears it).
    Note { id: String, text: String },
    /// Delete runs (asks for confirmation unless --yes). Runs with a live writer are refused.
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        yes: bool,
        /// Also delete records of a newer schema than this adalab reads.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
    Md,
}

fn parse_sort(s: &str) -> Result<SortKey, String> {
    SortKey::parse(s).ok_or_else(|| {
        let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown sort key `{s}` (use {})", names.join(", "))
    })
}

/// Runs a `runs` subcommand against the store at `home` (see [`Store::open`]), printing to
/// stdout and reading the delete confirmation from stdin.
pub fn run_runs(cmd: RunsCommand, home: Option<&Path>) -> anyhow::Result<()> {
    let store = Store::open(home)?;
    let stdin = std::io::stdin();
    run_runs_with(&store, cmd, &mut super::out(), &mut stdin.lock())
}

/// [`run_runs`] with explicit output and input.
pub fn run_runs_with(
    store: &Store,
    cmd: RunsCommand,
    out: &mut impl Write,
    input: &mut impl BufRead,
) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::List { filter, sort, json } => {
            let query = Query::parse(&filter)?;
            let mut all = store.list_runs()?;
            // Runs whose writer died are recorded as such when the lock can be taken.
            store.settle_entries(&mut all);
            let mut entries: Vec<RunEntry> = all.into_iter().filter(|e| query.matches(e)).collect();
            crate::store::query::sort_entries(&mut entries, sort);
            if json {
                json::write_list_json(out, &entries)
            } else {
                table::write_list(out, &entries)
            }
        }
        RunsCommand::Show { id } => {
            let run = store.load_run(&id)?;
            table::write_show(out, &run)?;
            super::detector::write_show_detector(out, &run)
        }
        RunsCommand::Compare { ids } => {
            if ids.len() < 2 {
                bail!("compare needs at least two run ids");
            }
            let runs = ids
                .iter()
                .map(|i| store.load_run(i))
                .collect::<Result<Vec<_>, _>>()?;
            table::write_compare(out, &runs)
        }
        RunsCommand::Export {
            ids,
            filter,
            format,
        } => {
            let query = Query::parse(&filter)?;
            let runs: Vec<LoadedRun> = if ids.is_empty() {
                let mut v = Vec::new();
                for e in store.list_runs()? {
                    if !query.matches(&e) {
                        continue;
                    }
                    match e {
                        RunEntry::Ok(r) => v.push(*r),
                        RunEntry::Unreadable { id, path, reason } => {
                            crate::say!(
                                "skipping unreadable run {id} ({}): {reason}",
                                path.display()
                            )
                        }
                    }
                }
                v
            } else {
                ids.iter()
                    .map(|i| store.load_run(i))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .filter(|r| query.matches(&RunEntry::Ok(Box::new(r.clone()))))
                    .collect()
            };
            match format {
                ExportFormat::Csv => csv::write_export_csv(out, &runs),
                ExportFormat::Json => json::write_export_json(out, &runs),
                ExportFormat::Md => markdown::write_export_md(out, &runs),
            }
        }
        RunsCommand::ExportDetector {
            id,
            out: dir,
            force,
        } => super::detector::export_detector(store, &id, &dir, force, out),
        RunsCommand::Tag { id, tags, remove } => {
            let id = store.resolve_id(&id)?;
            let now = if remove {
                store.edit_tags(&id, &[], &tags)?
            } else {
                store.edit_tags(&id, &tags, &[])?
            };
            writeln!(
                out,
                "{id}: tags {}",
                if now.is_empty() {
                    "(none)".to_string()
                } else {
                    now.join(", ")
                }
            )?;
            Ok(())
        }
        RunsCommand::Note { id, text } => {
            let id = store.resolve_id(&id)?;
            store.set_note(&id, &text)?;
            if text.is_empty() {
                writeln!(out, "{id}: note cleared")?;
            } else {
                writeln!(out, "{id}: note saved")?;
            }
            Ok(())
        }
        RunsCommand::Delete { ids, yes, force } => {
            let mut resolved: Vec<String> = Vec::new();
            for i in &ids {
                let r = store.resolve_id(i)?;
                if !resolved.contains(&r) {
                    resolved.push(r);
                }
            }
            if !yes {
                write!(
                    out,
                    "Delete {} run{} ({})? [y/N] ",
                    resolved.len(),
                    if resolved.len() == 1 { "" } else { "s" },
                    resolved.join(", ")
                )?;
                out.flush()?;
                let mut line = String::new();
                let n = input
                    .read_line(&mut line)
                    .context("cannot read the confirmation")?;
                let answer = line.trim().to_ascii_lowercase();
                if n == 0 || !(answer == "y" || answer == "yes") {
                    writeln!(
                        out,
                        "{}",
                        if n == 0 { "\n" } else { "" }.to_string() + "nothing deleted"
                    )?;
                    return Ok(());
                }
            }
            for id in &resolved {
                store.delete_run(id, force)?;
                writeln!(out, "deleted {id}")?;
            }
            Ok(())
        }
    }
}
