//! `metrics.csv`: a run's training curve batch by batch, appended by its writer (one line per
//! `Progress` event, every few batches) and read by whoever follows the run from the store (the
//! lab attached to a run that another process trains). Bounded: past [`MAX_POINTS`] lines the
//! file is rewritten with every other point, so a long run's curve keeps its shape in a small
//! file. A line torn by a crash is skipped on reading.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::fsutil;

pub const METRICS_FILE: &str = "metrics.csv";
/// Lines kept at most (about 1 MB).
pub const MAX_POINTS: usize = 20_000;
const HEADER: &str = "seed,epoch,batch,batches,loss,accuracy,images_per_sec,ms";

/// One point of the curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchPoint {
    /// Position of the seed in the run (0-based).
    pub seed: usize,
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f32,
    pub accuracy: f32,
    pub images_per_sec: f32,
    /// Milliseconds since the run started.
    pub ms: u64,
}

impl BatchPoint {
    fn line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{:.1},{}\n",
            self.seed,
            self.epoch,
            self.batch,
            self.batches,
            self.loss,
            self.accuracy,
            self.images_per_sec,
            self.ms
        )
    }

    fn parse(line: &str) -> Option<BatchPoint> {
        let f: Vec<&str> = line.trim().split(',').collect();
        if f.len() != 8 {
            return None;
        }
        Some(BatchPoint {
            seed: f[0].parse().ok()?,
            epoch: f[1].parse().ok()?,
            batch: f[2].parse().ok()?,
            batches: f[3].parse().ok()?,
            loss: f[4].parse().ok()?,
            accuracy: f[5].parse().ok()?,
            images_per_sec: f[6].parse().ok()?,
            ms: f[7].parse().ok()?,
        })
    }
}

/// The writer's end: appends points, compacts past the bound.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
    lines: usize,
}

impl MetricsLog {
    /// Creates (or truncates) `metrics.csv` in `dir`.
    pub fn create(dir: &Path) -> Result<MetricsLog, StoreError> {
        let path = dir.join(METRICS_FILE);
        let mut file = File::create(&path).map_err(|e| StoreError::io(&path, "create", e))?;
        writeln!(file, "{HEADER}").map_err(|e| StoreError::io(&path, "write", e))?;
        Ok(MetricsLog {
            path,
            file,
            lines: 0,
        })
    }

    pub fn append(&mut self, p: &BatchPoint) -> Result<(), StoreError> {
        if self.lines >= MAX_POINTS {
            self.compact()?;
        }
        self.file
            .write_all(p.line().as_bytes())
            .map_err(|e| StoreError::io(&self.path, "write", e))?;
        self.lines += 1;
        Ok(())
    }

    /// Keeps every other point (the newest always), atomically.
    fn compact(&mut self) -> Result<(), StoreError> {
        let points = read(&self.path)?;
        let n = points.len();
        let kept: Vec<&BatchPoint> = points
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1 || *i + 1 == n)
            .map(|(_, p)| p)
            .collect();
        let mut text = String::with_capacity(64 * kept.len());
        text.push_str(HEADER);
        text.push('\n');
        for p in &kept {
            text.push_str(&p.line());
        }
        fsutil::write_atomic(&self.path, text.as_bytes())?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| StoreError::io(&self.path, "open", e))?;
        self.lines = kept.len();
        Ok(())
    }
}

/// Every point in `path` (empty when there is no file yet). Lines that do not parse (a line
/// torn by a crash) are skipped.
pub fn read(path: &Path) -> Result<Vec<BatchPoint>, StoreError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fsutil::read_text_capped(path, fsutil::MAX_TEXT_FILE)?;
    Ok(text.lines().skip(1).filter_map(BatchPoint::parse).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: usize) -> BatchPoint {
        BatchPoint {
            seed: 0,
            epoch: 1 + i / 100,
            batch: i % 100,
            batches: 100,
            loss: 1.0 / (1.0 + i as f32),
            accuracy: 0.5,
            images_per_sec: 1000.0,
            ms: i as u64 * 10,
        }
    }

    #[test]
    fn appends_reads_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = MetricsLog::create(dir.path()).unwrap();
        for i in 0..(MAX_POINTS + 10) {
            log.append(&p(i)).unwrap();
        }
        let back = read(&dir.path().join(METRICS_FILE)).unwrap();
        assert!(back.len() <= MAX_POINTS / 2 + 11, "{}", back.len());
        assert_eq!(back.last(), Some(&p(MAX_POINTS + 9)));
        // In order, the curve's shape kept.
        assert!(back.windows(2).all(|w| w[0].ms < w[1].ms));
        // A torn last line is skipped.
        let path = dir.path().join(METRICS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        write!(f, "0,3,4,100,0.5").unwrap();
        assert_eq!(read(&path).unwrap().len(), back.len());
        assert!(read(&dir.path().join("none.csv")).unwrap().is_empty());
    }
}
