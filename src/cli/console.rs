//! The console sink: a job's progress on stderr (a bar on a terminal, plain lines otherwise).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Config, ScorerKind};
use crate::job::{EventSink, SinkError};
use crate::train::{Event, LogLevel, Outcome};

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
            Event::Log { level, message } => {
                if *level != LogLevel::Info {
                    self.line(format!("{}: {message}", level.as_str()));
                } else if !self.quiet_lines {
                    self.line(message.clone());
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

/// Progress on stderr never stops a job: a closed or full stderr loses lines, not the run.
impl EventSink for Console {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        self.handle(ev);
        Ok(())
    }
}
