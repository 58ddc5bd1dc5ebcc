//! A run's detector as a user applies it: `adalab score` reproduces the recorded scores, the
//! calibrated threshold means what it says, the export is complete (a numpy script reproduces
//! the scores), and bad inputs are clear errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn adalab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_adalab"));
    c.env("ADALAB_HOME", home)
        .env("ADALAB_CONFIG", home.join("config"))
        .env("ADALAB_CACHE", home.join("cache"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Small, quick settings on the synthetic dataset, every scorer.
const QUICK: [&str; 16] = [
    "--set",
    "data.reference_count=800",
    "--set",
    "data.normal_train_count=200",
    "--set",
    "model.widths=[8,16]",
    "--set",
    "train.epochs=1",
    "--set",
    "model.embedding_dim=16",
    "--set",
    "train.threads=2",
    "--set",
    "score.scorers=[\"knn-cosine\",\"lof\",\"class-cosine\",\"mahalanobis\",\"ensemble\"]",
    "--set",
    "score.ensemble=[\"knn-cosine\",\"lof\"]",
];

/// Trains a quick synthetic run with extra settings; returns its id.
fn train(home: &Path, extra: &[&str]) -> String {
    let out = adalab(home)
        .args(["run", "synthetic-demo", "--json"])
        .args(QUICK)
        .args(extra)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    doc["run_id"].as_str().unwrap().to_string()
}

/// CSV text → header and rows.
fn csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Column `name` of a CSV.
fn column(text: &str, name: &str) -> Vec<String> {
    let (h, rows) = csv(text);
    let i = h
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {h:?}"));
    rows.into_iter().map(|r| r[i].clone()).collect()
}

#[test]
fn rescoring_the_test_split_reproduces_the_recorded_scores() {
    let home = tempfile::tempdir().unwrap();
    for views in [
        &[][..],
        &[
            "--set",
            "score.views.rotations=[0,90]",
            "--set",
            "score.views.flip=true",
        ][..],
    ] {
        let id = train(home.path(), views);
        let recorded =
            std::fs::read_to_string(home.path().join("runs").join(&id).join("scores.csv")).unwrap();
        let out = adalab(home.path())
            .args(["score", &id, "--split", "test", "--csv"])
            .output()
            .unwrap();
        let again = ok(&out);
        for k in [
            "knn-cosine",
            "lof",
            "class-cosine",
            "mahalanobis",
            "ensemble",
        ] {
            let col = format!("score_{k}");
            let want = column(&recorded, &col);
            assert!(!want.is_empty());
            assert_eq!(column(&again, &col), want, "{k}, views {views:?}");
        }
        // `runs show` says the detector is saved and lists the test-set operating points.
        let show = ok(&adalab(home.path())
            .args(["runs", "show", &id])
            .output()
            .unwrap());
        assert!(show.contains("saved     detector.safetensors"), "{show}");
        assert!(show.contains("chosen on the test set"), "{show}");
    }
}

/// Writes grey PNGs of `n` synthetic test images of class `class` into `dir`.
fn write_pngs(dir: &Path, class: u8, n: usize) -> Vec<PathBuf> {
    let ds = adalab::data::generate_synthetic();
    let len = ds.image_len();
    let (_, h, w) = ds.shape;
    let mut out = Vec::new();
    for (i, _) in ds
        .test
        .labels
        .iter()
        .enumerate()
        .filter(|(_, &l)| l == class)
        .take(n)
    {
        let p = dir.join(format!("c{class}-{i:04}.png"));
        let f = std::fs::File::create(&p).unwrap();
        let mut enc = png::Encoder::new(f, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&ds.test.pixels[i * len..(i + 1) * len])
            .unwrap();
        out.push(p);
    }
    out
}

/// A python3 with numpy: `ADALAB_PYTHON`, else `python3`.
fn python_with_numpy() -> Option<String> {
    let py = std::env::var("ADALAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import numpy, tomllib"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

#[test]
fn export_and_the_numpy_example_agree() {
    let home = tempfile::tempdir().unwrap();
    let id = train(
        home.path(),
        &[
            "--set",
            "score.views.rotations=[0,180]",
            "--set",
            "model.padding=1",
        ],
    );
    let export = home.path().join("export");
    let msg = ok(&adalab(home.path())
        .args(["runs", "export-detector", &id, "-o"])
        .arg(&export)
        .output()
        .unwrap());
    assert!(msg.contains("exported the detector"), "{msg}");
    let toml_text = std::fs::read_to_string(export.join("detector.toml")).unwrap();
    let meta: toml::Value = toml::from_str(&toml_text).unwrap();
    assert_eq!(meta["format"].as_str(), Some("adalab-detector"));
    assert_eq!(meta["input"]["channels"].as_integer(), Some(1));
    assert!(meta["threshold"]["at_fpr"]["knn-cosine"]["fpr=0.05"].is_float());
    // Exporting again over it is refused without --force.
    let again = adalab(home.path())
        .args(["runs", "export-detector", &id, "-o"])
        .arg(&export)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let images = home.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let mut files = write_pngs(&images, 2, 3);
    files.extend(write_pngs(&images, 3, 3));
    files.sort();
    let ours = ok(&adalab(home.path())
        .args(["score", &id, "--csv"])
        .arg(&images)
        .output()
        .unwrap());
    assert_eq!(column(&ours, "path").len(), 6);

    let Some(py) = python_with_numpy() else {
        println!(
            "skipped: no python3 with numpy (set ADALAB_PYTHON) to run examples/score_numpy.py"
        );
        return;
    };
    let out = Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/score_numpy.py"
        ))
        .arg(&export)
        .args(&files)
        .output()
        .unwrap();
    let theirs = ok(&out);
    let by_path = |text: &str, k: &str| -> BTreeMap<String, f64> {
        column(text, "path")
            .into_iter()
            .zip(column(text, &format!("score_{k}")))
            .map(|(p, v)| (p, v.parse().unwrap()))
            .collect()
    };
    for k in [
        "knn-cosine",
        "lof",
        "class-cosine",
        "mahalanobis",
        "ensemble",
    ] {
        let (a, b) = (by_path(&ours, k), by_path(&theirs, k));
        assert_eq!(a.len(), 6, "{k}");
        for (p, x) in &a {
            let y = b[p];
            assert!(
                (x - y).abs() <= 1e-4 * x.abs().max(1.0),
                "{k} {p}: adalab {x}, numpy {y}"
            );
        }
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    // A run trained without saving its detector.
    let id = train(home.path(), &["--set", "run.save_model=false"]);
    let out = adalab(home.path())
        .args(["score", &id, "--split", "test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no saved detector"), "{err}");
    assert!(err.contains("run.save_model = false"), "{err}");

    let id = train(home.path(), &[]);
    let dir = home.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    // A file that is not an image, named explicitly.
    let junk = dir.join("notes.png");
    std::fs::write(&junk, b"not an image at all").unwrap();
    let out = adalab(home.path())
        .args(["score", &id])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.png") && err.contains("not a PNG"),
        "{err}"
    );
    // A path that does not exist.
    let out = adalab(home.path())
        .args(["score", &id])
        .arg(dir.join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    // A bad threshold is a usage error.
    let out = adalab(home.path())
        .args(["score", &id, "--split", "test", "--threshold", "fpr=5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threshold"));
    // A damaged detector file fails its checksum, named.
    let file = home
        .path()
        .join("runs")
        .join(&id)
        .join("detector.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    let out = adalab(home.path())
        .args(["score", &id, "--split", "test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("detector.safetensors") && err.contains("fails its checksum"),
        "{err}"
    );
    // A truncated one is not a safetensors file any more.
    std::fs::write(&file, &bytes[..100]).unwrap();
    let out = adalab(home.path())
        .args(["score", &id, "--split", "test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("detector.safetensors"));
}

/// The engine's folder scoring (what the lab's `s` runs) and `adalab score` give the same
/// scores and verdicts for the same files; the lab's worker ranks them; bad input is an error
/// naming it; a set cancel flag stops it.
#[test]
fn scoring_a_folder_through_the_engine_equals_adalab_score() {
    use adalab::job::score::{resolve_threshold, score_files, ScoreError, Threshold, DEFAULT_FPR};
    use adalab::tui::launcher::{spawn_score, ScoreUpdate};
    use std::sync::atomic::AtomicBool;

    let home = tempfile::tempdir().unwrap();
    let id = train(home.path(), &["--set", "score.views.rotations=[0,90]"]);
    let images = home.path().join("images");
    std::fs::create_dir_all(images.join("more")).unwrap();
    write_pngs(&images, 2, 4);
    write_pngs(&images.join("more"), 3, 4);
    std::fs::write(images.join("more").join("broken.png"), b"not an image").unwrap();
    let cli = ok(&adalab(home.path())
        .args(["score", &id, "--csv", "--skip-bad"])
        .arg(&images)
        .output()
        .unwrap());
    let store = adalab::store::Store::with_dirs(home.path(), home.path().join("config"));
    let d = store.load_detector(&id).unwrap();
    let verdict = resolve_threshold(&d, None, Threshold::Fpr(DEFAULT_FPR)).unwrap();
    let never = AtomicBool::new(false);
    let mut reports = Vec::new();
    let (inputs, scored) = score_files(
        &d,
        std::slice::from_ref(&images),
        verdict.clone(),
        true,
        &never,
        &mut |p| reports.push(p),
    )
    .unwrap();
    assert_eq!(inputs.names, column(&cli, "path"));
    assert_eq!(inputs.skipped.len(), 1);
    assert!(inputs.skipped[0].to_string().contains("broken.png"));
    for k in &scored.scorers {
        let want: Vec<f32> = column(&cli, &format!("score_{k}"))
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(scored.scores[k], want, "{k}");
    }
    let flagged: Vec<bool> = column(&cli, "flagged")
        .iter()
        .map(|v| v == "true")
        .collect();
    assert_eq!(scored.flagged, flagged);
    assert!(reports
        .iter()
        .any(|p| matches!(p, adalab::job::score::ScoreProgress::Embedding { .. })));

    // The lab's worker: the same images, most anomalous first, same verdicts.
    let job = spawn_score(store.clone(), id.clone(), images.clone()).unwrap();
    let done = loop {
        match job.events.recv().unwrap() {
            ScoreUpdate::Progress(_) => {}
            ScoreUpdate::Done(r) => break r,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!((done.images, done.flagged), (8, scored.n_flagged()));
    assert_eq!(done.skipped.len(), 1);
    let primary = scored.verdict_scores();
    let mut want: Vec<f32> = primary.to_vec();
    want.sort_by(|a, b| b.total_cmp(a));
    let got: Vec<f32> = done.ranked.iter().map(|r| r.score).collect();
    assert_eq!(got, want);
    assert!(done.ranked.iter().any(|r| r.name.starts_with("more/")));
    assert_eq!(done.thumbs.len(), 8);

    // A set cancel flag stops it; bad folders and runs are errors naming them.
    let stop = AtomicBool::new(true);
    let r = score_files(
        &d,
        &[images.clone()],
        verdict.clone(),
        true,
        &stop,
        &mut |_| {},
    );
    assert!(matches!(r, Err(ScoreError::Cancelled)), "{r:?}");
    let empty = home.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = score_files(
        &d,
        &[empty.clone()],
        verdict.clone(),
        true,
        &never,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no image files") && e.contains("empty"), "{e}");
    let e = score_files(&d, &[images.clone()], verdict, false, &never, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("broken.png"), "{e}");
    let plain = train(home.path(), &["--set", "run.save_model=false"]);
    let job = spawn_score(store, plain, images).unwrap();
    let end = loop {
        match job.events.recv().unwrap() {
            ScoreUpdate::Progress(_) => {}
            other => break other,
        }
    };
    assert!(
        matches!(&end, ScoreUpdate::Failed(m) if m.contains("has no saved detector")),
        "{end:?}"
    );
}

/// The real Fashion-MNIST, when present (`ADALAB_DATA`, else `../shared/data`).
fn fashion() -> Option<PathBuf> {
    let mut bases = Vec::new();
    if let Some(d) = std::env::var_os("ADALAB_DATA").filter(|v| !v.is_empty()) {
        bases.push(PathBuf::from(d));
    }
    bases.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data"
    )));
    bases.into_iter().find(|b| {
        adalab::data::locate(adalab::config::DatasetKind::FashionMnist, Some(b))
            .is_ok_and(|p| p.starts_with(b))
    })
}

/// `fpr=0.05` flags about 5% of normal images the detector never saw: the spare normal-class
/// training images that neither trained the run nor calibrated its threshold (4,000 sneakers
/// on Fashion-MNIST). Fashion's *test* sneakers are more typical than its training ones (they
/// come out at 2.4–3.8% for every seed and training length tried), so the test split's rate is
/// printed, not asserted.
#[test]
fn fpr_threshold_flags_about_that_many_held_out_normal_images_on_fashion() {
    let Some(data) = fashion() else {
        println!("skipped: Fashion-MNIST not found via ADALAB_DATA or ../shared/data");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .env("ADALAB_DATA", &data)
        .args([
            "run",
            "--json",
            "--set",
            "train.epochs=2",
            "--set",
            "score.eval_every=2",
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let id = doc["run_id"].as_str().unwrap().to_string();
    let score = |split: &str| {
        ok(&adalab(home.path())
            .env("ADALAB_DATA", &data)
            .args(["score", &id, "--split", split, "--csv"])
            .args(["--threshold", "fpr=0.05"])
            .output()
            .unwrap())
    };
    let rate = |text: &str| {
        let rows: Vec<bool> = column(text, "flagged")
            .iter()
            .zip(column(text, "label"))
            .filter(|(_, l)| l == "normal")
            .map(|(f, _)| f == "true")
            .collect();
        let n = rows.len();
        (rows.into_iter().filter(|&f| f).count() as f64 / n as f64, n)
    };
    // The held-out images: the run's spare normal images less those that calibrated it,
    // written as PNGs and scored as a folder.
    let store = adalab::store::Store::with_dirs(home.path(), home.path().join("config"));
    let mut cfg = store.load_run(&id).unwrap().record.config.data;
    cfg.data_dir = Some(data.clone());
    let ds = adalab::data::load_for(&cfg).unwrap();
    let seed = store.load_detector(&id).unwrap().meta.seed;
    let (spare, calibration) =
        adalab::data::spare_normal_rows(&ds, &cfg, seed, adalab::score::state::CALIBRATION_IMAGES)
            .unwrap();
    let dir = home.path().join("held-out");
    std::fs::create_dir(&dir).unwrap();
    let (len, (_, h, w)) = (ds.image_len(), ds.shape);
    let mut n = 0;
    for &i in spare
        .iter()
        .filter(|i| calibration.binary_search(i).is_err())
    {
        let f = std::fs::File::create(dir.join(format!("{i:05}.png"))).unwrap();
        let mut enc = png::Encoder::new(f, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&ds.train.pixels[i * len..(i + 1) * len])
            .unwrap();
        n += 1;
    }
    let text = ok(&adalab(home.path())
        .args(["score", &id, "--csv", "--threshold", "fpr=0.05"])
        .arg(&dir)
        .output()
        .unwrap());
    let flagged = column(&text, "flagged");
    assert_eq!(flagged.len(), n);
    let held_out = flagged.iter().filter(|f| *f == "true").count() as f64 / n as f64;
    let (test, n_test) = rate(&score("test"));
    println!(
        "fpr=0.05 flagged {held_out:.4} of {n} held-out normal training images, \
         {test:.4} of {n_test} normal test images"
    );
    assert_eq!(n, 4000);
    assert!(
        (0.03..=0.07).contains(&held_out),
        "fpr=0.05 flagged {held_out}"
    );
}
