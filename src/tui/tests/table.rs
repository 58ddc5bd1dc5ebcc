//! Runs as an experiment table: columns, sorting by the column under the cursor, the filter,
//! studies as rows and the Study view; rows vanishing under the cursor, killed runs, delete
//! refusals.

use super::*;

use crate::store::studies::Study;
use crate::store::{hostname, RunEntry};

use super::super::runs::{Column, Item};

/// A `running` record of this process (so it stays running), two epochs of five done.
pub(super) fn running_record(id: &str, head: HeadKind, pid: u32, auc: (f64, f64)) -> RunRecord {
    let mut r = record(id, 0, head, &[auc], &[]);
    let now = Timestamp::now();
    r.status = RunStatus::Running;
    r.created = now;
    r.updated = Timestamp(now.0 + 120);
    r.heartbeat = now;
    r.finished = None;
    r.host = hostname();
    r.pid = pid;
    r.seeds[0].status = RunStatus::Running;
    r.seeds[0].result = None;
    r.seeds[0].epochs.truncate(2);
    r.summary.clear();
    r
}

/// The study of the tests: three heads × four seeds.
pub(super) const STUDY_FILE: &str = r#"
description = "three heads on the sneaker split, four seeds each"
base = "fashion-sneaker-boot-adacos-fixed"
seeds = 4
scorer = "knn-cosine"
[set]
"train.epochs" = 5
"score.scorers" = ["knn-cosine", "lof"]
[grid]
"head.kind" = ["softmax", "arcface", "cosface"]
"#;

/// Writes the study file into `<home>/studies/heads/study.toml` and its runs into the store:
/// softmax and arcface done, cosface with two seeds done, one running, one interrupted.
pub(super) fn write_study(store: &Store) -> Study {
    let dir = store.study_dir("heads").unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("study.toml"), STUDY_FILE).unwrap();
    let study = store
        .load_study_file(&dir.join("study.toml"), "heads")
        .unwrap();
    let knn = [
        [0.852, 0.861, 0.848, 0.857],
        [0.902, 0.915, 0.897, 0.909],
        [0.881, 0.893, 0.0, 0.874],
    ];
    for t in study.tasks() {
        let (c, sd) = (t.cell, t.seed_index);
        let id = format!("20261129T1{c}{sd}000Z-st{c}{sd}");
        let k = knn[c][sd];
        let cfg = study.task_config(t);
        let mut r = if c == 2 && sd == 2 {
            running_record(&id, cfg.head.kind, std::process::id(), (0.87, 0.85))
        } else {
            record(&id, 0, cfg.head.kind, &[(k, k - 0.02)], &[])
        };
        r.created = Timestamp(WALL.0 - 86_400 + (c * 600 + sd * 60) as i64);
        if r.status == RunStatus::Running {
            r.created = Timestamp::now();
        } else {
            r.updated = Timestamp(r.created.0 + 240);
            r.finished = Some(r.updated);
        }
        if c == 2 && sd == 3 {
            r.status = RunStatus::Interrupted;
            r.seeds[0].status = RunStatus::Interrupted;
            r.seeds[0].result = None;
            r.seeds[0].epochs.truncate(3);
            r.summary.clear();
        }
        let seeds = std::mem::take(&mut r.seeds);
        r.config = cfg;
        r.seeds = seeds;
        r.profile = study.cells[c].profile.clone();
        r.tags = study.tags(t);
        r.study = Some(study.study_ref(t));
        write_run(store, &r, false);
    }
    study
}

/// The temp store, an l2-softmax run ranked by LOF, a running arcface run, a cosface run
/// with a margin of 0.35, and the study.
pub(super) fn table_store() -> (Store, tempfile::TempDir) {
    let (store, dir) = temp_store();
    let mut l2 = record(
        "20261130T000000Z-eeee",
        180,
        HeadKind::L2Softmax,
        &[(0.861, 0.902)],
        &["lof-first"],
    );
    l2.config.score.scorers = vec![ScorerKind::Lof, ScorerKind::KnnCosine];
    write_run(&store, &l2, false);
    write_run(
        &store,
        &running_record(
            "20261130T003000Z-ffff",
            HeadKind::Arcface,
            std::process::id(),
            (0.9, 0.88),
        ),
        false,
    );
    let mut cos = record(
        "20261130T001000Z-gggg",
        200,
        HeadKind::Cosface,
        &[(0.897, 0.874)],
        &[],
    );
    cos.config.head.m = 0.35;
    write_run(&store, &cos, false);
    write_study(&store);
    (store, dir)
}

pub(super) fn table_lab() -> Lab {
    let mut l = lab_with(Some(table_store()), Script::default());
    l.ch('3');
    l
}

/// The column cursor onto `col`.
pub(super) fn to_column(l: &mut Lab, col: Column) {
    let cols = l.app.runs.columns();
    let target = cols
        .iter()
        .position(|c| *c == col)
        .expect("a column of the table");
    for _ in 0..20 {
        let at = cols.iter().position(|c| *c == l.app.runs.column).unwrap();
        if at == target {
            return;
        }
        l.ch(if at < target { 'l' } else { 'h' });
    }
    panic!("column {col:?} not reached");
}

pub(super) fn visible_ids(l: &Lab) -> Vec<String> {
    let r = &l.app.runs;
    r.visible
        .iter()
        .map(|it| match it {
            Item::Run { row, .. } => r.rows[*row].id.clone(),
            Item::Study(si) => format!("study:{}", r.studies[*si].name),
            Item::Cell { study, cell } => {
                format!("cell:{}:{}", r.studies[*study].name, cell + 1)
            }
        })
        .collect()
}

#[test]
fn snapshot_experiment_table() {
    let mut l = table_lab();
    let r = &l.app.runs;
    assert_eq!(r.studies.len(), 1);
    let g = &r.studies[0];
    assert_eq!((g.cells.len(), g.seeds), (3, 4));
    assert_eq!((g.done, g.running, g.total), (10, 1, 12));
    // AUC columns name their scorer; a repeated run shows median and IQR, a running one its
    // latest value.
    let screen = l.render(120, 40);
    assert!(
        screen.contains("knn-cosine") && screen.contains("lof"),
        "{screen}"
    );
    assert!(screen.contains("0.921 (.016)"), "{screen}");
    assert!(screen.contains("~0.870"), "{screen}");
    assert!(screen.contains("running 2/5"), "{screen}");
    assert!(screen.contains("▸ heads"), "{screen}");
    // Every run has the same split: it is the first to give way.
    for col in ["name", "status", "head", "×", "took", "AUC primary", "tags"] {
        assert!(screen.contains(col), "{col} missing at 120:\n{screen}");
    }
    // At 80 columns drop by priority: the primary scorer's AUC stays (the runs rank by
    // different scorers, so each value names its own), tags outrank the split every run
    // shares, and names keep what tells them apart (`…arcface`, `…adacos-fixed`).
    let narrow = l.render(80, 24);
    assert!(
        !narrow.contains("took") && !narrow.contains(" split"),
        "{narrow}"
    );
    for text in [
        "AUC primary",
        "0.902 lof",
        "0.921 (.016) knn",
        " tags",
        "baseline",
        "lof-first",
        "…arcface",
        "…adacos-fixed",
        "…l2-softmax",
    ] {
        assert!(narrow.contains(text), "{text} at 80:\n{narrow}");
    }
    assert!(!narrow.contains("fashion-sneaker-boo…"), "{narrow}");
    snapshots!("runs_table", &mut l);
}

#[test]
fn snapshot_sorted_by_the_column_under_the_cursor() {
    let mut l = table_lab();
    to_column(&mut l, Column::Auc(ScorerKind::Lof));
    l.ch('o');
    assert_eq!(l.app.runs.sort, Column::Auc(ScorerKind::Lof));
    assert!(!l.app.runs.reverse);
    let ids = visible_ids(&l);
    // Best LOF first: the l2-softmax run (0.902), then the study (its best cell), ...
    assert_eq!(ids[0], "20261130T000000Z-eeee", "{ids:?}");
    assert_eq!(ids.last().unwrap(), "20261129T235900Z-dddd", "{ids:?}");
    snapshots!("runs_sorted_lof", &mut l);
    // Again on the same column reverses it; another column sorts by that one.
    l.ch('o');
    assert!(l.app.runs.reverse);
    to_column(&mut l, Column::Head);
    l.ch('o');
    assert_eq!(l.app.runs.sort, Column::Head);
    assert!(!l.app.runs.reverse);
    let heads: Vec<String> = l
        .app
        .runs
        .visible
        .iter()
        .filter_map(|it| match it {
            Item::Run { row, .. } => Some(l.app.runs.rows[*row].head.clone()),
            _ => None,
        })
        .filter(|h| !h.is_empty())
        .collect();
    let mut sorted = heads.clone();
    sorted.sort();
    assert_eq!(heads, sorted);
}

#[test]
fn snapshot_filtered_with_the_runs_list_syntax() {
    let mut l = table_lab();
    l.ch('/');
    l.text("head=arcface status=finished");
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none());
    // The finished arcface run, and the study (its arcface cell is finished); not the
    // running arcface run.
    assert_eq!(
        visible_ids(&l),
        ["20261129T220000Z-bbbb", "study:heads"],
        "{:?}",
        visible_ids(&l)
    );
    // Expanded, the study shows only the cell and runs that match.
    l.app.runs.select_study("heads");
    l.ch(' ');
    let ids = visible_ids(&l);
    assert_eq!(ids.len(), 2 + 1 + 4, "{ids:?}");
    assert_eq!(ids[2], "cell:heads:2");
    // The study's date is its newest run's: the running one, started now. Fixed for the
    // snapshot so it does not follow the clock.
    for r in l
        .app
        .runs
        .rows
        .iter_mut()
        .filter(|r| r.date.starts_with(&today()))
    {
        r.date = "12-06 12:00".into();
    }
    snapshots!("runs_filtered", &mut l);
    // The same query as `adalab runs list --filter`.
    let q = crate::store::query::Query::parse(&["head=arcface", "status=finished"]).unwrap();
    assert_eq!(q, l.app.runs.query);
}

#[test]
fn the_filter_says_why_it_does_not_parse() {
    let mut l = table_lab();
    let all = l.app.runs.visible.len();
    l.ch('/');
    l.text("head=arcface");
    let arcface = l.app.runs.visible.len();
    assert!(arcface < all);
    // Typing passes through `hed`, free text that matches nothing; `hed=` does not parse.
    l.text(" hed");
    let before = l.app.runs.visible.len();
    l.text("=x");
    let Some(Popup::Input(inp)) = &l.app.popup else {
        panic!("no filter input");
    };
    let err = inp.error.clone().expect("an inline error");
    assert!(err.contains("unknown filter key `hed`"), "{err}");
    // The last filter that parsed stays applied while typing.
    assert_eq!(l.app.runs.visible.len(), before);
    let screen = l.render(80, 24);
    assert!(screen.contains("unknown filter key"), "{screen}");
    // Enter does not apply it: the input stays open with the error.
    l.key(KeyCode::Enter);
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.error.is_some()));
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none());
    assert_eq!(l.app.runs.filter, "head=arcface");
    assert!(l.app.runs.filter_error.is_none());
}

#[test]
fn snapshot_study_row_expanded() {
    let mut l = table_lab();
    l.app.runs.select_study("heads");
    // → expands, ← folds, Space toggles.
    l.key(KeyCode::Right);
    assert!(l.app.runs.expanded.contains("heads"));
    l.key(KeyCode::Left);
    assert!(!l.app.runs.expanded.contains("heads"));
    l.ch(' ');
    let ids = visible_ids(&l);
    let at = ids.iter().position(|i| i == "study:heads").unwrap();
    assert_eq!(ids[at + 1], "cell:heads:1");
    assert_eq!(ids[at + 2], "20261129T100000Z-st00");
    assert_eq!(ids.len(), 8 + 3 + 12, "{ids:?}");
    // Runs of a study can be marked like any other.
    l.key(KeyCode::Down);
    l.key(KeyCode::Down);
    l.ch(' ');
    assert_eq!(l.app.runs.marked, ["20261129T100000Z-st00"]);
    l.app.runs.select_study("heads");
    snapshots!("runs_study_expanded", &mut l);
}

#[test]
fn snapshot_study_view() {
    let mut l = table_lab();
    l.app.runs.select_study("heads");
    l.key(KeyCode::Enter);
    assert!(matches!(l.app.runs.view, RunsView::Study(_)));
    let g = l.app.runs.study("heads").unwrap();
    let cmp = g.cells[1].result.comparison.expect("arcface vs softmax");
    assert!(cmp.median_diff > 0.04 && cmp.low > 0.0, "{cmp:?}");
    l.key(KeyCode::Down);
    snapshots!("study_view", &mut l);
    // Enter lists the cell's runs, Enter on one opens its detail, Esc comes back.
    l.key(KeyCode::Enter);
    l.key(KeyCode::Down);
    let RunsView::Study(v) = &l.app.runs.view else {
        panic!("not the study view");
    };
    assert_eq!((v.cursor, v.list), (1, Some(1)));
    l.key(KeyCode::Enter);
    let RunsView::Detail(d) = &l.app.runs.view else {
        panic!("no detail");
    };
    assert_eq!(d.id(), "20261129T111000Z-st11");
    l.key(KeyCode::Esc);
    assert!(matches!(&l.app.runs.view, RunsView::Study(v) if v.list == Some(1)));
    l.key(KeyCode::Esc);
    l.key(KeyCode::Esc);
    assert!(matches!(l.app.runs.view, RunsView::Table));
}

#[test]
fn the_study_view_follows_runs_written_elsewhere() {
    let mut l = table_lab();
    l.app.runs.select_study("heads");
    l.key(KeyCode::Enter);
    let before = l.app.runs.study("heads").unwrap().cells[2].result.clone();
    assert_eq!((before.done, before.running), (2, 1));
    // Another process finishes the running task and reruns the interrupted one.
    let st = l.app.store.clone().unwrap();
    let study = st
        .load_study_file(&st.study_dir("heads").unwrap().join("study.toml"), "heads")
        .unwrap();
    for (sd, knn) in [(2usize, 0.884), (3, 0.879)] {
        let t = crate::store::studies::Task {
            cell: 2,
            seed_index: sd,
        };
        let mut r = record(
            &format!("20261130T02{sd}000Z-new{sd}"),
            0,
            HeadKind::Cosface,
            &[(knn, knn - 0.02)],
            &[],
        );
        let seeds = std::mem::take(&mut r.seeds);
        r.config = study.task_config(t);
        r.seeds = seeds;
        r.study = Some(study.study_ref(t));
        write_run(&st, &r, false);
    }
    l.tick_at(1.5);
    let after = &l.app.runs.study("heads").unwrap().cells[2].result;
    assert_eq!((after.done, after.total), (4, 4));
    assert!(after.comparison.is_some());
    let screen = l.render(80, 24);
    assert!(screen.contains("12/12 done"), "{screen}");
}

#[test]
fn the_lab_reads_a_study_as_study_show_does_search_path_first() {
    // The study's file was edited after its runs (its scorer changed): the lab compares cells on
    // the file's scorer, as `study show` does, not on the copy kept beside the runs.
    let mut l = table_lab();
    let st = l.app.store.clone().unwrap();
    let user = st.study_dirs().user;
    std::fs::create_dir_all(&user).unwrap();
    let edited = STUDY_FILE.replace(r#"scorer = "knn-cosine""#, r#"scorer = "lof""#);
    std::fs::write(user.join("heads.toml"), edited).unwrap();
    assert_eq!(
        st.load_study_or_kept("heads").unwrap().scorer,
        ScorerKind::Lof
    );
    l.app.runs.reload(&st);
    assert_eq!(l.app.runs.study("heads").unwrap().scorer, ScorerKind::Lof);
}

#[test]
fn the_selection_survives_runs_disappearing() {
    let mut l = table_lab();
    let st = l.app.store.clone().unwrap();
    // The cursor on the last line (the study: its runs are the oldest), a run before it
    // removed with `rm -r`.
    l.ch('G');
    let n = l.app.runs.visible.len();
    assert_eq!(visible_ids(&l)[n - 1], "study:heads");
    std::fs::remove_dir_all(st.runs_dir().join("20261129T210000Z-aaaa")).unwrap();
    l.tick_at(1.5);
    assert_eq!(l.app.runs.visible.len(), n - 1);
    assert_eq!(l.app.runs.cursor, n - 2, "still on the study");
    assert!(matches!(l.app.runs.selected_item(), Some(Item::Study(_))));
    // The cursor on the last run line, which goes: clamped to where it was.
    l.app.runs.select_id("20261129T220000Z-bbbb");
    let at = l.app.runs.cursor;
    std::fs::remove_dir_all(st.runs_dir().join("20261129T220000Z-bbbb")).unwrap();
    l.tick_at(3.0);
    assert_eq!(l.app.runs.cursor, at);
    assert!(matches!(l.app.runs.selected_item(), Some(Item::Study(_))));
    let _ = l.render(80, 24);
    // The unreadable run under the cursor, another run deleted elsewhere.
    l.app.runs.select_id("20261129T235900Z-dddd");
    st.delete_run("20261129T230000Z-cccc", false).unwrap();
    l.tick_at(4.5);
    assert_eq!(l.app.runs.selected_id(), Some("20261129T235900Z-dddd"));
    // Then the unreadable one itself (deleted in the lab: refused, a newer schema).
    l.ch('x');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::DeleteRefused { .. }))
    ));
    l.key(KeyCode::Esc);
    std::fs::remove_dir_all(st.runs_dir().join("20261129T235900Z-dddd")).unwrap();
    l.ch('R');
    assert!(l.app.runs.selected_item().is_some());
    let _ = l.render(120, 40);
    // In a study: a run under the cursor vanishing leaves it on the same place.
    l.app.runs.select_id("20261129T111000Z-st11");
    let at = l.app.runs.cursor;
    std::fs::remove_dir_all(st.runs_dir().join("20261129T111000Z-st11")).unwrap();
    l.tick_at(6.0);
    assert_eq!(l.app.runs.cursor, at);
    assert_eq!(l.app.runs.selected_id(), Some("20261129T112000Z-st12"));
    // Everything gone: the cursor stays at 0 and nothing panics.
    for e in st.list_runs().unwrap() {
        std::fs::remove_dir_all(st.runs_dir().join(e.id())).unwrap();
    }
    l.tick_at(7.5);
    assert!(l.app.runs.visible.is_empty());
    assert_eq!(l.app.runs.cursor, 0);
    for k in [
        KeyCode::Down,
        KeyCode::Up,
        KeyCode::Enter,
        KeyCode::Char(' '),
    ] {
        l.key(k);
    }
    l.ch('x');
    l.ch('c');
    let _ = l.render(80, 24);
}

#[test]
fn views_survive_their_runs_disappearing() {
    let mut l = table_lab();
    let st = l.app.store.clone().unwrap();
    l.app.runs.select_study("heads");
    l.key(KeyCode::Enter);
    l.key(KeyCode::Down);
    l.key(KeyCode::Down);
    l.key(KeyCode::Enter);
    l.key(KeyCode::Down);
    l.key(KeyCode::Down);
    l.key(KeyCode::Down);
    // Every run of the study goes.
    for e in st.list_runs().unwrap() {
        if let RunEntry::Ok(r) = e {
            if r.record.study.is_some() {
                std::fs::remove_dir_all(&r.dir).unwrap();
            }
        }
    }
    l.tick_at(1.5);
    let screen = l.render(80, 24);
    assert!(screen.contains("no runs in the store"), "{screen}");
    l.key(KeyCode::Enter);
    l.key(KeyCode::Esc);
    l.key(KeyCode::Esc);
    assert!(matches!(l.app.runs.view, RunsView::Table));
}

#[test]
fn a_killed_run_turns_interrupted_on_the_next_poll() {
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let (store, dir) = temp_store();
    let id = "20261130T020000Z-kill";
    write_run(
        &store,
        &running_record(id, HeadKind::Arcface, child.id(), (0.9, 0.88)),
        false,
    );
    let mut l = lab_with(Some((store.clone(), dir)), Script::default());
    l.ch('3');
    assert_eq!(l.app.runs.loaded(id).unwrap().status, RunStatus::Running);
    let fp = store.fingerprint();
    // SIGKILL: no file changes.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(store.fingerprint(), fp);
    l.tick_at(1.5);
    assert_eq!(
        l.app.runs.loaded(id).unwrap().status,
        RunStatus::Interrupted
    );
    l.app.runs.select_id(id);
    assert_eq!(l.app.runs.selected_row().unwrap().status, "interrupted");
}

#[test]
fn the_watcher_thread_sees_a_killed_run() {
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let (store, _dir) = temp_store();
    let id = "20261130T020000Z-kill";
    write_run(
        &store,
        &running_record(id, HeadKind::Arcface, child.id(), (0.9, 0.88)),
        false,
    );
    let rx = super::super::runs::watch_store(
        store.clone(),
        Duration::from_millis(50),
        Some(store.fingerprint()),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "nothing changed yet");
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, listing) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a listing once the run is stale");
    let status = listing
        .unwrap()
        .into_iter()
        .find_map(|e| match e {
            RunEntry::Ok(r) if r.record.id == id => Some(r.status),
            _ => None,
        })
        .unwrap();
    assert_eq!(status, RunStatus::Interrupted);
}

#[test]
fn delete_says_why_the_store_refuses() {
    let mut l = table_lab();
    // A run with a live process.
    l.app.runs.select_id("20261130T003000Z-ffff");
    l.ch('x');
    let Some(Popup::Confirm(ConfirmKind::DeleteRefused { reason, .. })) = &l.app.popup else {
        panic!("{:?}", l.app.popup);
    };
    assert!(
        reason.contains("still running") && reason.contains("stop it first"),
        "{reason}"
    );
    let screen = l.render(80, 24);
    assert!(screen.contains("Cannot delete run"), "{screen}");
    l.ch('y');
    assert!(l.app.popup.is_none());
    assert!(l.app.runs.loaded("20261130T003000Z-ffff").is_some());
    // A record of a newer schema.
    l.app.runs.select_id("20261129T235900Z-dddd");
    l.ch('x');
    let Some(Popup::Confirm(ConfirmKind::DeleteRefused { reason, .. })) = &l.app.popup else {
        panic!("{:?}", l.app.popup);
    };
    assert!(
        reason.contains("newer adalab") && reason.contains("--force"),
        "{reason}"
    );
    snapshot!("delete_refused", l.render(80, 24));
    l.key(KeyCode::Esc);
    // The store's own refusal, when it only shows on yes.
    let st = l.app.store.clone().unwrap();
    l.app.runs.select_id("20261129T220000Z-bbbb");
    l.ch('x');
    let mut r = st.load_run("20261129T220000Z-bbbb").unwrap().record;
    r.status = RunStatus::Running;
    r.host = hostname();
    r.pid = std::process::id();
    r.created = Timestamp::now();
    r.save(&st.runs_dir().join(&r.id).join(crate::store::RUN_FILE))
        .unwrap();
    l.ch('y');
    let Some(Popup::Confirm(ConfirmKind::DeleteRefused { reason, .. })) = &l.app.popup else {
        panic!("{:?}", l.app.popup);
    };
    assert!(reason.contains("still running"), "{reason}");
}

#[test]
fn each_set_of_overrides_is_a_study_row_of_its_own() {
    let (store, dir) = temp_store();
    let study = write_study(&store);
    // `study run heads --set train.epochs=2`: two of its tasks done.
    let variant = study
        .clone()
        .with_overrides(&["train.epochs=2".to_string()])
        .unwrap();
    for (i, t) in variant.tasks().into_iter().take(2).enumerate() {
        let cfg = variant.task_config(t);
        let mut r = record(
            &format!("20261201T00000{i}Z-va0{i}"),
            0,
            cfg.head.kind,
            &[(0.9, 0.88)],
            &[],
        );
        r.config = cfg;
        r.profile = variant.cells[t.cell].profile.clone();
        r.tags = variant.tags(t);
        r.study = Some(variant.study_ref(t));
        write_run(&store, &r, false);
    }
    let mut l = lab_with(Some((store, dir)), Script::default());
    l.ch('3');
    let r = &l.app.runs;
    let names: Vec<&str> = r.studies.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["heads", "heads · train.epochs=2"]);
    let v = &r.studies[1];
    assert_eq!((v.done, v.running, v.total), (2, 0, 12));
    assert!(v.other.is_empty());
    // The file as written keeps its own runs, none of the variant's.
    assert_eq!((r.studies[0].done, r.studies[0].total), (10, 12));
    assert!(r.studies[0].other.is_empty());
    let screen = l.render(120, 40);
    assert!(screen.contains("heads · train.epochs=2"), "{screen}");
}

/// `r` ranked by Mahalanobis (its knn-cosine results recorded as Mahalanobis'), named
/// `profile` with `changes`.
fn maha_run(mut r: RunRecord, profile: &str, changes: &[&str]) -> RunRecord {
    let swap = |m: &mut BTreeMap<ScorerKind, f64>| {
        if let Some(v) = m.remove(&ScorerKind::KnnCosine) {
            m.insert(ScorerKind::Mahalanobis, v);
        }
    };
    for s in r.seeds.iter_mut() {
        for e in s.epochs.iter_mut() {
            swap(&mut e.auc);
        }
        if let Some(res) = s.result.as_mut() {
            swap(&mut res.auc);
            swap(&mut res.average_precision);
        }
    }
    r.config.score.scorers = vec![ScorerKind::Mahalanobis, ScorerKind::Lof];
    r.summary = crate::score::summarize(
        r.seeds
            .iter()
            .filter_map(|s| s.result.as_ref())
            .map(|x| &x.auc),
    );
    r.profile = profile.into();
    r.changes = changes.iter().map(|c| c.to_string()).collect();
    r
}

#[test]
fn snapshot_primary_auc_column_names_its_scorer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::with_dirs(dir.path().join("home"), dir.path().join("config"));
    let geom = "fashion-sneaker-boot-arcface-geom";
    let ada = "fashion-sneaker-boot-adacos-fixed-geom";
    for (id, minutes, head, auc, tags, profile, changes) in [
        (
            "20261130T010000Z-m001",
            0,
            HeadKind::Arcface,
            0.931,
            vec!["lr-low"],
            geom,
            vec![],
        ),
        (
            "20261130T010100Z-m002",
            1,
            HeadKind::Arcface,
            0.944,
            vec!["lr-high"],
            geom,
            vec![],
        ),
        (
            "20261130T010200Z-m003",
            2,
            HeadKind::AdacosFixed,
            0.952,
            vec![],
            ada,
            vec![],
        ),
        (
            "20261130T010300Z-m004",
            3,
            HeadKind::Arcface,
            0.938,
            vec![],
            ada,
            vec!["head=arcface"],
        ),
    ] {
        let r = record(id, minutes, head, &[(auc, 0.8)], &tags);
        write_run(&store, &maha_run(r, profile, &changes), false);
    }
    let mut l = lab_with(Some((store, dir)), Script::default());
    l.ch('3');
    assert_eq!(
        l.app.runs.primary,
        Some(ScorerKind::Mahalanobis),
        "{}",
        l.render(120, 40)
    );
    // One primary column, named; no second Mahalanobis column.
    let cols = l.app.runs.columns();
    assert!(cols.contains(&Column::Primary));
    assert!(!cols.contains(&Column::Auc(ScorerKind::Mahalanobis)));
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = l.render(w, h);
        for text in [
            "AUC maha",
            "0.931",
            "0.944",
            "0.952",
            "0.938",
            "lr-low",
            "lr-high",
            "arcface-geom",
            "adacos-fixed-geom",
            "head=arcface",
        ] {
            assert!(screen.contains(text), "{text} at {w}×{h}:\n{screen}");
        }
    }
    // Sorting by it puts the best Mahalanobis AUC first.
    to_column(&mut l, Column::Primary);
    l.ch('o');
    assert_eq!(visible_ids(&l)[0], "20261130T010200Z-m003");
    assert!(l.render(80, 24).contains("sort: AUC maha↓"));
    snapshots!("runs_primary_maha", &mut l);
}

/// Today's `MM-DD` as the runs table shows dates.
fn today() -> String {
    crate::store::time::Timestamp::now().to_string()[5..10].to_string()
}
