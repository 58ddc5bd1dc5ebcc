//! `adalab run` as a user runs it: the binary, a temp store, JSON and table output, errors.

use std::path::Path;
use std::process::Command;

fn adalab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_adalab"));
    c.env("ADALAB_HOME", home)
        .env("ADALAB_CONFIG", home.join("config"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Small, quick settings on the synthetic dataset.
const QUICK: [&str; 12] = [
    "--set",
    "data.reference_count=800",
    "--set",
    "data.normal_train_count=200",
    "--set",
    "model.widths=[8,16]",
    "--set",
    "train.epochs=2",
    "--set",
    "model.embedding_dim=16",
    "--set",
    "train.threads=2",
];

#[test]
fn json_output_has_runs_and_summary_primary_first() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(["run", "synthetic-demo", "--json", "--repeat", "2"])
        .args(QUICK)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "finished");
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["seed"], 0);
    assert_eq!(runs[1]["seed"], 1);
    for r in runs {
        let auc = r["auc"]["knn-cosine"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc));
        assert_eq!(r["epochs"].as_array().unwrap().len(), 2);
    }
    let summary = doc["summary"].as_object().unwrap();
    let keys: Vec<&String> = summary.keys().collect();
    assert_eq!(keys, ["knn-cosine", "lof", "class-cosine"]);
    for k in ["median", "mean", "min", "max", "q1", "q3"] {
        assert!(summary["knn-cosine"][k].is_f64(), "{k}");
    }
    // The run was saved and lists.
    let id = doc["run_id"].as_str().unwrap();
    let list = adalab(home.path()).args(["runs", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains(id));
    assert!(home
        .path()
        .join("runs")
        .join(id)
        .join("scores.csv")
        .exists());
}

#[test]
fn plain_output_prints_epochs_and_table() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(["run", "synthetic-demo", "--no-save"])
        .args(QUICK)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("epoch   1/2"), "{stderr}");
    assert!(stderr.contains("AUC knn-cosine"), "{stderr}");
    assert!(stdout.starts_with("seed"), "{stdout}");
    assert!(stdout.contains("finished"), "{stdout}");
    assert!(
        !home.path().join("runs").exists()
            || std::fs::read_dir(home.path().join("runs")).unwrap().count() == 0
    );
}

#[test]
fn config_errors_name_key_and_file() {
    let home = tempfile::tempdir().unwrap();
    let bad = home.path().join("bad.toml");
    std::fs::write(&bad, "[train]\nepochs = \"ten\"\n").unwrap();
    let out = adalab(home.path())
        .args(["run", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("train.epochs"), "{err}");

    let out = adalab(home.path())
        .args(["run", "synthetic-demo", "--set", "head.kind=arcfase"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("head.kind"), "{err}");

    let out = adalab(home.path())
        .args(["run", "synthetic-demo", "--set", "data.normal=unicorn"])
        .args(QUICK)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unicorn"), "{err}");

    let out = adalab(home.path())
        .args(["run", "no-such-profile"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-profile"));
}

#[test]
fn not_a_terminal_explains_headless_use() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("adalab run"));
}

/// A short run on the real Fashion-MNIST (when present): AUC clearly above chance.
#[test]
fn real_fashion_mnist_short_run_beats_chance() {
    let data = std::env::var_os("ADALAB_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    if !data
        .join("fashion-mnist/train-images-idx3-ubyte.gz")
        .exists()
    {
        println!("skipped: no Fashion-MNIST under {}", data.display());
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .env("ADALAB_DATA", &data)
        .args([
            "run",
            "fashion-sneaker-boot-adacos-fixed",
            "--json",
            "--no-save",
        ])
        .args(["--set", "train.epochs=2", "--set", "train.threads=2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let auc = doc["runs"][0]["auc"]["knn-cosine"].as_f64().unwrap();
    println!("fashion sneaker→ankle-boot, fixed AdaCos, 2 epochs: knn-cosine AUC {auc:.4}");
    assert!(auc > 0.8, "AUC {auc}");
}

/// `ADALAB_DATA`, else `../shared/data`.
fn shared_data() -> std::path::PathBuf {
    std::env::var_os("ADALAB_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// Folders under the store's `runs/` (hidden staging folders included).
fn run_folders(home: &Path) -> Vec<String> {
    match std::fs::read_dir(home.join("runs")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn configs_that_cannot_start_exit_2_and_leave_no_run() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    for (args, key) in [
        (vec!["--set", "data.normal=sneakr"], "data.normal"),
        (
            vec!["--set", "data.reference_count=99999"],
            "data.reference_count",
        ),
        (
            vec!["--set", "data.normal_train_count=6001"],
            "data.normal_train_count",
        ),
        (
            vec![
                "--set",
                "model.widths=[1024]",
                "--set",
                "model.embedding_dim=4096",
            ],
            "model",
        ),
        (vec!["--set", "train.device=cuda"], "train.device"),
    ] {
        let out = adalab(home.path())
            .args(["run", "fashion-sneaker-boot-adacos-fixed"])
            .args(&args)
            .env("ADALAB_DATA", shared_data())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if key == "train.device" && cfg!(feature = "cuda") {
            continue;
        }
        // Without the real data the dataset check comes first; either way nothing starts.
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(key) || stderr.contains("data.dataset"),
            "{args:?}: {stderr}"
        );
        assert!(run_folders(home.path()).is_empty(), "{args:?}");
    }
    // A dataset that is not on disk.
    let out = adalab(home.path())
        .args(["run", "cifar-deer-horse-arcface"])
        .env("ADALAB_DATA", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("data.dataset") && stderr.contains("cifar-10 not found"),
        "{stderr}"
    );
    // The places searched are a list, one a line, the empty $ADALAB_DATA among them.
    let (_, after) = stderr.split_once("searched:\n").expect(&stderr);
    let places: Vec<&str> = after
        .lines()
        .take_while(|l| l.starts_with("  - "))
        .collect();
    assert!(places.len() >= 2, "{stderr}");
    assert!(
        places
            .iter()
            .any(|l| l.contains(&*empty.path().to_string_lossy())),
        "{stderr}"
    );
    assert!(places.iter().all(|l| !l[4..].contains(" - ")), "{stderr}");
    assert!(run_folders(home.path()).is_empty());
}
