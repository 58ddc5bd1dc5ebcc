//! A run's detail with views, ensemble and defect types; Compare's baseline and series; `e`
//! loading a run into Setup.

use super::*;

use crate::config::ClassRef;
use crate::score::{GroupAuc, ViewAuc};

use super::runs::open_detail;
use super::table::*;

/// Scored with four test-time views, knn-cosine and the rank ensemble; three seeds.
fn views_record() -> RunRecord {
    let mut r = record(
        "20261130T010000Z-vvvv",
        300,
        HeadKind::AdacosFixed,
        &[(0.931, 0.90), (0.925, 0.89), (0.938, 0.91)],
        &["views"],
    );
    r.config.score.scorers = vec![ScorerKind::KnnCosine, ScorerKind::Ensemble];
    r.config.score.ensemble = vec![ScorerKind::KnnCosine, ScorerKind::Lof];
    r.config.score.views.rotations = vec![0, 90, 180, 270];
    for (i, sd) in r.seeds.iter_mut().enumerate() {
        let res = sd.result.as_mut().unwrap();
        let knn = res.auc[&ScorerKind::KnnCosine];
        let ens = knn + 0.006;
        res.auc = [(ScorerKind::KnnCosine, knn), (ScorerKind::Ensemble, ens)]
            .into_iter()
            .collect();
        res.average_precision = res.auc.iter().map(|(k, v)| (*k, v - 0.04)).collect();
        let view = |name: &str, d: f64| ViewAuc {
            view: name.into(),
            auc: [
                (ScorerKind::KnnCosine, knn - d),
                (ScorerKind::Ensemble, ens - d + 0.002),
            ]
            .into_iter()
            .collect(),
        };
        res.view_auc = vec![
            view("identity", 0.021 + i as f64 * 0.001),
            view("rot90", 0.034),
            view("rot180", 0.029),
            view("rot270", 0.037),
        ];
        res.identity_auc = res.view_auc[0].auc.clone();
    }
    r.summary = crate::score::summarize(
        r.seeds
            .iter()
            .filter_map(|s| s.result.as_ref())
            .map(|x| &x.auc),
    );
    r.identity_summary = crate::score::summarize(
        r.seeds
            .iter()
            .filter_map(|s| s.result.as_ref())
            .map(|x| &x.identity_auc),
    );
    r
}

/// An MVTec run with three defect types.
fn mvtec_record() -> RunRecord {
    let mut r = record(
        "20261130T011000Z-mmmm",
        310,
        HeadKind::AdacosFixed,
        &[(0.874, 0.851)],
        &[],
    );
    r.config.data.dataset = crate::config::DatasetKind::Mvtec;
    r.config.data.path = Some("/data/mvtec/bottle".into());
    r.config.data.normal = ClassRef::Name("good".into());
    r.config.data.anomalous = ClassRef::Name("defect".into()).into();
    r.profile = "mvtec-bottle".into();
    let res = r.seeds[0].result.as_mut().unwrap();
    let g = |name: &str, images: usize, k: f64, l: f64| GroupAuc {
        group: name.into(),
        images,
        auc: [(ScorerKind::KnnCosine, k), (ScorerKind::Lof, l)]
            .into_iter()
            .collect(),
    };
    res.group_auc = vec![
        g("broken_large", 20, 0.951, 0.932),
        g("broken_small", 22, 0.838, 0.811),
        g("contamination", 21, 0.833, 0.809),
    ];
    r
}

pub(super) fn detail_lab() -> Lab {
    let (store, dir) = temp_store();
    write_run(&store, &views_record(), false);
    write_run(&store, &mvtec_record(), false);
    let mut l = lab_with(Some((store, dir)), Script::default());
    l.ch('3');
    l
}

#[test]
fn snapshot_detail_with_views_and_ensemble() {
    let mut l = detail_lab();
    open_detail(&mut l, "20261130T010000Z-vvvv");
    let RunsView::Detail(d) = &l.app.runs.view else {
        unreachable!()
    };
    assert!(d.pages().contains(&DetailPage::Views));
    assert!(!d.pages().contains(&DetailPage::Groups));
    let screen = l.render(120, 40);
    // Identity, views averaged, and what the views add, per scorer (ensemble included).
    assert!(
        screen.contains("identity") && screen.contains("+views"),
        "{screen}"
    );
    assert!(screen.contains("ensemble"), "{screen}");
    snapshots!("detail_views_overview", &mut l);
    // The page of each view's AUC.
    while !matches!(&l.app.runs.view, RunsView::Detail(d) if d.page == DetailPage::Views) {
        l.ch('l');
    }
    let screen = l.render(80, 24);
    for v in ["identity", "rot90", "rot180", "rot270", "averaged"] {
        assert!(screen.contains(v), "{v}:\n{screen}");
    }
    snapshots!("detail_views_page", &mut l);
}

#[test]
fn snapshot_detail_defect_types() {
    let mut l = detail_lab();
    open_detail(&mut l, "20261130T011000Z-mmmm");
    while !matches!(&l.app.runs.view, RunsView::Detail(d) if d.page == DetailPage::Groups) {
        l.ch('l');
    }
    let screen = l.render(80, 24);
    assert!(
        screen.contains("broken_small") && screen.contains("all defects"),
        "{screen}"
    );
    snapshots!("detail_defects", &mut l);
}

#[test]
fn snapshot_compare_baseline_and_series() {
    let mut l = table_lab();
    for id in [
        "20261129T210000Z-aaaa",
        "20261129T220000Z-bbbb",
        "20261130T001000Z-gggg",
    ] {
        l.app.runs.select_id(id);
        l.ch(' ');
    }
    l.ch('c');
    let RunsView::Compare(c) = &l.app.runs.view else {
        panic!("no comparison");
    };
    // Float values as set; head keys that do not apply to a head as `–`.
    let m = c
        .diff
        .iter()
        .find(|(k, _)| k == "head.m")
        .expect("head.m differs");
    assert_eq!(m.1, ["–", "0.5", "0.35"]);
    let s_ = c
        .diff
        .iter()
        .find(|(k, _)| k == "head.s")
        .expect("head.s shown");
    assert_eq!(s_.1, ["–", "30", "30"]);
    // The arcface run as the baseline, its LOF series hidden.
    l.key(KeyCode::Right);
    l.ch('b');
    l.key(KeyCode::Down);
    l.key(KeyCode::Down);
    l.key(KeyCode::Down);
    l.ch(' ');
    let RunsView::Compare(c) = &l.app.runs.view else {
        unreachable!()
    };
    assert_eq!(c.baseline, 1);
    assert_eq!(c.series.len(), 6);
    let hidden: Vec<_> = c.hidden.iter().cloned().collect();
    assert_eq!(
        hidden,
        [("20261129T220000Z-bbbb".to_string(), ScorerKind::Lof)]
    );
    let screen = l.render(120, 40);
    assert!(screen.contains("(baseline)"), "{screen}");
    assert!(screen.contains("0.921 (+0.037)"), "{screen}");
    snapshots!("compare_baseline_series", &mut l);
    // The store changing keeps baseline and hidden series.
    l.app.poll_store(true);
    let RunsView::Compare(c) = &l.app.runs.view else {
        unreachable!()
    };
    assert_eq!((c.baseline, c.hidden.len()), (1, 1));
}

#[test]
fn snapshot_e_loads_a_run_into_setup() {
    let mut l = table_lab();
    l.app.runs.select_id("20261130T001000Z-gggg");
    l.ch('e');
    assert_eq!(l.app.tab, Tab::Setup);
    let rec = l
        .app
        .runs
        .loaded("20261130T001000Z-gggg")
        .unwrap()
        .record
        .clone();
    assert_eq!(l.app.form.config, rec.config);
    assert_eq!(l.app.form.profile, rec.profile);
    assert!(!l.app.form.edited);
    assert!(l.app.status.as_ref().unwrap().text.contains("gggg"));
    snapshots!("setup_loaded_from_run", &mut l);
    // From Detail and from Compare too.
    l.ch('3');
    open_detail(&mut l, "20261129T220000Z-bbbb");
    l.ch('e');
    assert_eq!(l.app.tab, Tab::Setup);
    assert_eq!(l.app.form.config.head.kind, HeadKind::Arcface);
    l.ch('3');
    l.key(KeyCode::Esc);
    for id in ["20261129T210000Z-aaaa", "20261130T000000Z-eeee"] {
        l.app.runs.select_id(id);
        l.ch(' ');
    }
    l.ch('c');
    l.key(KeyCode::Right);
    l.ch('e');
    assert_eq!(l.app.tab, Tab::Setup);
    assert_eq!(l.app.form.config.head.kind, HeadKind::L2Softmax);
    // An unreadable run has no config to load.
    l.ch('3');
    l.key(KeyCode::Esc);
    l.app.runs.select_id("20261129T235900Z-dddd");
    l.ch('e');
    assert_eq!(l.app.tab, Tab::Runs);
}

// ---- the list changing under the cursor --------------------------------------------
