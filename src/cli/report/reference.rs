//! A study's `[reference]` printed beside its cells: per cell the measured median and mean on
//! the study's scorer, the published value and the difference, then the mean over the cells
//! and the worst cell — as a table, Markdown or JSON.

use std::io::Write;

use serde_json::json;

use super::{fmt_f, table};
use crate::store::studies::CellResults;
use crate::store::studies::{reference_rows, ReferenceRow, Study};

fn diff(r: &ReferenceRow) -> String {
    match (r.mean, r.published) {
        (Some(m), Some(p)) => format!("{:+.4}", m - p),
        _ => "-".into(),
    }
}

fn cells(r: &ReferenceRow) -> Vec<String> {
    vec![
        r.label.clone(),
        r.n.to_string(),
        fmt_f(r.median),
        fmt_f(r.mean),
        fmt_f(r.published),
        diff(r),
    ]
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn header(study: &Study) -> Option<(String, Vec<String>)> {
    let r = study.reference.as_ref()?;
    let title = format!(
        "against {} on {} (source: {}):",
        r.name, study.scorer, r.source
    );
    let cols = vec![
        "cell".to_string(),
        "n".to_string(),
        "median".to_string(),
        "mean".to_string(),
        r.name.clone(),
        format!("mean − {}", r.name),
    ];
    Some((title, cols))
}

/// The comparison as a plain-text table (nothing without a `[reference]`).
pub fn write_table(
    out: &mut impl Write,
    study: &Study,
    results: &[CellResults],
) -> anyhow::Result<()> {
    let Some((title, cols)) = header(study) else {
        return Ok(());
    };
    writeln!(out)?;
    for line in wrap(&title, 80) {
        writeln!(out, "{line}")?;
    }
    let rows: Vec<Vec<String>> = reference_rows(study, results, study.scorer)
        .iter()
        .map(cells)
        .collect();
    let hdr: Vec<&str> = cols.iter().map(String::as_str).collect();
    table::write_table(out, &hdr, &rows)
}

/// The comparison as a Markdown table.
pub fn write_markdown(
    out: &mut impl Write,
    study: &Study,
    results: &[CellResults],
) -> anyhow::Result<()> {
    let Some((title, cols)) = header(study) else {
        return Ok(());
    };
    writeln!(out, "\n{}\n", title.trim_end_matches(':'))?;
    writeln!(out, "| {} |", cols.join(" | "))?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    for r in reference_rows(study, results, study.scorer) {
        writeln!(out, "| {} |", cells(&r).join(" | "))?;
    }
    Ok(())
}

/// The comparison for the JSON report (`null` without a `[reference]`).
pub fn json_value(study: &Study, results: &[CellResults]) -> serde_json::Value {
    let Some(r) = &study.reference else {
        return serde_json::Value::Null;
    };
    let rows: Vec<serde_json::Value> = reference_rows(study, results, study.scorer)
        .iter()
        .map(|x| {
            json!({
                "label": x.label,
                "n": x.n,
                "median": x.median,
                "mean": x.mean,
                "published": x.published,
            })
        })
        .collect();
    json!({
        "name": r.name,
        "source": r.source,
        "scorer": study.scorer.as_str(),
        "rows": rows,
    })
}
