//! Studies through the binary: a grid of cells × seeds run on a local queue, shown as a table,
//! Markdown, CSV and JSON, plotted as SVG and PNG, and resumed after a kill.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn adalab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_adalab"));
    c.env("ADALAB_HOME", home)
        .env("ADALAB_CONFIG", home.join("config"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(home: &Path, name: impl AsRef<std::ffi::OsStr>) -> serde_json::Value {
    let text = ok(adalab(home)
        .args(["study", "show"])
        .arg(name)
        .args(["--format", "json"]));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_study_runs_shows_and_plots() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(["study", "run", "synthetic-study", "--jobs", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("4 to run (2 at a time"), "{stderr}");
    assert_eq!(stderr.matches("AUC knn-cosine").count(), 4, "{stderr}");

    let doc = json(home.path(), "synthetic-study");
    assert_eq!(doc["done"], 4);
    let cells = doc["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    assert_eq!(cells[0]["short"], "arcface");
    assert_eq!(cells[1]["summary"]["knn-cosine"]["n"], 2);
    assert!(cells[1]["comparison"]["median_diff"].is_f64());

    let table = ok(adalab(home.path()).args(["study", "show", "synthetic-study"]));
    assert!(
        table.contains("2 cells × 2 seeds: 4/4 runs finished"),
        "{table}"
    );
    assert!(
        table.contains("┃") && table.contains("adacos-fixed"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    assert!(table.contains("paired bootstrap interval"), "{table}");
    let md = ok(adalab(home.path()).args(["study", "show", "synthetic-study", "--format", "md"]));
    assert!(md.contains("| arcface | knn-cosine | 2 |"), "{md}");
    let csv = ok(adalab(home.path()).args(["study", "show", "synthetic-study", "--format", "csv"]));
    assert!(csv.starts_with("study,cell,label,scorer,n,median"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2 * 2, "{csv}");

    // The runs are tagged with the study and their cell.
    let list = ok(adalab(home.path()).args([
        "runs",
        "list",
        "--filter",
        "tag=study:synthetic-study",
        "--json",
    ]));
    let runs: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 4);

    // The figure, as SVG and PNG.
    let svg = home.path().join("fig.svg");
    ok(adalab(home.path())
        .args(["study", "plot", "synthetic-study", "-o"])
        .arg(&svg));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("<svg")
            && text.lines().any(|l| l.trim() == "adacos-fixed")
            && text.lines().any(|l| l.trim() == "n = 2"),
        "{}",
        &text[..200]
    );
    assert!(text.contains("ROC AUC (knn-cosine)"));
    let png = home.path().join("fig.png");
    ok(adalab(home.path())
        .args(["study", "plot", "synthetic-study", "-o"])
        .arg(&png));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 10_000);
    let bad = adalab(home.path())
        .args(["study", "plot", "synthetic-study", "-o", "fig.gif"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains(".svg or .png"));
    // A folder that is not there is named in plain words, and nothing is left behind.
    let nowhere = home.path().join("no-such-folder").join("fig.svg");
    let bad = adalab(home.path())
        .args(["study", "plot", "synthetic-study", "-o"])
        .arg(&nowhere)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no-such-folder does not exist"), "{stderr}");
    assert!(!stderr.contains("BackendError"), "{stderr}");

    // Running it again does nothing.
    let out = adalab(home.path())
        .args(["study", "run", "synthetic-study"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 finished") && stderr.contains("0 to run"),
        "{stderr}"
    );
}

#[test]
fn a_killed_study_resumes_with_only_the_missing_runs() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("resume.toml");
    std::fs::write(
        &file,
        "description = \"resume test\"\nbase = \"synthetic-demo\"\nseeds = 3\n\
         [set]\n\"train.epochs\" = 2\n\"data.reference_count\" = 800\n\
         \"data.normal_train_count\" = 200\n\"model.widths\" = [8, 16]\n\
         \"model.embedding_dim\" = 16\n\"score.scorers\" = [\"knn-cosine\"]\n\
         [grid]\n\"head.kind\" = [\"arcface\", \"cosface\"]\n",
    )
    .unwrap();
    let mut child = adalab(home.path())
        .args(["study", "run"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once two runs have finished.
    let t0 = Instant::now();
    loop {
        let doc = json(home.path(), &file);
        if doc["done"].as_u64().unwrap() >= 2 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done_before = json(home.path(), &file)["done"].as_u64().unwrap();
    assert!(done_before < 6, "the study finished before the kill");
    // Runs, not a hidden staging folder the kill may have left (the next run sweeps it).
    let count = |home: &Path| {
        std::fs::read_dir(home.join("runs"))
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count()
    };
    let runs_before = count(home.path());

    let out = adalab(home.path())
        .args(["study", "run"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let queued = 6 - done_before;
    assert!(
        stderr.contains(&format!("{queued} to run")),
        "{done_before} done before: {stderr}"
    );
    let doc = json(home.path(), &file);
    assert_eq!(doc["done"], 6);
    let runs_after = count(home.path());
    // One new run per missing task; the killed one stays in the store as interrupted.
    assert_eq!(runs_after as u64, runs_before as u64 + queued);
}

/// Runs of the store by task `(cell key, seed index)`.
fn runs_per_task(home: &Path) -> std::collections::BTreeMap<(String, u64), usize> {
    let list = ok(adalab(home).args(["runs", "list", "--json"]));
    let runs: serde_json::Value = serde_json::from_str(&list).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for r in runs.as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let text = std::fs::read_to_string(home.join("runs").join(id).join("run.toml")).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let st = doc["study"].as_table().unwrap();
        let key = (
            st["cell_key"].as_str().unwrap().to_string(),
            st["seed_index"].as_integer().unwrap() as u64,
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

#[test]
fn three_study_runs_at_once_train_each_task_once() {
    // Each process plans at start; the claims make sure no task is trained twice.
    for trial in 0..2 {
        let home = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..3)
            .map(|_| {
                adalab(home.path())
                    .args(["study", "run", "synthetic-study", "--jobs", "2"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut skipped = 0;
        for c in children {
            let out = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            skipped += stderr.matches(": skipped, ").count();
        }
        let per_task = runs_per_task(home.path());
        assert_eq!(per_task.len(), 4, "trial {trial}: {per_task:?}");
        assert!(
            per_task.values().all(|n| *n == 1),
            "trial {trial}: {per_task:?}"
        );
        // Whatever a process planned and found taken, it said so.
        assert!(skipped <= 8, "{skipped}");
        assert_eq!(json(home.path(), "synthetic-study")["done"], 4);
    }
}

#[test]
fn a_study_run_with_overrides_is_shown_plotted_and_listed_as_its_own_variant() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args([
            "study",
            "run",
            "synthetic-study",
            "--jobs",
            "2",
            "--set",
            "train.epochs=2",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The message at the end names the exact command that shows these results.
    assert!(
        stderr.contains("`adalab study show synthetic-study --set train.epochs=2` for the results"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_str(&ok(adalab(home.path()).args([
        "study",
        "show",
        "synthetic-study",
        "--set",
        "train.epochs=2",
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(doc["done"], 4, "{doc:#}");
    assert_eq!(doc["overrides"][0], "train.epochs=2");
    // Every run trained 2 epochs and records the overrides.
    let list: serde_json::Value =
        serde_json::from_str(&ok(adalab(home.path()).args(["runs", "list", "--json"]))).unwrap();
    for r in list.as_array().unwrap() {
        assert_eq!(r["epochs"], 2, "{r}");
    }
    // Without --set: nothing as written, and how to show what there is.
    let out = adalab(home.path())
        .args(["study", "show", "synthetic-study"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("0/4 runs finished"), "{stdout}");
    assert!(
        stderr.contains("4 run(s), --set train.epochs=2: adalab study show synthetic-study --set train.epochs=2"),
        "{stderr}"
    );
    // The table with the overrides, its 2-seed caution, and the figure.
    let table = ok(adalab(home.path()).args([
        "study",
        "show",
        "synthetic-study",
        "--set",
        "train.epochs=2",
    ]));
    assert!(
        table.contains("study synthetic-study · train.epochs=2")
            && table.contains("4/4 runs finished"),
        "{table}"
    );
    assert!(
        table.contains("caution: 2 paired seeds") && table.contains("not meaningful"),
        "{table}"
    );
    let svg = home.path().join("v.svg");
    ok(adalab(home.path())
        .args([
            "study",
            "plot",
            "synthetic-study",
            "--set",
            "train.epochs=2",
            "-o",
        ])
        .arg(&svg));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("too few for a meaningful spread"),
        "{}",
        &text[..300]
    );
    assert!(text.lines().any(|l| l.trim() == "n = 2"));
}

#[test]
fn a_name_that_does_not_exist_is_a_usage_error_for_every_command() {
    let home = tempfile::tempdir().unwrap();
    let svg = home.path().join("x.svg");
    let svg = svg.to_str().unwrap();
    for args in [
        vec!["study", "run", "no-such-study"],
        vec!["study", "show", "no-such-study"],
        vec!["study", "plot", "no-such-study", "-o", svg],
        vec!["run", "no-such-profile"],
        vec!["runs", "show", "no-such-run"],
        vec!["runs", "delete", "no-such-run"],
        vec!["profiles", "show", "no-such-profile"],
    ] {
        let out = adalab(home.path()).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("no-such-"), "{args:?}: {stderr}");
    }
    // A broken study file says where, as a broken profile does.
    let file = home.path().join("broken.toml");
    std::fs::write(&file, "base = \"synthetic-demo\"\nseeds = [\n").unwrap();
    for cmd in ["run", "show"] {
        let out = adalab(home.path())
            .args(["study", cmd])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("broken.toml") && stderr.contains("line 2, column"),
            "{stderr}"
        );
    }
}
