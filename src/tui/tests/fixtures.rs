//! Fixtures of the lab tests: epochs, evaluations, scripted events, run records and a
//! temporary store with them.

use super::*;

pub(super) fn epoch(
    e: usize,
    loss: f32,
    acc: f32,
    scale: f32,
    auc: &[(ScorerKind, f64)],
) -> EpochMetrics {
    EpochMetrics {
        epoch: e,
        loss,
        accuracy: acc,
        scale,
        lr: 1e-3,
        seconds: 10.0,
        images_per_sec: 900.0,
        auc: auc.iter().copied().collect(),
    }
}

pub(super) fn evaluation(knn: f64, lof: f64) -> Evaluation {
    Evaluation {
        epoch: 4,
        auc: [(ScorerKind::KnnCosine, knn), (ScorerKind::Lof, lof)]
            .into_iter()
            .collect(),
        average_precision: BTreeMap::new(),
        roc: BTreeMap::new(),
        labels: vec![false, true],
        scores: BTreeMap::new(),
        identity_auc: Default::default(),
        view_auc: Vec::new(),
        group_auc: Vec::new(),
    }
}

pub(super) fn repeated_config() -> Config {
    let mut c = pinned();
    c.train.epochs = 4;
    c.run.repeat = 3;
    c
}

/// A repeated job: seed 0 done (4 epochs), seed 1 in its second epoch.
pub(super) fn scripted_events(c: &Config) -> Vec<(f64, Event)> {
    use ScorerKind::{KnnCosine as K, Lof as L};
    let mut v = vec![
        (
            0.0,
            Event::Started {
                config: Box::new(c.clone()),
                seeds: (0..c.run.repeat as u64).collect(),
                device: "cpu".into(),
                threads: 2,
            },
        ),
        (
            2.0,
            Event::DataReady {
                train: 9000,
                normal_train: 1000,
                test: 2000,
                classes: 9,
                test_anomalous: 1000,
            },
        ),
        (2.0, Event::SeedStarted { index: 0, seed: 0 }),
    ];
    let curve = [
        (1.2, 0.55, 0.861, 0.842),
        (0.8, 0.71, 0.902, 0.871),
        (0.6, 0.80, 0.915, 0.890),
        (0.5, 0.84, 0.911, 0.893),
    ];
    for (i, (loss, acc, k, l)) in curve.iter().enumerate() {
        let t = 2.0 + 10.0 * (i as f64 + 1.0);
        v.push((
            t - 5.0,
            Event::Progress {
                epoch: i + 1,
                batch: 70,
                batches: 141,
                images_per_sec: 880.0,
                loss: *loss,
                accuracy: 0.5,
            },
        ));
        v.push((
            t,
            Event::Epoch(epoch(i + 1, *loss, *acc, 2.941, &[(K, *k), (L, *l)])),
        ));
    }
    v.push((42.0, Event::warn("LOF found duplicate embeddings")));
    v.push((
        42.0,
        Event::SeedFinished {
            index: 0,
            seed: 0,
            outcome: Outcome::Finished,
            evaluation: Some(Box::new(evaluation(0.911, 0.893))),
            summary: crate::score::summarize([&evaluation(0.911, 0.893).auc]),
            identity_summary: Default::default(),
        },
    ));
    v.push((42.0, Event::SeedStarted { index: 1, seed: 1 }));
    v.push((
        52.0,
        Event::Epoch(epoch(1, 1.1, 0.58, 2.941, &[(K, 0.874), (L, 0.851)])),
    ));
    v.push((
        57.0,
        Event::Progress {
            epoch: 2,
            batch: 100,
            batches: 141,
            images_per_sec: 905.0,
            loss: 0.84,
            accuracy: 0.5,
        },
    ));
    v
}

pub(super) fn started_lab(c: Config) -> Lab {
    let mut l = lab();
    l.app
        .form
        .load(c.clone(), "fashion-sneaker-boot-adacos-fixed");
    l.ch('r');
    assert_eq!(l.app.tab, Tab::Train);
    for (t, ev) in scripted_events(&c) {
        l.script.send(ev);
        l.tick_at(t);
    }
    l
}

pub(super) fn seed_record(
    index: usize,
    seed: u64,
    knn: f64,
    lof: f64,
    epochs: usize,
) -> SeedRecord {
    use ScorerKind::{KnnCosine as K, Lof as L};
    SeedRecord {
        index,
        seed,
        status: RunStatus::Finished,
        reason: None,
        scores_file: None,
        result: Some(SeedResult {
            epoch: epochs,
            auc: [(K, knn), (L, lof)].into_iter().collect(),
            average_precision: [(K, knn - 0.05), (L, lof - 0.05)].into_iter().collect(),
            identity_auc: Default::default(),
            view_auc: Vec::new(),
            group_auc: Vec::new(),
        }),
        epochs: (1..=epochs)
            .map(|e| {
                let f = e as f64 / epochs as f64;
                epoch(
                    e,
                    (1.5 - f) as f32,
                    (0.5 + 0.4 * f) as f32,
                    2.941,
                    &[(K, knn - 0.05 * (1.0 - f)), (L, lof - 0.06 * (1.0 - f))],
                )
            })
            .collect(),
    }
}

pub(super) fn record(
    id: &str,
    minutes: i64,
    head: HeadKind,
    aucs: &[(f64, f64)],
    tags: &[&str],
) -> RunRecord {
    let mut config = pinned();
    config.head.kind = head;
    config.train.epochs = 5;
    config.run.repeat = aucs.len();
    let created = Timestamp(WALL.0 - 3600 * 5 + minutes * 60);
    let seeds: Vec<SeedRecord> = aucs
        .iter()
        .enumerate()
        .map(|(i, (k, l))| seed_record(i, i as u64, *k, *l, 5))
        .collect();
    let mut r = RunRecord {
        schema_version: SCHEMA_VERSION,
        id: id.into(),
        profile: format!("fashion-sneaker-boot-{head}"),
        changes: Vec::new(),
        status: RunStatus::Finished,
        reason: None,
        created,
        updated: Timestamp(created.0 + 300),
        finished: Some(Timestamp(created.0 + 300)),
        host: "lab-host".into(),
        pid: 1,
        heartbeat: Timestamp(created.0 + 300),
        device: "cpu".into(),
        threads: 2,
        adalab_version: "0.1.0".into(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        note: String::new(),
        planned_seeds: (0..aucs.len() as u64).collect(),
        data: Some(DataCounts {
            train: 9000,
            normal_train: 1000,
            test: 2000,
            classes: 9,
            test_anomalous: 1000,
        }),
        study: None,
        config,
        seeds,
        summary: BTreeMap::new(),
        identity_summary: Default::default(),
    };
    r.summary = crate::score::summarize(
        r.seeds
            .iter()
            .filter_map(|s| s.result.as_ref())
            .map(|x| &x.auc),
    );
    r
}

pub(super) fn write_run(store: &Store, r: &RunRecord, with_scores: bool) {
    let dir = store.runs_dir().join(&r.id);
    std::fs::create_dir_all(&dir).unwrap();
    r.save(&dir.join(crate::store::RUN_FILE)).unwrap();
    if with_scores {
        // 40 test images: 20 normal with low scores, 20 anomalous with mostly high ones.
        let n = 40;
        let labels: Vec<bool> = (0..n).map(|i| i >= 20).collect();
        let knn: Vec<f32> = (0..n)
            .map(|i| {
                if i >= 20 {
                    0.3 + (i as f32) * 0.01
                } else {
                    (i as f32) * 0.02
                }
            })
            .collect();
        let lof: Vec<f32> = knn.iter().map(|v| 1.0 + v * 0.5).collect();
        let ev = Evaluation {
            epoch: 5,
            auc: BTreeMap::new(),
            average_precision: BTreeMap::new(),
            roc: BTreeMap::new(),
            labels,
            scores: [(ScorerKind::KnnCosine, knn), (ScorerKind::Lof, lof)]
                .into_iter()
                .collect(),
            identity_auc: Default::default(),
            view_auc: Vec::new(),
            group_auc: Vec::new(),
        };
        crate::store::scores::write(&dir.join(crate::store::SCORES_FILE), &ev).unwrap();
    }
}

pub(super) fn temp_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::with_dirs(dir.path().join("home"), dir.path().join("config"));
    write_run(
        &store,
        &record(
            "20261129T210000Z-aaaa",
            0,
            HeadKind::AdacosFixed,
            &[
                (0.912, 0.893),
                (0.934, 0.901),
                (0.921, 0.887),
                (0.905, 0.880),
                (0.928, 0.899),
            ],
            &["baseline"],
        ),
        true,
    );
    write_run(
        &store,
        &record(
            "20261129T220000Z-bbbb",
            60,
            HeadKind::Arcface,
            &[(0.884, 0.871)],
            &[],
        ),
        true,
    );
    write_run(
        &store,
        &record(
            "20261129T230000Z-cccc",
            120,
            HeadKind::Softmax,
            &[(0.853, 0.861)],
            &["old"],
        ),
        false,
    );
    let bad = store.runs_dir().join("20261129T235900Z-dddd");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join(crate::store::RUN_FILE), "schema_version = 99\n").unwrap();
    (store, dir)
}

pub(super) fn runs_lab() -> Lab {
    let mut l = lab_with(Some(temp_store()), Script::default());
    l.ch('3');
    l
}
