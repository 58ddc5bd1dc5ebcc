//! The headless front end: progress on stderr (a bar on a terminal, plain lines otherwise),
//! the final table or JSON document on stdout.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};

use crate::config::{Config, ScorerKind};
use crate::score::Summary;
use crate::train::tally::Tally;
use crate::train::{Event, Outcome};

/// Prints a job's events as they come.
pub struct Console {
    bar: Option<ProgressBar>,
    quiet_lines: bool,
    epochs: usize,
    seeds: usize,
    seed_index: usize,
    scorers: Vec<ScorerKind>,
    last_plain_batch: Option<(usize, usize)>,
}

impl Console {
    /// `json`: keep stderr to warnings and the final outcome (stdout gets one JSON document).
    pub fn new(config: &Config, json: bool) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let total = (config.train.epochs * config.run.repeat) as u64;
            let pb = ProgressBar::new(total);
            pb.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} epochs  eta {eta}  {msg}",
                )
                .expect("valid template"),
            );
            Some(pb)
        } else {
            None
        };
        Console {
            bar,
            quiet_lines: json,
            epochs: config.train.epochs,
            seeds: config.run.repeat,
            seed_index: 0,
            scorers: config.score.scorers.clone(),
            last_plain_batch: None,
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(b) => b.println(text),
            None => {
                let mut e = std::io::stderr().lock();
                let _ = writeln!(e, "{text}");
            }
        }
    }

    pub fn handle(&mut self, ev: &Event) {
        match ev {
            Event::Started {
                config,
                seeds,
                device,
                threads,
            } => {
                if !self.quiet_lines {
                    self.line(format!(
                        "adalab: {} | head {} | {} epoch(s) × {} seed(s) {:?} | {device}, {threads} thread(s)",
                        config.split_label(),
                        config.head.kind,
                        config.train.epochs,
                        seeds.len(),
                        seeds
                    ));
                }
            }
            Event::DataReady {
                train,
                normal_train,
                test,
                classes,
            } => {
                if !self.quiet_lines {
                    self.line(format!(
                        "data: {train} training images ({normal_train} normal) in {classes} classes, {test} test images"
                    ));
                }
            }
            Event::SeedStarted { index, seed } => {
                self.seed_index = *index;
                if !self.quiet_lines && self.seeds > 1 {
                    self.line(format!("seed {seed} ({}/{})", index + 1, self.seeds));
                }
            }
            Event::Progress {
                epoch,
                batch,
                batches,
                images_per_sec,
                loss,
            } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!(
                        "epoch {epoch} batch {batch}/{batches}  loss {loss:.4}  {images_per_sec:.0} img/s"
                    ));
                } else if !self.quiet_lines {
                    // Plain logs: at most about four lines per epoch.
                    let step = (*batches / 4).max(1);
                    if batch % step == 0
                        && self.last_plain_batch != Some((*epoch, *batch))
                        && batch != batches
                    {
                        self.last_plain_batch = Some((*epoch, *batch));
                        self.line(format!(
                            "  epoch {epoch} batch {batch}/{batches} loss {loss:.4} {images_per_sec:.0} img/s"
                        ));
                    }
                }
            }
            Event::Epoch(m) => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
                if !self.quiet_lines {
                    let auc = format_auc(&m.auc, &self.scorers);
                    self.line(format!(
                        "epoch {:>3}/{} loss {:.4} acc {:.3} s {:.3} {:.1}s {:.0} img/s{}",
                        m.epoch,
                        self.epochs,
                        m.loss,
                        m.accuracy,
                        m.scale,
                        m.seconds,
                        m.images_per_sec,
                        if auc.is_empty() {
                            String::new()
                        } else {
                            format!(" | AUC {auc}")
                        }
                    ));
                }
            }
            Event::Log(msg) => {
                if !self.quiet_lines || msg.starts_with("warning") {
                    self.line(msg.clone());
                }
            }
            Event::SeedFinished { seed, outcome, .. } => match outcome {
                Outcome::Failed { reason } => self.line(format!("seed {seed} failed: {reason}")),
                Outcome::Interrupted => self.line(format!("seed {seed} interrupted")),
                Outcome::Finished => {}
            },
            Event::Evaluated { .. } => {}
            Event::Finished { .. } => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }
}

fn format_auc(auc: &BTreeMap<ScorerKind, f64>, order: &[ScorerKind]) -> String {
    order
        .iter()
        .filter_map(|k| auc.get(k).map(|v| format!("{k} {v:.4}")))
        .collect::<Vec<_>>()
        .join("  ")
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
    let summary = tally.summary();
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
    let summary = tally.summary();
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
