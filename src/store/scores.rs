//! Per-image scores of a final evaluation as CSV: `index,label,score_<scorer>…`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::error::StoreError;
use super::fsutil;
use crate::config::ScorerKind;
use crate::score::Evaluation;

/// Per-image scores read back from a scores CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Position of each image in the test split.
    pub index: Vec<usize>,
    /// Per image: true = anomalous.
    pub labels: Vec<bool>,
    /// Per scorer, one score per image (higher = more anomalous).
    pub scores: BTreeMap<ScorerKind, Vec<f32>>,
}

/// Renders an evaluation's labels and scores; fails when the lengths disagree.
pub fn to_csv(ev: &Evaluation) -> Result<String, String> {
    let n = ev.labels.len();
    for (k, v) in &ev.scores {
        if v.len() != n {
            return Err(format!(
                "evaluation has {n} labels but {} `{k}` scores",
                v.len()
            ));
        }
    }
    let mut out = String::with_capacity(32 * (n + 1));
    out.push_str("index,label");
    for k in ev.scores.keys() {
        let _ = write!(out, ",score_{k}");
    }
    out.push('\n');
    for (i, &anomalous) in ev.labels.iter().enumerate() {
        let _ = write!(
            out,
            "{i},{}",
            if anomalous { "anomalous" } else { "normal" }
        );
        for v in ev.scores.values() {
            let _ = write!(out, ",{}", v[i]);
        }
        out.push('\n');
    }
    Ok(out)
}

pub fn write(path: &Path, ev: &Evaluation) -> Result<(), StoreError> {
    let text = to_csv(ev).map_err(|m| StoreError::invalid(path, m))?;
    fsutil::write_atomic(path, text.as_bytes())
}

pub fn read(path: &Path) -> Result<Scores, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| StoreError::io(path, "read", e))?;
    parse(&text).map_err(|m| StoreError::invalid(path, m))
}

/// Parses scores CSV text; errors name the line.
pub fn parse(text: &str) -> Result<Scores, String> {
    let mut lines = text.lines().enumerate();
    let header = match lines.next() {
        Some((_, h)) => h,
        None => return Err("empty file (expected a header line)".into()),
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.len() < 2 || cols[0] != "index" || cols[1] != "label" {
        return Err("line 1: header must start with `index,label`".into());
    }
    let mut kinds = Vec::new();
    for c in &cols[2..] {
        let name = c
            .strip_prefix("score_")
            .ok_or_else(|| format!("line 1: column `{c}` should be score_<scorer>"))?;
        let k = ScorerKind::parse(name)
            .ok_or_else(|| format!("line 1: unknown scorer `{name}` in column `{c}`"))?;
        if kinds.contains(&k) {
            return Err(format!("line 1: column `{c}` appears twice"));
        }
        kinds.push(k);
    }
    let mut index = Vec::new();
    let mut labels = Vec::new();
    let mut cols_data: Vec<Vec<f32>> = vec![Vec::new(); kinds.len()];
    for (i, line) in lines {
        let ln = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != cols.len() {
            return Err(format!(
                "line {ln}: {} fields, expected {}",
                fields.len(),
                cols.len()
            ));
        }
        index.push(
            fields[0]
                .parse::<usize>()
                .map_err(|_| format!("line {ln}: index `{}` is not a number", fields[0]))?,
        );
        labels.push(match fields[1] {
            "anomalous" => true,
            "normal" => false,
            other => {
                return Err(format!(
                    "line {ln}: label `{other}` must be normal or anomalous"
                ))
            }
        });
        for (j, col) in cols_data.iter_mut().enumerate() {
            let f = fields[j + 2];
            col.push(
                f.parse::<f32>()
                    .map_err(|_| format!("line {ln}: score `{f}` is not a number"))?,
            );
        }
    }
    Ok(Scores {
        index,
        labels,
        scores: kinds.into_iter().zip(cols_data).collect(),
    })
}
