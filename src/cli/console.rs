//! The console sink: a job's progress on stderr (a bar on a terminal, plain lines otherwise),
//! whatever stdout gets (the results table or `--json`'s document).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Config, ScorerKind};
use crate::job::{format_duration, EventSink, JobProgress, SinkError};
use crate::train::{Event, LogLevel, Outcome};

/// Prints a job's events as they come.
pub struct Console {
    /// A bar over all batches of all seeds (its ETA starts with the first batches).
    bar: Option<ProgressBar>,
    progress: JobProgress,
    epochs: usize,
    seeds: usize,
    scorers: Vec<ScorerKind>,
    last_plain_batch: Option<(usize, usize)>,
    /// What the classes and the head's parameters are named from.
    config: Config,
}

impl Console {
    pub fn new(config: &Config) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            // Thousandths of the job (training and evaluations, see `JobProgress`).
            let pb = ProgressBar::new(1000);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}%  {msg}",
            ) {
                pb.set_style(style);
            }
            pb
        });
        Console {
            bar,
            progress: JobProgress::new(config.train.epochs, config.run.repeat),
            epochs: config.train.epochs,
            seeds: config.run.repeat,
            scorers: config.score.scorers.clone(),
            last_plain_batch: None,
            config: config.clone(),
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(b) => b.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// `  eta 3m05s` once the ETA is measured.
    fn eta_text(&self, now: Instant) -> String {
        self.progress
            .eta(now)
            .map(|d| format!("  eta {}", format_duration(d)))
            .unwrap_or_default()
    }

    pub fn handle(&mut self, ev: &Event) {
        let now = Instant::now();
        self.progress.apply(ev, now);
        match ev {
            Event::Started {
                config,
                seeds,
                device,
                threads,
            } => {
                self.seeds = seeds.len();
                self.config = (**config).clone();
                self.line(format!(
                    "adalab: {} | head {} | {} epoch(s) × {} seed(s) {:?} | {device}, {threads} thread(s)",
                    config.split_label(),
                    config.head.kind,
                    config.train.epochs,
                    seeds.len(),
                    seeds
                ));
            }
            Event::DataReady {
                train,
                normal_train,
                test,
                classes,
                test_anomalous,
            } => {
                let c = &self.config;
                self.line(format!(
                    "data: {train} training images ({normal_train} normal) as {}, test {} normal + {test_anomalous} anomalous",
                    crate::data::transforms::describe_classes(c, *classes),
                    test - test_anomalous
                ));
                // The scale the epoch lines report (`s`), named once.
                let head_classes = crate::data::transforms::head_classes(c, *classes);
                let params = crate::model::head::describe_params(&c.head, Some(head_classes));
                if !params.is_empty() {
                    self.line(format!("head: {}, {params}", c.head.kind));
                }
            }
            Event::SeedStarted { index, seed } => {
                if self.seeds > 1 {
                    self.line(format!("seed {seed} ({}/{})", index + 1, self.seeds));
                }
            }
            Event::Progress {
                epoch,
                batch,
                batches,
                images_per_sec,
                loss,
                accuracy,
            } => {
                if let Some(b) = &self.bar {
                    b.set_position(self.progress.permille());
                    b.set_message(format!(
                        "epoch {epoch}/{} batch {batch}/{batches}  loss {loss:.4}  acc {accuracy:.3}  {images_per_sec:.0} img/s{}",
                        self.epochs,
                        self.eta_text(now)
                    ));
                } else {
                    // Plain logs: at most about four lines per epoch.
                    let step = (*batches / 4).max(1);
                    if batch % step == 0
                        && self.last_plain_batch != Some((*epoch, *batch))
                        && batch != batches
                    {
                        self.last_plain_batch = Some((*epoch, *batch));
                        let eta = self
                            .progress
                            .eta(now)
                            .map(|d| format!(" eta {}", format_duration(d)))
                            .unwrap_or_default();
                        self.line(format!(
                            "  epoch {epoch} batch {batch}/{batches} loss {loss:.4} acc {accuracy:.3} {images_per_sec:.0} img/s{eta}"
                        ));
                    }
                }
            }
            Event::Epoch(m) => {
                if let Some(b) = &self.bar {
                    b.set_position(self.progress.permille());
                }
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
            Event::DetectorReady { .. } => {}
            Event::Log { level, message } => match level {
                LogLevel::Info => self.line(message.clone()),
                _ => self.line(format!("{}: {message}", level.as_str())),
            },
            Event::SeedFinished { seed, outcome, .. } => match outcome {
                Outcome::Failed { reason } => self.line(format!("seed {seed} failed: {reason}")),
                Outcome::Interrupted => self.line(format!("seed {seed} interrupted")),
                Outcome::Finished => {}
            },
            Event::Evaluating {
                epoch,
                view,
                views,
                images,
                total,
            } => {
                if let Some(b) = &self.bar {
                    b.set_position(self.progress.permille());
                    // Short enough for 80 columns beside the bar.
                    b.set_message(format!(
                        "epoch {epoch} eval view {view}/{views} {:.0}%{}",
                        100.0 * *images as f64 / (*total).max(1) as f64,
                        self.eta_text(now)
                    ));
                }
            }
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
