//! `adalab score RUN_ID PATH…`: apply a run's saved detector to image files and folders, or to
//! a dataset split; a verdict per image against a threshold calibrated at training time (or
//! given).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context};
use serde_json::json;

use super::report::table::write_table;
use super::Exit;
use crate::config::DatasetKind;
use crate::job::score::{
    parse_threshold, read_files, read_split, resolve_threshold, score_inputs, Inputs, ScoreError,
    ScoreProgress, Scored, SplitChoice, Threshold, DEFAULT_THRESHOLD,
};
use crate::score::roc_auc;
use crate::score::state::quantile;
use crate::store::detector::LoadedDetector;
use crate::store::Store;

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Exit status: 0 the images were scored (also when some are flagged: \
                        read the verdicts), 1 the run has no usable detector or an input could \
                        not be read, 2 bad usage."
)]
pub struct ScoreArgs {
    /// Run id (or a unique prefix) whose detector scores the images.
    pub run: String,
    /// Image files and folders (read recursively: png, jpg, jpeg, bmp, tif, tiff, gif).
    pub paths: Vec<PathBuf>,
    /// Score a dataset split instead of files: `test` (or `train`) images of the run's normal
    /// and anomalous classes, as the run's evaluation saw them; the summary adds the AUC.
    #[arg(long, value_parser = ["test", "train"])]
    pub split: Option<String>,
    /// With --split: the dataset to read (default: the run's own).
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,
    /// With --split: the folder holding the dataset (overrides $ADALAB_DATA).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Flag images whose score is above this: `fpr=F` (the threshold that flags a fraction F
    /// of held-out normal training images, calibrated when the run trained) or a raw score.
    #[arg(long, default_value = DEFAULT_THRESHOLD, value_parser = parse_threshold)]
    pub threshold: Threshold,
    /// The scorer whose score the verdict uses (default: the run's primary scorer).
    #[arg(long, value_name = "NAME")]
    pub scorer: Option<String>,
    /// Skip files that cannot be decoded (listed on stderr) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Print CSV (one row per image) instead of the table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Progress on stderr: what is loaded, skipped files, and every 10% of long decoding (from
/// 500 files) and embedding (from 1000 images).
fn console_progress() -> impl FnMut(ScoreProgress) {
    let (mut next_decode, mut next_embed) = (1, 1);
    move |p| match p {
        ScoreProgress::Loading(k) => crate::say!("loading {k}"),
        ScoreProgress::Skipped(p) => crate::say!("skipped {p}"),
        ScoreProgress::Decoding { done, total } => {
            if total >= 500 && done * 10 >= next_decode * total {
                next_decode = done * 10 / total + 1;
                crate::say!("decoded {done} of {total} images");
            }
        }
        ScoreProgress::Embedding { done, total } => {
            if total >= 1000 && done * 10 >= next_embed * total {
                next_embed = done * 10 / total + 1;
                crate::say!("embedded {}%", done * 100 / total);
            }
        }
    }
}

/// The images `args` names: files and folders, or a dataset split.
fn read_inputs(
    args: &ScoreArgs,
    d: &LoadedDetector,
    progress: &mut dyn FnMut(ScoreProgress),
) -> anyhow::Result<Inputs> {
    let Some(split) = &args.split else {
        let never = AtomicBool::new(false);
        return Ok(read_files(d, &args.paths, args.skip_bad, &never, progress)?);
    };
    if !args.paths.is_empty() {
        bail!("give image PATHs or --split, not both");
    }
    let dataset = match &args.dataset {
        Some(name) => Some(
            DatasetKind::parse(name)
                .with_context(|| format!("--dataset: unknown dataset `{name}`"))?,
        ),
        None => None,
    };
    let choice = SplitChoice {
        split: split.clone(),
        dataset,
        data_dir: args.data_dir.clone(),
    };
    Ok(read_split(d, &choice, progress)?)
}

/// `adalab score`.
pub fn run(args: &ScoreArgs, home: Option<&Path>) -> anyhow::Result<Exit> {
    let store = Store::open(home)?;
    let d = store.load_detector(&args.run)?;
    let verdict = match resolve_threshold(&d, args.scorer.as_deref(), args.threshold) {
        Err(e @ ScoreError::NotCalibrated { .. }) => {
            bail!("{e}; give one with --threshold VALUE")
        }
        v => v?,
    };
    let mut progress = console_progress();
    let inputs = read_inputs(args, &d, &mut progress)?;
    let never = AtomicBool::new(false);
    let scored = score_inputs(&d, &inputs, verdict, &never, &mut progress)?;
    let mut out = super::out();
    if args.json {
        write_json(&mut out, &d, &inputs, &scored)?;
    } else if args.csv {
        write_csv(&mut out, &inputs, &scored)?;
    } else {
        write_human(&mut out, &d, &inputs, &scored)?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

fn label_word(a: bool) -> &'static str {
    if a {
        "anomalous"
    } else {
        "normal"
    }
}

fn verdict_word(f: bool) -> &'static str {
    if f {
        "ANOMALOUS"
    } else {
        "normal"
    }
}

/// One line per image: `path,label,score_<scorer>…,flagged`.
pub fn write_csv(out: &mut impl Write, inputs: &Inputs, s: &Scored) -> anyhow::Result<()> {
    let quote = |t: &str| {
        if t.contains([',', '"', '\n']) {
            format!("\"{}\"", t.replace('"', "\"\""))
        } else {
            t.to_string()
        }
    };
    write!(out, "path")?;
    if inputs.labels.is_some() {
        write!(out, ",label")?;
    }
    for k in &s.scorers {
        write!(out, ",score_{k}")?;
    }
    writeln!(out, ",flagged")?;
    for (i, name) in inputs.names.iter().enumerate() {
        write!(out, "{}", quote(name))?;
        if let Some(l) = &inputs.labels {
            write!(out, ",{}", label_word(l[i]))?;
        }
        for k in &s.scorers {
            write!(out, ",{}", s.scores[k][i])?;
        }
        writeln!(out, ",{}", s.flagged[i])?;
    }
    Ok(())
}

fn summary_quantiles(v: &[f32]) -> [f64; 5] {
    let mut sorted = v.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    [0.0, 0.5, 0.9, 0.99, 1.0].map(|q| quantile(&sorted, q).unwrap_or(f64::NAN))
}

fn write_json(
    out: &mut impl Write,
    d: &LoadedDetector,
    inputs: &Inputs,
    s: &Scored,
) -> anyhow::Result<()> {
    let images: Vec<_> = inputs
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let scores: serde_json::Map<String, serde_json::Value> = s
                .scorers
                .iter()
                .map(|k| (k.to_string(), json!(s.scores[k][i])))
                .collect();
            let mut v = json!({"path": name, "scores": scores, "flagged": s.flagged[i]});
            if let Some(l) = &inputs.labels {
                v["label"] = json!(label_word(l[i]));
            }
            v
        })
        .collect();
    let quantiles: serde_json::Map<String, serde_json::Value> = s
        .scorers
        .iter()
        .map(|k| {
            let q = summary_quantiles(&s.scores[k]);
            (
                k.to_string(),
                json!({"min": q[0], "median": q[1], "q90": q[2], "q99": q[3], "max": q[4]}),
            )
        })
        .collect();
    let mut summary = json!({
        "images": inputs.names.len(),
        "flagged": s.n_flagged(),
        "quantiles": quantiles,
    });
    if let Some(l) = &inputs.labels {
        let auc: serde_json::Map<String, serde_json::Value> = s
            .scorers
            .iter()
            .map(|k| (k.to_string(), json!(roc_auc(&s.scores[k], l))))
            .collect();
        summary["auc"] = json!(auc);
    }
    let doc = json!({
        "run": d.meta.run,
        "seed": d.meta.seed,
        "threshold": {"scorer": s.verdict.scorer.as_str(), "value": s.verdict.threshold, "rule": s.verdict.rule},
        "images": images,
        "summary": summary,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn write_human(
    out: &mut impl Write,
    d: &LoadedDetector,
    inputs: &Inputs,
    s: &Scored,
) -> anyhow::Result<()> {
    let mut header = vec!["image".to_string()];
    if inputs.labels.is_some() {
        header.push("label".into());
    }
    header.extend(s.scorers.iter().map(|k| k.to_string()));
    header.push("verdict".into());
    let rows: Vec<Vec<String>> = (0..inputs.names.len())
        .map(|i| {
            let mut r = vec![inputs.names[i].clone()];
            if let Some(l) = &inputs.labels {
                r.push(label_word(l[i]).into());
            }
            r.extend(s.scorers.iter().map(|k| format!("{:.5}", s.scores[k][i])));
            r.push(verdict_word(s.flagged[i]).into());
            r
        })
        .collect();
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    write_table(out, &hdr, &rows)?;
    let n = inputs.names.len();
    let flagged = s.n_flagged();
    writeln!(out)?;
    writeln!(
        out,
        "run {} (seed {}, epoch {}): {n} images, {flagged} flagged ({:.1}%)",
        d.meta.run,
        d.meta.seed,
        d.meta.epoch,
        100.0 * flagged as f64 / n.max(1) as f64
    )?;
    writeln!(out, "verdict: {}", s.verdict.rule)?;
    let q: Vec<Vec<String>> = s
        .scorers
        .iter()
        .map(|k| {
            let q = summary_quantiles(&s.scores[k]);
            let mut r = vec![k.to_string()];
            r.extend(q.iter().map(|v| format!("{v:.5}")));
            r
        })
        .collect();
    write_table(out, &["scores", "min", "median", "q90", "q99", "max"], &q)?;
    if let Some(l) = &inputs.labels {
        let auc: Vec<String> = s
            .scorers
            .iter()
            .map(|k| format!("{k} {:.4}", roc_auc(&s.scores[k], l)))
            .collect();
        writeln!(out, "AUC against the split's labels: {}", auc.join(", "))?;
    }
    Ok(())
}
