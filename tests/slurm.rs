//! A study over a real Slurm cluster: `study run --slurm` writes a job array and submits it with
//! sbatch; each array task runs `adalab study run-task` against the shared store. Needs a
//! cluster (`.ci/run` starts one with `scripts/slurm-local.sh` and exports `SLURM_CONF`);
//! without one it prints `skipped:` and passes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn adalab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_adalab"));
    c.env("ADALAB_HOME", home)
        .env("ADALAB_CONFIG", home.join("config"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn cluster() -> bool {
    std::env::var_os("SLURM_CONF").is_some()
        && Command::new("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Waits until Slurm no longer lists the job.
fn wait_for(job: &str, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        let out = Command::new("squeue")
            .args(["-h", "-j", job])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

#[test]
fn the_synthetic_study_runs_as_a_slurm_job_array() {
    if !cluster() {
        println!(
            "skipped: no Slurm cluster (start one with scripts/slurm-local.sh, export SLURM_CONF)"
        );
        return;
    }
    // The store must be where the array tasks can reach it: a temp dir on this (only) node.
    let home = tempfile::tempdir().unwrap();
    // The dry run prints the script and submits nothing.
    let out = adalab(home.path())
        .args([
            "study",
            "run",
            "synthetic-study",
            "--slurm",
            "--dry-run",
            "--throttle",
            "2",
        ])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(script.contains("#SBATCH --array=0-3%2"), "{script}");
    assert!(script.contains("study run-task"), "{script}");

    let out = adalab(home.path())
        .args([
            "study",
            "run",
            "synthetic-study",
            "--slurm",
            "--throttle",
            "2",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        job.chars().all(|c| c.is_ascii_digit()) && !job.is_empty(),
        "{job:?} {stderr}"
    );
    assert!(
        wait_for(&job, Duration::from_secs(240)),
        "job array {job} still queued after 4 minutes"
    );

    let show = adalab(home.path())
        .args(["study", "show", "synthetic-study", "--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    if doc["done"] != 4 {
        // Show what the tasks said.
        let logs = home.path().join("studies/synthetic-study/slurm");
        let mut text = String::new();
        for sub in std::fs::read_dir(&logs).unwrap() {
            for f in std::fs::read_dir(sub.unwrap().path().join("logs")).unwrap() {
                text += &std::fs::read_to_string(f.unwrap().path()).unwrap_or_default();
            }
        }
        panic!("{doc:#}\n{text}");
    }
    let cells = doc["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    for c in cells {
        assert_eq!(c["summary"]["knn-cosine"]["n"], 2);
    }
    let table = adalab(home.path())
        .args(["study", "show", "synthetic-study"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("4/4 runs finished"), "{table}");
    // Nothing left to submit.
    let again = adalab(home.path())
        .args(["study", "run", "synthetic-study", "--slurm"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to submit"));
}

#[test]
fn a_task_slurm_cancels_ends_interrupted_and_is_queued_again() {
    if !cluster() {
        println!(
            "skipped: no Slurm cluster (start one with scripts/slurm-local.sh, export SLURM_CONF)"
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("long.toml");
    std::fs::write(
        &file,
        "description = \"long\"\nbase = \"synthetic-demo\"\nseeds = 1\n\
         [set]\n\"train.epochs\" = 500\n\"data.reference_count\" = 800\n\
         \"data.normal_train_count\" = 200\n\"model.widths\" = [8, 16]\n\
         \"model.embedding_dim\" = 16\n\"score.scorers\" = [\"knn-cosine\"]\n",
    )
    .unwrap();
    let out = adalab(home.path())
        .args(["study", "run", "--slurm"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Wait for its run to exist and train, then cancel the job as a time limit would.
    let t0 = Instant::now();
    let runs = home.path().join("runs");
    while std::fs::read_dir(&runs)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .all(|e| e.file_name().to_string_lossy().starts_with('.'))
        })
        .unwrap_or(true)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the task never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(Command::new("scancel")
        .arg(&job)
        .status()
        .unwrap()
        .success());
    assert!(wait_for(&job, Duration::from_secs(60)));
    let list = adalab(home.path())
        .args(["runs", "list", "--json"])
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["recorded_status"], "interrupted", "{runs:?}");
    // The next submission queues it again.
    let dry = adalab(home.path())
        .args(["study", "run", "--slurm", "--dry-run"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&dry.stdout).contains("#SBATCH --array=0-0"));
}

/// Every run's `(cell key, seed index, train.epochs)`.
fn runs_of(home: &Path) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(home.join("runs")).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(e.path().join("run.toml")).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let st = doc["study"].as_table().unwrap();
        out.push((
            st["cell_key"].as_str().unwrap().to_string(),
            st["seed_index"].as_integer().unwrap(),
            doc["config"]["train"]["epochs"].as_integer().unwrap(),
        ));
    }
    out.sort();
    out
}

#[test]
fn overrides_travel_with_the_submission_and_no_task_runs_twice() {
    if !cluster() {
        println!(
            "skipped: no Slurm cluster (start one with scripts/slurm-local.sh, export SLURM_CONF)"
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args([
            "study",
            "run",
            "synthetic-study",
            "--slurm",
            "--set",
            "train.epochs=3",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("`adalab study show synthetic-study --set train.epochs=3` follows it"),
        "{stderr}"
    );
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        wait_for(&job, Duration::from_secs(240)),
        "job {job} still queued"
    );
    let runs = runs_of(home.path());
    assert_eq!(runs.len(), 4, "{runs:?}");
    // What was asked is what ran.
    assert!(runs.iter().all(|r| r.2 == 3), "{runs:?}");
    let show = adalab(home.path())
        .args([
            "study",
            "show",
            "synthetic-study",
            "--set",
            "train.epochs=3",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(doc["done"], 4, "{doc:#}");

    // Slurm tasks and a local `study run` at once on one store: one run per task.
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(["study", "run", "synthetic-study", "--slurm"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let local = adalab(home.path())
        .args(["study", "run", "synthetic-study", "--jobs", "2"])
        .output()
        .unwrap();
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    assert!(
        wait_for(&job, Duration::from_secs(240)),
        "job {job} still queued"
    );
    let runs = runs_of(home.path());
    let mut tasks: Vec<(String, i64)> = runs.iter().map(|r| (r.0.clone(), r.1)).collect();
    tasks.dedup();
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert_eq!(tasks.len(), 4, "{runs:?}");
}
