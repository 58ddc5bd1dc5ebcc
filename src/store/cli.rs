//! `adalab runs …` and `adalab profiles …`: listing, showing, comparing and editing runs.
//!
//! Every formatter writes to a `&mut impl Write` so tests can capture the output.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{bail, Context};

use super::{LoadedRun, RunEntry, RunStatus, Store};
use crate::config::ScorerKind;
use crate::score::Summary;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List {
        /// Keep runs where KEY=VALUE; keys: status, head, dataset, scorer, tag, profile, or a
        /// config key such as train.epochs (repeatable; all must match).
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filter: Vec<String>,
        /// Sort order.
        #[arg(long, value_enum, default_value_t = SortKey::Date)]
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
    /// Export runs (all when no id is given).
    Export {
        ids: Vec<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
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
    /// Delete runs (asks for confirmation unless --yes).
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ProfilesCommand {
    /// List local, user and shipped profiles.
    List,
    /// Print a profile's resolved configuration.
    Show { name: String },
    /// Save a run's configuration as a user profile.
    Save {
        name: String,
        /// The run whose config to save.
        #[arg(long = "from", value_name = "RUN_ID")]
        from: String,
        /// Replace an existing user profile of that name.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    Auc,
    Date,
    Head,
    Status,
    Epochs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
    Md,
}

/// Runs a `runs` subcommand against the store at `home` (see [`Store::open`]), printing to
/// stdout and reading the delete confirmation from stdin.
pub fn run_runs(cmd: RunsCommand, home: Option<&Path>) -> anyhow::Result<()> {
    let store = Store::open(home)?;
    let stdout = std::io::stdout();
    let stdin = std::io::stdin();
    run_runs_with(&store, cmd, &mut stdout.lock(), &mut stdin.lock())
}

/// Runs a `profiles` subcommand, printing to stdout.
pub fn run_profiles(cmd: ProfilesCommand, home: Option<&Path>) -> anyhow::Result<()> {
    let store = Store::open(home)?;
    let stdout = std::io::stdout();
    run_profiles_with(&store, cmd, &mut stdout.lock())
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
            let filters = parse_filters(&filter)?;
            let mut entries: Vec<RunEntry> = store
                .list_runs()?
                .into_iter()
                .filter(|e| filters.iter().all(|f| f.matches(e)))
                .collect();
            sort_entries(&mut entries, sort);
            if json {
                write_list_json(out, &entries)
            } else {
                write_list(out, &entries)
            }
        }
        RunsCommand::Show { id } => write_show(out, &store.load_run(&id)?),
        RunsCommand::Compare { ids } => {
            if ids.len() < 2 {
                bail!("compare needs at least two run ids");
            }
            let runs = ids
                .iter()
                .map(|i| store.load_run(i))
                .collect::<Result<Vec<_>, _>>()?;
            write_compare(out, &runs)
        }
        RunsCommand::Export { ids, format } => {
            let runs: Vec<LoadedRun> = if ids.is_empty() {
                let mut v = Vec::new();
                for e in store.list_runs()? {
                    match e {
                        RunEntry::Ok(r) => v.push(*r),
                        RunEntry::Unreadable { id, path, reason } => {
                            eprintln!(
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
            };
            match format {
                ExportFormat::Csv => write_export_csv(out, &runs),
                ExportFormat::Json => write_export_json(out, &runs),
                ExportFormat::Md => write_export_md(out, &runs),
            }
        }
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
        RunsCommand::Delete { ids, yes } => {
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
                store.delete_run(id)?;
                writeln!(out, "deleted {id}")?;
            }
            Ok(())
        }
    }
}

/// [`run_profiles`] with explicit output.
pub fn run_profiles_with(
    store: &Store,
    cmd: ProfilesCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let dirs = store.profile_dirs();
    match cmd {
        ProfilesCommand::List => {
            let rows: Vec<Vec<String>> = dirs
                .list()
                .into_iter()
                .map(|p| {
                    vec![
                        p.name,
                        p.source.to_string(),
                        p.description,
                        p.path.display().to_string(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                writeln!(
                    out,
                    "no profiles (looked in {}, {}, {})",
                    dirs.local.display(),
                    dirs.user.display(),
                    dirs.shipped.display()
                )?;
                return Ok(());
            }
            write_table(out, &["name", "source", "description", "path"], &rows)?;
            Ok(())
        }
        ProfilesCommand::Show { name } => {
            let (name, path, config) = dirs.resolve(&name)?;
            writeln!(out, "# profile {name} ({})", path.display())?;
            write!(out, "{}", config.to_toml_string())?;
            Ok(())
        }
        ProfilesCommand::Save { name, from, force } => {
            let run = store.load_run(&from)?;
            let path = dirs.save(&name, &run.record.config, force)?;
            writeln!(
                out,
                "saved the config of {} as profile {name} ({})",
                run.record.id,
                path.display()
            )?;
            Ok(())
        }
    }
}

/// One `--filter KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub key: String,
    pub value: String,
}

const FILTER_KEYS: [&str; 6] = ["status", "head", "dataset", "scorer", "tag", "profile"];

pub fn parse_filters(raw: &[String]) -> anyhow::Result<Vec<Filter>> {
    raw.iter()
        .map(|f| {
            let Some((k, v)) = f.split_once('=') else {
                bail!("filter `{f}` must look like KEY=VALUE (e.g. status=finished)");
            };
            let key = k.trim().to_string();
            if !FILTER_KEYS.contains(&key.as_str()) && !key.contains('.') {
                bail!(
                    "unknown filter key `{key}`: use {} or a config key such as train.epochs",
                    FILTER_KEYS.join(", ")
                );
            }
            Ok(Filter {
                key,
                value: v.trim().to_string(),
            })
        })
        .collect()
}

impl Filter {
    pub fn matches(&self, entry: &RunEntry) -> bool {
        let run = match entry {
            RunEntry::Ok(r) => r,
            RunEntry::Unreadable { .. } => {
                return self.key == "status" && self.value == "unreadable"
            }
        };
        let rec = &run.record;
        let v = self.value.as_str();
        match self.key.as_str() {
            "status" => run.status.as_str() == v,
            "head" => rec.config.head.kind.as_str() == v,
            "dataset" => crate::config::DatasetKind::parse(v) == Some(rec.config.data.dataset),
            "scorer" => rec.config.score.scorers.iter().any(|s| s.as_str() == v),
            "tag" => rec.tags.iter().any(|t| t == v),
            "profile" => rec.profile == v,
            key => flatten_config(&rec.config).get(key).is_some_and(|x| x == v),
        }
    }
}

fn sort_entries(entries: &mut [RunEntry], key: SortKey) {
    // Newest first is the base order; other keys sort stably on top of it.
    entries.sort_by(|a, b| b.id().cmp(a.id()));
    let ok = |e: &RunEntry| match e {
        RunEntry::Ok(r) => Some(r.as_ref().clone()),
        RunEntry::Unreadable { .. } => None,
    };
    match key {
        SortKey::Date => {}
        SortKey::Auc => entries.sort_by(|a, b| {
            let (x, y) = (
                ok(a).and_then(|r| r.record.primary_auc()),
                ok(b).and_then(|r| r.record.primary_auc()),
            );
            match (x, y) {
                (Some(x), Some(y)) => y.total_cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        }),
        SortKey::Head => entries.sort_by_key(|e| {
            ok(e)
                .map(|r| r.record.config.head.kind.as_str().to_string())
                .unwrap_or_else(|| "~".into())
        }),
        SortKey::Status => entries.sort_by_key(|e| {
            ok(e)
                .map(|r| r.status.as_str().to_string())
                .unwrap_or_else(|| "~".into())
        }),
        SortKey::Epochs => {
            entries.sort_by_key(|e| std::cmp::Reverse(ok(e).map(|r| r.record.epochs_done())))
        }
    }
}

fn fmt_f(v: Option<f64>) -> String {
    match v {
        Some(x) => format!("{x:.4}"),
        None => "-".into(),
    }
}

fn epochs_label(run: &LoadedRun) -> String {
    let c = &run.record.config;
    let base = format!("{}/{}", run.record.epochs_done(), c.train.epochs);
    if c.run.repeat > 1 {
        format!("{base} ×{}", c.run.repeat)
    } else {
        base
    }
}

fn status_label(run: &LoadedRun) -> String {
    if run.status == RunStatus::Interrupted && run.record.status == RunStatus::Running {
        "interrupted (stale)".into()
    } else {
        run.status.to_string()
    }
}

/// The `runs list` table. Unreadable runs get a row with their reason.
pub fn write_list(out: &mut impl Write, entries: &[RunEntry]) -> anyhow::Result<()> {
    if entries.is_empty() {
        writeln!(out, "no runs")?;
        return Ok(());
    }
    let header = [
        "id", "profile", "split", "head", "scorer", "status", "epochs", "auc", "duration",
    ];
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    for e in entries {
        match e {
            RunEntry::Ok(r) => {
                let rec = &r.record;
                rows.push(vec![
                    rec.id.clone(),
                    rec.profile.clone(),
                    rec.config.split_label(),
                    rec.config.head.kind.to_string(),
                    rec.config.primary_scorer().to_string(),
                    status_label(r),
                    epochs_label(r),
                    fmt_f(rec.primary_auc()),
                    super::time::format_duration(rec.duration_secs()),
                ]);
            }
            RunEntry::Unreadable { id, path, reason } => {
                rows.push(vec![
                    id.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "unreadable".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
                unreadable.push(format!("{id}: unreadable: {}: {reason}", path.display()));
            }
        }
    }
    write_table(out, &header, &rows)?;
    for u in unreadable {
        writeln!(out, "{u}")?;
    }
    Ok(())
}

pub fn write_list_json(out: &mut impl Write, entries: &[RunEntry]) -> anyhow::Result<()> {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| match e {
            RunEntry::Ok(r) => {
                let rec = &r.record;
                serde_json::json!({
                    "id": rec.id,
                    "profile": rec.profile,
                    "split": rec.config.split_label(),
                    "dataset": rec.config.data.dataset.as_str(),
                    "head": rec.config.head.kind.as_str(),
                    "scorer": rec.config.primary_scorer().as_str(),
                    "status": r.status.as_str(),
                    "recorded_status": rec.status.as_str(),
                    "epochs": rec.epochs_done(),
                    "epochs_planned": rec.config.train.epochs,
                    "repeat": rec.config.run.repeat,
                    "auc": rec.primary_auc(),
                    "created": rec.created.to_string(),
                    "duration_s": rec.duration_secs(),
                    "tags": rec.tags,
                    "note": rec.note,
                })
            }
            RunEntry::Unreadable { id, path, reason } => serde_json::json!({
                "id": id,
                "status": "unreadable",
                "path": path.display().to_string(),
                "reason": reason,
            }),
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &items)?;
    writeln!(out)?;
    Ok(())
}

/// `runs show`: header, config, per-epoch table per seed, results and summary.
pub fn write_show(out: &mut impl Write, run: &LoadedRun) -> anyhow::Result<()> {
    let rec = &run.record;
    writeln!(out, "run       {}", rec.id)?;
    writeln!(out, "profile   {}", rec.profile)?;
    writeln!(out, "split     {}", rec.config.split_label())?;
    writeln!(out, "status    {}", status_label(run))?;
    if let Some(r) = &rec.reason {
        writeln!(out, "reason    {r}")?;
    }
    writeln!(out, "created   {}", rec.created)?;
    match rec.finished {
        Some(f) => writeln!(
            out,
            "finished  {f} ({})",
            super::time::format_duration(rec.duration_secs())
        )?,
        None => writeln!(
            out,
            "updated   {} (heartbeat {})",
            rec.updated, rec.heartbeat
        )?,
    }
    writeln!(out, "host      {} (pid {})", rec.host, rec.pid)?;
    writeln!(out, "device    {}, {} threads", rec.device, rec.threads)?;
    writeln!(out, "adalab    {}", rec.adalab_version)?;
    if let Some(d) = &rec.data {
        writeln!(
            out,
            "data      train {} (normal {}), test {}, {} classes",
            d.train, d.normal_train, d.test, d.classes
        )?;
    }
    if !rec.tags.is_empty() {
        writeln!(out, "tags      {}", rec.tags.join(", "))?;
    }
    if !rec.note.is_empty() {
        writeln!(out, "note      {}", rec.note)?;
    }
    writeln!(out, "path      {}", run.dir.display())?;
    writeln!(out)?;
    writeln!(out, "## config")?;
    write!(out, "{}", rec.config.to_toml_string())?;
    let scorers = &rec.config.score.scorers;
    for s in &rec.seeds {
        writeln!(out)?;
        let status = if s.status == RunStatus::Running && run.status != RunStatus::Running {
            "interrupted".to_string()
        } else {
            s.status.to_string()
        };
        write!(out, "## seed {} (#{}): {status}", s.seed, s.index + 1)?;
        if let Some(r) = &s.reason {
            write!(out, " — {r}")?;
        }
        writeln!(out)?;
        let mut header: Vec<String> = ["epoch", "loss", "acc", "s", "lr", "sec", "img/s"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        header.extend(scorers.iter().map(|k| format!("auc {k}")));
        let rows: Vec<Vec<String>> = s
            .epochs
            .iter()
            .map(|e| {
                let mut r = vec![
                    e.epoch.to_string(),
                    format!("{:.4}", e.loss),
                    format!("{:.3}", e.accuracy),
                    format!("{:.2}", e.scale),
                    format!("{:.2e}", e.lr),
                    format!("{:.1}", e.seconds),
                    format!("{:.0}", e.images_per_sec),
                ];
                r.extend(scorers.iter().map(|k| fmt_f(e.auc.get(k).copied())));
                r
            })
            .collect();
        let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
        write_table(out, &hdr, &rows)?;
        if let Some(res) = &s.result {
            writeln!(out, "final (epoch {}):", res.epoch)?;
            let rows: Vec<Vec<String>> = scorers
                .iter()
                .map(|k| {
                    vec![
                        k.to_string(),
                        fmt_f(res.auc.get(k).copied()),
                        fmt_f(res.average_precision.get(k).copied()),
                    ]
                })
                .collect();
            write_table(out, &["scorer", "auc", "ap"], &rows)?;
        }
    }
    if rec.seeds.iter().filter(|s| s.result.is_some()).count() > 1 {
        writeln!(out)?;
        writeln!(out, "## summary of final AUC over seeds")?;
        write_summary(out, scorers, &rec.summary)?;
    }
    Ok(())
}

fn write_summary(
    out: &mut impl Write,
    scorers: &[ScorerKind],
    summary: &BTreeMap<ScorerKind, Summary>,
) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = scorers
        .iter()
        .filter_map(|k| summary.get(k).map(|s| (k, s)))
        .map(|(k, s)| {
            vec![
                k.to_string(),
                s.n.to_string(),
                format!("{:.4}", s.median),
                format!("{:.4}", s.mean),
                format!("{:.4}", s.min),
                format!("{:.4}", s.q1),
                format!("{:.4}", s.q3),
                format!("{:.4}", s.max),
            ]
        })
        .collect();
    write_table(
        out,
        &["scorer", "n", "median", "mean", "min", "q1", "q3", "max"],
        &rows,
    )
}

/// Flattens a config into dotted keys → display values (`head.kind` → `arcface`).
pub fn flatten_config(config: &crate::config::Config) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(v) = toml::Value::try_from(config) {
        flatten_value("", &v, &mut out);
    }
    out
}

fn flatten_value(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_value(&key, x, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// `runs compare`: config keys that differ, then metrics with deltas against the first run.
pub fn write_compare(out: &mut impl Write, runs: &[LoadedRun]) -> anyhow::Result<()> {
    let ids: Vec<String> = runs.iter().map(|r| r.record.id.clone()).collect();
    let flat: Vec<BTreeMap<String, String>> = runs
        .iter()
        .map(|r| flatten_config(&r.record.config))
        .collect();
    let keys: BTreeSet<&String> = flat.iter().flat_map(|m| m.keys()).collect();
    let mut rows = Vec::new();
    for k in keys {
        let vals: Vec<String> = flat
            .iter()
            .map(|m| m.get(k).cloned().unwrap_or_else(|| "(unset)".into()))
            .collect();
        if vals.iter().any(|v| v != &vals[0]) {
            let mut row = vec![k.clone()];
            row.extend(vals);
            rows.push(row);
        }
    }
    let mut header = vec!["config"];
    header.extend(ids.iter().map(String::as_str));
    writeln!(out, "## config differences")?;
    if rows.is_empty() {
        writeln!(out, "(identical configs)")?;
    } else {
        write_table(out, &header, &rows)?;
    }

    writeln!(out)?;
    writeln!(out, "## metrics (delta against {})", ids[0])?;
    let mut metric_rows: Vec<Vec<String>> = Vec::new();
    metric_rows.push(
        std::iter::once("status".to_string())
            .chain(runs.iter().map(|r| r.status.to_string()))
            .collect(),
    );
    metric_rows.push(
        std::iter::once("epochs".to_string())
            .chain(runs.iter().map(epochs_label))
            .collect(),
    );
    metric_rows.push(
        std::iter::once("duration".to_string())
            .chain(
                runs.iter()
                    .map(|r| super::time::format_duration(r.record.duration_secs())),
            )
            .collect(),
    );
    let last_epoch = |r: &LoadedRun| {
        r.record
            .seeds
            .first()
            .and_then(|s| s.epochs.last().cloned())
    };
    let numeric = |name: &str, vals: Vec<Option<f64>>| -> Vec<String> {
        let base = vals[0];
        std::iter::once(name.to_string())
            .chain(vals.iter().enumerate().map(|(i, v)| match (i, v, base) {
                (0, v, _) => fmt_f(*v),
                (_, Some(x), Some(b)) => format!("{x:.4} ({:+.4})", x - b),
                (_, v, _) => fmt_f(*v),
            }))
            .collect()
    };
    metric_rows.push(numeric(
        "final loss",
        runs.iter()
            .map(|r| last_epoch(r).map(|e| f64::from(e.loss)))
            .collect(),
    ));
    metric_rows.push(numeric(
        "final accuracy",
        runs.iter()
            .map(|r| last_epoch(r).map(|e| f64::from(e.accuracy)))
            .collect(),
    ));
    let mut scorers: Vec<ScorerKind> = Vec::new();
    for r in runs {
        for k in &r.record.config.score.scorers {
            if !scorers.contains(k) {
                scorers.push(*k);
            }
        }
    }
    for k in &scorers {
        metric_rows.push(numeric(
            &format!("auc {k}"),
            runs.iter().map(|r| r.record.final_auc(*k)).collect(),
        ));
        metric_rows.push(numeric(
            &format!("ap {k}"),
            runs.iter().map(|r| r.record.final_ap(*k)).collect(),
        ));
    }
    let mut header = vec!["metric"];
    header.extend(ids.iter().map(String::as_str));
    write_table(out, &header, &metric_rows)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV row per run; AUC/AP columns for every scorer (median over seeds when repeated).
pub fn write_export_csv(out: &mut impl Write, runs: &[LoadedRun]) -> anyhow::Result<()> {
    let mut header: Vec<String> = [
        "id",
        "profile",
        "status",
        "dataset",
        "normal",
        "anomalous",
        "head",
        "scorers",
        "epochs",
        "repeat",
        "created",
        "duration_s",
        "tags",
        "note",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for k in ScorerKind::ALL {
        header.push(format!("auc_{k}"));
        header.push(format!("ap_{k}"));
    }
    writeln!(out, "{}", header.join(","))?;
    for r in runs {
        let rec = &r.record;
        let c = &rec.config;
        let mut f = vec![
            rec.id.clone(),
            rec.profile.clone(),
            r.status.to_string(),
            c.data.dataset.to_string(),
            c.data.normal.to_string(),
            c.data.anomalous.to_string(),
            c.head.kind.to_string(),
            c.score
                .scorers
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            rec.epochs_done().to_string(),
            c.run.repeat.to_string(),
            rec.created.to_string(),
            rec.duration_secs().to_string(),
            rec.tags.join(";"),
            rec.note.clone(),
        ];
        for k in ScorerKind::ALL {
            f.push(rec.final_auc(k).map(|v| v.to_string()).unwrap_or_default());
            f.push(rec.final_ap(k).map(|v| v.to_string()).unwrap_or_default());
        }
        let line: Vec<String> = f.iter().map(|s| csv_field(s)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// The full records as a JSON array, each with its effective `status_shown`.
pub fn write_export_json(out: &mut impl Write, runs: &[LoadedRun]) -> anyhow::Result<()> {
    let mut items = Vec::new();
    for r in runs {
        let mut v = serde_json::to_value(&r.record)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("status_shown".into(), r.status.as_str().into());
        }
        items.push(v);
    }
    serde_json::to_writer_pretty(&mut *out, &items)?;
    writeln!(out)?;
    Ok(())
}

/// A Markdown table: id, profile, split, head, scorer, status, epochs, AUC, AP.
pub fn write_export_md(out: &mut impl Write, runs: &[LoadedRun]) -> anyhow::Result<()> {
    writeln!(
        out,
        "| id | profile | split | head | scorer | status | epochs | AUC | AP |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---:|---:|")?;
    let esc = |s: &str| s.replace('|', "\\|");
    for r in runs {
        let rec = &r.record;
        let k = rec.config.primary_scorer();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            esc(&rec.id),
            esc(&rec.profile),
            esc(&rec.config.split_label()),
            rec.config.head.kind,
            k,
            r.status,
            epochs_label(r),
            fmt_f(rec.final_auc(k)),
            fmt_f(rec.final_ap(k)),
        )?;
    }
    Ok(())
}

/// A left-aligned plain-text table with a header and two-space gaps.
pub fn write_table(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    let cols = header.len();
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < cells.len() {
                let pad = w[i] - c.chars().count() + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
