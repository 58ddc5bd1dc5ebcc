//! The detector of a saved run as the command line shows it: `runs export-detector` and the
//! detector part of `runs show` (saved or why not, size, calibrated thresholds, operating points
//! chosen on the test set).

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};

use super::report::table::write_table;
use crate::job::format_bytes as human_bytes;
use crate::job::score::calibration_words;
use crate::score::state::operating_points;
use crate::store::detector::{self, DETECTOR_FILE};
use crate::store::{LoadedRun, Store};

/// `adalab runs export-detector RUN -o DIR`: the checked detector file and its readable
/// description `detector.toml`.
pub fn export_detector(
    store: &Store,
    id: &str,
    dir: &Path,
    force: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let d = store.load_detector(id)?;
    let weights = dir.join(DETECTOR_FILE);
    let toml_path = dir.join("detector.toml");
    if !force {
        for p in [&weights, &toml_path] {
            if p.exists() {
                bail!("{} already exists (use --force to replace it)", p.display());
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bytes =
        std::fs::read(&d.path).with_context(|| format!("cannot read {}", d.path.display()))?;
    crate::store::write_atomic(&weights, &bytes)?;
    let text = format!(
        "# adalab detector of run {} — the tensors are in {DETECTOR_FILE} (safetensors); the \
         format is described in adalab's README, \"Use a trained detector\".\n{}",
        d.meta.run,
        toml::to_string(&d.meta)?
    );
    crate::store::write_atomic(&toml_path, text.as_bytes())?;
    writeln!(
        out,
        "exported the detector of run {} to {}: {DETECTOR_FILE} ({}), detector.toml",
        d.meta.run,
        dir.display(),
        human_bytes(bytes.len() as u64)
    )?;
    Ok(())
}

/// The detector section of `runs show`: whether one is saved, its size and calibrated
/// thresholds, and the operating points chosen on the test set.
pub fn write_show_detector(out: &mut impl Write, run: &LoadedRun) -> anyhow::Result<()> {
    writeln!(out)?;
    writeln!(out, "## detector")?;
    let path = run.dir.join(DETECTOR_FILE);
    if detector::saved_size(&run.dir).is_none() {
        writeln!(out, "none: {}", detector::why_missing(run))?;
    } else {
        match detector::read(&path) {
            Err(e) => writeln!(out, "unusable: {e}")?,
            Ok(d) => {
                let m = &d.meta;
                writeln!(
                    out,
                    "saved     {DETECTOR_FILE}, {} (seed {}, epoch {}, {} view{}, {} normal \
                     embeddings of dim {})",
                    human_bytes(d.bytes),
                    m.seed,
                    m.epoch,
                    m.scorer.views.len(),
                    if m.scorer.views.len() == 1 { "" } else { "s" },
                    m.scorer.normal_images,
                    m.scorer.dim
                )?;
                if m.threshold.images > 0 {
                    writeln!(
                        out,
                        "thresholds calibrated on {}; flag when the score is above:",
                        calibration_words(m)
                    )?;
                    let rows: Vec<Vec<String>> = m
                        .threshold
                        .at_fpr
                        .iter()
                        .map(|(k, t)| {
                            let mut r = vec![k.to_string()];
                            r.extend(t.values().map(|v| format!("{v:.5}")));
                            r
                        })
                        .collect();
                    let mut hdr = vec!["scorer".to_string()];
                    hdr.extend(detector::LISTED_FPRS.iter().map(|f| format!("fpr={f}")));
                    let hdr: Vec<&str> = hdr.iter().map(String::as_str).collect();
                    write_table(out, &hdr, &rows)?;
                } else {
                    writeln!(
                        out,
                        "no calibrated thresholds (score.calibration_folds = 0)"
                    )?;
                }
            }
        }
    }
    let Ok(scores) = crate::store::scores::read(&run.dir.join(crate::store::SCORES_FILE)) else {
        return Ok(());
    };
    let mut rows = Vec::new();
    for k in &run.record.config.score.scorers {
        let Some(v) = scores.scores.get(k) else {
            continue;
        };
        if let Some((best, at)) = operating_points(v, &scores.labels, &[0.01, 0.05]) {
            rows.push(vec![
                k.to_string(),
                format!("{:.4} at > {:.5}", best.f1, best.threshold),
                format!("{:.4} at > {:.5}", at[0].recall, at[0].threshold),
                format!("{:.4} at > {:.5}", at[1].recall, at[1].threshold),
            ]);
        }
    }
    if !rows.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "## operating points chosen on the test set (first seed; optimistic: the \
             threshold saw the test labels)"
        )?;
        write_table(
            out,
            &["scorer", "best F1", "recall at FPR 1%", "recall at FPR 5%"],
            &rows,
        )?;
    }
    Ok(())
}
