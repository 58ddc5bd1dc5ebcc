//! `adalab score RUN_ID PATH…`: apply a run's saved detector to image files and folders, or to
//! a dataset split; a verdict per image against a threshold calibrated at training time (or
//! given).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context};
use serde_json::json;

use super::report::table::write_table;
use super::Exit;
use crate::config::{DatasetKind, ScorerKind};
use crate::data::folder::files::{decode_images, list_images};
use crate::score::roc_auc;
use crate::score::state::quantile;
use crate::store::detector::{self, LoadedDetector};
use crate::store::Store;

/// The default verdict threshold.
pub const DEFAULT_THRESHOLD: &str = "fpr=0.05";

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

/// A verdict threshold as given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// The calibrated threshold of this false positive rate.
    Fpr(f64),
    /// A raw score.
    Value(f32),
}

/// `fpr=0.05` or a number.
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let s = s.trim();
    if let Some(f) = s.strip_prefix("fpr=") {
        let v: f64 = f
            .parse()
            .map_err(|_| format!("`{f}` is not a number (use e.g. fpr=0.05)"))?;
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("fpr={v} is not a rate between 0 and 1"));
        }
        return Ok(Threshold::Fpr(v));
    }
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(Threshold::Value(v)),
        _ => Err(format!(
            "`{s}` is neither fpr=RATE (e.g. fpr=0.05) nor a finite score"
        )),
    }
}

/// The images to score, decoded, with their names and labels when known.
pub struct Inputs {
    pub names: Vec<String>,
    pub x: Vec<f32>,
    pub labels: Option<Vec<bool>>,
}

/// The scores of a set of images and their verdicts.
pub struct Scored {
    pub scorers: Vec<ScorerKind>,
    pub scores: BTreeMap<ScorerKind, Vec<f32>>,
    pub verdict_scorer: ScorerKind,
    pub threshold: f32,
    /// How the threshold was chosen, in words.
    pub rule: String,
    pub flagged: Vec<bool>,
}

/// The verdict scorer and threshold value of a detector for `args`.
pub fn resolve_threshold(
    d: &LoadedDetector,
    scorer: Option<&str>,
    t: Threshold,
) -> anyhow::Result<(ScorerKind, f32, String)> {
    let configured = &d.detector.config.score.scorers;
    let k = match scorer {
        None => *configured
            .first()
            .context("the detector has no scorer (its config lists none)")?,
        Some(name) => {
            let k = ScorerKind::parse(name).with_context(|| {
                format!(
                    "--scorer: unknown scorer `{name}` (use {})",
                    ScorerKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })?;
            if !configured.contains(&k) {
                bail!(
                    "--scorer: run `{}` did not score with {k} (it used {})",
                    d.meta.run,
                    configured
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            k
        }
    };
    match t {
        Threshold::Value(v) => Ok((k, v, format!("{k} > {v} (given)"))),
        Threshold::Fpr(f) => {
            let cal = d.detector.state.calibration.get(&k);
            let Some(v) = cal.and_then(|c| crate::score::threshold_at_fpr(c, f)) else {
                bail!(
                    "{}: run `{}` has no calibrated {k} threshold (trained with \
                     score.calibration_folds = 0); give one with --threshold VALUE",
                    d.path.display(),
                    d.meta.run
                );
            };
            Ok((
                k,
                v,
                format!("{k} > {v} (fpr={f} on {})", calibration_words(&d.meta)),
            ))
        }
    }
}

/// `1000 spare normal images` / `1000 normal training images, 10-fold cross-fit`.
pub fn calibration_words(m: &detector::DetectorMeta) -> String {
    if m.threshold.folds == 0 {
        format!(
            "{} held-out normal images the run did not train on",
            m.threshold.images
        )
    } else {
        format!(
            "{} normal training images, {}-fold cross-fit",
            m.threshold.images, m.threshold.folds
        )
    }
}

/// Reads the images `args` names: files and folders, or a dataset split.
pub fn read_inputs(args: &ScoreArgs, d: &LoadedDetector, quiet: bool) -> anyhow::Result<Inputs> {
    let det = &d.detector;
    if let Some(split) = &args.split {
        if !args.paths.is_empty() {
            bail!("give image PATHs or --split, not both");
        }
        let mut cfg = det.config.data.clone();
        if let Some(name) = &args.dataset {
            cfg.dataset = DatasetKind::parse(name)
                .with_context(|| format!("--dataset: unknown dataset `{name}`"))?;
        }
        if let Some(dir) = &args.data_dir {
            cfg.data_dir = Some(dir.clone());
        }
        if !quiet {
            crate::say!("loading {}", cfg.dataset);
        }
        let ds = crate::data::load_for(&cfg)?;
        if ds.shape != det.shape {
            bail!(
                "{} images are {}×{}×{}; the detector of run `{}` takes {}×{}×{}",
                cfg.dataset,
                ds.shape.0,
                ds.shape.1,
                ds.shape.2,
                d.meta.run,
                det.shape.0,
                det.shape.1,
                det.shape.2
            );
        }
        let split_data = crate::data::make_split(&ds, &cfg, det.seed)?;
        if split == "test" {
            let names = split_data
                .test_index
                .iter()
                .map(|i| format!("{}:test[{i}]", cfg.dataset))
                .collect();
            return Ok(Inputs {
                names,
                x: split_data.test_x,
                labels: Some(split_data.test_anomalous),
            });
        }
        let roles = crate::data::catalog::roles(cfg.dataset.as_str(), &ds.class_names, &cfg)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.key, e.message))?;
        let len = ds.image_len();
        let (mut names, mut x, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &l) in ds.train.labels.iter().enumerate() {
            let l = l as usize;
            if l == roles.normal || roles.anomalous.contains(&l) {
                names.push(format!("{}:train[{i}]", cfg.dataset));
                x.extend(
                    ds.train.pixels[i * len..(i + 1) * len]
                        .iter()
                        .map(|&p| p as f32 / 255.0),
                );
                labels.push(roles.anomalous.contains(&l));
            }
        }
        return Ok(Inputs {
            names,
            x,
            labels: Some(labels),
        });
    }
    if args.paths.is_empty() {
        bail!("nothing to score: give image files or folders, or --split test");
    }
    let (files, problems) = list_images(&args.paths);
    if let Some(p) = problems.first() {
        if !args.skip_bad {
            bail!("{p}");
        }
        for p in &problems {
            crate::say!("skipped {p}");
        }
    }
    if files.is_empty() {
        bail!(
            "no image files (png, jpg, jpeg, bmp, tif, tiff, gif) in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let (c, h, _) = det.shape;
    let mut next = 1;
    let total = files.len();
    let mut progress = |done: usize, total: usize| {
        if !quiet && total >= 500 && done * 10 >= next * total {
            next = done * 10 / total + 1;
            crate::say!("decoded {done} of {total} images");
        }
    };
    let dec = decode_images(&files, c, h, &mut progress);
    if let Some(p) = dec.bad.first() {
        if !args.skip_bad {
            bail!(
                "{p} (the detector takes {c}-channel {h}×{h} images; --skip-bad skips such files)"
            );
        }
        for p in &dec.bad {
            crate::say!("skipped {p}");
        }
    }
    if dec.files.is_empty() {
        bail!("none of the {total} image files could be decoded");
    }
    Ok(Inputs {
        names: dec.files.iter().map(|p| p.display().to_string()).collect(),
        x: dec.x,
        labels: None,
    })
}

/// Scores decoded images with a detector (progress on stderr unless `quiet`).
pub fn score_inputs(
    d: &LoadedDetector,
    inputs: &Inputs,
    verdict: (ScorerKind, f32, String),
    quiet: bool,
) -> anyhow::Result<Scored> {
    let mut next = 1;
    let mut progress = |done: usize, total: usize| {
        if !quiet && total >= 1000 && done * 10 >= next * total {
            next = done * 10 / total + 1;
            crate::say!("embedded {}%", done * 100 / total);
        }
    };
    let scores = d
        .detector
        .score_images(&inputs.x, &AtomicBool::new(false), &mut progress)
        .map_err(|e| anyhow::anyhow!("{}: {e}", d.path.display()))?;
    let (k, threshold, rule) = verdict;
    let flagged = scores[&k].iter().map(|&s| s > threshold).collect();
    Ok(Scored {
        scorers: d.detector.config.score.scorers.clone(),
        scores,
        verdict_scorer: k,
        threshold,
        rule,
        flagged,
    })
}

/// `adalab score`.
pub fn run(args: &ScoreArgs, home: Option<&Path>) -> anyhow::Result<Exit> {
    let store = Store::open(home)?;
    let d = store.load_detector(&args.run)?;
    let verdict = resolve_threshold(&d, args.scorer.as_deref(), args.threshold)?;
    let inputs = read_inputs(args, &d, false)?;
    let scored = score_inputs(&d, &inputs, verdict, false)?;
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
        "flagged": s.flagged.iter().filter(|&&f| f).count(),
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
        "threshold": {"scorer": s.verdict_scorer.as_str(), "value": s.threshold, "rule": s.rule},
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
    let flagged = s.flagged.iter().filter(|&&f| f).count();
    writeln!(out)?;
    writeln!(
        out,
        "run {} (seed {}, epoch {}): {n} images, {flagged} flagged ({:.1}%)",
        d.meta.run,
        d.meta.seed,
        d.meta.epoch,
        100.0 * flagged as f64 / n.max(1) as f64
    )?;
    writeln!(out, "verdict: {}", s.rule)?;
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
