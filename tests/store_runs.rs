//! Run store: writer, listing, show/compare/export, damaged files, stale runs, locking, names.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use adalab::cli::runs::{run_runs_with, ExportFormat, RunsCommand};
use adalab::config::{Config, HeadKind, ScorerKind};
use adalab::score::{summarize, Evaluation};
use adalab::store::query::SortKey;
use adalab::store::{
    validate_name, RunEntry, RunRecord, RunStatus, Store, StoreError, Timestamp, RUN_FILE,
};
use adalab::train::{EpochMetrics, Event, Outcome};

fn store(dir: &Path) -> Store {
    Store::with_dirs(dir.join("home"), dir.join("config"))
}

fn config(head: HeadKind) -> Config {
    let mut c = Config::default();
    c.train.epochs = 3;
    c.head.kind = head;
    c.score.scorers = vec![ScorerKind::KnnCosine, ScorerKind::Lof];
    c
}

fn aucs(knn: f64, lof: f64) -> BTreeMap<ScorerKind, f64> {
    BTreeMap::from([(ScorerKind::KnnCosine, knn), (ScorerKind::Lof, lof)])
}

fn epoch(n: usize, knn: f64) -> Event {
    Event::Epoch(EpochMetrics {
        epoch: n,
        loss: 2.0 / n as f32,
        accuracy: 0.5 + 0.1 * n as f32,
        scale: 30.0,
        lr: 1e-3,
        seconds: 1.5,
        images_per_sec: 1200.0,
        auc: aucs(knn, knn - 0.1),
    })
}

fn evaluation(knn: f64) -> Evaluation {
    Evaluation {
        epoch: 3,
        auc: aucs(knn, knn - 0.1),
        average_precision: aucs(knn - 0.05, knn - 0.2),
        roc: BTreeMap::new(),
        labels: vec![false, false, true, true, false],
        scores: BTreeMap::from([
            (ScorerKind::KnnCosine, vec![0.1, 0.25, 0.9, 0.7, 0.3]),
            (ScorerKind::Lof, vec![1.0, 1.1, 2.5, 1.9, 0.95]),
        ]),
        identity_auc: Default::default(),
        view_auc: Vec::new(),
        group_auc: Vec::new(),
    }
}

/// Feeds one complete scripted job; returns the run id.
fn scripted_run(store: &Store, cfg: &Config, profile: &str, final_knn: f64) -> String {
    let mut w = store.create_run(cfg, profile).unwrap();
    let events = vec![
        Event::Started {
            config: Box::new(cfg.clone()),
            seeds: vec![cfg.train.seed],
            device: "cpu".into(),
            threads: 2,
        },
        Event::DataReady {
            train: 9000,
            normal_train: 1000,
            test: 5,
            classes: 9,
            test_anomalous: 2,
        },
        Event::SeedStarted {
            index: 0,
            seed: cfg.train.seed,
        },
        Event::Progress {
            epoch: 1,
            batch: 1,
            batches: 10,
            images_per_sec: 1000.0,
            loss: 2.0,
            accuracy: 0.5,
        },
        epoch(1, final_knn - 0.2),
        epoch(2, final_knn - 0.1),
        Event::info("hello"),
        epoch(3, final_knn),
        Event::Evaluated {
            epoch: 3,
            auc: aucs(final_knn, final_knn - 0.1),
        },
        Event::SeedFinished {
            index: 0,
            seed: cfg.train.seed,
            outcome: Outcome::Finished,
            evaluation: Some(Box::new(evaluation(final_knn))),
            summary: summarize([&evaluation(final_knn).auc]),
            identity_summary: Default::default(),
        },
        Event::Finished {
            outcome: Outcome::Finished,
        },
    ];
    for ev in &events {
        w.handle(ev).unwrap();
    }
    w.id().to_string()
}

fn runs(store: &Store, cmd: RunsCommand) -> String {
    runs_with_input(store, cmd, "")
}

fn runs_with_input(store: &Store, cmd: RunsCommand, input: &str) -> String {
    let mut out = Vec::new();
    run_runs_with(
        store,
        cmd,
        &mut out,
        &mut Cursor::new(input.as_bytes().to_vec()),
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn list(store: &Store) -> String {
    runs(
        store,
        RunsCommand::List {
            filter: vec![],
            sort: SortKey::Date,
            json: false,
        },
    )
}

#[test]
fn scripted_run_is_saved_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let a = scripted_run(&s, &config(HeadKind::AdacosFixed), "baseline", 0.9);
    // Ids sort by their UTC second; the random suffix does not order runs within one second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = scripted_run(&s, &config(HeadKind::Arcface), "arc", 0.95);

    // Id shape: YYYYMMDDTHHMMSSZ-xxxx.
    assert_eq!(a.len(), 21);
    assert_eq!(&a[8..9], "T");
    assert_eq!(&a[15..17], "Z-");

    let run = s.load_run(&a).unwrap();
    let rec = &run.record;
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(rec.schema_version, 1);
    assert_eq!(rec.profile, "baseline");
    assert_eq!(rec.seeds.len(), 1);
    assert_eq!(rec.seeds[0].epochs.len(), 3);
    assert_eq!(rec.seeds[0].epochs[2].auc[&ScorerKind::KnnCosine], 0.9);
    let res = rec.seeds[0].result.as_ref().unwrap();
    assert_eq!(res.auc[&ScorerKind::KnnCosine], 0.9);
    assert!((res.average_precision[&ScorerKind::Lof] - 0.7).abs() < 1e-12);
    assert_eq!(rec.summary[&ScorerKind::KnnCosine].n, 1);
    assert_eq!(rec.data.unwrap().train, 9000);
    assert_eq!(rec.device, "cpu");
    assert_eq!(rec.threads, 2);
    assert_eq!(rec.config, config(HeadKind::AdacosFixed));
    assert!(rec.finished.is_some());
    assert_eq!(rec.adalab_version, env!("CARGO_PKG_VERSION"));

    let text = std::fs::read_to_string(run.dir.join(RUN_FILE)).unwrap();
    assert!(text.starts_with("schema_version = 1\n"), "{text}");
    assert!(text.contains("[config.head]"), "{text}");
    assert!(text.contains("status = \"finished\""));
    assert!(!text.contains("roc"), "ROC curves are not stored");

    // Scores CSV round trip.
    let csv = std::fs::read_to_string(run.dir.join("scores.csv")).unwrap();
    assert!(
        csv.starts_with("index,label,score_lof,score_knn-cosine\n0,normal,1,0.1\n"),
        "{csv}"
    );
    let sc = s.read_scores(&a).unwrap();
    let ev = evaluation(0.9);
    assert_eq!(sc.labels, ev.labels);
    assert_eq!(sc.scores, ev.scores);
    assert_eq!(sc.index, vec![0, 1, 2, 3, 4]);
    assert!(!run.dir.join("scores-seed0.csv").exists());

    // list: newest first, columns filled.
    let out = list(&s);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("id"), "{out}");
    assert!(lines[1].starts_with(&b), "{out}");
    assert!(lines[2].starts_with(&a), "{out}");
    for needle in [
        "fashion-mnist sneaker→ankle-boot",
        "adacos-fixed",
        "knn-cosine",
        "finished",
        "3/3",
        "0.9000",
        "baseline",
    ] {
        assert!(lines[2].contains(needle), "{needle} in {}", lines[2]);
    }
    assert!(lines[1].contains("arcface") && lines[1].contains("0.9500"));

    // Sorting and filters.
    let by_auc = runs(
        &s,
        RunsCommand::List {
            filter: vec![],
            sort: SortKey::Auc,
            json: false,
        },
    );
    assert!(by_auc.lines().nth(1).unwrap().starts_with(&b));
    let filtered = runs(
        &s,
        RunsCommand::List {
            filter: vec!["head=adacos-fixed".into(), "status=finished".into()],
            sort: SortKey::Date,
            json: false,
        },
    );
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    assert!(filtered.contains(&a) && !filtered.contains(&b));
    let by_key = runs(
        &s,
        RunsCommand::List {
            filter: vec!["head.kind=arcface".into(), "profile=arc".into()],
            sort: SortKey::Date,
            json: false,
        },
    );
    assert!(by_key.contains(&b) && !by_key.contains(&a));
    let json = runs(
        &s,
        RunsCommand::List {
            filter: vec!["dataset=fashion-mnist".into()],
            sort: SortKey::Date,
            json: true,
        },
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["auc"], 0.9);
    assert_eq!(v[1]["status"], "finished");
    let mut sink = Vec::new();
    let err = run_runs_with(
        &s,
        RunsCommand::List {
            filter: vec!["colour=red".into()],
            sort: SortKey::Date,
            json: false,
        },
        &mut sink,
        &mut Cursor::new(Vec::new()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown filter key `colour`"));

    // Comparisons: `auc` is the primary scorer's final AUC (a 0.90, b 0.95); config keys
    // compare as numbers; every kind of mistake is an error naming the word.
    let ids = |filter: &[&str]| {
        let out = runs(
            &s,
            RunsCommand::List {
                filter: filter.iter().map(|f| f.to_string()).collect(),
                sort: SortKey::Date,
                json: false,
            },
        );
        (out.contains(&a), out.contains(&b))
    };
    assert_eq!(ids(&["auc>0.92"]), (false, true));
    assert_eq!(ids(&["auc>=0.9"]), (true, true));
    assert_eq!(ids(&["auc<0.9"]), (false, false));
    assert_eq!(ids(&["auc<=0.9"]), (true, false));
    assert_eq!(ids(&["auc.knn-cosine>0.92"]), (false, true));
    assert_eq!(ids(&["train.epochs>2"]), (true, true));
    assert_eq!(ids(&["train.epochs>3"]), (false, false));
    assert_eq!(ids(&["head!=arcface"]), (true, false));
    assert_eq!(ids(&["head=arcface", "auc>0.9"]), (false, true));
    assert_eq!(ids(&["train.lr=1e-3"]), (true, true));
    for (bad, says) in [
        ("head=arcfase", "`arcfase` is not a head"),
        ("auc>high", "`high` is not a number"),
        ("head>arcface", "`head` is not a number"),
        ("train.optimizer>2", "`2` is not one of adam, sgd"),
        ("train.epochs>=lots", "bad value for `train.epochs`"),
        ("auc.lfo>0.9", "unknown scorer `lfo`"),
        ("epoch>3", "unknown filter key `epoch`"),
        ("status=done", "`done` is not a run status"),
        (">0.9", "no key before `>`"),
    ] {
        let err = run_runs_with(
            &s,
            RunsCommand::List {
                filter: vec![bad.into()],
                sort: SortKey::Date,
                json: false,
            },
            &mut Vec::new(),
            &mut Cursor::new(Vec::new()),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(says) && err.contains(bad), "{bad}: {err}");
    }

    // show
    let shown = runs(&s, RunsCommand::Show { id: a.clone() });
    for needle in [
        "profile   baseline",
        "status    finished",
        "## config",
        "[head]",
        "kind = \"adacos-fixed\"",
        "auc knn-cosine",
        "final (epoch 3):",
        "0.8500",
    ] {
        assert!(shown.contains(needle), "{needle} in\n{shown}");
    }
    let epoch_rows = shown
        .lines()
        .filter(|l| l.starts_with(['1', '2', '3']) && l.contains("30.00"))
        .count();
    assert_eq!(epoch_rows, 3, "{shown}");

    // compare: only differing keys, then deltas.
    let cmp = runs(
        &s,
        RunsCommand::Compare {
            ids: vec![a.clone(), b.clone()],
        },
    );
    assert!(cmp.contains("head.kind"), "{cmp}");
    assert!(!cmp.contains("train.epochs"), "{cmp}");
    let auc_line = cmp
        .lines()
        .find(|l| l.starts_with("auc knn-cosine"))
        .unwrap();
    assert!(
        auc_line.contains("0.9000") && auc_line.contains("0.9500 (+0.0500)"),
        "{cmp}"
    );

    // export
    let csv = runs(
        &s,
        RunsCommand::Export {
            ids: vec![],
            filter: vec![],
            format: ExportFormat::Csv,
        },
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with("id,profile,status,"));
    assert!(rows[0].contains("auc_knn-cosine"));
    assert!(rows[2].starts_with(&format!("{a},baseline,finished,fashion-mnist,sneaker")));
    // Every config key is a column.
    let header: Vec<&str> = rows[0].split(',').collect();
    for key in adalab::config::KEYS.iter().map(|k| k.name) {
        assert!(header.contains(&key), "{key} in {}", rows[0]);
    }
    // Fields split outside quotes (list values such as model.widths hold commas).
    let fields = |line: &str| {
        let (mut v, mut cur, mut quoted) = (Vec::new(), String::new(), false);
        for ch in line.chars() {
            match ch {
                '"' => quoted = !quoted,
                ',' if !quoted => v.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        v.push(cur);
        v
    };
    let (hdr, row_b) = (fields(rows[0]), fields(rows[1]));
    assert_eq!(hdr.len(), row_b.len(), "{csv}");
    let at = |k: &str| row_b[hdr.iter().position(|h| h == k).unwrap()].clone();
    assert_eq!(at("head.kind"), "arcface", "{csv}");
    assert_eq!(at("train.epochs"), "3", "{csv}");
    let filtered = runs(
        &s,
        RunsCommand::Export {
            ids: vec![],
            filter: vec!["auc>0.92".into()],
            format: ExportFormat::Csv,
        },
    );
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    assert!(
        filtered.contains(&b) && !filtered.contains(&a),
        "{filtered}"
    );
    let json = runs(
        &s,
        RunsCommand::Export {
            ids: vec![a.clone()],
            filter: vec![],
            format: ExportFormat::Json,
        },
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["id"], a.as_str());
    assert_eq!(v[0]["seeds"][0]["epochs"].as_array().unwrap().len(), 3);
    let md = runs(
        &s,
        RunsCommand::Export {
            ids: vec![b.clone(), a.clone()],
            filter: vec![],
            format: ExportFormat::Md,
        },
    );
    assert!(md.starts_with("| id | profile |"));
    assert_eq!(md.lines().count(), 4);
    assert!(md.contains(&format!("| {b} | arc |")));
}

#[test]
fn repeated_run_writes_per_seed_scores_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let mut cfg = config(HeadKind::Cosface);
    cfg.run.repeat = 3;
    let mut w = s.create_run(&cfg, "rep").unwrap();
    w.handle(&Event::Started {
        config: Box::new(cfg.clone()),
        seeds: vec![0, 1, 2],
        device: "cpu".into(),
        threads: 1,
    })
    .unwrap();
    let mut done = Vec::new();
    for (i, knn) in [0.8, 0.9, 0.85].into_iter().enumerate() {
        done.push(evaluation(knn).auc);
        w.handle(&Event::SeedStarted {
            index: i,
            seed: i as u64,
        })
        .unwrap();
        // Evaluated before Epoch: the AUC is merged into the epoch when it arrives.
        w.handle(&Event::Evaluated {
            epoch: 1,
            auc: aucs(knn, 0.5),
        })
        .unwrap();
        let mut e = epoch(1, knn);
        if let Event::Epoch(m) = &mut e {
            m.auc.clear();
        }
        w.handle(&e).unwrap();
        w.handle(&Event::SeedFinished {
            index: i,
            seed: i as u64,
            outcome: Outcome::Finished,
            evaluation: Some(Box::new(evaluation(knn))),
            summary: summarize(&done),
            identity_summary: Default::default(),
        })
        .unwrap();
    }
    w.handle(&Event::Finished {
        outcome: Outcome::Finished,
    })
    .unwrap();
    let run = s.load_run(w.id()).unwrap();
    assert_eq!(
        run.record.seeds[1].epochs[0].auc[&ScorerKind::KnnCosine],
        0.9
    );
    let sum = run.record.summary[&ScorerKind::KnnCosine];
    assert_eq!(sum.n, 3);
    assert!((sum.median - 0.85).abs() < 1e-12);
    assert_eq!(run.record.primary_auc(), Some(sum.median));
    for seed in 0..3 {
        assert!(run.dir.join(format!("scores-seed{seed}.csv")).is_file());
        assert_eq!(s.read_seed_scores(w.id(), seed).unwrap().labels.len(), 5);
    }
    assert!(run.dir.join("scores.csv").is_file());
    let shown = runs(&s, RunsCommand::Show { id: w.id().into() });
    assert!(
        shown.contains("## summary of final AUC over seeds"),
        "{shown}"
    );
    assert!(list(&s).contains("1/3 ×3"));
}

#[test]
fn failed_and_dropped_writers_record_their_status() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let mut w = s.create_run(&config(HeadKind::Softmax), "f").unwrap();
    w.handle(&Event::SeedStarted { index: 0, seed: 0 }).unwrap();
    w.handle(&Event::Finished {
        outcome: Outcome::Failed {
            reason: "out of memory".into(),
        },
    })
    .unwrap();
    let run = s.load_run(w.id()).unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.record.reason.as_deref(), Some("out of memory"));
    assert_eq!(run.record.seeds[0].status, RunStatus::Failed);

    let id = {
        let w = s.create_run(&config(HeadKind::Softmax), "d").unwrap();
        w.id().to_string()
    };
    assert_eq!(
        s.load_run(&id).unwrap().record.status,
        RunStatus::Interrupted
    );

    let mut w = s.create_run(&config(HeadKind::Softmax), "i").unwrap();
    w.mark_interrupted().unwrap();
    assert_eq!(
        s.load_run(w.id()).unwrap().record.status,
        RunStatus::Interrupted
    );
}

#[test]
fn a_writer_does_not_write_running_over_an_end_another_process_recorded() {
    // A second Ctrl-C marks the run interrupted from the signal thread and exits; the writer,
    // between two events, must not rewrite `running` over it before the process is gone.
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let mut w = s.create_run(&config(HeadKind::Softmax), "f").unwrap();
    w.handle(&Event::SeedStarted { index: 0, seed: 0 }).unwrap();
    s.mark_interrupted(w.id()).unwrap();
    w.heartbeat().unwrap();
    w.handle(&epoch(1, 0.9)).unwrap();
    let run = s.load_run(w.id()).unwrap();
    assert_eq!(run.record.status, RunStatus::Interrupted);
    assert_eq!(run.record.seeds[0].status, RunStatus::Interrupted);
    assert_eq!(run.record.seeds[0].epochs.len(), 1, "the data still lands");
}

#[test]
fn a_deleted_run_folder_is_named_as_deleted_whichever_write_notices() {
    let progress = Event::Progress {
        epoch: 1,
        batch: 5,
        batches: 32,
        images_per_sec: 1000.0,
        loss: 1.0,
        accuracy: 0.5,
    };
    // The first batch line (creating metrics.csv), a later one, and a run.toml write.
    for (before, ev) in [
        (vec![], progress.clone()),
        (vec![progress.clone()], progress.clone()),
        (vec![], Event::SeedStarted { index: 0, seed: 0 }),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let mut w = s.create_run(&config(HeadKind::Softmax), "gone").unwrap();
        for e in &before {
            w.handle(e).unwrap();
        }
        std::fs::remove_dir_all(w.dir()).unwrap();
        // A later batch line may land in the unlinked file; the next record write notices.
        let err = w
            .handle(&ev)
            .and_then(|_| w.handle(&Event::SeedStarted { index: 0, seed: 0 }))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::RunDeleted { .. }),
            "{ev:?} after {before:?}: {err}"
        );
        assert!(!w.dir().exists());
    }
}

#[test]
fn damaged_runs_are_listed_as_unreadable_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let good = scripted_run(&s, &config(HeadKind::AdacosFixed), "good", 0.9);
    let runs_dir = s.runs_dir();
    let bad = runs_dir.join("20200101T000000Z-bad1");
    std::fs::create_dir_all(&bad).unwrap();
    let garbage = "schema_version = 1\nid = [unclosed\n";
    std::fs::write(bad.join(RUN_FILE), garbage).unwrap();
    let future = runs_dir.join("20200101T000000Z-fut2");
    std::fs::create_dir_all(&future).unwrap();
    let good_text = std::fs::read_to_string(runs_dir.join(&good).join(RUN_FILE)).unwrap();
    let v2 = good_text.replacen("schema_version = 1", "schema_version = 2", 1);
    std::fs::write(future.join(RUN_FILE), &v2).unwrap();
    let empty = runs_dir.join("20200101T000000Z-none");
    std::fs::create_dir_all(&empty).unwrap();
    // Temp files and deleted-run leftovers are ignored.
    std::fs::write(runs_dir.join(".scratch"), "x").unwrap();

    let entries = s.list_runs().unwrap();
    assert_eq!(entries.len(), 4);
    assert!(matches!(&entries[0], RunEntry::Ok(r) if r.record.id == good));
    let reasons: BTreeMap<String, String> = entries
        .iter()
        .filter_map(|e| match e {
            RunEntry::Unreadable { id, reason, .. } => Some((id.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert!(reasons["20200101T000000Z-bad1"].contains("not valid TOML"));
    assert!(reasons["20200101T000000Z-bad1"].contains("line 2"));
    assert!(reasons["20200101T000000Z-fut2"].contains("unknown schema_version 2"));
    assert_eq!(reasons["20200101T000000Z-none"], "no run.toml");

    let out = list(&s);
    assert!(out.contains(&good));
    assert!(out.contains("20200101T000000Z-bad1: unreadable:"), "{out}");
    assert!(out.contains("unknown schema_version 2"), "{out}");

    // Never rewritten or removed by listing; edits refuse to touch them.
    assert_eq!(
        std::fs::read_to_string(bad.join(RUN_FILE)).unwrap(),
        garbage
    );
    assert_eq!(std::fs::read_to_string(future.join(RUN_FILE)).unwrap(), v2);
    let e = s.set_note("20200101T000000Z-bad1", "x").unwrap_err();
    assert!(e.to_string().contains("run.toml"), "{e}");
    assert_eq!(
        std::fs::read_to_string(bad.join(RUN_FILE)).unwrap(),
        garbage
    );
    let e = s.load_run("20200101T000000Z-fut2").unwrap_err();
    assert!(
        e.to_string()
            .contains("fut2/run.toml: unknown schema_version 2"),
        "{e}"
    );

    // A bad scores CSV names the file and line.
    std::fs::write(
        runs_dir.join(&good).join("scores.csv"),
        "index,label,score_lof\n0,normal,0.5\n1,weird,0.7\n",
    )
    .unwrap();
    let e = s.read_scores(&good).unwrap_err().to_string();
    assert!(e.contains("scores.csv: line 3: label `weird`"), "{e}");
}

fn rewrite(path: &Path, f: impl FnOnce(&mut RunRecord)) {
    let mut r = RunRecord::load(path).unwrap();
    f(&mut r);
    r.save(path).unwrap();
}

#[test]
fn stale_running_runs_show_as_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();

    let mk = |profile: &str| {
        let w = s.create_run(&config(HeadKind::Arcface), profile).unwrap();
        let id = w.id().to_string();
        w.abandon(); // stays `running`, as after a crash
        id
    };
    let live = mk("live");
    let gone = mk("gone");
    let remote_old = mk("remote-old");
    let remote_new = mk("remote-new");
    let dir = |id: &str| s.runs_dir().join(id).join(RUN_FILE);
    rewrite(&dir(&gone), |r| r.pid = dead_pid);
    rewrite(&dir(&remote_old), |r| {
        r.host = "some-other-host".into();
        r.heartbeat = Timestamp(Timestamp::now().0 - 11 * 60);
    });
    rewrite(&dir(&remote_new), |r| r.host = "some-other-host".into());
    let before = std::fs::read_to_string(dir(&gone)).unwrap();

    let status = |id: &str| s.load_run(id).unwrap().status;
    assert_eq!(status(&live), RunStatus::Running);
    assert_eq!(status(&gone), RunStatus::Interrupted);
    assert_eq!(status(&remote_old), RunStatus::Interrupted);
    assert_eq!(status(&remote_new), RunStatus::Running);
    let out = list(&s);
    let line = out.lines().find(|l| l.starts_with(&gone)).unwrap();
    assert!(line.contains("interrupted"), "{out}");
    // `runs list` records the interruption (its writer is gone), so `run.toml` tells the
    // truth to every reader; the live run and the remote one with a fresh heartbeat stay.
    let after = std::fs::read_to_string(dir(&gone)).unwrap();
    assert_ne!(after, before);
    let rec = s.load_run(&gone).unwrap().record;
    assert_eq!(rec.status, RunStatus::Interrupted);
    assert_eq!(rec.finished, Some(rec.updated));
    assert_eq!(
        s.load_run(&remote_old).unwrap().record.status,
        RunStatus::Interrupted
    );
    assert_eq!(s.load_run(&live).unwrap().record.status, RunStatus::Running);
    assert_eq!(
        s.load_run(&remote_new).unwrap().record.status,
        RunStatus::Running
    );
    assert!(!list(&s)
        .lines()
        .any(|l| l.starts_with(&gone) && l.contains("stale")));
    let filtered = runs(
        &s,
        RunsCommand::List {
            filter: vec!["status=interrupted".into()],
            sort: SortKey::Status,
            json: false,
        },
    );
    assert!(filtered.contains(&gone) && !filtered.contains(&live));

    // A live running run cannot be deleted; a stale one can.
    assert!(matches!(
        s.delete_run(&live, false),
        Err(StoreError::StillRunning { .. })
    ));
    s.delete_run(&gone, false).unwrap();
    assert!(!s.runs_dir().join(&gone).exists());
}

#[test]
fn concurrent_writer_and_editors_do_not_lose_or_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let mut cfg = config(HeadKind::AdacosDynamic);
    cfg.train.epochs = 150;
    let mut w = s.create_run(&cfg, "busy").unwrap();
    let id = w.id().to_string();
    w.handle(&Event::SeedStarted { index: 0, seed: 0 }).unwrap();
    std::thread::scope(|sc| {
        sc.spawn(move || {
            for n in 1..=150 {
                w.handle(&epoch(n, 0.5)).unwrap();
            }
            w.handle(&Event::Finished {
                outcome: Outcome::Finished,
            })
            .unwrap();
        });
        for t in 0..2 {
            let s = s.clone();
            let id = id.clone();
            sc.spawn(move || {
                for n in 0..40 {
                    s.edit_tags(&id, &[format!("t{t}-{n}")], &[]).unwrap();
                    s.set_note(&id, &format!("note {t} {n}")).unwrap();
                }
            });
        }
        // A reader in parallel always sees a complete file.
        let s2 = s.clone();
        let id2 = id.clone();
        sc.spawn(move || {
            for _ in 0..200 {
                s2.load_run(&id2).unwrap();
            }
        });
    });
    let run = s.load_run(&id).unwrap();
    assert_eq!(run.record.seeds[0].epochs.len(), 150);
    assert_eq!(run.record.tags.len(), 80, "{:?}", run.record.tags);
    assert!(run.record.note.starts_with("note "));
    assert_eq!(run.status, RunStatus::Finished);

    // Two processes' worth of editors: the store handle is cheap to clone per thread and the
    // lock is per open file, so the same holds across processes.
    let out = runs(
        &s,
        RunsCommand::Tag {
            id: id.clone(),
            tags: vec!["t0-0".into(), "t1-0".into()],
            remove: true,
        },
    );
    assert!(out.contains(&id) && !out.contains("t0-0,") && !out.contains("t1-0,"));
    assert_eq!(s.load_run(&id).unwrap().record.tags.len(), 78);
}

#[test]
fn names_and_ids_are_validated() {
    for bad in ["../x", "a/b", "", "..", ".hidden", "a\\b", "x y", "-rf"] {
        assert!(validate_name("run id", bad).is_err(), "{bad:?}");
    }
    for good in ["20261130T020500Z-ab12", "my-profile", "arcface_m0.3"] {
        validate_name("profile name", good).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    assert!(matches!(
        s.load_run("../x"),
        Err(StoreError::InvalidName { .. })
    ));
    assert!(s.run_dir("a/b").is_err());
    assert!(s.create_run(&Config::default(), "../x").is_err());
    assert!(s.create_run(&Config::default(), "").is_err());
    assert!(s.set_tags("whatever", &["bad tag".into()]).is_err());
    assert!(s
        .profile_dirs()
        .save("../x", &Config::default(), false)
        .is_err());
    assert!(s
        .profile_dirs()
        .save("", &Config::default(), false)
        .is_err());
}

#[test]
fn unknown_ids_suggest_and_delete_confirms() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let a = scripted_run(&s, &config(HeadKind::Cosface), "p", 0.8);

    // Unique prefix resolves; a near miss suggests; nothing close points at `runs list`.
    assert_eq!(s.load_run(&a[..12]).unwrap().record.id, a);
    let mut typo = a.clone();
    typo.replace_range(20..21, if &a[20..21] == "z" { "y" } else { "z" });
    let e = s.load_run(&typo).unwrap_err().to_string();
    assert!(e.contains("did you mean") && e.contains(&a), "{e}");
    let e = s.load_run("nothing-like-it").unwrap_err().to_string();
    assert!(e.contains("adalab runs list"), "{e}");

    let del = |input: &str, yes: bool| {
        runs_with_input(
            &s,
            RunsCommand::Delete {
                ids: vec![a.clone()],
                yes,
                force: false,
            },
            input,
        )
    };
    assert!(del("", false).contains("nothing deleted"));
    assert!(del("n\n", false).contains("nothing deleted"));
    assert!(s.load_run(&a).is_ok());
    let out = del("y\n", false);
    assert!(
        out.contains("[y/N]") && out.contains(&format!("deleted {a}")),
        "{out}"
    );
    assert!(s.load_run(&a).is_err());
    assert_eq!(list(&s), "no runs\n");
    let b = scripted_run(&s, &config(HeadKind::Cosface), "p", 0.8);
    let out = runs(
        &s,
        RunsCommand::Delete {
            ids: vec![b.clone()],
            yes: true,
            force: false,
        },
    );
    assert_eq!(out, format!("deleted {b}\n"));
    assert!(s.list_runs().unwrap().is_empty());
    // Leftover folders from deletes are not visible.
    assert_eq!(std::fs::read_dir(s.runs_dir()).unwrap().count(), 0);
}

#[test]
fn fingerprint_changes_on_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let f0 = s.fingerprint();
    let id = scripted_run(&s, &config(HeadKind::Cosface), "p", 0.8);
    let f1 = s.fingerprint();
    assert_ne!(f0, f1);
    assert_eq!(f1, s.fingerprint());
    s.set_note(&id, "changed").unwrap();
    assert_ne!(f1, s.fingerprint());
}
