//! What users of W&B, TensorBoard and burn's TUI expect: the missing-data error as a list,
//! Compare's metric overlays, dynamic AdaCos's s on the Train screen, the process's CPU,
//! memory and GPU in the tab bar, and `E` writing the chart shown as SVG and PNG.

use super::*;
use crate::tui::train::live::LogLevel;

/// A catalogue that finds no dataset, as the real one says it.
struct NoData;

fn not_found() -> String {
    crate::data::DataError::NotFound {
        dataset: "fashion-mnist".into(),
        searched: vec![
            "data/fashion-mnist".into(),
            "/home/user/.local/share/adalab/fashion-mnist".into(),
            "/usr/share/datasets/fashion-mnist".into(),
        ],
        hint: "Download it with `adalab data fetch fashion-mnist`.".into(),
    }
    .to_string()
}

impl crate::config::Catalog for NoData {
    fn check_data(
        &self,
        _: &Config,
    ) -> Result<crate::config::DatasetInfo, crate::config::ConfigError> {
        Err(crate::config::ConfigError::new("data.dataset", not_found()))
    }
}

#[test]
fn missing_data_lists_the_searched_places_one_a_line() {
    let mut l = lab();
    l.app.form.catalog = std::sync::Arc::new(NoData);
    l.app.form.validate();
    l.key(KeyCode::Enter);
    let status = &l.app.status.as_ref().expect("a status").text;
    assert!(
        status.contains("searched:\n  - data/fashion-mnist\n"),
        "{status}"
    );
    snapshots!("setup_missing_data", &mut l);
    // The status line shows the list one place a line, each whole or cut with `…`.
    let screen = l.render(120, 40);
    for place in [
        "  - data/fashion-mnist",
        "  - /usr/share/datasets/fashion-mnist",
    ] {
        assert!(
            screen
                .lines()
                .any(|r| r.trim_matches('"').trim_end().ends_with(place)),
            "{place} on a line of its own:\n{screen}"
        );
    }
    // Detail's image page says it the same way.
    let mut l = runs_lab();
    super::runs::open_detail(&mut l, "20261129T210000Z-aaaa");
    super::cut::to_page(&mut l, DetailPage::Images);
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        d.images = ImagesState::Missing(not_found());
    }
    snapshots!("detail_images_missing_list", &mut l);
    let screen = l.render(120, 40);
    assert!(
        screen
            .lines()
            .any(|r| r.contains("  - /home/user/.local/share/adalab/fashion-mnist")),
        "{screen}"
    );
}

fn busy() -> crate::tui::usage::Usage {
    use crate::tui::usage::{Gpu, Usage};
    Usage {
        cpu: Some(183.0),
        rss_bytes: Some(1_288_490_189),
        gpu: Some(Gpu {
            util: Some(45.0),
            used_bytes: 3172 << 20,
            total_bytes: 81559 << 20,
        }),
    }
}

#[test]
fn the_tab_bar_shows_cpu_memory_and_gpu_whole_or_not_at_all() {
    let mut c = pinned();
    c.train.epochs = 3;
    let mut l = super::train::mid_epoch_lab(c);
    l.app.usage = busy();
    snapshots!("header_usage", &mut l);
    let wide = l.render(120, 40);
    let top = wide.lines().next().unwrap();
    assert!(
        top.contains("cpu 183%  rss 1.2G  gpu 45% 3.1G/80G  training"),
        "{top}"
    );
    // At 80 columns what does not fit is dropped, never cut.
    let narrow = l.render(80, 24);
    let top = narrow.lines().next().unwrap();
    assert!(top.contains("cpu 183%  rss 1.2G  training"), "{top}");
    assert!(!top.contains("gpu") && !top.contains('…'), "{top}");
    // A CPU run has no GPU field; before the first sample nothing is shown.
    l.app.usage.gpu = None;
    assert!(!l.render(120, 40).lines().next().unwrap().contains("gpu"));
    l.app.usage = Default::default();
    assert!(!l.render(120, 40).lines().next().unwrap().contains("cpu"));
    assert!(!l.app.training_on_cuda());
}

fn compare_lab() -> Lab {
    let mut l = super::table::table_lab();
    for id in [
        "20261129T210000Z-aaaa",
        "20261129T220000Z-bbbb",
        "20261130T001000Z-gggg",
    ] {
        l.app.runs.select_id(id);
        l.ch(' ');
    }
    l.ch('c');
    assert!(matches!(l.app.runs.view, RunsView::Compare(_)));
    l
}

fn overlay(l: &Lab) -> crate::tui::compare::overlay::Overlay {
    match &l.app.runs.view {
        RunsView::Compare(c) => c.overlay,
        _ => panic!("no comparison"),
    }
}

#[test]
fn compare_overlays_loss_accuracy_and_s_too() {
    use crate::tui::compare::overlay::{curves, Overlay};
    let mut l = compare_lab();
    assert_eq!(overlay(&l), Overlay::Auc);
    let n_auc = match &l.app.runs.view {
        RunsView::Compare(c) => curves(c).len(),
        _ => unreachable!(),
    };
    l.ch('v');
    assert_eq!(overlay(&l), Overlay::Loss);
    let RunsView::Compare(c) = &l.app.runs.view else {
        unreachable!()
    };
    // One loss curve per run and seed (not per scorer), each run under its own glyph.
    let loss = curves(c);
    let seeds: usize = c.runs.iter().map(|r| r.record.seeds.len()).sum();
    assert_eq!(loss.len(), seeds);
    assert!(n_auc > loss.len());
    let mut glyphs: Vec<usize> = loss.iter().map(|(g, _)| *g).collect();
    glyphs.dedup();
    assert_eq!(glyphs.len(), c.runs.len());
    let first = &c.runs[0].record.seeds[0].epochs;
    assert_eq!(loss[0].1[0], (first[0].epoch as f64, first[0].loss as f64));
    snapshots!("compare_overlay_loss", &mut l);
    let screen = l.render(120, 40);
    assert!(
        screen.contains("loss per epoch, every seed · v: accuracy"),
        "{screen}"
    );
    l.ch('v');
    assert_eq!(overlay(&l), Overlay::Accuracy);
    snapshots!("compare_overlay_accuracy", &mut l);
    l.ch('v');
    assert_eq!(overlay(&l), Overlay::Scale);
    l.ch('v');
    assert_eq!(overlay(&l), Overlay::Auc);
    // Hiding every series of a run hides its loss curve too.
    l.ch('v');
    for _ in 0..2 {
        l.ch(' ');
        l.key(KeyCode::Down);
    }
    let RunsView::Compare(c) = &l.app.runs.view else {
        unreachable!()
    };
    assert_eq!(curves(c).len(), seeds - c.runs[0].record.seeds.len());
}

#[test]
fn the_train_screen_charts_dynamic_adacos_s() {
    let mut c = pinned();
    c.head.kind = HeadKind::AdacosDynamic;
    c.train.epochs = 4;
    let mut l = lab();
    l.app
        .form
        .load(c.clone(), "fashion-sneaker-boot-adacos-dynamic");
    l.ch('r');
    assert_eq!(l.app.tab, Tab::Train);
    let events = vec![
        Event::Started {
            config: Box::new(c.clone()),
            seeds: vec![0],
            device: "cpu".into(),
            threads: 2,
        },
        Event::DataReady {
            train: 9000,
            normal_train: 1000,
            test: 2000,
            classes: 9,
            test_anomalous: 1000,
        },
        Event::SeedStarted { index: 0, seed: 0 },
    ];
    for ev in events {
        l.script.send(ev);
    }
    l.tick_at(1.0);
    let screen = l.render(120, 40);
    assert!(
        screen.contains("┌ AdaCos s ─") && screen.contains("s is charted after"),
        "{screen}"
    );
    use ScorerKind::{KnnCosine as K, Lof as L};
    for (e, sc) in [(1, 2.941f32), (2, 3.62), (3, 4.105)] {
        l.script.send(Event::Epoch(epoch(
            e,
            1.0 / e as f32,
            0.5,
            sc,
            &[(K, 0.85), (L, 0.84)],
        )));
        l.tick_at(1.0 + 10.0 * e as f64);
    }
    let live = l.app.live.as_ref().unwrap();
    assert!(crate::tui::train::scale::charted(live));
    let pts = crate::tui::train::scale::points(live);
    assert_eq!(pts.len(), 3);
    assert!((pts[2].1 - 4.105).abs() < 1e-6);
    let screen = l.render(80, 24);
    assert!(screen.contains("AdaCos s 4.105"), "{screen}");
    snapshots!("train_adacos_dynamic_s", &mut l);
    // Heads with a fixed s keep three charts.
    let mut c = pinned();
    c.train.epochs = 3;
    let l = super::train::mid_epoch_lab(c);
    assert!(!crate::tui::train::scale::charted(
        l.app.live.as_ref().unwrap()
    ));
    assert!(!l.render(120, 40).contains("AdaCos s"));
}

#[test]
fn e_writes_the_chart_shown_as_svg_and_png_and_says_where() {
    let mut l = compare_lab();
    let dir = tempfile::tempdir().unwrap();
    l.app.export_dir = dir.path().to_path_buf();
    l.ch('v');
    l.ch('E');
    let st = l.app.status.clone().expect("a status");
    assert_eq!(st.level, LogLevel::Info, "{}", st.text);
    let svg = dir
        .path()
        .join("adalab-compare-loss-20261129T210000Z-aaaa.svg");
    assert!(
        st.text
            .starts_with(&format!("wrote 2 files into {}:", dir.path().display())),
        "{}",
        st.text
    );
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    assert!(svg.with_extension("png").is_file());
    // Both files' names show in full on the status lines, at 80 columns too.
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = l.render(w, h);
        let name = "adalab-compare-loss-20261129T210000Z-aaaa.{svg,png}";
        assert!(
            screen.contains(name),
            "{w}x{h}: {name} not shown:\n{screen}"
        );
    }
    // A folder that is not there: the error names the file, nothing panics.
    l.app.export_dir = dir.path().join("gone");
    l.ch('E');
    let st = l.app.status.clone().expect("a status");
    assert_eq!(st.level, LogLevel::Error);
    assert!(
        st.text.contains("could not write") && st.text.contains("gone"),
        "{}",
        st.text
    );
    // Detail's Epochs page: every chart on it, AUC, loss, accuracy and s.
    let mut l = runs_lab();
    l.app.export_dir = dir.path().to_path_buf();
    super::runs::open_detail(&mut l, "20261129T210000Z-aaaa");
    super::cut::to_page(&mut l, DetailPage::Epochs);
    l.ch('E');
    let st = l.app.status.clone().expect("a status");
    assert_eq!(st.level, LogLevel::Info, "{}", st.text);
    for stem in ["auc", "loss", "accuracy", "scale"] {
        let svg = dir
            .path()
            .join(format!("adalab-20261129T210000Z-aaaa-seed0-{stem}.svg"));
        assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
        assert!(svg.with_extension("png").is_file());
    }
    assert!(st.text.starts_with("wrote 8 files into"), "{}", st.text);
    let screen = l.render(80, 24);
    for stem in ["auc", "loss", "accuracy", "scale"] {
        let name = format!("adalab-20261129T210000Z-aaaa-seed0-{stem}.{{svg,png}}");
        assert!(
            screen.contains(&name),
            "{name} not shown at 80x24:\n{screen}"
        );
    }
    // Detail's ROC page.
    let mut l = runs_lab();
    l.app.export_dir = dir.path().to_path_buf();
    super::runs::open_detail(&mut l, "20261129T210000Z-aaaa");
    super::cut::to_page(&mut l, DetailPage::Overview);
    l.ch('E');
    assert_eq!(l.app.status.as_ref().unwrap().level, LogLevel::Warn);
}

#[test]
fn e_on_the_study_view_writes_the_study_plot_figure() {
    let mut l = super::table::table_lab();
    let dir = tempfile::tempdir().unwrap();
    l.app.export_dir = dir.path().to_path_buf();
    l.app.runs.select_study("heads");
    l.key(KeyCode::Enter);
    assert!(matches!(l.app.runs.view, RunsView::Study(_)));
    l.ch('E');
    let st = l.app.status.clone().expect("a status");
    assert_eq!(st.level, LogLevel::Info, "{}", st.text);
    let svg = dir.path().join("adalab-study-heads.svg");
    let folder = format!("wrote 2 files into {}:", dir.path().display());
    assert!(st.text.starts_with(&folder), "{}", st.text);
    let screen = l.render(80, 24);
    let name = "adalab-study-heads.{svg,png}";
    assert!(
        screen.contains(name),
        "{name} not shown at 80x24:\n{screen}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{text}");
    assert!(svg.with_extension("png").is_file());
}
