//! What users of W&B, TensorBoard and burn's TUI expect: the missing-data error as a list,
//! Compare's metric overlays, dynamic AdaCos's s on the Train screen, the process's CPU,
//! memory and GPU in the tab bar, and `E` writing the chart shown as SVG and PNG.

use super::*;

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
