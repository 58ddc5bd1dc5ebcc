//! A procedurally drawn, learnable stand-in dataset: ten shape classes on 28×28 grey images,
//! with random position, scale, rotation, brightness and background noise.
//!
//! Generation is deterministic: fixed seeds feed `rand::rngs::StdRng` (ChaCha12), whose output
//! is stable within rand 0.8, so every build draws the same images. Each split holds
//! [`SYNTHETIC_PER_CLASS_TRAIN`] / [`SYNTHETIC_PER_CLASS_TEST`] images per class, labels
//! interleaved (image i has class i mod 10) — enough for the default 8,000 / 1,000 split.

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use super::{Dataset, Images};
use crate::config::DatasetKind;

pub const SYNTHETIC_CLASSES: [&str; 10] = [
    "bar", "pillar", "ring", "disc", "plus", "cross", "frame", "triangle", "stripes", "blob",
];
pub const SYNTHETIC_PER_CLASS_TRAIN: usize = 1000;
pub const SYNTHETIC_PER_CLASS_TEST: usize = 1000;

const SIDE: usize = 28;
const TRAIN_SEED: u64 = 0xADA1_AB00_0000_0001;
const TEST_SEED: u64 = 0xADA1_AB00_0000_0002;

/// Signed distance to an axis-aligned box of half extents (hx, hy).
fn sd_box(u: f32, v: f32, hx: f32, hy: f32) -> f32 {
    let qx = u.abs() - hx;
    let qy = v.abs() - hy;
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0)
}

/// Coverage in [0, 1] of `class`'s shape at shape coordinates (u, v).
fn coverage(class: usize, u: f32, v: f32, scale: f32, aniso: f32) -> f32 {
    let r = (u * u + v * v).sqrt();
    let sd = match class {
        0 => sd_box(u, v, 8.0, 2.0),
        1 => sd_box(u, v, 2.0, 8.0),
        2 => (r - 6.0).abs() - 1.5,
        3 => r - 5.5,
        4 => sd_box(u, v, 8.0, 1.5).min(sd_box(u, v, 1.5, 8.0)),
        5 => {
            let (a, b) = (
                (u + v) * std::f32::consts::FRAC_1_SQRT_2,
                (u - v) * std::f32::consts::FRAC_1_SQRT_2,
            );
            sd_box(a, b, 8.0, 1.5).min(sd_box(a, b, 1.5, 8.0))
        }
        6 => sd_box(u, v, 6.5, 6.5).abs() - 1.2,
        7 => (u.abs() * 0.866 + v * 0.5).max(-v) - 3.5,
        8 => sd_box(u, v, 7.5, 6.5).max((v - 4.5 * (v / 4.5).round()).abs() - 1.0),
        _ => {
            let (a, b) = (4.0 * aniso, 4.0 / aniso);
            return (-(u * u / (a * a) + v * v / (b * b))).exp();
        }
    };
    (0.5 - sd * scale).clamp(0.0, 1.0)
}

fn draw(rng: &mut StdRng, class: usize, out: &mut [u8]) {
    let cx = rng.gen_range(11.0..17.0f32);
    let cy = rng.gen_range(11.0..17.0f32);
    let scale = rng.gen_range(0.75..1.25f32);
    let angle = rng.gen_range(-0.3..0.3f32);
    let bright = rng.gen_range(150.0..230.0f32);
    let aniso = rng.gen_range(0.7..1.4f32);
    let (sin, cos) = angle.sin_cos();
    let mut noise = [0u8; SIDE * SIDE];
    rng.fill_bytes(&mut noise);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (dx, dy) = ((x as f32 + 0.5 - cx) / scale, (y as f32 + 0.5 - cy) / scale);
            let (u, v) = (cos * dx + sin * dy, -sin * dx + cos * dy);
            let i = y * SIDE + x;
            let value = bright * coverage(class, u, v, scale, aniso) + (noise[i] % 48) as f32;
            out[i] = value.min(255.0) as u8;
        }
    }
}

fn split(per_class: usize, seed: u64) -> Images {
    let n = per_class * SYNTHETIC_CLASSES.len();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pixels = vec![0u8; n * SIDE * SIDE];
    let labels: Vec<u8> = (0..n)
        .map(|i| (i % SYNTHETIC_CLASSES.len()) as u8)
        .collect();
    for (img, &l) in pixels.chunks_exact_mut(SIDE * SIDE).zip(&labels) {
        draw(&mut rng, l as usize, img);
    }
    Images { pixels, labels }
}

/// Draws the synthetic dataset (the same images every time).
pub fn generate_synthetic() -> Dataset {
    Dataset {
        kind: DatasetKind::Synthetic,
        class_names: SYNTHETIC_CLASSES.iter().map(|s| s.to_string()).collect(),
        shape: (1, SIDE, SIDE),
        train: split(SYNTHETIC_PER_CLASS_TRAIN, TRAIN_SEED),
        test: split(SYNTHETIC_PER_CLASS_TEST, TEST_SEED),
        groups: Vec::new(),
        test_group: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_sized_and_fast() {
        let t = std::time::Instant::now();
        let a = generate_synthetic();
        let elapsed = t.elapsed();
        assert!(elapsed.as_secs_f32() < 2.0, "took {elapsed:?}");
        let b = generate_synthetic();
        assert_eq!(a.train.pixels, b.train.pixels);
        assert_eq!(a.train.class_counts(10), vec![1000; 10]);
        assert_eq!(a.test.class_counts(10), vec![1000; 10]);
        assert_eq!(a.train.pixels.len(), 10_000 * 784);
        assert_ne!(a.train.pixels[..784 * 10], a.test.pixels[..784 * 10]);
    }

    #[test]
    fn classes_differ_on_average() {
        // Class mean images must be distinguishable: a nearest-class-mean classifier on the
        // test split should do far better than chance.
        let ds = generate_synthetic();
        let px = 784;
        let mut means = vec![vec![0f32; px]; 10];
        for (img, &l) in ds.train.pixels.chunks_exact(px).zip(&ds.train.labels) {
            for (m, &p) in means[l as usize].iter_mut().zip(img) {
                *m += p as f32 / 1000.0;
            }
        }
        let mut correct = 0;
        for (img, &l) in ds
            .test
            .pixels
            .chunks_exact(px)
            .zip(&ds.test.labels)
            .take(2000)
        {
            let best = (0..10)
                .min_by(|&a, &b| {
                    let d = |c: usize| -> f32 {
                        means[c]
                            .iter()
                            .zip(img)
                            .map(|(m, &p)| (m - p as f32).powi(2))
                            .sum()
                    };
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            correct += (best == l as usize) as usize;
        }
        assert!(correct > 1000, "nearest-mean accuracy {correct}/2000");
    }
}
