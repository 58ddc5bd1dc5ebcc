//! Plain-text tables: `runs list`, `runs show`, `runs compare`, and the table primitive.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::{auc_label, epochs_label, fmt_f, status_label};
use crate::config::{Config, ScorerKind};
use crate::job::Tally;
use crate::score::Summary;
use crate::store::{LoadedRun, RunEntry, RunStatus};
use crate::train::Outcome;

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
                    rec.name(),
                    rec.config.split_label(),
                    rec.config.head.kind.to_string(),
                    rec.config.primary_scorer().to_string(),
                    status_label(r),
                    epochs_label(r),
                    auc_label(r),
                    crate::store::time::format_duration(rec.duration_secs()),
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

/// `runs show`: header, config, per-epoch table per seed, results and summary.
/// The config as TOML without the head's keys its kind does not use (fixed AdaCos's `s`
/// and `m` are not what it trains with).
fn applicable_toml(c: &crate::config::Config) -> String {
    let mut section = String::new();
    let mut out = String::new();
    for line in c.to_toml_string().lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.trim_matches(['[', ']']).to_string();
        } else if section == "head" {
            if let Some((key, _)) = trimmed.split_once('=') {
                let key = format!("head.{}", key.trim());
                if !crate::model::head::key_applies(c.head.kind, &key) {
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub fn write_show(out: &mut impl Write, run: &LoadedRun) -> anyhow::Result<()> {
    let rec = &run.record;
    writeln!(out, "run       {}", rec.id)?;
    writeln!(out, "profile   {}", rec.name())?;
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
            crate::store::time::format_duration(rec.duration_secs())
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
        writeln!(out, "data      {}", d.describe(&rec.config))?;
    }
    // The head's parameters as it used them (fixed AdaCos's computed s, not head.s).
    let classes = rec
        .data
        .as_ref()
        .map(|d| crate::data::transforms::head_classes(&rec.config, d.classes));
    let params = crate::model::head::describe_params(&rec.config.head, classes);
    if params.is_empty() {
        writeln!(out, "head      {}", rec.config.head.kind)?;
    } else {
        writeln!(out, "head      {}: {params}", rec.config.head.kind)?;
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
    write!(out, "{}", applicable_toml(&rec.config))?;
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
            if !res.group_auc.is_empty() {
                let (what, col) = match rec.config.data.dataset {
                    crate::config::DatasetKind::Mvtec => ("defect type", "group"),
                    _ => ("anomalous class", "class"),
                };
                writeln!(out, "per {what} (normal test images vs each {what}'s):")?;
                let mut header = vec![col.to_string(), "images".to_string()];
                header.extend(scorers.iter().map(|k| format!("auc {k}")));
                let rows: Vec<Vec<String>> = res
                    .group_auc
                    .iter()
                    .map(|g| {
                        let mut r = vec![g.group.clone(), g.images.to_string()];
                        r.extend(scorers.iter().map(|k| fmt_f(g.auc.get(k).copied())));
                        r
                    })
                    .collect();
                let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
                write_table(out, &hdr, &rows)?;
            }
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

/// `runs compare`: config keys that differ, then metrics with deltas against the first run.
pub fn write_compare(out: &mut impl Write, runs: &[LoadedRun]) -> anyhow::Result<()> {
    let ids: Vec<String> = runs.iter().map(|r| r.record.id.clone()).collect();
    let flat: Vec<BTreeMap<String, String>> =
        runs.iter().map(|r| r.record.config.flatten()).collect();
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
                    .map(|r| crate::store::time::format_duration(r.record.duration_secs())),
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

/// The final human-readable table: one row per seed, then the summary.
pub fn final_table(config: &Config, tally: &Tally) -> String {
    let scorers = &config.score.scorers;
    let mut out = String::new();
    out.push_str(&format!("{:<8} {:<12}", "seed", "status"));
    for s in scorers {
        out.push_str(&format!(" {:>12}", s.as_str()));
    }
    out.push('\n');
    for r in &tally.seeds {
        let status = Outcome::label_or_running(r.outcome.as_ref());
        out.push_str(&format!("{:<8} {:<12}", r.seed, status));
        for s in scorers {
            match r.auc.get(s) {
                Some(v) => out.push_str(&format!(" {v:>12.4}")),
                None => out.push_str(&format!(" {:>12}", "-")),
            }
        }
        out.push('\n');
    }
    let summary = &tally.summary;
    if tally.seeds.len() > 1 && !summary.is_empty() {
        for (label, f) in [
            ("median", (|s: &Summary| s.median) as fn(&Summary) -> f64),
            ("mean", |s| s.mean),
            ("min", |s| s.min),
            ("q1", |s| s.q1),
            ("q3", |s| s.q3),
            ("max", |s| s.max),
        ] {
            out.push_str(&format!("{label:<8} {:<12}", ""));
            for s in scorers {
                match summary.get(s) {
                    Some(v) => out.push_str(&format!(" {:>12.4}", f(v))),
                    None => out.push_str(&format!(" {:>12}", "-")),
                }
            }
            out.push('\n');
        }
    }
    out
}
