//! Markdown: `runs export --format md`.

use std::io::Write;

use super::{epochs_label, fmt_f};
use crate::store::LoadedRun;

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
            esc(&rec.name()),
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
