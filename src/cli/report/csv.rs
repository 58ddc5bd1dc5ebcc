//! CSV: `runs export --format csv`.

use std::io::Write;

use crate::config::ScorerKind;
use crate::store::LoadedRun;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV row per run; AUC/AP columns for every scorer (median over seeds when repeated),
/// then one column per config key (`train.epochs`, …; empty where a run leaves it unset).
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
    // Set when the AUCs are not finished seeds' final results: `ep 5, interrupted`.
    header.push("auc_note".into());
    header.extend(crate::config::KEYS.iter().map(|k| k.name.to_string()));
    writeln!(out, "{}", header.join(","))?;
    for r in runs {
        let rec = &r.record;
        let c = &rec.config;
        let mut f = vec![
            rec.id.clone(),
            rec.name(),
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
        f.push(rec.result_note(r.status).unwrap_or_default());
        f.extend(
            crate::config::KEYS
                .iter()
                .map(|k| (k.get)(c).unwrap_or_default()),
        );
        let line: Vec<String> = f.iter().map(|s| csv_field(s)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}
