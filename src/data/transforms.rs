//! Geometric transforms of images (rotations by multiples of 90°, horizontal flip, integer
//! shifts with zero fill, and their products), the labels they give in self-supervised
//! training, and which (image, transform) pairs an epoch visits.
//!
//! A transform is applied by a lookup table from output to source pixel computed once per
//! transform (no copy of the dataset per transform): applying one to an image is a gather.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::config::{LabelMode, Sampling, TransformSet};

/// One transform: rotate by `quarter_turns` × 90° counter-clockwise, then flip horizontally,
/// then shift by (`dy`, `dx`) pixels with zero fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transform {
    pub quarter_turns: u8,
    pub flip: bool,
    pub dy: i32,
    pub dx: i32,
}

impl Transform {
    pub const IDENTITY: Transform = Transform {
        quarter_turns: 0,
        flip: false,
        dy: 0,
        dx: 0,
    };

    /// `rot90 flip +4,-4`, `identity`.
    pub fn name(&self) -> String {
        if *self == Transform::IDENTITY {
            return "identity".into();
        }
        let mut parts = Vec::new();
        if self.quarter_turns > 0 {
            parts.push(format!("rot{}", u32::from(self.quarter_turns) * 90));
        }
        if self.flip {
            parts.push("flip".into());
        }
        if self.dy != 0 || self.dx != 0 {
            parts.push(format!("shift{:+},{:+}", self.dy, self.dx));
        }
        parts.join(" ")
    }

    /// The source pixel (y, x) that output pixel (oy, ox) of an `h`×`w` image comes from.
    fn source(&self, oy: i32, ox: i32, h: i32, w: i32) -> Option<(i32, i32)> {
        // Undo the shift, then the flip, then the rotation.
        let (y, x) = (oy - self.dy, ox - self.dx);
        if y < 0 || y >= h || x < 0 || x >= w {
            return None;
        }
        let x = if self.flip { w - 1 - x } else { x };
        // A counter-clockwise quarter turn maps source (y, x) to (w−1−x, y) on a square; its
        // inverse maps output (y, x) to source (x, w−1−y).
        let (mut sy, mut sx) = (y, x);
        for _ in 0..self.quarter_turns % 4 {
            let (ny, nx) = (sx, w - 1 - sy);
            sy = ny;
            sx = nx;
        }
        Some((sy, sx))
    }
}

/// The transforms of a set, identity first: rotations × flip × shifts (shifts on both axes).
/// Their positions are the transform classes.
pub fn expand(set: &TransformSet) -> Vec<Transform> {
    let first_zero = |v: &[i32]| {
        let mut v = v.to_vec();
        v.sort_by_key(|x| (*x != 0, *x));
        v.dedup();
        v
    };
    let mut rots: Vec<u8> = set.rotations.iter().map(|d| ((d / 90) % 4) as u8).collect();
    rots.sort_unstable();
    rots.dedup();
    if rots.is_empty() {
        rots.push(0);
    }
    let flips: &[bool] = if set.flip { &[false, true] } else { &[false] };
    let mut shifts = first_zero(&set.shifts);
    if shifts.is_empty() {
        shifts.push(0);
    }
    let mut out = Vec::with_capacity(rots.len() * flips.len() * shifts.len() * shifts.len());
    for &q in &rots {
        for &f in flips {
            for &dy in &shifts {
                for &dx in &shifts {
                    out.push(Transform {
                        quarter_turns: q,
                        flip: f,
                        dy,
                        dx,
                    });
                }
            }
        }
    }
    out
}

/// Lookup tables of a list of transforms for images of one shape.
#[derive(Clone, Debug)]
pub struct TransformTable {
    pub transforms: Vec<Transform>,
    shape: (usize, usize, usize),
    /// Per transform, per output pixel of one plane: the source pixel, or `u32::MAX` (zero).
    lut: Vec<Vec<u32>>,
}

impl TransformTable {
    /// Tables for `transforms` on `c`×`h`×`w` images. Rotations need square images.
    pub fn new(transforms: Vec<Transform>, shape: (usize, usize, usize)) -> TransformTable {
        let (_, h, w) = shape;
        let lut = transforms
            .iter()
            .map(|t| {
                let mut v = Vec::with_capacity(h * w);
                for oy in 0..h as i32 {
                    for ox in 0..w as i32 {
                        v.push(match t.source(oy, ox, h as i32, w as i32) {
                            Some((sy, sx)) => (sy as usize * w + sx as usize) as u32,
                            None => u32::MAX,
                        });
                    }
                }
                v
            })
            .collect();
        TransformTable {
            transforms,
            shape,
            lut,
        }
    }

    pub fn len(&self) -> usize {
        self.transforms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.transforms.is_empty()
    }

    /// Appends transform `t` of `img` (C×H×W, planar) to `out`.
    pub fn apply_into(&self, t: usize, img: &[f32], out: &mut Vec<f32>) {
        let (c, h, w) = self.shape;
        let plane = h * w;
        let lut = &self.lut[t];
        out.reserve(c * plane);
        for ch in 0..c {
            let src = &img[ch * plane..(ch + 1) * plane];
            out.extend(
                lut.iter()
                    .map(|&i| if i == u32::MAX { 0.0 } else { src[i as usize] }),
            );
        }
    }
}

/// The class a training sample gets: its class (`None` mode), its transform, or both.
pub fn label(mode: LabelMode, class: usize, transform: usize, transforms: usize) -> usize {
    match mode {
        LabelMode::None => class,
        LabelMode::Transform => transform,
        LabelMode::ClassTransform => class * transforms + transform,
    }
}

/// Classes the head of `config` is trained on when the data has `classes` training classes
/// (the transforms' labels decide: data classes, transforms, or both).
pub fn head_classes(config: &crate::config::Config, classes: usize) -> usize {
    let transforms = expand(&config.transforms.set()).len();
    class_count(config.transforms.labels, classes, transforms)
}

/// What the head is trained on, in words, for `classes` data classes: `2 classes`,
/// `72 transform classes`, `144 classes (2 classes × 72 transforms)`.
pub fn describe_classes(config: &crate::config::Config, classes: usize) -> String {
    let transforms = expand(&config.transforms.set()).len();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "es" });
    match config.transforms.labels {
        LabelMode::None => plural(classes, "class"),
        LabelMode::Transform => plural(transforms, "transform class"),
        LabelMode::ClassTransform => format!(
            "{} ({} × {transforms} transforms)",
            plural(classes * transforms, "class"),
            plural(classes, "class")
        ),
    }
}

/// Classes a head is trained on: `classes` data classes and `transforms` transforms.
pub fn class_count(mode: LabelMode, classes: usize, transforms: usize) -> usize {
    match mode {
        LabelMode::None => classes,
        LabelMode::Transform => transforms,
        LabelMode::ClassTransform => classes * transforms,
    }
}

/// The (row, transform) pairs of one epoch, shuffled: every row once with a random transform,
/// or every row with every transform.
pub fn epoch_samples(
    rows: usize,
    transforms: usize,
    sampling: Sampling,
    rng: &mut impl Rng,
) -> Vec<(usize, usize)> {
    let t = transforms.max(1);
    let mut v: Vec<(usize, usize)> = match sampling {
        Sampling::Random => (0..rows).map(|r| (r, rng.gen_range(0..t))).collect(),
        Sampling::All => (0..rows)
            .flat_map(|r| (0..t).map(move |k| (r, k)))
            .collect(),
    };
    v.shuffle(rng);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The 3×3 pattern
    /// 1 2 3
    /// 4 5 6
    /// 7 8 9
    fn pattern() -> Vec<f32> {
        (1..=9).map(|v| v as f32).collect()
    }

    fn apply(t: Transform) -> Vec<f32> {
        let table = TransformTable::new(vec![t], (1, 3, 3));
        let mut out = Vec::new();
        table.apply_into(0, &pattern(), &mut out);
        out
    }

    fn t(q: u8, flip: bool, dy: i32, dx: i32) -> Transform {
        Transform {
            quarter_turns: q,
            flip,
            dy,
            dx,
        }
    }

    #[test]
    fn rotations_of_a_3x3_pattern() {
        assert_eq!(apply(Transform::IDENTITY), pattern());
        // 90° counter-clockwise: the right column becomes the top row.
        assert_eq!(
            apply(t(1, false, 0, 0)),
            [3., 6., 9., 2., 5., 8., 1., 4., 7.]
        );
        assert_eq!(
            apply(t(2, false, 0, 0)),
            [9., 8., 7., 6., 5., 4., 3., 2., 1.]
        );
        assert_eq!(
            apply(t(3, false, 0, 0)),
            [7., 4., 1., 8., 5., 2., 9., 6., 3.]
        );
    }

    #[test]
    fn flip_and_shift_with_zero_fill() {
        assert_eq!(
            apply(t(0, true, 0, 0)),
            [3., 2., 1., 6., 5., 4., 9., 8., 7.]
        );
        // Down 1, right 1: the top row and left column are zeros.
        assert_eq!(
            apply(t(0, false, 1, 1)),
            [0., 0., 0., 0., 1., 2., 0., 4., 5.]
        );
        assert_eq!(
            apply(t(0, false, -1, 0)),
            [4., 5., 6., 7., 8., 9., 0., 0., 0.]
        );
        // Rotate, then flip, then shift.
        assert_eq!(
            apply(t(1, true, 0, 1)),
            [0., 9., 6., 0., 8., 5., 0., 7., 4.]
        );
    }

    #[test]
    fn channels_transform_alike() {
        let table = TransformTable::new(vec![t(1, false, 0, 0)], (2, 3, 3));
        let mut img = pattern();
        img.extend(pattern().iter().map(|v| v * 10.0));
        let mut out = Vec::new();
        table.apply_into(0, &img, &mut out);
        assert_eq!(&out[..9], &[3., 6., 9., 2., 5., 8., 1., 4., 7.]);
        assert_eq!(out[9], 30.0);
    }

    #[test]
    fn the_geom_set_has_72_transforms_identity_first() {
        let set = TransformSet {
            rotations: vec![0, 90, 180, 270],
            flip: true,
            shifts: vec![-4, 0, 4],
        };
        let all = expand(&set);
        assert_eq!(all.len(), 72);
        assert_eq!(all[0], Transform::IDENTITY);
        let mut uniq = all.clone();
        uniq.sort_by_key(|t| (t.quarter_turns, t.flip, t.dy, t.dx));
        uniq.dedup();
        assert_eq!(uniq.len(), 72);
        assert_eq!(all[1], t(0, false, 0, -4));
        assert_eq!(expand(&TransformSet::default()), [Transform::IDENTITY]);
        assert_eq!(t(3, true, 4, -4).name(), "rot270 flip shift+4,-4");
    }

    #[test]
    fn labels_per_mode() {
        assert_eq!(label(LabelMode::None, 3, 5, 72), 3);
        assert_eq!(label(LabelMode::Transform, 3, 5, 72), 5);
        assert_eq!(label(LabelMode::ClassTransform, 3, 5, 72), 3 * 72 + 5);
        assert_eq!(class_count(LabelMode::None, 9, 72), 9);
        assert_eq!(class_count(LabelMode::Transform, 9, 72), 72);
        assert_eq!(class_count(LabelMode::ClassTransform, 9, 8), 72);
    }

    #[test]
    fn sampling_visits_every_image_once_or_every_pair() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let s = epoch_samples(100, 72, Sampling::Random, &mut rng);
        let mut rows: Vec<usize> = s.iter().map(|p| p.0).collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..100).collect::<Vec<_>>());
        assert!(s.iter().all(|p| p.1 < 72));
        let distinct: std::collections::BTreeSet<usize> = s.iter().map(|p| p.1).collect();
        assert!(distinct.len() > 30);
        let mut a = epoch_samples(10, 4, Sampling::All, &mut rng);
        assert_eq!(a.len(), 40);
        a.sort_unstable();
        a.dedup();
        assert_eq!(a.len(), 40);
        // Seeded: the same pairs again.
        let mut r1 = rand::rngs::StdRng::seed_from_u64(7);
        let mut r2 = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(
            epoch_samples(50, 8, Sampling::Random, &mut r1),
            epoch_samples(50, 8, Sampling::Random, &mut r2)
        );
    }

    #[test]
    fn classes_are_named_as_the_head_sees_them() {
        let mut c = crate::config::Config::default();
        c.transforms.labels = LabelMode::None;
        assert_eq!(describe_classes(&c, 1), "1 class");
        assert_eq!(describe_classes(&c, 9), "9 classes");
        c.transforms.rotations = vec![0, 90, 180, 270];
        let t = expand(&c.transforms.set()).len();
        assert!(t >= 4, "{t}");
        c.transforms.labels = LabelMode::Transform;
        assert_eq!(describe_classes(&c, 1), format!("{t} transform classes"));
        assert_eq!(head_classes(&c, 1), t);
        c.transforms.labels = LabelMode::ClassTransform;
        assert_eq!(
            describe_classes(&c, 2),
            format!("{} classes (2 classes × {t} transforms)", 2 * t)
        );
    }
}
