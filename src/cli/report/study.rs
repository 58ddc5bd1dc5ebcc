//! `adalab study show`: per cell, n, median, quartiles and extremes of every scorer's AUC, the
//! comparison with the first cell (difference of medians with a 95% paired bootstrap interval
//! over seeds), and the boxplot; as a table with the plot, Markdown, CSV or JSON.

use std::io::Write;

use serde_json::json;

use super::boxplot;
use super::table;
use crate::config::ScorerKind;
use crate::score::Summary;
use crate::store::studies::{CellResults, Study};

fn f4(v: f64) -> String {
    format!("{v:.4}")
}

/// The scorers any cell has results for, the study's own first.
fn scorers(study: &Study, results: &[CellResults]) -> Vec<ScorerKind> {
    let mut out = vec![study.scorer];
    for k in ScorerKind::ALL {
        if k != study.scorer && results.iter().any(|c| c.summary.contains_key(&k)) {
            out.push(k);
        }
    }
    out
}

fn progress(results: &[CellResults]) -> (usize, usize, usize) {
    let done = results.iter().map(|c| c.done).sum();
    let running = results.iter().map(|c| c.running).sum();
    let total = results.iter().map(|c| c.total).sum();
    (done, running, total)
}

fn summary_row(label: &str, k: ScorerKind, s: &Summary) -> Vec<String> {
    vec![
        label.to_string(),
        k.to_string(),
        s.n.to_string(),
        f4(s.median),
        f4(s.q1),
        f4(s.q3),
        f4(s.min),
        f4(s.max),
    ]
}

/// Below this many paired seeds a bootstrap interval (and a boxplot's quartiles) says little:
/// the report prints it with a caution.
pub use crate::figure::study::MEANINGFUL_PAIRS;

/// The caution printed under a comparison of fewer than [`MEANINGFUL_PAIRS`] paired seeds.
pub fn few_seeds_caution(pairs: usize) -> String {
    format!(
        "caution: {pairs} paired seed{}; below {MEANINGFUL_PAIRS} the interval is not meaningful",
        if pairs == 1 { "" } else { "s" }
    )
}

/// The fewest paired seeds of any comparison, when below [`MEANINGFUL_PAIRS`].
fn too_few_pairs(results: &[CellResults]) -> Option<usize> {
    results
        .iter()
        .filter_map(|c| c.comparison.as_ref().map(|x| x.pairs))
        .min()
        .filter(|n| *n < MEANINGFUL_PAIRS)
}

fn comparison_text(c: &CellResults) -> String {
    match &c.comparison {
        Some(x) if x.pairs < MEANINGFUL_PAIRS => format!(
            "{:+.4} [{:+.4}, {:+.4}], {} seeds: not meaningful",
            x.median_diff, x.low, x.high, x.pairs
        ),
        Some(x) => format!(
            "{:+.4} [{:+.4}, {:+.4}] over {} paired seeds",
            x.median_diff, x.low, x.high, x.pairs
        ),
        None => "(needs two seeds finished in both)".into(),
    }
}

/// The terminal report: header, boxplot of the study's scorer, the table, the comparison.
pub fn write_table(
    out: &mut impl Write,
    study: &Study,
    results: &[CellResults],
) -> anyhow::Result<()> {
    let (done, running, total) = progress(results);
    writeln!(out, "study {}", study.title())?;
    if !study.description.is_empty() {
        writeln!(out, "{}", study.description)?;
    }
    writeln!(
        out,
        "{} cells × {} seeds: {done}/{total} runs finished{}",
        study.cells.len(),
        study.seeds,
        if running > 0 {
            format!(", {running} running")
        } else {
            String::new()
        }
    )?;
    writeln!(out)?;
    let rows: Vec<boxplot::Row<'_>> = results
        .iter()
        .map(|c| boxplot::Row {
            label: &c.short,
            summary: c.summary.get(&study.scorer),
        })
        .collect();
    for l in boxplot::draw(&rows, 80, &format!("ROC AUC ({})", study.scorer)) {
        writeln!(out, "{l}")?;
    }
    writeln!(out, "box: quartiles   ┃ median   whiskers: min to max")?;
    writeln!(out)?;
    let mut rows_out = Vec::new();
    for k in scorers(study, results) {
        for c in results {
            if let Some(s) = c.summary.get(&k) {
                rows_out.push(summary_row(&c.short, k, s));
            }
            if let Some(s) = c.identity_summary.get(&k) {
                rows_out.push(summary_row(&format!("{} (identity view)", c.short), k, s));
            }
        }
    }
    if rows_out.is_empty() {
        writeln!(out, "no finished runs yet")?;
    } else {
        table::write_table(
            out,
            &["cell", "scorer", "n", "median", "q1", "q3", "min", "max"],
            &rows_out,
        )?;
    }
    if results.len() > 1 {
        writeln!(out)?;
        writeln!(
            out,
            "difference of medians against {} ({}),",
            results[0].short, study.scorer
        )?;
        writeln!(out, "with its 95% paired bootstrap interval over seeds:")?;
        let rows: Vec<Vec<String>> = results
            .iter()
            .skip(1)
            .map(|c| vec![c.short.clone(), comparison_text(c)])
            .collect();
        table::write_table(out, &["cell", "difference"], &rows)?;
        if let Some(n) = too_few_pairs(results) {
            writeln!(out, "{}", few_seeds_caution(n))?;
        }
    }
    super::reference::write_table(out, study, results)?;
    Ok(())
}

/// A Markdown table per cell and scorer, and the comparison.
pub fn write_markdown(
    out: &mut impl Write,
    study: &Study,
    results: &[CellResults],
) -> anyhow::Result<()> {
    let (done, _, total) = progress(results);
    writeln!(out, "## Study `{}`\n", study.title())?;
    if !study.description.is_empty() {
        writeln!(out, "{}\n", study.description)?;
    }
    writeln!(
        out,
        "{} cells × {} seeds, {done}/{total} runs finished.\n",
        study.cells.len(),
        study.seeds
    )?;
    writeln!(out, "| cell | scorer | n | median | q1 | q3 | min | max |")?;
    writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|")?;
    for k in scorers(study, results) {
        for c in results {
            if let Some(s) = c.summary.get(&k) {
                writeln!(out, "| {} |", summary_row(&c.short, k, s).join(" | "))?;
            }
        }
    }
    if results.len() > 1 {
        writeln!(
            out,
            "\nDifference of medians against **{}** ({}), 95% paired bootstrap interval:\n",
            results[0].short, study.scorer
        )?;
        writeln!(out, "| cell | difference |")?;
        writeln!(out, "|---|---|")?;
        for c in results.iter().skip(1) {
            writeln!(out, "| {} | {} |", c.short, comparison_text(c))?;
        }
        if let Some(n) = too_few_pairs(results) {
            writeln!(out, "\n*{}*", few_seeds_caution(n))?;
        }
    }
    super::reference::write_markdown(out, study, results)?;
    Ok(())
}

/// One CSV row per cell and scorer.
pub fn write_csv(
    out: &mut impl Write,
    study: &Study,
    results: &[CellResults],
) -> anyhow::Result<()> {
    writeln!(
        out,
        "study,cell,label,scorer,n,median,q1,q3,min,max,diff_vs_first,diff_low,diff_high"
    )?;
    for k in scorers(study, results) {
        for c in results {
            let Some(s) = c.summary.get(&k) else {
                continue;
            };
            let (d, lo, hi) = match (&c.comparison, k == study.scorer) {
                (Some(x), true) => (f4(x.median_diff), f4(x.low), f4(x.high)),
                _ => Default::default(),
            };
            let label = if c.label.contains([',', '"']) {
                format!("\"{}\"", c.label.replace('"', "\"\""))
            } else {
                c.label.clone()
            };
            writeln!(
                out,
                "{},{},{label},{k},{},{},{},{},{},{},{d},{lo},{hi}",
                study.name,
                c.cell + 1,
                s.n,
                f4(s.median),
                f4(s.q1),
                f4(s.q3),
                f4(s.min),
                f4(s.max)
            )?;
        }
    }
    Ok(())
}

/// Everything as one JSON document.
pub fn write_json(
    out: &mut impl Write,
    study: &Study,
    results: &[CellResults],
) -> anyhow::Result<()> {
    let (done, running, total) = progress(results);
    let cells: Vec<serde_json::Value> = results
        .iter()
        .map(|c| {
            json!({
                "cell": c.cell + 1,
                "label": c.label,
                "short": c.short,
                "done": c.done,
                "running": c.running,
                "total": c.total,
                "summary": c.summary,
                "identity_summary": c.identity_summary,
                "values": c.values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<std::collections::BTreeMap<_, _>>(),
                "comparison": c.comparison,
                "runs": c.runs.iter().map(|(s, id)| json!({"seed": s, "id": id})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "study": study.name,
        "overrides": study.overrides,
        "description": study.description,
        "seeds": study.seeds,
        "scorer": study.scorer.as_str(),
        "done": done,
        "running": running,
        "total": total,
        "cells": cells,
        "reference": super::reference::json_value(study, results),
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}
