//! `E`: the chart shown (or a study's boxplots) written as SVG and PNG, with the renderer `adalab study plot` uses
//! ([`crate::figure`]), into the folder the lab was started in (`App::export_dir`); the status
//! line says where, or which file could not be written and why.

use std::path::{Path, PathBuf};

use crate::figure::lines::{Curve, LineFigure};
use crate::store::studies::CellResults;
use crate::train::EpochMetrics;

use super::app::App;
use super::compare::overlay;
use super::detail::DetailPage;
use super::runs::RunsView;
use super::strings as s;
use super::train::live::LogLevel;

/// The figures of what Detail or Compare shows, each with the file name it is written under.
fn shown(app: &App) -> Vec<(String, LineFigure)> {
    match &app.runs.view {
        RunsView::Detail(d) => {
            let rec = &d.run.record;
            match d.page {
                DetailPage::Roc if !d.roc.is_empty() => {
                    let mut curves: Vec<Curve> = d
                        .roc
                        .iter()
                        .enumerate()
                        .map(|(i, (k, auc, pts))| Curve {
                            name: format!("{k} (AUC {auc:.3})"),
                            points: pts.clone(),
                            series: i,
                            reference: false,
                        })
                        .collect();
                    curves.push(Curve {
                        name: "chance".into(),
                        points: vec![(0.0, 0.0), (1.0, 1.0)],
                        series: curves.len(),
                        reference: true,
                    });
                    vec![(
                        format!("{}-roc", rec.id),
                        LineFigure {
                            title: format!("{}: ROC", rec.name()),
                            x_label: "false positive rate".into(),
                            y_label: "true positive rate".into(),
                            curves,
                            x: Some([0.0, 1.0]),
                            y: Some([0.0, 1.0]),
                        },
                    )]
                }
                DetailPage::Epochs => {
                    let Some(seed) = rec.seeds.get(d.seed) else {
                        return Vec::new();
                    };
                    let curves: Vec<Curve> = rec
                        .config
                        .score
                        .scorers
                        .iter()
                        .enumerate()
                        .map(|(i, k)| Curve {
                            name: k.to_string(),
                            points: seed
                                .epochs
                                .iter()
                                .filter_map(|m| m.auc.get(k).map(|v| (m.epoch as f64, *v)))
                                .collect(),
                            series: i,
                            reference: false,
                        })
                        .filter(|c| !c.points.is_empty())
                        .collect();
                    let per_epoch = |what: &str, stem: &str, f: fn(&EpochMetrics) -> f64| {
                        let points: Vec<(f64, f64)> =
                            seed.epochs.iter().map(|m| (m.epoch as f64, f(m))).collect();
                        (
                            format!("{}-seed{}-{stem}", rec.id, seed.seed),
                            LineFigure {
                                title: format!("{}: {what} per epoch", rec.name()),
                                x_label: "epoch".into(),
                                y_label: what.into(),
                                curves: vec![Curve {
                                    name: what.into(),
                                    points,
                                    series: 0,
                                    reference: false,
                                }],
                                x: None,
                                y: None,
                            },
                        )
                    };
                    let mut figs = Vec::new();
                    if !curves.is_empty() {
                        figs.push((
                            format!("{}-seed{}-auc", rec.id, seed.seed),
                            LineFigure {
                                title: format!("{}: test AUC per epoch", rec.name()),
                                x_label: "epoch".into(),
                                y_label: "ROC AUC".into(),
                                curves,
                                x: None,
                                y: None,
                            },
                        ));
                    }
                    if !seed.epochs.is_empty() {
                        figs.push(per_epoch("training loss", "loss", |m| m.loss as f64));
                        figs.push(per_epoch("training accuracy", "accuracy", |m| {
                            m.accuracy as f64
                        }));
                        // Every chart the page shows, s too (constant for a fixed scale).
                        figs.push(per_epoch("scale s", "scale", |m| m.scale as f64));
                    }
                    figs
                }
                _ => Vec::new(),
            }
        }
        RunsView::Compare(c) => {
            let data = overlay::curves(c);
            let Some(first) = c.runs.first() else {
                return Vec::new();
            };
            if data.is_empty() {
                return Vec::new();
            }
            let curves = data
                .into_iter()
                .map(|(gi, points)| {
                    let key = c.series[gi];
                    let name = if c.overlay.per_scorer() {
                        format!("#{} {}", key.run + 1, key.scorer)
                    } else {
                        format!("#{} {}", key.run + 1, c.runs[key.run].record.id)
                    };
                    Curve {
                        name,
                        points,
                        series: gi,
                        reference: false,
                    }
                })
                .collect();
            let label = c.overlay.label();
            vec![(
                format!("compare-{}-{}", label.replace(' ', "-"), first.record.id),
                LineFigure {
                    title: format!("{label} per epoch, every seed of {} runs", c.runs.len()),
                    x_label: "epoch".into(),
                    y_label: label.into(),
                    curves,
                    x: None,
                    y: None,
                },
            )]
        }
        _ => Vec::new(),
    }
}

impl App {
    /// `E` on Detail and Compare: every chart of the page (the Epochs page has several).
    pub(super) fn export_shown(&mut self) {
        let figs = shown(self);
        if figs.is_empty() {
            self.set_status(LogLevel::Warn, s::EXPORT_NOTHING);
            return;
        }
        let mut wrote = Vec::new();
        for (stem, fig) in &figs {
            match self.write_both(stem, |path| crate::figure::write(path, fig)) {
                Some(paths) => wrote.extend(paths),
                None => return,
            }
        }
        self.set_status(LogLevel::Info, s::exported(&wrote));
    }

    /// `E` on the Study view: the figure `adalab study plot` draws (one boxplot per cell), from
    /// the study as `study show` reads it and the results the view shows.
    pub(in crate::tui) fn export_study(&mut self, name: &str) {
        let Some(store) = self.store.clone() else {
            self.set_status(LogLevel::Warn, s::EXPORT_NOTHING);
            return;
        };
        let study = match store.load_study_or_kept(name) {
            Ok(st) => st,
            Err(e) => {
                self.set_status(
                    LogLevel::Error,
                    s::export_study_failed(name, &e.to_string()),
                );
                return;
            }
        };
        let results: Vec<CellResults> = match self.runs.study(name) {
            Some(g) if g.cells.len() == study.cells.len() => {
                g.cells.iter().map(|c| c.result.clone()).collect()
            }
            _ => {
                let why = "its file no longer has the cells its runs name";
                self.set_status(LogLevel::Error, s::export_study_failed(name, why));
                return;
            }
        };
        let stem = format!("study-{name}");
        let wrote = self.write_both(&stem, |path| {
            crate::figure::study::write(path, &study, &results)
        });
        if let Some(paths) = wrote {
            self.set_status(LogLevel::Info, s::exported(&paths));
        }
    }

    /// Writes `adalab-<stem>.svg` and `.png` into the export folder; on a failure the status
    /// line names the file and why, and nothing is returned.
    fn write_both(
        &mut self,
        stem: &str,
        write: impl Fn(&Path) -> anyhow::Result<()>,
    ) -> Option<Vec<PathBuf>> {
        let mut wrote: Vec<PathBuf> = Vec::new();
        for ext in ["svg", "png"] {
            let path = self.export_dir.join(format!("adalab-{stem}.{ext}"));
            if let Err(e) = write(&path) {
                let why = format!("{e:#}");
                self.set_status(LogLevel::Error, s::export_failed(&path, &why));
                return None;
            }
            wrote.push(path);
        }
        Some(wrote)
    }
}
