//! A run's detector in the lab: Detail's detector line, `s` (the folder input and its
//! completion), the scoring's progress, cancelling with Esc, failures, and the scored folder's
//! page.

use std::path::{Path, PathBuf};

use super::*;

use crate::job::score::ScoreProgress;
use crate::job::score::{Inputs, Scored, Verdict};
use crate::tui::detail::scoring::{FolderResult, FolderState};
use crate::tui::popups::folder::FolderInput;

use super::runs::open_detail;

const RUN: &str = "20261129T210000Z-aaaa";

/// Gives run `id` of the store a detector file of `bytes` (sparse: its content is never read
/// by these tests, which script the scoring).
fn give_detector(l: &Lab, id: &str, bytes: u64) {
    let st = l.app.store.as_ref().unwrap();
    let f = std::fs::File::create(
        st.runs_dir()
            .join(id)
            .join(crate::store::detector::DETECTOR_FILE),
    )
    .unwrap();
    f.set_len(bytes).unwrap();
}

fn detail(l: &Lab) -> &crate::tui::detail::Detail {
    match &l.app.runs.view {
        RunsView::Detail(d) => d,
        _ => panic!("not on a Detail"),
    }
}

/// A 28×28 picture: rings whose spacing depends on `seed`.
fn pixels(seed: usize) -> Vec<f32> {
    (0..28 * 28)
        .map(|i| {
            let (y, x) = (i / 28, i % 28);
            let d = ((x as f32 - 14.0).powi(2) + (y as f32 - 14.0).powi(2)).sqrt();
            if (d as usize + seed) % (4 + seed % 4) < 2 {
                0.9
            } else {
                0.1
            }
        })
        .collect()
}

/// What the engine would answer for 12 images under `folder`, 3 above the threshold.
fn result(folder: &Path) -> FolderResult {
    let n = 12;
    let knn: Vec<f32> = (0..n).map(|i| 0.05 + ((i * 7) % n) as f32 * 0.04).collect();
    let verdict = Verdict {
        scorer: ScorerKind::KnnCosine,
        threshold: 0.4,
        rule: "knn-cosine > 0.4 (fpr=0.05 on 1000 held-out normal images the run did not \
               train on)"
            .into(),
    };
    let inputs = Inputs {
        names: (0..n)
            .map(|i| {
                let sub = if i % 2 == 0 { "boots" } else { "sneakers" };
                folder
                    .join(sub)
                    .join(format!("img-{i:02}.png"))
                    .display()
                    .to_string()
            })
            .collect(),
        x: (0..n).flat_map(pixels).collect(),
        labels: None,
        skipped: vec![crate::data::folder::Problem {
            path: folder.join("notes.png"),
            reason: "not a PNG file (bad signature)".into(),
        }],
    };
    let scored = Scored {
        scorers: vec![ScorerKind::KnnCosine, ScorerKind::Lof],
        flagged: knn.iter().map(|&s| s > verdict.threshold).collect(),
        scores: [
            (ScorerKind::KnnCosine, knn.clone()),
            (ScorerKind::Lof, knn.iter().map(|v| 1.0 + v).collect()),
        ]
        .into_iter()
        .collect(),
        verdict,
    };
    FolderResult::new(folder, &inputs, &scored, (1, 28, 28))
}

#[test]
fn detail_says_whether_a_detector_is_saved() {
    let mut l = runs_lab();
    give_detector(&l, RUN, 5_138_022);
    open_detail(&mut l, RUN);
    let screen = l.render(80, 24);
    assert!(screen.contains("detector"), "{screen}");
    assert!(screen.contains("saved · 4.9 MiB ·"), "{screen}");
    assert!(screen.contains("threshold fpr=0.05"), "{screen}");
    snapshot!("detail_detector_saved_80x24", screen);
    snapshot!("detail_detector_saved_120x40", l.render(120, 40));
    // A run trained without saving one says so.
    l.key(KeyCode::Esc);
    let mut rec = l
        .app
        .runs
        .loaded("20261129T220000Z-bbbb")
        .unwrap()
        .record
        .clone();
    rec.config.run.save_model = false;
    write_run(l.app.store.as_ref().unwrap(), &rec, true);
    l.app.poll_store(true);
    open_detail(&mut l, "20261129T220000Z-bbbb");
    assert_eq!(
        detail(&l).detector,
        crate::store::detector::DetectorStatus::Missing(
            "it was trained with run.save_model = false".into()
        )
    );
    let screen = l.render(120, 40);
    assert!(
        screen.contains("none: it was trained with run.save_model ="),
        "{screen}"
    );
}

#[test]
fn s_on_a_run_without_a_detector_says_why() {
    let mut l = runs_lab();
    open_detail(&mut l, RUN);
    l.ch('s');
    assert!(l.app.popup.is_none());
    let st = l.app.status.as_ref().expect("a status").text.clone();
    assert!(
        st.contains("has no saved detector") && st.contains(RUN),
        "{st}"
    );
    assert!(l.script.scored.borrow().is_empty());
}

#[test]
fn snapshot_detail_scored_folder() {
    let mut l = runs_lab();
    give_detector(&l, RUN, 5_138_022);
    open_detail(&mut l, RUN);
    let folder = PathBuf::from("/data/incoming/shoes");
    l.app.start_scoring(RUN, folder.clone()).unwrap();
    assert_eq!(detail(&l).page, DetailPage::Folder);
    l.script
        .send_score(ScoreUpdate::Progress(ScoreProgress::Decoding {
            done: 12,
            total: 12,
        }));
    l.script
        .send_score(ScoreUpdate::Progress(ScoreProgress::Embedding {
            done: 6,
            total: 12,
        }));
    l.tick_at(0.1);
    let running = l.render(80, 24);
    assert!(running.contains("embedding  50%"), "{running}");
    assert!(running.contains("Esc cancel scoring"), "{running}");
    l.script
        .send_score(ScoreUpdate::Done(Box::new(result(&folder))));
    l.tick_at(0.2);
    assert!(l.app.scoring.is_none());
    let FolderState::Done(r) = &detail(&l).folder.as_ref().unwrap().state else {
        panic!("not done");
    };
    assert_eq!((r.images, r.flagged), (12, 3));
    // Most anomalous first; names relative to the folder.
    assert_eq!(r.ranked[0].name, "sneakers/img-05.png");
    assert!(r.ranked.windows(2).all(|w| w[0].score >= w[1].score));
    let screen = l.render(80, 24);
    for want in [
        "/data/incoming/shoes",
        "12 images · 3 flagged (25.0%)",
        "knn-cosine > 0.4",
        "skipped 1 file:",
        "most anomalous",
        "flagged",
        "sneakers/img-05.png",
    ] {
        assert!(screen.contains(want), "{want}:\n{screen}");
    }
    snapshots!("detail_scored_folder", &mut l);
    // ↓ scrolls the ranked list.
    for _ in 0..20 {
        l.key(KeyCode::Down);
    }
    let screen = l.render(80, 24);
    assert!(screen.contains("   12  "), "{screen}");
}

#[test]
fn folder_input_completes_existing_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for d in [
        "sneakers",
        "sneakers-old",
        "boots",
        ".cache",
        "sneakers/left",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("notes.txt"), "not a folder").unwrap();
    let base = format!("{}/", root.display());

    let mut l = runs_lab();
    give_detector(&l, RUN, 1000);
    open_detail(&mut l, RUN);
    l.ch('s');
    let popup = |l: &Lab| match &l.app.popup {
        Some(Popup::Folder(p)) => p.clone(),
        other => panic!("no folder input: {other:?}"),
    };
    assert_eq!(popup(&l).run, RUN);
    // Folders only, hidden ones when asked for, sorted.
    l.text(&base);
    assert_eq!(popup(&l).candidates, ["boots", "sneakers", "sneakers-old"]);
    l.ch('.');
    assert_eq!(popup(&l).candidates, [".cache"]);
    l.key(KeyCode::Backspace);
    l.ch('s');
    assert_eq!(popup(&l).candidates, ["sneakers", "sneakers-old"]);
    let screen = l.render(120, 40);
    assert!(
        screen.contains("sneakers/") && screen.contains("sneakers-old/"),
        "{screen}"
    );
    assert!(screen.contains("Tab complete"), "{screen}");
    // Tab: as far as both agree, then picks the first, then takes it.
    l.key(KeyCode::Tab);
    assert_eq!(popup(&l).text, format!("{base}sneakers"));
    l.key(KeyCode::Tab);
    assert_eq!(popup(&l).selected, Some(0));
    l.key(KeyCode::Down);
    assert_eq!(popup(&l).selected, Some(1));
    l.key(KeyCode::Up);
    l.key(KeyCode::Tab);
    assert_eq!(popup(&l).text, format!("{base}sneakers/"));
    assert_eq!(popup(&l).candidates, ["left"]);
    // The only match is taken at once.
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.text(&format!("{base}bo"));
    l.key(KeyCode::Tab);
    assert_eq!(popup(&l).text, format!("{base}boots/"));
    // Errors name the path.
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.text(&format!("{base}missing"));
    l.key(KeyCode::Enter);
    let err = popup(&l).error.expect("an error");
    assert!(
        err.contains(&format!("{base}missing")) && err.contains("no such folder"),
        "{err}"
    );
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.text(&format!("{base}notes.txt"));
    l.key(KeyCode::Enter);
    let err = popup(&l).error.expect("an error");
    assert!(
        err.contains("notes.txt") && err.contains("not a folder"),
        "{err}"
    );
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.key(KeyCode::Enter);
    assert!(popup(&l).error.unwrap().contains("type the folder"));
    // Enter on a folder scores it; the next `s` starts from it.
    l.text(&format!("{base}sneakers"));
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none());
    assert_eq!(
        l.script.scored.borrow().as_slice(),
        [(RUN.to_string(), root.join("sneakers"))]
    );
    assert_eq!(detail(&l).page, DetailPage::Folder);
    assert!(detail(&l).scoring());
    assert_eq!(l.app.last_folder, format!("{base}sneakers"));
    // While it runs, `s` says a folder is being scored.
    l.ch('s');
    assert!(l.app.popup.is_none());
    assert!(l.app.status.as_ref().unwrap().text.contains("being scored"));
}

#[test]
fn tilde_is_the_home_folder() {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    assert_eq!(
        crate::tui::popups::folder::expand("~/x"),
        PathBuf::from(&home).join("x")
    );
    let mut p = FolderInput::new(RUN.into(), "~".into());
    p.complete();
    assert_eq!(p.text, "~/");
}

#[test]
fn esc_cancels_scoring_and_failures_are_shown() {
    let mut l = runs_lab();
    give_detector(&l, RUN, 1000);
    open_detail(&mut l, RUN);
    l.app.start_scoring(RUN, PathBuf::from("/data/x")).unwrap();
    // Esc asks the worker to stop and stays on the Detail until it has.
    l.key(KeyCode::Esc);
    assert!(l.script.score_cancelled.load(Ordering::SeqCst));
    assert!(matches!(l.app.runs.view, RunsView::Detail(_)));
    assert!(l.render(80, 24).contains("cancelling"));
    l.script.send_score(ScoreUpdate::Cancelled);
    l.tick_at(0.1);
    assert_eq!(
        detail(&l).folder.as_ref().unwrap().state,
        FolderState::Cancelled
    );
    assert!(l.app.scoring.is_none());
    assert!(l.render(80, 24).contains("scoring cancelled"));
    // A failure names what failed.
    l.app.start_scoring(RUN, PathBuf::from("/data/x")).unwrap();
    let why = "no image files (png, jpg, jpeg, bmp, tif, tiff, gif) in /data/x";
    l.script.send_score(ScoreUpdate::Failed(why.into()));
    l.tick_at(0.2);
    let screen = l.render(80, 24);
    assert!(
        screen.contains("cannot score the folder") && screen.contains("no image files"),
        "{screen}"
    );
    // A worker gone without an answer is a failure too, never a hang.
    l.app.start_scoring(RUN, PathBuf::from("/data/x")).unwrap();
    l.script.score_sender.borrow_mut().take();
    l.tick_at(0.3);
    assert!(matches!(
        &detail(&l).folder.as_ref().unwrap().state,
        FolderState::Failed(m) if m.contains("without an answer")
    ));
    // Leaving the Detail while scoring (second Esc) stops the job.
    l.script.score_cancelled.store(false, Ordering::SeqCst);
    l.app.start_scoring(RUN, PathBuf::from("/data/x")).unwrap();
    l.key(KeyCode::Esc);
    l.key(KeyCode::Esc);
    assert!(matches!(l.app.runs.view, RunsView::Table));
    l.tick_at(0.4);
    assert!(l.app.scoring.is_none());
    assert!(l.script.score_cancelled.load(Ordering::SeqCst));
}
