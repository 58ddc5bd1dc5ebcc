//! Runs: the table (sort, filter, marks, other processes' runs), one run's detail pages and
//! images, and the comparison.

use super::*;

#[test]
fn snapshot_runs_table() {
    let l = runs_lab();
    assert_eq!(l.app.runs.rows.len(), 4);
    snapshot!("snapshot_runs_table", l.render(80, 24));
}

#[test]
fn snapshot_runs_sorted_filtered_marked() {
    let mut l = runs_lab();
    // The column cursor to the first AUC column, then sort by it.
    for _ in 0..7 {
        l.ch('l');
    }
    l.ch('o');
    assert_eq!(l.app.runs.sort, SortColumn::Primary);
    l.ch(' ');
    l.ch(' ');
    l.ch('/');
    l.text("dataset=fashion-mnist");
    l.key(KeyCode::Enter);
    snapshot!("snapshot_runs_sorted_filtered_marked", l.render(100, 24));
}

pub(super) fn open_detail(l: &mut Lab, id: &str) {
    l.app.runs.select_id(id);
    l.key(KeyCode::Enter);
    assert!(matches!(l.app.runs.view, RunsView::Detail(_)));
}

#[test]
fn snapshot_detail_pages() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T210000Z-aaaa");
    let mut pages = Vec::new();
    for _ in 0..4 {
        pages.push(l.render(80, 24));
        l.ch('l');
    }
    snapshot!("detail_overview", pages[0]);
    snapshot!("detail_epochs", pages[1]);
    snapshot!("detail_roc", pages[2]);
    snapshot!("detail_spread", pages[3]);
}

#[test]
fn detail_charts_keep_their_legends_off_the_data() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T210000Z-aaaa");
    l.ch('l');
    assert!(matches!(&l.app.runs.view, RunsView::Detail(d) if d.page == DetailPage::Epochs));
    snapshots!("detail_epochs", &mut l);
    l.ch('l');
    assert!(matches!(&l.app.runs.view, RunsView::Detail(d) if d.page == DetailPage::Roc));
    // Without colour each curve has a glyph of its own, in the legend too.
    let screen = l.render(80, 24);
    assert!(
        screen.contains("• knn-cosine") && screen.contains("+ chance"),
        "{screen}"
    );
    snapshots!("detail_roc", &mut l);
}

pub(super) fn thumb(seed: usize, score: f32, anomalous: bool) -> Thumb {
    let px: Vec<f32> = (0..28 * 28)
        .map(|i| {
            let (y, x) = (i / 28, i % 28);
            let d = ((x as f32 - 14.0).powi(2) + (y as f32 - 14.0).powi(2)).sqrt();
            if (d as usize + seed) % 7 < 3 {
                0.9
            } else {
                0.1
            }
        })
        .collect();
    Thumb::from_planar(&px, (1, 28, 28), score, anomalous)
}

#[test]
fn snapshot_detail_images() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T210000Z-aaaa");
    for _ in 0..4 {
        l.ch('l');
    }
    l.tick_at(0.1);
    // The inert loader never answers: the page says it is loading, then the test answers.
    let loading = l.render(80, 24);
    assert!(loading.contains("loading the dataset"), "{loading}");
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        assert_eq!(d.images_key.as_deref(), Some("20261129T210000Z-aaaa#0"));
        d.images = ImagesState::Ready(
            (0..8)
                .map(|i| thumb(i, 0.7 - i as f32 * 0.01, i < 3))
                .chain((0..8).map(|i| thumb(i + 3, 0.01 * i as f32, false)))
                .collect(),
        );
    }
    snapshot!("detail_images_small", l.render(80, 24));
    snapshot!("detail_images_full", l.render(130, 40));
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        d.images = ImagesState::Missing("fashion-mnist not found; searched: /data".into());
    }
    snapshot!("detail_images_missing", l.render(80, 24));
}

#[test]
fn snapshot_compare() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T210000Z-aaaa");
    l.ch(' ');
    l.app.runs.select_id("20261129T220000Z-bbbb");
    l.ch(' ');
    l.ch('c');
    assert!(matches!(l.app.runs.view, RunsView::Compare(_)));
    snapshot!("snapshot_compare", l.render(100, 30));
}

#[test]
fn runs_from_other_processes_appear() {
    let mut l = runs_lab();
    let st = l.app.store.clone().unwrap();
    write_run(
        &st,
        &record(
            "20261130T010000Z-eeee",
            400,
            HeadKind::Cosface,
            &[(0.9, 0.8)],
            &[],
        ),
        false,
    );
    l.tick_at(0.5);
    assert_eq!(l.app.runs.rows.len(), 4, "polled too early");
    l.tick_at(1.5);
    assert_eq!(l.app.runs.rows.len(), 5);
}

#[test]
fn compare_needs_two_marked_runs() {
    let mut l = runs_lab();
    l.ch('c');
    assert!(matches!(l.app.runs.view, RunsView::Table));
    assert!(l.app.status.is_some());
    l.app.runs.select_id("20261129T210000Z-aaaa");
    l.ch(' ');
    l.app.runs.select_id("20261129T230000Z-cccc");
    l.ch(' ');
    l.ch('c');
    let RunsView::Compare(c) = &l.app.runs.view else {
        panic!("no comparison");
    };
    let keys: Vec<&str> = c.diff.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["head.kind", "run.repeat"]);
    l.key(KeyCode::Esc);
    assert!(matches!(l.app.runs.view, RunsView::Table));
}

#[test]
fn unreadable_runs_are_listed_not_opened() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T235900Z-dddd");
    l.key(KeyCode::Enter);
    assert!(matches!(l.app.runs.view, RunsView::Table));
    assert!(l
        .app
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("schema_version"));
}

#[test]
fn detail_without_scores_says_so() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T230000Z-cccc");
    l.ch('l');
    l.ch('l');
    let roc = l.render(80, 24);
    assert!(roc.contains("scores.csv"), "{roc}");
    l.ch('l');
    l.ch('l');
    l.tick_at(0.1);
    if let RunsView::Detail(d) = &l.app.runs.view {
        assert!(matches!(d.images, ImagesState::Missing(_)));
    }
}

#[test]
fn summary_of_a_repeated_run_in_detail() {
    let l = runs_lab();
    let r = l.app.runs.loaded("20261129T210000Z-aaaa").unwrap();
    let sm: Summary = r.record.summary[&ScorerKind::KnnCosine];
    assert_eq!(sm.n, 5);
    assert!((sm.median - 0.921).abs() < 1e-12);
}

#[test]
fn the_store_watcher_thread_picks_up_new_runs() {
    let (store, dir) = temp_store();
    let app = App::new(
        AppOptions {
            store: Some(store.clone()),
            store_error: None,
            launcher: Box::new(Script::default()),
            images: ImageLoader::inert(),
            theme: theme(),
            pixel_mode: PixelMode::Shades,
            config: Config::default(),
            profile: "p".into(),
            log_file: None,
            watch_store: true,
        },
        Instant::now(),
        WALL,
    );
    let mut l = Lab {
        app,
        script: Script::default(),
        base: Instant::now(),
        _dir: Some(dir),
    };
    assert_eq!(l.app.runs.rows.len(), 4);
    write_run(
        &store,
        &record(
            "20261130T010000Z-ffff",
            400,
            HeadKind::Cosface,
            &[(0.9, 0.8)],
            &[],
        ),
        false,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while l.app.runs.rows.len() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        l.tick_at(0.0);
    }
    assert_eq!(l.app.runs.rows.len(), 5);
}

#[test]
fn cifar_images_fit_at_80x24() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T210000Z-aaaa");
    // h from the first page wraps to the last one (Images).
    l.ch('h');
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        assert_eq!(d.page, DetailPage::Images);
        let rgb: Vec<f32> = (0..3 * 32 * 32).map(|i| (i % 97) as f32 / 96.0).collect();
        d.images = ImagesState::Ready(
            (0..8)
                .map(|i| Thumb::from_planar(&rgb, (3, 32, 32), 1.0 - i as f32 * 0.1, i < 4))
                .collect(),
        );
    }
    let screen = l.render(80, 24);
    assert!(screen.contains("most"), "{screen}");
    assert_eq!(screen.matches("anom").count(), 4 + 1, "{screen}");
    assert!(screen.contains("normal"), "{screen}");
}
