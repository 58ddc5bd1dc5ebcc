//! The one-vs-rest protocol on the synthetic dataset: `data.anomalous = "rest"` and
//! `data.normal_train_count = "all"` — the counts the check reports, the labels of the test
//! split, and the per-anomalous-class AUCs recorded beside the overall one.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use adalab::config::{Anomalous, Build, ClassRef, Config, DatasetKind, ImageCount, ScorerKind};
use adalab::data;
use adalab::train::{self, Event, JobOptions};

fn build() -> Build {
    Build {
        cuda: false,
        memory_bytes: None,
    }
}

/// Ring is normal, the other nine shapes anomalous, from the ring images alone (4 rotations as
/// the classes), one quick epoch.
fn one_vs_rest() -> Config {
    let mut c = Config::default();
    c.data.dataset = DatasetKind::Synthetic;
    c.data.normal = ClassRef::Name("ring".into());
    c.data.anomalous = Anomalous::Rest;
    c.data.normal_train_count = ImageCount::All;
    c.model.widths = vec![8, 16];
    c.model.embedding_dim = 16;
    c.train.epochs = 1;
    c.train.batch_size = 64;
    c.train.threads = 2;
    c.transforms.rotations = vec![0, 90, 180, 270];
    c.transforms.labels = adalab::config::LabelMode::Transform;
    c.score.scorers = vec![ScorerKind::Mahalanobis, ScorerKind::KnnCosine];
    c
}

#[test]
fn the_check_counts_the_one_vs_rest_split() {
    let c = one_vs_rest();
    let info = adalab::job::check_with(&c, &data::Builtin, &build()).unwrap();
    let s = &info.split;
    assert_eq!((s.normal_train, s.normal_available), (1000, 1000));
    assert_eq!((s.test_normal, s.test_anomalous), (1000, 9000));
    assert!(s.rest && s.reference_classes.is_empty());
    assert_eq!(s.anomalous_classes.len(), 9);
    assert!(!s.anomalous_classes.iter().any(|n| n == "ring"));
    assert_eq!(
        s.describe(),
        "train 1,000 ring (all); test 1,000 normal + 9,000 anomalous (rest: all 9 other classes)"
    );

    // With reference classes the rest is what is left, said so.
    let mut r = c.clone();
    r.data.reference = Some(vec![ClassRef::Name("disc".into())]);
    r.data.reference_count = 500;
    let info = adalab::job::check_with(&r, &data::Builtin, &build()).unwrap();
    assert_eq!(info.split.test_anomalous, 8000);
    assert_eq!(info.training_classes, 2);
    assert!(
        info.split
            .describe()
            .ends_with("test 1,000 normal + 8,000 anomalous (rest: the 8 classes neither normal nor reference)"),
        "{}",
        info.split.describe()
    );

    // Errors name the key.
    let err = |c: &Config| {
        adalab::job::check_with(c, &data::Builtin, &build())
            .unwrap_err()
            .to_string()
    };
    let mut e = c.clone();
    e.transforms.labels = adalab::config::LabelMode::None;
    e.transforms.rotations = vec![0];
    let m = err(&e);
    assert!(
        m.starts_with("data.anomalous:") && m.contains("no reference"),
        "{m}"
    );
    let mut e = c.clone();
    e.data.anomalous = Anomalous::List(vec![ClassRef::Name("cross".into()), ClassRef::Index(5)]);
    assert!(err(&e).contains("listed twice"), "{}", err(&e));
    let mut e = c.clone();
    e.data.anomalous = Anomalous::List(vec![ClassRef::Name("ring".into())]);
    assert!(err(&e).starts_with("data.anomalous:"), "{}", err(&e));
    let mut e = c.clone();
    e.data.normal_train_count = ImageCount::Count(1001);
    assert!(
        err(&e).contains("normal_train_count") && err(&e).contains("only 1000"),
        "{}",
        err(&e)
    );
    let mut e = c.clone();
    e.score.scorers = vec![ScorerKind::KnnCosine];
    // Neighbour counts are checked against what "all" turns out to be.
    e.score.knn_k = 60;
    let m = e.check_neighbours(50).unwrap_err().to_string();
    assert!(
        m.starts_with("score.knn_k:") && m.contains("the 50 normal train images"),
        "{m}"
    );
    // `--set` reads the words.
    let s = Config::default()
        .with_override("data.anomalous=rest")
        .unwrap()
        .with_override("data.normal_train_count=all")
        .unwrap();
    assert_eq!(s.data.anomalous, Anomalous::Rest);
    assert_eq!(s.data.normal_train_count, ImageCount::All);
    let l = Config::default()
        .with_override("data.anomalous=sandal, ankle-boot")
        .unwrap();
    assert_eq!(l.data.anomalous.listed().len(), 2);
    assert_eq!(l.get("data.anomalous").unwrap(), "[sandal, ankle-boot]");
}

#[test]
fn per_class_aucs_partition_the_overall_auc() {
    let c = one_vs_rest();
    let ds = Arc::new(data::generate_synthetic());
    let h = train::spawn(
        c,
        JobOptions {
            model_dir: None,
            dataset: Some(ds.clone()),
        },
    );
    let events: Vec<Event> = h.events.iter().collect();
    let ready = events
        .iter()
        .find_map(|e| match e {
            Event::DataReady {
                train,
                normal_train,
                test,
                test_anomalous,
                ..
            } => Some((*train, *normal_train, *test, *test_anomalous)),
            _ => None,
        })
        .unwrap();
    assert_eq!(ready, (1000, 1000, 10_000, 9000));
    let ev = events
        .iter()
        .find_map(|e| match e {
            Event::SeedFinished {
                evaluation: Some(ev),
                ..
            } => Some(ev.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{events:?}"));
    let names: Vec<&str> = ev.group_auc.iter().map(|g| g.group.as_str()).collect();
    let expected: Vec<&str> = ds
        .class_names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "ring")
        .collect();
    assert_eq!(names, expected);
    for k in [ScorerKind::Mahalanobis, ScorerKind::KnnCosine] {
        // Every (normal, anomalous) pair belongs to one class, and the classes are the same
        // size: the overall AUC is the mean of the classes' AUCs.
        let mean: f64 =
            ev.group_auc.iter().map(|g| g.auc[&k]).sum::<f64>() / ev.group_auc.len() as f64;
        assert!(
            (ev.auc[&k] - mean).abs() < 1e-9,
            "{k}: {} vs {mean}",
            ev.auc[&k]
        );
        for g in &ev.group_auc {
            assert_eq!(g.images, 1000);
            assert!((0.0..=1.0).contains(&g.auc[&k]));
        }
    }
}

fn adalab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_adalab"));
    c.env("ADALAB_HOME", home)
        .env("ADALAB_CONFIG", home.join("config"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn runs_show_prints_the_split_and_the_per_class_aucs() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(["run", "synthetic-demo", "--json"])
        .args([
            "--set",
            "data.normal=disc",
            "--set",
            "data.anomalous=[ring, plus]",
        ])
        .args(["--set", "data.reference_count=700"])
        .args(["--set", "data.normal_train_count=all"])
        .args([
            "--set",
            "model.widths=[8,16]",
            "--set",
            "model.embedding_dim=16",
        ])
        .args(["--set", "train.epochs=1", "--set", "train.threads=2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains(
            "split: train 1,000 disc (all) + 700 reference (7 classes); test 1,000 normal + \
             2,000 anomalous (2 classes)"
        ),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = doc["run_id"].as_str().unwrap();
    let show = adalab(home.path())
        .args(["runs", "show", id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{text}");
    assert!(
        text.contains(
            "train 1,700 (normal 1,000), test 1,000 normal + 2,000 anomalous, as 8 classes"
        ),
        "{text}"
    );
    assert!(text.contains("per anomalous class"), "{text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ring ") || l.starts_with("plus "))
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows.iter().all(|r| r.contains("1000")), "{text}");
}

#[test]
fn study_show_prints_the_reference_beside_the_cells() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("paper.toml");
    std::fs::write(
        &file,
        r#"
description = "two heads against a paper"
base = "synthetic-demo"
seeds = 1
scorer = "knn-cosine"
[set]
"train.epochs" = 1
"data.reference_count" = 800
"data.normal_train_count" = 200
"model.widths" = [8, 16]
"model.embedding_dim" = 16
"score.scorers" = ["knn-cosine"]
[grid]
"head.kind" = ["arcface", "adacos-fixed"]
[reference]
name = "PAPER"
source = "A. Author and B. Author 2020, A Long Title About Anomalies That Goes On and On, Table 3 (synthetic shapes, AUROC over 10 runs)"
mean = 0.9
[reference.values]
"arcface" = 0.91
"adacos-fixed" = 0.89
"#,
    )
    .unwrap();
    let run = adalab(home.path())
        .args(["study", "run"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let show = adalab(home.path())
        .args(["study", "show"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{text}");
    assert!(
        text.contains("against PAPER on knn-cosine (source: A. Author"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    let header = text
        .lines()
        .find(|l| l.contains("mean − PAPER"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        header.starts_with("cell") && header.contains("PAPER"),
        "{text}"
    );
    let row = |label: &str| {
        text.lines()
            .rev()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row: {text}"))
            .to_string()
    };
    assert!(row("arcface ").contains("0.9100"), "{text}");
    assert!(row("adacos-fixed ").contains("0.8900"), "{text}");
    assert!(row("mean of 2 cells").contains("0.9000"), "{text}");
    assert!(row("worst: ").contains(" 1 "), "{text}");

    let md = adalab(home.path())
        .args(["study", "show", "--format", "md"])
        .arg(&file)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("| cell | n | median | mean | PAPER | mean − PAPER |"),
        "{md}"
    );
    let js = adalab(home.path())
        .args(["study", "show", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&js.stdout).unwrap();
    assert_eq!(doc["reference"]["name"], "PAPER");
    assert_eq!(doc["reference"]["rows"][0]["published"], 0.91);
}

#[test]
fn data_check_prints_a_profiles_split() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(["data", "check", "--profile", "synthetic-demo"])
        .args(["--set", "data.anomalous=rest"])
        .args(["--set", "data.reference=[disc, ring]"])
        .args(["--set", "data.reference_count=700"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("plus         1000     1000"), "{text}");
    assert!(
        text.contains(
            "profile synthetic-demo: split: train 1,000 plus (all) + 700 reference (2 classes); \
             test 1,000 normal + 7,000 anomalous (rest: the 7 classes neither normal nor reference)"
        ),
        "{text}"
    );

    // A config the check refuses is an error naming the key, and no split is printed.
    let out = adalab(home.path())
        .args(["data", "check", "--profile", "synthetic-demo"])
        .args(["--set", "data.anomalous=rest"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("data.anomalous"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("split:"));
}
