//! Rendering runs and studies for the terminal and for files, one file per format: plain-text
//! tables ([`table`]), CSV ([`csv`]), JSON ([`json`]), Markdown ([`markdown`]), text boxplots
//! ([`boxplot`]), a study's report in every format ([`study`]) and its figure ([`figure`]).
//!
//! Every writer takes a `&mut impl Write`, so tests capture the output.

pub mod boxplot;
pub mod csv;
pub use crate::figure::study as figure;
pub mod json;
pub mod markdown;
pub mod reference;
pub mod study;
pub mod table;

use crate::store::{LoadedRun, RunStatus};

pub fn fmt_f(v: Option<f64>) -> String {
    match v {
        Some(x) => format!("{x:.4}"),
        None => "-".into(),
    }
}

/// The run's primary AUC, marked when it is not a finished seed's final result:
/// `0.9964 (ep 5, interrupted)`.
pub fn auc_label(run: &LoadedRun) -> String {
    let v = fmt_f(run.record.primary_auc());
    match run.record.result_note(run.status) {
        Some(note) => format!("{v} ({note})"),
        None => v,
    }
}

pub fn epochs_label(run: &LoadedRun) -> String {
    let c = &run.record.config;
    let base = format!("{}/{}", run.record.epochs_done(), c.train.epochs);
    if c.run.repeat > 1 {
        format!("{base} ×{}", c.run.repeat)
    } else {
        base
    }
}

pub fn status_label(run: &LoadedRun) -> String {
    if run.status == RunStatus::Interrupted && run.record.status == RunStatus::Running {
        "interrupted (stale)".into()
    } else {
        run.status.to_string()
    }
}
