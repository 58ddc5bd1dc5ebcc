//! The training engine end to end on the synthetic dataset: every head learns, events arrive
//! in order, cancellation stops within a batch, divergence is a failure, runs are reproducible.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adalab::config::{Config, DatasetKind, HeadKind, ScorerKind};
use adalab::data::{self, Dataset};
use adalab::train::{self, Event, JobOptions, Outcome};
use dfdx::prelude::*;

fn synthetic() -> Arc<Dataset> {
    use std::sync::OnceLock;
    static DS: OnceLock<Arc<Dataset>> = OnceLock::new();
    DS.get_or_init(|| Arc::new(data::generate_synthetic()))
        .clone()
}

/// A small, fast configuration on the synthetic shapes.
fn small_config(head: HeadKind) -> Config {
    let mut c = Config::default();
    c.data.dataset = DatasetKind::Synthetic;
    c.data.normal = adalab::config::ClassRef::Index(2);
    c.data.anomalous = adalab::config::ClassRef::Index(3).into();
    c.data.reference_count = 1600;
    c.data.normal_train_count = 200.into();
    c.model.widths = vec![8, 16];
    c.model.embedding_dim = 32;
    c.train.epochs = 1;
    c.train.batch_size = 32;
    c.train.threads = 2;
    c.head.kind = head;
    c.head.s = 16.0;
    c.head.m = 0.2;
    c.score.scorers = if head.is_cosine() {
        vec![
            ScorerKind::KnnCosine,
            ScorerKind::Lof,
            ScorerKind::ClassCosine,
        ]
    } else {
        vec![ScorerKind::Lof, ScorerKind::KnnCosine]
    };
    c.validate().unwrap();
    c
}

fn collect(config: Config) -> Vec<Event> {
    let h = train::spawn(
        config,
        JobOptions {
            model_dir: None,
            dataset: Some(synthetic()),
        },
    );
    let events: Vec<Event> = h.events.iter().collect();
    events
}

fn epochs(events: &[Event]) -> Vec<adalab::train::EpochMetrics> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn progress_losses(events: &[Event]) -> Vec<f32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Progress { loss, .. } => Some(*loss),
            _ => None,
        })
        .collect()
}

#[test]
fn every_head_learns_in_one_epoch() {
    for head in HeadKind::ALL {
        let events = collect(small_config(head));
        let last = events.last().unwrap();
        assert_eq!(
            last,
            &Event::Finished {
                outcome: Outcome::Finished
            },
            "{head}: {events:?}"
        );
        let ep = epochs(&events);
        assert_eq!(ep.len(), 1);
        // 9 classes: chance is 0.11
        assert!(ep[0].accuracy > 0.5, "{head}: accuracy {}", ep[0].accuracy);
        let losses = progress_losses(&events);
        let k = losses.len() / 4;
        let early: f32 = losses[..k].iter().sum::<f32>() / k as f32;
        let late: f32 = losses[losses.len() - k..].iter().sum::<f32>() / k as f32;
        assert!(late < early, "{head}: loss did not fall ({early} → {late})");
        let auc = ep[0].auc[&ScorerKind::KnnCosine];
        assert!(auc > 0.6, "{head}: knn-cosine AUC {auc}");
        if head == HeadKind::AdacosFixed {
            let s = adalab::model::head::adacos_fixed_scale(9);
            assert!((ep[0].scale - s).abs() < 1e-6);
        }
    }
}

#[test]
fn events_arrive_in_order() {
    let mut c = small_config(HeadKind::AdacosDynamic);
    c.train.epochs = 2;
    c.run.repeat = 2;
    let events = collect(c);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::Started { .. } => "started",
            Event::DataReady { .. } => "data",
            Event::SeedStarted { .. } => "seed",
            Event::Progress { .. } => "progress",
            Event::Epoch(_) => "epoch",
            Event::Evaluating { .. } => "evaluating",
            Event::Evaluated { .. } => "eval",
            Event::Log { .. } => "log",
            Event::DetectorReady { .. } => "detector",
            Event::SeedFinished { .. } => "seed-end",
            Event::Finished { .. } => "finished",
        })
        .filter(|k| *k != "progress" && *k != "log" && *k != "evaluating")
        .collect();
    // Each of the 4 evaluations tells its progress: from none of its images to all of them.
    let evaluating: Vec<(usize, usize)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Evaluating { images, total, .. } => Some((*images, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(evaluating.iter().filter(|(i, _)| *i == 0).count(), 4);
    assert_eq!(evaluating.iter().filter(|(i, t)| i == t).count(), 4);
    assert_eq!(
        kinds,
        [
            "started", "seed", "data", "eval", "epoch", "eval", "epoch", "seed-end", "seed",
            "eval", "epoch", "eval", "epoch", "seed-end", "finished"
        ]
    );
    // Seeds are seed, seed + 1; each seed's final evaluation has per-image scores.
    let ends: Vec<(u64, usize)> = events
        .iter()
        .filter_map(|e| match e {
            Event::SeedFinished {
                seed,
                evaluation: Some(ev),
                outcome: Outcome::Finished,
                ..
            } => Some((*seed, ev.scores[&ScorerKind::KnnCosine].len())),
            _ => None,
        })
        .collect();
    assert_eq!(ends, vec![(0, 2000), (1, 2000)]);
    // Dynamic AdaCos moves its scale.
    let s: Vec<f32> = epochs(&events).iter().map(|m| m.scale).collect();
    assert!(
        s.iter().any(|&v| (v - s[0]).abs() > 1e-4) || (s[0] - 2.94).abs() > 0.01,
        "{s:?}"
    );
}

#[test]
fn cancel_stops_within_one_batch() {
    let mut c = small_config(HeadKind::Arcface);
    c.train.epochs = 50;
    let h = train::spawn(
        c,
        JobOptions {
            model_dir: None,
            dataset: Some(synthetic()),
        },
    );
    // Wait for the first progress report, then cancel.
    let mut batches_at_cancel = 0;
    for ev in h.events.iter() {
        if let Event::Progress { batch, .. } = ev {
            batches_at_cancel = batch;
            break;
        }
    }
    let t = Instant::now();
    h.cancel();
    let mut rest = Vec::new();
    loop {
        match h.events.recv_timeout(Duration::from_secs(30)) {
            Ok(ev) => {
                let done = matches!(ev, Event::Finished { .. });
                rest.push(ev);
                if done {
                    break;
                }
            }
            Err(e) => panic!("no Finished event after cancel: {e}"),
        }
    }
    let elapsed = t.elapsed();
    // At most one more batch ran: no further progress beyond the next report window.
    let later: Vec<usize> = rest
        .iter()
        .filter_map(|e| match e {
            Event::Progress { batch, .. } => Some(*batch),
            _ => None,
        })
        .collect();
    assert!(
        later.len() <= 1,
        "batches after cancel: {later:?} (cancelled at {batches_at_cancel})"
    );
    assert!(rest.iter().all(|e| !matches!(e, Event::Epoch(_))));
    assert_eq!(
        rest.last().unwrap(),
        &Event::Finished {
            outcome: Outcome::Interrupted
        }
    );
    assert!(elapsed < Duration::from_secs(30));
    h.join();
}

#[test]
fn non_finite_loss_fails_the_run() {
    let c = small_config(HeadKind::Softmax);
    let mut split = data::make_split(&synthetic(), &c.data, 0).unwrap();
    split.train_x[5] = f32::NAN;
    let (tx, rx) = mpsc::channel();
    let (outcome, _) = train::train_on(
        Cpu::seed_from_u64(0),
        &c,
        &split,
        0,
        None,
        &AtomicBool::new(false),
        &tx,
    );
    drop(tx);
    match outcome {
        Outcome::Failed { reason } => {
            assert!(reason.contains("loss became NaN"), "{reason}");
            assert!(reason.contains("epoch 1"), "{reason}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
    assert!(rx.iter().all(|e| !matches!(e, Event::Epoch(_))));
}

#[test]
fn same_seed_same_losses_bit_for_bit() {
    let mut c = small_config(HeadKind::AdacosDynamic);
    c.train.augment.shift = 2;
    c.train.augment.flip = true;
    let a = progress_losses(&collect(c.clone()));
    let b = progress_losses(&collect(c.clone()));
    assert!(!a.is_empty());
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    c.train.seed = 1;
    let d = progress_losses(&collect(c));
    assert_ne!(a, d);
}

#[test]
fn cuda_without_feature_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let mut c = small_config(HeadKind::Cosface);
    c.train.device = adalab::config::DeviceKind::Cuda;
    let events = collect(c);
    match events.last().unwrap() {
        Event::Finished {
            outcome: Outcome::Failed { reason },
        } => assert!(reason.contains("`cuda` feature"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn saved_model_loads_back() {
    use adalab::model::net::Model;
    use adalab::model::params::Params;
    let dir = tempfile::tempdir().unwrap();
    let mut c = small_config(HeadKind::AdacosFixed);
    c.run.save_model = true;
    let h = train::spawn(
        c.clone(),
        JobOptions {
            model_dir: Some(dir.path().to_path_buf()),
            dataset: Some(synthetic()),
        },
    );
    let events: Vec<Event> = h.events.iter().collect();
    assert!(matches!(
        events.last(),
        Some(Event::Finished {
            outcome: Outcome::Finished
        })
    ));
    // The job sends the first seed's detector; its file loads as a model file too.
    let detector = events
        .iter()
        .find_map(|e| match e {
            Event::DetectorReady { detector, .. } => Some(detector.clone()),
            _ => None,
        })
        .expect("a detector event");
    let path = dir.path().join("detector.safetensors");
    adalab::store::detector::write(&path, &detector, "test").unwrap();
    let dev = Cpu::default();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(99);
    let mut m = Model::new(&dev, &c.model, &c.head, (1, 28, 28), 9, &mut rng).unwrap();
    let before = m.head.weight.as_vec();
    m.load_safetensors(&path).unwrap();
    assert_ne!(before, m.head.weight.as_vec());
}

/// CIFAR-shaped data (3×32×32, class = dominant colour plus noise) goes through the whole
/// pipeline: split by class names, colour augmentation-free training, scoring.
#[test]
fn three_channel_32px_pipeline_runs() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut make = |per_class: usize| {
        let mut images = data::Images::default();
        for class in 0..10u8 {
            for _ in 0..per_class {
                for ch in 0..3usize {
                    let base = [
                        (class as usize * 25) % 256,
                        (class as usize * 70) % 256,
                        (class as usize * 130) % 256,
                    ][ch];
                    for _ in 0..1024 {
                        let v = base as i32 + rng.gen_range(-40..=40);
                        images.pixels.push(v.clamp(0, 255) as u8);
                    }
                }
                images.labels.push(class);
            }
        }
        images
    };
    let ds = Dataset {
        kind: DatasetKind::Cifar10,
        class_names: data::CIFAR10_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        shape: (3, 32, 32),
        train: make(60),
        test: make(20),
        groups: Vec::new(),
        test_group: Vec::new(),
    };
    let mut c = small_config(HeadKind::Arcface);
    c.data.dataset = DatasetKind::Cifar10;
    c.data.normal = adalab::config::ClassRef::Name("deer".into());
    c.data.anomalous = adalab::config::ClassRef::Name("horse".into()).into();
    c.data.reference_count = 400;
    c.data.normal_train_count = 50.into();
    c.train.augment.flip = true;
    c.train.augment.shift = 1;
    let h = train::spawn(
        c,
        JobOptions {
            model_dir: None,
            dataset: Some(Arc::new(ds)),
        },
    );
    let events: Vec<Event> = h.events.iter().collect();
    assert_eq!(
        events.last().unwrap(),
        &Event::Finished {
            outcome: Outcome::Finished
        },
        "{events:?}"
    );
    let ready = events.iter().find_map(|e| match e {
        Event::DataReady { train, test, .. } => Some((*train, *test)),
        _ => None,
    });
    assert_eq!(ready, Some((450, 40)));
    let ep = epochs(&events);
    assert!(ep[0].auc[&ScorerKind::KnnCosine].is_finite());
}

/// The one-class mode: no reference classes, the normal images alone, 8 transform classes
/// (rotations × flip), scored by Mahalanobis over the 8 views, end to end for every head.
#[test]
fn one_class_transform_training_runs_end_to_end() {
    for head in HeadKind::ALL {
        let mut c = small_config(head);
        c.data.reference = Some(vec![]);
        c.transforms.rotations = vec![0, 90, 180, 270];
        c.transforms.flip = true;
        c.transforms.labels = adalab::config::LabelMode::Transform;
        c.score.scorers = vec![
            ScorerKind::Mahalanobis,
            ScorerKind::KnnCosine,
            ScorerKind::Ensemble,
        ];
        c.score.views.rotations = vec![0, 90, 180, 270];
        c.score.views.flip = true;
        adalab::job::check_with(
            &c,
            &adalab::data::Builtin,
            &adalab::config::Build {
                cuda: false,
                memory_bytes: None,
            },
        )
        .unwrap();
        let events = collect(c);
        let data = events
            .iter()
            .find_map(|e| match e {
                Event::DataReady { train, classes, .. } => Some((*train, *classes)),
                _ => None,
            })
            .unwrap();
        // 200 normal images, one data class (the transforms are the classes).
        assert_eq!(data, (200, 1), "{head}");
        let ev = events
            .iter()
            .find_map(|e| match e {
                Event::SeedFinished {
                    evaluation: Some(ev),
                    ..
                } => Some(ev.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{head}: {events:?}"));
        for k in [
            ScorerKind::Mahalanobis,
            ScorerKind::KnnCosine,
            ScorerKind::Ensemble,
        ] {
            let auc = ev.auc[&k];
            assert!((0.0..=1.0).contains(&auc), "{head} {k}: {auc}");
            assert!(ev.identity_auc.contains_key(&k));
        }
        assert_eq!(ev.view_auc.len(), 8);
        assert_eq!(ev.view_auc[0].view, "identity");
        assert!(matches!(
            events.last(),
            Some(Event::Finished {
                outcome: Outcome::Finished
            })
        ));
    }
}

#[test]
fn no_reference_classes_need_transform_classes() {
    let mut c = small_config(HeadKind::AdacosFixed);
    c.data.reference = Some(vec![]);
    let e = c.validate().unwrap_err();
    assert_eq!(e.key, "data.reference");
    assert!(e.message.contains("transforms.labels"), "{}", e.message);
    // Two transforms give fixed AdaCos only two classes: the check says so before training.
    c.transforms.flip = true;
    c.transforms.labels = adalab::config::LabelMode::Transform;
    c.score.scorers = vec![ScorerKind::KnnCosine];
    let e = adalab::job::check_with(
        &c,
        &adalab::data::Builtin,
        &adalab::config::Build {
            cuda: false,
            memory_bytes: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.key, "head.kind");
    assert!(e.message.contains("at least 3 classes"), "{}", e.message);
}
