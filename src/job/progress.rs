//! How far a job is and when it will end, from its events: the fraction of all the work of all
//! seeds done (training batches, and the images each evaluation embeds), and an ETA measured
//! from the first batches (not after the first epoch).
//!
//! An evaluation's images are counted in batch-equivalents: one image is first taken to cost
//! a third of a training image (a forward pass against forward and backward), then what the
//! first evaluation took against the training batches before it.

use std::time::{Duration, Instant};

use crate::train::{Event, Outcome};

/// A job's progress, updated event by event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobProgress {
    pub epochs: usize,
    pub seeds: usize,
    /// Batches per epoch (known from the first `Progress`).
    pub batches: usize,
    pub seed_index: usize,
    /// Epochs finished in the current seed.
    pub epochs_done: usize,
    /// Batches done in the current epoch.
    pub batch: usize,
    /// Seeds that ended (finished, failed or interrupted) before the current one.
    pub seeds_done: usize,
    /// When the first batch report came, and the fraction done then.
    first: Option<(Instant, f64)>,
    pub finished: bool,
    /// Test-time views (each evaluation embeds its images through each).
    pub views: usize,
    /// Evaluations per seed (every `score.eval_every` epochs, and after the last).
    pub evals_per_seed: usize,
    /// Images one evaluation embeds (all views), once known.
    pub eval_images: usize,
    /// Evaluations finished in the current seed.
    pub evals_done: usize,
    /// Images embedded in the evaluation under way.
    pub eval_now: usize,
    /// What one embedded image costs, in training batches.
    pub eval_weight: f64,
    /// Training batches done and when, at the first and the last batch report.
    train_first: Option<(Instant, f64)>,
    train_last: Option<(Instant, f64)>,
    /// When the evaluation under way started.
    eval_started: Option<Instant>,
    eval_measured: bool,
}

impl JobProgress {
    pub fn new(epochs: usize, seeds: usize) -> JobProgress {
        JobProgress {
            epochs: epochs.max(1),
            seeds: seeds.max(1),
            evals_per_seed: 1,
            views: 1,
            eval_weight: 1.0 / (3.0 * 64.0),
            ..JobProgress::default()
        }
    }

    /// Training batches done in the whole job.
    fn train_units(&self) -> f64 {
        let seeds = self.seeds_done.min(self.seed_index) as f64;
        (seeds * self.epochs as f64 + self.epochs_done as f64) * self.batches as f64
            + self.batch as f64
    }

    pub fn apply(&mut self, ev: &Event, now: Instant) {
        match ev {
            Event::Started { config, seeds, .. } => {
                self.epochs = config.train.epochs.max(1);
                self.seeds = seeds.len().max(1);
                let every = config.score.eval_every.max(1);
                self.evals_per_seed = self.epochs / every + usize::from(self.epochs % every != 0);
                self.eval_weight = 1.0 / (3.0 * config.train.batch_size.max(1) as f64);
                self.views = crate::data::transforms::expand(&config.score.views)
                    .len()
                    .max(1);
            }
            Event::DataReady {
                normal_train, test, ..
            } => {
                if self.eval_images == 0 {
                    self.eval_images = self.views * (normal_train + test);
                }
            }
            Event::Evaluating { images, total, .. } => {
                self.eval_images = *total;
                self.eval_now = *images;
                if *images == 0 {
                    self.eval_started = Some(now);
                }
            }
            Event::Evaluated { .. } => {
                // Done; counted with its epoch (`Epoch` with AUCs), as a stored run replays it.
                self.eval_now = self.eval_images;
                // The first evaluation measures what an image costs against a batch.
                if let (false, Some(t), Some((t0, b0)), Some((t1, b1))) = (
                    self.eval_measured,
                    self.eval_started,
                    self.train_first,
                    self.train_last,
                ) {
                    let per_batch = t1.saturating_duration_since(t0).as_secs_f64() / (b1 - b0);
                    let per_image = now.saturating_duration_since(t).as_secs_f64()
                        / self.eval_images.max(1) as f64;
                    if b1 > b0 && per_batch > 0.0 && per_image.is_finite() {
                        self.eval_weight = per_image / per_batch;
                        self.eval_measured = true;
                    }
                }
                self.eval_started = None;
            }
            Event::SeedStarted { index, .. } => {
                self.seed_index = *index;
                self.seeds_done = *index;
                self.epochs_done = 0;
                self.batch = 0;
                self.evals_done = 0;
                self.eval_now = 0;
            }
            Event::Progress {
                epoch,
                batch,
                batches,
                ..
            } => {
                self.batches = *batches;
                self.epochs_done = epoch.saturating_sub(1);
                self.batch = *batch;
                if self.first.is_none() {
                    self.first = Some((now, self.fraction()));
                }
                let units = self.train_units();
                self.train_first.get_or_insert((now, units));
                if !self.eval_measured {
                    self.train_last = Some((now, units));
                }
            }
            Event::Epoch(m) => {
                self.epochs_done = m.epoch;
                self.batch = 0;
                if !m.auc.is_empty() {
                    self.evals_done += 1;
                }
                self.eval_now = 0;
            }
            Event::SeedFinished { index, .. } => self.seeds_done = index + 1,
            Event::Finished { outcome } => self.finished = *outcome == Outcome::Finished,
            _ => {}
        }
    }

    /// Fraction of the whole job done, in [0, 1].
    pub fn fraction(&self) -> f64 {
        if self.finished {
            return 1.0;
        }
        // Work in training batches (epochs until the batches per epoch are known).
        let batches = self.batches.max(1) as f64;
        let eval = self.eval_images as f64 * self.eval_weight;
        let per_seed = self.epochs as f64 * batches + self.evals_per_seed as f64 * eval;
        let done = self.epochs_done as f64 * batches
            + if self.batches > 0 {
                self.batch as f64
            } else {
                0.0
            }
            + self.evals_done as f64 * eval
            + self.eval_now as f64 * self.eval_weight;
        let seed = (done / per_seed.max(1e-9)).min(1.0);
        let seeds = self.seeds_done.min(self.seed_index) as f64 + seed;
        (seeds / self.seeds as f64).clamp(0.0, 1.0)
    }

    /// Time left at the rate since the first batch report.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let (t0, f0) = self.first?;
        let f = self.fraction();
        let done = f - f0;
        if f >= 1.0 {
            return Some(Duration::ZERO);
        }
        if done <= 1e-9 {
            return None;
        }
        let elapsed = now.saturating_duration_since(t0).as_secs_f64();
        Some(Duration::from_secs_f64(elapsed * (1.0 - f) / done))
    }

    /// The fraction done in thousandths (the headless bar's position; its length is 1000).
    pub fn permille(&self) -> u64 {
        (self.fraction() * 1000.0).round() as u64
    }
}

/// `1h02m`, `3m05s`, `12s` (to the nearest second): the one duration format of the CLI and
/// the lab.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `4.9 MiB`, `12 KiB`, `512 B`: the one size format of the CLI and the lab.
pub fn format_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.0} KiB", b as f64 / (1 << 10) as f64)
    } else {
        format!("{b} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn progress(epoch: usize, batch: usize) -> Event {
        Event::Progress {
            epoch,
            batch,
            batches: 100,
            images_per_sec: 1.0,
            loss: 1.0,
            accuracy: 0.5,
        }
    }

    #[test]
    fn eta_comes_from_the_first_batches() {
        let t0 = Instant::now();
        let mut p = JobProgress::new(2, 1);
        p.apply(&Event::SeedStarted { index: 0, seed: 0 }, t0);
        assert_eq!(p.eta(t0), None);
        p.apply(&progress(1, 5), t0);
        // 10 more batches in 1 s: 185 to go of 200 → 18.5 s.
        p.apply(&progress(1, 15), t0 + Duration::from_secs(1));
        assert!((p.fraction() - 0.075).abs() < 1e-9);
        let eta = p.eta(t0 + Duration::from_secs(1)).unwrap().as_secs_f64();
        assert!((eta - 18.5).abs() < 1e-6, "{eta}");
    }

    #[test]
    fn evaluations_count_in_the_fraction_and_the_eta() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut config = crate::config::Config::default();
        config.train.epochs = 2;
        config.train.batch_size = 10;
        config.score.eval_every = 1;
        let mut p = JobProgress::new(2, 1);
        p.apply(
            &Event::Started {
                config: Box::new(config),
                seeds: vec![0],
                device: "cpu".into(),
                threads: 1,
            },
            t0,
        );
        p.apply(&Event::SeedStarted { index: 0, seed: 0 }, t0);
        assert_eq!(p.evals_per_seed, 2);
        // 90 batches in 9 s: 0.1 s a batch.
        p.apply(&progress(1, 10), at(0.0));
        p.apply(&progress(1, 100), at(9.0));
        let evaluating = |images| Event::Evaluating {
            epoch: 1,
            view: 1,
            views: 1,
            images,
            total: 600,
        };
        p.apply(&evaluating(0), at(9.0));
        // Before it is measured, an image costs a third of a training image.
        let f = p.fraction();
        p.apply(&evaluating(300), at(12.0));
        assert!(p.fraction() > f);
        assert!(
            (p.fraction() - 110.0 / 240.0).abs() < 1e-9,
            "{}",
            p.fraction()
        );
        // 600 images in 6 s: 0.01 s an image = 0.1 batch. A seed is 200 batches and two
        // evaluations of 60: 160 of 320 done, 10 s of batches and 6 s of evaluation to go.
        p.apply(
            &Event::Evaluated {
                epoch: 1,
                auc: BTreeMap::new(),
            },
            at(15.0),
        );
        assert!((p.eval_weight - 0.1).abs() < 1e-9, "{}", p.eval_weight);
        assert!((p.fraction() - 0.5).abs() < 1e-9, "{}", p.fraction());
        let eta = p.eta(at(15.0)).unwrap().as_secs_f64();
        assert!((eta - 16.0).abs() < 1.5, "{eta}");
    }

    #[test]
    fn seeds_count_whole_once_ended() {
        let t = Instant::now();
        let mut p = JobProgress::new(2, 2);
        p.apply(&Event::SeedStarted { index: 0, seed: 0 }, t);
        p.apply(&progress(1, 50), t);
        assert!((p.fraction() - 0.125).abs() < 1e-9);
        p.apply(&Event::SeedStarted { index: 1, seed: 1 }, t);
        assert!((p.fraction() - 0.5).abs() < 1e-9);
        p.apply(&progress(2, 50), t);
        assert!((p.fraction() - 0.875).abs() < 1e-9);
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h02m");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
    }
}
