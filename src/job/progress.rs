//! How far a job is and when it will end, from its events: the fraction of all batches of all
//! seeds done, and an ETA measured from the first batches (not after the first epoch).

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
}

impl JobProgress {
    pub fn new(epochs: usize, seeds: usize) -> JobProgress {
        JobProgress {
            epochs: epochs.max(1),
            seeds: seeds.max(1),
            ..JobProgress::default()
        }
    }

    pub fn apply(&mut self, ev: &Event, now: Instant) {
        match ev {
            Event::Started { config, seeds, .. } => {
                self.epochs = config.train.epochs.max(1);
                self.seeds = seeds.len().max(1);
            }
            Event::SeedStarted { index, .. } => {
                self.seed_index = *index;
                self.seeds_done = *index;
                self.epochs_done = 0;
                self.batch = 0;
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
            }
            Event::Epoch(m) => {
                self.epochs_done = m.epoch;
                self.batch = 0;
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
        let per_seed = self.epochs as f64;
        let mut epochs = self.epochs_done as f64;
        if self.batches > 0 {
            epochs += self.batch as f64 / self.batches as f64;
        }
        let seeds = self.seeds_done.min(self.seed_index) as f64 + (epochs / per_seed).min(1.0);
        (seeds / self.seeds as f64).clamp(0.0, 1.0)
    }

    /// Time left at the rate since the first batch report.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let (t0, f0) = self.first?;
        let f = self.fraction();
        let done = f - f0;
        if done <= 1e-9 || f >= 1.0 {
            return None;
        }
        let elapsed = now.saturating_duration_since(t0).as_secs_f64();
        Some(Duration::from_secs_f64(elapsed * (1.0 - f) / done))
    }

    /// Batches in the whole job, once the batches per epoch are known.
    pub fn total_batches(&self) -> Option<u64> {
        (self.batches > 0).then(|| (self.batches * self.epochs * self.seeds) as u64)
    }

    /// Batches done in the whole job.
    pub fn batches_done(&self) -> u64 {
        (self.fraction() * self.total_batches().unwrap_or(0) as f64).round() as u64
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

#[cfg(test)]
mod tests {
    use super::*;

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
