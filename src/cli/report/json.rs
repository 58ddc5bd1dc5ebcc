//! JSON: `runs list --json`, `runs export --format json`.

use std::io::Write;

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::job::Tally;
use crate::store::{LoadedRun, RunEntry};
use crate::train::Outcome;

pub fn write_list_json(out: &mut impl Write, entries: &[RunEntry]) -> anyhow::Result<()> {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| match e {
            RunEntry::Ok(r) => {
                let rec = &r.record;
                serde_json::json!({
                    "id": rec.id,
                    "profile": rec.profile,
                    "changes": rec.changes,
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

/// The `--json` document: `runs` (one object per seed) and `summary` (primary scorer first).
pub fn final_json(config: &Config, tally: &Tally, run_id: Option<&str>) -> Value {
    let scorers = &config.score.scorers;
    let runs: Vec<Value> = tally
        .seeds
        .iter()
        .map(|r| {
            let mut auc = Map::new();
            for s in scorers {
                if let Some(v) = r.auc.get(s) {
                    auc.insert(s.as_str().into(), json!(v));
                }
            }
            let status = Outcome::label_or_running(r.outcome.as_ref());
            let reason = match &r.outcome {
                Some(Outcome::Failed { reason }) => Some(reason.clone()),
                _ => None,
            };
            let epochs: Vec<Value> = r
                .epochs
                .iter()
                .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
                .collect();
            let mut o = Map::new();
            o.insert("seed".into(), json!(r.seed));
            o.insert("status".into(), json!(status));
            if let Some(reason) = reason {
                o.insert("reason".into(), json!(reason));
            }
            o.insert("auc".into(), Value::Object(auc));
            o.insert("epochs".into(), Value::Array(epochs));
            Value::Object(o)
        })
        .collect();
    let summary = &tally.summary;
    let mut sm = Map::new();
    for s in scorers {
        if let Some(v) = summary.get(s) {
            sm.insert(
                s.as_str().into(),
                serde_json::to_value(v).unwrap_or(Value::Null),
            );
        }
    }
    let status = Outcome::label_or_running(tally.outcome.as_ref());
    let mut doc = Map::new();
    if let Some(id) = run_id {
        doc.insert("run_id".into(), json!(id));
    }
    doc.insert("status".into(), json!(status));
    if let Some(Outcome::Failed { reason }) = &tally.outcome {
        doc.insert("reason".into(), json!(reason));
    }
    doc.insert(
        "primary_scorer".into(),
        json!(config.primary_scorer().as_str()),
    );
    doc.insert("runs".into(), Value::Array(runs));
    doc.insert("summary".into(), Value::Object(sm));
    Value::Object(doc)
}
