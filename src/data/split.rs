//! The split protocol of the published study, seeded.
//!
//! * reference set: `reference_count` images drawn without replacement from the **train** split
//!   of the reference classes (default: every class except normal and anomalous);
//! * normal-train: `normal_train_count` images drawn without replacement from the **train** split
//!   of the normal class (`"all"`: every one, in a seeded order);
//! * test: **all** test-split images of the normal and the anomalous classes, in file order.
//!   With several anomalous classes (a list, or `"rest"`: one-vs-rest) each test image carries
//!   its class as a group, so the evaluation adds an AUC per anomalous class.
//!
//! Training labels: the reference classes get 0..k-1 in ascending dataset-class order, the normal
//! class gets k. Draws come from `rand::rngs::StdRng::seed_from_u64(seed)` (reference draw first,
//! then normal draw) via `rand::seq::index::sample`; both are value-stable within rand 0.8, so a
//! seed reproduces the same split on every platform and build.

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::catalog::{roles, Roles};
use super::{DataError, Dataset, ExperimentSplit, Images};
use crate::config::{DataConfig, ImageCount};

fn names(ds: &Dataset, classes: &[usize]) -> String {
    classes
        .iter()
        .map(|&c| ds.class_names[c].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Draws `count` of the train images whose label is in `classes`, without replacement.
fn draw(
    ds: &Dataset,
    rng: &mut StdRng,
    classes: &[usize],
    count: ImageCount,
    key: &str,
) -> Result<Vec<usize>, DataError> {
    let pool: Vec<usize> = ds
        .train
        .labels
        .iter()
        .enumerate()
        .filter(|(_, &l)| classes.contains(&(l as usize)))
        .map(|(i, _)| i)
        .collect();
    let count = count.of(pool.len());
    if count == 0 {
        return Err(DataError::Split(format!("{key} must be at least 1")));
    }
    if count > pool.len() {
        return Err(DataError::Split(format!(
            "{key} = {count}, but the train split of {} holds only {} images",
            names(ds, classes),
            pool.len()
        )));
    }
    Ok(rand::seq::index::sample(rng, pool.len(), count)
        .into_iter()
        .map(|i| pool[i])
        .collect())
}

fn push_scaled(out: &mut Vec<f32>, images: &Images, index: usize, len: usize) {
    out.extend(
        images.pixels[index * len..(index + 1) * len]
            .iter()
            .map(|&p| p as f32 / 255.0),
    );
}

/// Builds the experiment split for `cfg` from `ds` with the given seed.
pub fn make_split(ds: &Dataset, cfg: &DataConfig, seed: u64) -> Result<ExperimentSplit, DataError> {
    let Roles {
        normal,
        anomalous,
        reference,
    } = roles(ds.kind.as_str(), &ds.class_names, cfg)
        .map_err(|e| DataError::Split(format!("{}: {}", e.key, e.message)))?;
    let mut rng = StdRng::seed_from_u64(seed);
    // No reference classes: the normal images alone (self-supervised transform classes).
    let ref_rows = if reference.is_empty() {
        Vec::new()
    } else {
        draw(
            ds,
            &mut rng,
            &reference,
            ImageCount::Count(cfg.reference_count),
            "reference_count",
        )?
    };
    let normal_rows_ds = draw(
        ds,
        &mut rng,
        &[normal],
        cfg.normal_train_count,
        "normal_train_count",
    )?;

    let len = ds.image_len();
    let k = reference.len();
    let n_train = ref_rows.len() + normal_rows_ds.len();
    let mut train_x = Vec::with_capacity(n_train * len);
    let mut train_y = Vec::with_capacity(n_train);
    for &i in &ref_rows {
        push_scaled(&mut train_x, &ds.train, i, len);
        let class = ds.train.labels[i] as usize;
        train_y.push(
            reference
                .binary_search(&class)
                .expect("drawn from reference pool"),
        );
    }
    for &i in &normal_rows_ds {
        push_scaled(&mut train_x, &ds.train, i, len);
        train_y.push(k);
    }
    let normal_rows = (ref_rows.len()..n_train).collect();

    let mut class_names: Vec<String> = reference
        .iter()
        .map(|&c| ds.class_names[c].clone())
        .collect();
    class_names.push(ds.class_names[normal].clone());

    let mut test_x = Vec::new();
    let mut test_anomalous = Vec::new();
    let mut test_index = Vec::new();
    let mut test_group = Vec::new();
    // Sub-labels: the dataset's own (MVTec defect types), else the anomalous classes when
    // there are several.
    let own_groups = !ds.groups.is_empty() && ds.test_group.len() == ds.test.len();
    let class_groups = !own_groups && anomalous.len() > 1;
    for (i, &l) in ds.test.labels.iter().enumerate() {
        let l = l as usize;
        let is_anomalous = anomalous.contains(&l);
        if l == normal || is_anomalous {
            push_scaled(&mut test_x, &ds.test, i, len);
            test_anomalous.push(is_anomalous);
            test_index.push(i);
            if own_groups {
                test_group.push(ds.test_group[i].filter(|_| is_anomalous));
            } else if class_groups {
                test_group.push(anomalous.iter().position(|&a| a == l));
            }
        }
    }
    if !test_anomalous.iter().any(|&a| a) || test_anomalous.iter().all(|&a| a) {
        return Err(DataError::Split(format!(
            "the test split needs images of both {} (normal) and {} (anomalous)",
            ds.class_names[normal],
            names(ds, &anomalous)
        )));
    }
    let test_groups = if own_groups {
        ds.groups.clone()
    } else if class_groups {
        anomalous
            .iter()
            .map(|&c| ds.class_names[c].clone())
            .collect()
    } else {
        Vec::new()
    };

    Ok(ExperimentSplit {
        shape: ds.shape,
        train_x,
        train_y,
        class_names,
        normal_rows,
        test_x,
        test_anomalous,
        test_index,
        test_groups,
        test_group,
    })
}

/// The train-split rows (dataset order) of the normal images the split of `seed` did not draw
/// — unseen by the network and the scorer — and the up to `count` of them, evenly spread, that
/// [`spare_normal`] takes: (all spare rows, the rows taken).
pub fn spare_normal_rows(
    ds: &Dataset,
    cfg: &DataConfig,
    seed: u64,
    count: usize,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    let Roles {
        normal, reference, ..
    } = roles(ds.kind.as_str(), &ds.class_names, cfg)
        .map_err(|e| DataError::Split(format!("{}: {}", e.key, e.message)))?;
    // The same draws as `make_split`, in the same order.
    let mut rng = StdRng::seed_from_u64(seed);
    if !reference.is_empty() {
        draw(
            ds,
            &mut rng,
            &reference,
            ImageCount::Count(cfg.reference_count),
            "reference_count",
        )?;
    }
    let mut drawn = draw(
        ds,
        &mut rng,
        &[normal],
        cfg.normal_train_count,
        "normal_train_count",
    )?;
    drawn.sort_unstable();
    let spare: Vec<usize> = (0..ds.train.len())
        .filter(|&i| ds.train.labels[i] as usize == normal && drawn.binary_search(&i).is_err())
        .collect();
    let n = spare.len().min(count);
    let taken = (0..n).map(|j| spare[j * spare.len() / n]).collect();
    Ok((spare, taken))
}

/// Up to `count` train-split images of the normal class that the split of `seed` did not draw
/// (unseen by the network and the scorer), evenly spread over them in dataset order, scaled to
/// [0, 1]: held-out normal images for calibrating thresholds. Empty when there are none.
pub fn spare_normal(
    ds: &Dataset,
    cfg: &DataConfig,
    seed: u64,
    count: usize,
) -> Result<Vec<f32>, DataError> {
    let (_, taken) = spare_normal_rows(ds, cfg, seed, count)?;
    let len = ds.image_len();
    let mut out = Vec::with_capacity(taken.len() * len);
    for i in taken {
        push_scaled(&mut out, &ds.train, i, len);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClassRef, DatasetKind};

    /// A tiny 1×2×2 dataset: `per_class` train and test images per class, pixel = label·20 + k.
    fn tiny(per_class: usize) -> Dataset {
        let mk = |offset: u8| {
            let mut img = Images::default();
            for i in 0..per_class * 10 {
                let l = (i % 10) as u8;
                img.labels.push(l);
                img.pixels.extend([l * 20, l * 20 + offset, 0, 255]);
            }
            img
        };
        Dataset {
            kind: DatasetKind::FashionMnist,
            class_names: crate::data::FASHION_MNIST_CLASSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            shape: (1, 2, 2),
            train: mk(1),
            test: mk(2),
            groups: Vec::new(),
            test_group: Vec::new(),
        }
    }

    fn cfg(reference_count: usize, normal_train_count: usize) -> DataConfig {
        DataConfig {
            reference_count,
            normal_train_count: normal_train_count.into(),
            ..DataConfig::default()
        }
    }

    #[test]
    fn counts_labels_and_layout() {
        let ds = tiny(50);
        let s = make_split(&ds, &cfg(300, 40), 1).unwrap();
        assert_eq!(s.train_y.len(), 340);
        assert_eq!(s.train_x.len(), 340 * 4);
        assert_eq!(s.normal_rows, (300..340).collect::<Vec<_>>());
        assert_eq!(s.class_names.len(), 9);
        assert_eq!(s.class_names[8], "sneaker");
        assert_eq!(
            s.class_names[..7],
            [
                "t-shirt/top",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt"
            ]
        );
        assert_eq!(s.class_names[7], "bag");
        // Every train row's label agrees with its pixels (pixel 0 = dataset class · 20 / 255).
        for (row, &y) in s.train_y.iter().enumerate() {
            let class = (s.train_x[row * 4] * 255.0).round() as usize / 20;
            assert_eq!(ds.class_names[class], s.class_names[y]);
            assert_ne!(class, 9, "anomalous class in training");
            assert_eq!(s.train_x[row * 4 + 3], 1.0);
        }
        assert_eq!(s.test_anomalous.len(), 100);
        assert_eq!(s.test_anomalous.iter().filter(|&&a| a).count(), 50);
        for (j, &i) in s.test_index.iter().enumerate() {
            let l = ds.test.labels[i];
            assert!(l == 7 || l == 9);
            assert_eq!(s.test_anomalous[j], l == 9);
            assert_eq!(s.test_x[j * 4 + 1], (l * 20 + 2) as f32 / 255.0);
        }
        // Drawn without replacement: all rows distinct (pixel 1 differs only by class here,
        // so check through a second split with the full pool instead).
        let all = make_split(&ds, &cfg(400, 50), 3).unwrap();
        assert_eq!(all.train_y.iter().filter(|&&y| y == 8).count(), 50);
        for c in 0..8 {
            assert_eq!(all.train_y.iter().filter(|&&y| y == c).count(), 50);
        }
    }

    #[test]
    fn determinism_and_seeds() {
        let ds = tiny(50);
        let ids = |s: &ExperimentSplit| s.train_y.clone();
        let a = make_split(&ds, &cfg(100, 10), 7).unwrap();
        let b = make_split(&ds, &cfg(100, 10), 7).unwrap();
        let c = make_split(&ds, &cfg(100, 10), 8).unwrap();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.train_x, b.train_x);
        assert_ne!(ids(&a), ids(&c));
    }

    #[test]
    fn explicit_reference_list() {
        let ds = tiny(20);
        let mut c = cfg(30, 5);
        c.reference = Some(vec![
            ClassRef::Name("bag".into()),
            ClassRef::Index(1),
            ClassRef::Name("coat".into()),
        ]);
        let s = make_split(&ds, &c, 0).unwrap();
        assert_eq!(s.class_names, ["trouser", "coat", "bag", "sneaker"]);
        assert!(s.train_y[..30].iter().all(|&y| y < 3));
    }

    #[test]
    fn one_vs_rest_takes_every_other_class_and_all_normal_images() {
        let ds = tiny(30);
        let mut c = cfg(10, 5);
        c.anomalous = crate::config::Anomalous::Rest;
        c.normal_train_count = ImageCount::All;
        // With "rest", an unset reference list means none.
        let s = make_split(&ds, &c, 4).unwrap();
        assert_eq!(s.class_names, ["sneaker"]);
        assert_eq!(s.train_y, vec![0; 30]);
        let mut drawn: Vec<usize> = (0..30)
            .map(|r| (s.train_x[r * 4 + 1] * 255.0).round() as usize)
            .collect();
        drawn.sort_unstable();
        drawn.dedup();
        assert_eq!(drawn, [7 * 20 + 1], "every train row is a sneaker");
        // Test: all 300 test images, 30 normal and 270 anomalous, each anomalous image grouped
        // by its class, in class order.
        assert_eq!(s.test_anomalous.len(), 300);
        assert_eq!(s.test_anomalous.iter().filter(|&&a| a).count(), 270);
        assert_eq!(
            s.test_groups,
            [
                "t-shirt/top",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt",
                "bag",
                "ankle boot"
            ]
        );
        for (j, &i) in s.test_index.iter().enumerate() {
            let l = ds.test.labels[i] as usize;
            assert_eq!(s.test_anomalous[j], l != 7);
            match s.test_group[j] {
                None => assert_eq!(l, 7),
                Some(g) => assert_eq!(s.test_groups[g], ds.class_names[l]),
            }
        }

        // With reference classes, "rest" is what is neither normal nor reference.
        let mut c2 = c.clone();
        c2.reference = Some(vec![ClassRef::Name("bag".into()), ClassRef::Index(0)]);
        let s = make_split(&ds, &c2, 4).unwrap();
        assert_eq!(s.class_names, ["t-shirt/top", "bag", "sneaker"]);
        assert_eq!(s.normal_rows.len(), 30);
        assert_eq!(s.test_groups.len(), 7);
        assert!(!s
            .test_groups
            .iter()
            .any(|g| g == "bag" || g == "t-shirt/top"));
        assert_eq!(s.test_anomalous.iter().filter(|&&a| a).count(), 210);

        // A list of anomalous classes; the others stay reference classes.
        let mut c3 = cfg(40, 5);
        c3.anomalous = crate::config::Anomalous::List(vec![
            ClassRef::Name("ankle boot".into()),
            ClassRef::Name("sandal".into()),
        ]);
        let s = make_split(&ds, &c3, 1).unwrap();
        assert_eq!(s.class_names.len(), 8);
        assert!(!s
            .class_names
            .iter()
            .any(|n| n == "sandal" || n == "ankle boot"));
        assert_eq!(s.test_groups, ["sandal", "ankle boot"]);
        assert_eq!(s.test_anomalous.len(), 90);

        // One anomalous class: no groups (the overall AUC is that class's).
        let s = make_split(&ds, &cfg(10, 5), 1).unwrap();
        assert!(s.test_groups.is_empty() && s.test_group.is_empty());

        // "all" of a class: every image, and a count above that is an error.
        let mut c4 = cfg(10, 5);
        c4.normal_train_count = ImageCount::All;
        assert_eq!(make_split(&ds, &c4, 2).unwrap().normal_rows.len(), 30);
    }

    #[test]
    fn errors() {
        let ds = tiny(20);
        let err = |c: DataConfig| make_split(&ds, &c, 0).unwrap_err().to_string();

        let e = err(cfg(161, 5));
        assert!(
            e.contains("reference_count = 161") && e.contains("only 160 images"),
            "{e}"
        );
        let e = err(cfg(10, 21));
        assert!(
            e.contains("normal_train_count = 21") && e.contains("sneaker holds only 20 images"),
            "{e}"
        );
        assert!(err(cfg(0, 5)).contains("reference_count must be at least 1"));

        let mut c = cfg(10, 5);
        c.anomalous = ClassRef::Index(7).into();
        assert!(err(c).contains("same class (sneaker)"));

        let mut c = cfg(10, 5);
        c.reference = Some(vec![
            ClassRef::Name("bag".into()),
            ClassRef::Name("ankle boot".into()),
        ]);
        assert!(err(c).contains("include the anomalous class (ankle boot)"));
        let mut c = cfg(10, 5);
        c.reference = Some(vec![ClassRef::Name("sneaker".into())]);
        assert!(err(c).contains("include the normal class (sneaker)"));
        // An empty reference list: the normal images alone, one training class.
        let mut c = cfg(10, 5);
        c.reference = Some(vec![]);
        let s = make_split(&ds, &c, 0).unwrap();
        assert_eq!(s.train_y, vec![0; 5]);
        assert_eq!(s.class_names, ["sneaker"]);
        assert_eq!(s.normal_rows, (0..5).collect::<Vec<_>>());
        let mut c = cfg(10, 5);
        c.normal = ClassRef::Name("sneakers".into());
        let e = err(c);
        assert!(
            e.contains("no class \"sneakers\"") && e.contains("7=sneaker"),
            "{e}"
        );
    }
}
