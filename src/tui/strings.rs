//! Every user-facing string of the lab TUI, in one place.

pub const TAB_SETUP: &str = "1 Setup";
pub const TAB_TRAIN: &str = "2 Train";
pub const TAB_RUNS: &str = "3 Runs";
pub const TAB_HELP: &str = "? Help";

pub const TOO_SMALL: &str = "Terminal too small";
pub const TOO_SMALL_HINT: &str = "adalab needs at least 80×24 — enlarge the window (q quits).";

pub const FOOTER_SETUP: &str = "↑↓ field  ←→ change  e edit  Enter/r start  p load  w save  ? help";
pub const FOOTER_TRAIN: &str = "s stop  ↑↓ scroll log  m markers  Tab next screen  ? help  q quit";
pub const FOOTER_RUNS: &str =
    "↑↓ move ←→ column o sort Enter open Space mark c compare / filter e setup ? help";
pub const FOOTER_DETAIL: &str =
    "←→ page  [ ] seed  ↑↓ scroll  s score folder  E export  e setup  Esc back ? help";
pub const FOOTER_DETAIL_SCORING: &str =
    "Esc cancel scoring  ←→ page  [ ] seed  ↑↓ scroll  e setup  ? help";
pub const FOOTER_COMPARE: &str =
    "←→ run  b baseline  ↑↓ series  Space show/hide  v metric  E export  ? help";
pub const FOOTER_STUDY: &str = "↑↓ cell  Enter runs / open  e setup  E export  Esc back  ? help";
pub const FOOTER_HELP: &str = "Esc or ? closes help";

// Setup
pub const SETUP_PROFILE: &str = "profile";
pub const SECTION_DATA: &str = "Data";
pub const SECTION_MODEL: &str = "Model";
pub const SECTION_HEAD: &str = "Head";
pub const SECTION_SCORE: &str = "Scoring";
pub const SECTION_TRAIN: &str = "Training";
pub const REFERENCE_ALL: &str = "all others";
pub const ALPHA_AUTO: &str = "auto (≥ 16)";
pub const HEAD_NO_PARAMS: &str = "no parameters";
pub const ADACOS_DYNAMIC_NOTE: &str = "s adapts; starts at";
pub const CUDA_UNAVAILABLE: &str = "cuda unavailable: built without the `cuda` feature";

// Train
pub const TRAIN_IDLE: &str =
    "No run yet. Pick a split and a head on the Setup screen (1) and press Enter to start.";
pub const GAUGE_EPOCH: &str = "epoch";
pub const GAUGE_JOB: &str = "job";
pub const CHART_LOSS: &str = "loss";
pub const CHART_ACC: &str = "train accuracy";
pub const CHART_SCALE: &str = "scale s";
pub const PANEL_AUC: &str = "test AUC";
pub const PANEL_LOG: &str = "log";
pub const PANEL_SEEDS: &str = "seeds";
pub const NO_EPOCHS_YET: &str = "waiting for the first epoch…";
pub const NO_AUC_YET: &str = "no evaluation yet";
pub const STOPPING: &str = "stopping after this batch…";
pub const QUITTING: &str = "Stopping the run after this batch and saving it as interrupted…";
pub const QUITTING_FORCE: &str = "(press q again to leave at once)";

// Runs
pub const RUNS_TITLE: &str = "Runs";
pub const RUNS_EMPTY: &str = "No runs in the store yet. Start one from the Setup screen.";
pub const RUNS_NO_MATCH: &str = "No run matches the filter.";
pub const RUNS_NO_STORE: &str = "The run store could not be opened";
pub const COL_NAME: &str = "name";
pub const COL_EPOCHS: &str = "ep";
pub const COL_REPEAT: &str = "×";
pub const COL_DURATION: &str = "took";
pub const COL_STATUS: &str = "status";
pub const COL_SPLIT: &str = "split";
pub const COL_HEAD: &str = "head";
pub const COL_AUC: &str = "AUC";
/// The primary AUC column's header when the listed runs rank by different scorers.
pub const COL_PRIMARY: &str = "primary";
pub const COL_DATE: &str = "date";
pub const COL_TAGS: &str = "tags";
pub const UNREADABLE: &str = "unreadable";
pub const FILTER_LABEL: &str = "filter";
pub const SORT_LABEL: &str = "sort";
pub const MARKED_LABEL: &str = "marked";
pub const COMPARE_NEEDS_TWO: &str = "mark at least two runs with Space to compare them";
pub const COLUMN_LABEL: &str = "column";
/// The table's title: how to read the AUC columns.
pub const RUNS_AUC_NOTE: &str = " AUC per scorer: median (IQR) over seeds, ~ live ";
pub const FILTER_NOT_APPLIED: &str = "not applied";
pub const STUDY_DONE: &str = "done";
/// `0.905 cell 2`: a study's best cell on the scorer.
pub const STUDY_BEST: &str = "cell";
pub const SEED_LABEL: &str = "seed";
pub const LOADED_INTO_SETUP: &str = "loaded into Setup: the config of";
pub const LOAD_UNREADABLE: &str = "cannot load an unreadable run's config";

// Detail
pub const PAGE_OVERVIEW: &str = "Overview";
pub const PAGE_EPOCHS: &str = "Epochs";
pub const PAGE_ROC: &str = "ROC";
pub const PAGE_SPREAD: &str = "AUC spread";
pub const PAGE_VIEWS: &str = "Views";
pub const PAGE_GROUPS: &str = "Defects";
pub const VIEWS_TITLE: &str = "with test-time views";
pub const VIEWS_IDENTITY: &str = "identity";
pub const VIEWS_AVERAGED: &str = "views";
pub const VIEWS_GAIN: &str = "+views";
pub const VIEWS_PAGE_TITLE: &str = " AUC of each test-time view ";
pub const VIEWS_MEAN_ROW: &str = "averaged";
pub const GROUPS_PAGE_TITLE: &str = " AUC per defect type (normal test images vs each type's) ";
pub const GROUPS_ALL_ROW: &str = "all defects";
pub const CLASSES_PAGE_TITLE: &str =
    " AUC per anomalous class (normal test images vs each class's) ";
pub const CLASSES_ALL_ROW: &str = "all classes";
pub const NO_RESULT: &str = "this seed has no final evaluation";
pub const PAGE_IMAGES: &str = "Images";
pub const NO_SCORES: &str = "no scores file";
pub const NO_REPEATS: &str = "single seed — a boxplot needs a repeated run (run.repeat > 1)";
pub const IMAGES_LOADING: &str = "loading the dataset…";
pub const IMAGES_MOST_ANOMALOUS: &str = "most anomalous";
pub const IMAGES_MOST_NORMAL: &str = "most normal";
pub const IMAGES_MISSING: &str = "test images unavailable";

// Detail: the detector, a scored folder
pub const DETECTOR_LABEL: &str = "detector";
pub const PAGE_FOLDER: &str = "Folder";
pub const FOLDER_PAGE_TITLE: &str = "Folder scored with the run's detector";
pub const FOLDER_LABEL: &str = "folder";
pub const FOLDER_RESULT_LABEL: &str = "images";
pub const FOLDER_VERDICT_LABEL: &str = "verdict";
pub const FOLDER_VERDICT_COLUMN: &str = "verdict";
pub const FOLDER_IMAGE_COLUMN: &str = "image";
pub const FOLDER_TITLE: &str = "Score a folder";
pub const FOLDER_HINT: &str = "every image below it (png, jpg, bmp, tif, gif) is scored";
pub const FOLDER_KEYS: &str = "Tab complete · ↑↓ pick · Enter score · Esc cancel · Ctrl-U clear";
pub const FOLDER_NO_MATCH: &str = "(no folder matches)";
pub const FOLDER_MORE: &str = "more";
pub const FOLDER_EMPTY: &str = "type the folder to score (Tab completes)";
pub const SCORING_STARTING: &str = "loading the detector";
pub const SCORING_READING: &str = "reading images";
pub const SCORING_EMBEDDING: &str = "embedding";
pub const SCORING_CANCELLING: &str = "cancelling…";
pub const SCORING_CANCEL_HINT: &str = "Esc cancels; the lab stays usable meanwhile";
pub const SCORING_CANCELLED: &str = "scoring cancelled";
pub const SCORING_FAILED: &str = "cannot score the folder";
pub const SCORING_BUSY: &str = "a folder is being scored: Esc on its Detail cancels it";
pub const SCORING_ENDED_SILENTLY: &str = "the scoring worker ended without an answer";
pub const SCORED_MOST_ANOMALOUS: &str = "most anomalous";
pub const VERDICT_FLAGGED: &str = "flagged";
pub const VERDICT_NORMAL: &str = "normal";

/// The detector line of a run's Detail: `saved · 4.9 MiB · threshold fpr=0.05`, or why none.
pub fn detector_status(st: &crate::store::detector::DetectorStatus) -> String {
    use crate::store::detector::DetectorStatus;
    match st {
        DetectorStatus::Saved {
            bytes,
            calibrated: true,
        } => format!(
            "saved · {} · threshold {}",
            crate::job::format_bytes(*bytes),
            crate::job::score::DEFAULT_THRESHOLD
        ),
        DetectorStatus::Saved { bytes, .. } => format!(
            "saved · {} · no calibrated threshold (score.calibration_folds = 0)",
            crate::job::format_bytes(*bytes)
        ),
        DetectorStatus::Missing(why) => format!("none: {why}"),
    }
}

/// `12 images · 3 flagged (25.0%)`.
pub fn scored_counts(images: usize, flagged: usize) -> String {
    format!(
        "{images} image{} · {flagged} flagged ({:.1}%)",
        if images == 1 { "" } else { "s" },
        100.0 * flagged as f64 / images.max(1) as f64
    )
}

/// Why `s` cannot score with this run.
pub fn no_detector(id: &str, why: &str) -> String {
    format!("run {id} has no saved detector to score with: {why}")
}

/// `skipped 2 files: a.png: not a PNG …`.
pub fn skipped(n: usize, first: &str) -> String {
    format!("skipped {n} file{}: {first}", if n == 1 { "" } else { "s" })
}

// Compare
pub const COMPARE_DIFF: &str = "config keys that differ";
pub const COMPARE_SAME: &str = "the configurations are identical";
pub const COMPARE_METRICS: &str = "final metrics: Δ against the baseline,";
pub const COMPARE_BASELINE: &str = "baseline";
pub const COMPARE_SERIES: &str = "series";
pub const COMPARE_ALL_HIDDEN: &str = "every series is hidden: Space shows the one under the cursor";

// Study
pub const STUDY_TITLE: &str = "Study";
/// The tab bar's badge while a study runs: `running study 3/4 62%`.
pub const BADGE_STUDY: &str = "study";
pub const STUDY_BOXES: &str = "per cell, shared axis";
pub const STUDY_TABLE: &str = "cells (Δ: difference of medians vs cell 1, 95% paired bootstrap)";
pub const STUDY_RUNS: &str = "runs of";
pub const STUDY_RUNS_HINT: &str = "Enter lists the selected cell's runs";
pub const STUDY_NO_RUNS: &str = "no finished runs yet";
pub const STUDY_GONE: &str = "this study has no runs in the store any more";
pub const STUDY_NO_FILE: &str = "study file unreadable, cells from the runs";
pub const STUDY_FIRST_CELL: &str = "(reference)";

// Popups
pub const STOP_TITLE: &str = "Stop training?";
pub const STOP_BODY: &str = "Stop after the current batch and keep the run as interrupted.";
pub const STOP_YES: &str = "y/Enter stop";
pub const STOP_NO: &str = "n/Esc keep training";
pub const QUIT_TITLE: &str = "Quit adalab?";
/// Added to the quit question when runs wait in the queue.
pub fn quit_drops_queue(n: usize) -> String {
    match n {
        1 => "The queued run is not started.".to_string(),
        n => format!("The {n} queued runs are not started."),
    }
}
pub const QUIT_BODY_ACTIVE: &str =
    "A run is in progress: it stops after this batch and is kept as interrupted.";
pub const QUIT_YES: &str = "y/Enter quit";
pub const QUIT_NO: &str = "n/Esc stay";
pub const DELETE_TITLE: &str = "Delete run?";
pub const DELETE_YES: &str = "y delete";
pub const DELETE_NO: &str = "n/Esc keep";
pub const DELETE_REFUSED_TITLE: &str = "Cannot delete run";
pub const DELETE_REFUSED_CLOSE: &str = "Enter/Esc close";
pub const PROFILE_PICKER_TITLE: &str = "Load profile";
pub const PROFILE_PICKER_EMPTY: &str = "no profiles found";
pub const SAVE_PROFILE_TITLE: &str = "Save as profile";
pub const SAVE_PROFILE_HINT: &str = "name: letters, digits, . _ -";
pub const PROFILE_EXISTS: &str = "exists — press Enter again to replace it";
pub const TAG_TITLE: &str = "Tags (space separated)";
pub const NOTE_TITLE: &str = "Note";
pub const FILTER_TITLE: &str = "Filter runs";
pub const FILTER_HINT: &str = "head=arcface status=failed tag=x · text: id, name, tags, note";
pub const CLASSES_TITLE: &str = "Reference classes";
pub const SCORERS_TITLE: &str = "Scorers (first = primary)";
pub const INPUT_HINT: &str = "Enter apply · Esc cancel";

// Help
pub const HELP_TITLE: &str = "Keys";
pub const HELP_GLOBAL: &str = "Everywhere";

/// Why the store refuses to delete a run that is still being written, in plain words.
pub fn delete_running(id: &str, pid: u32, host: &str) -> String {
    format!(
        "{id} is still running (pid {pid} on {host}). A run is not deleted while its writer \
         is alive: stop it first, then delete it."
    )
}

/// Why the store refuses to delete a record of a newer schema, in plain words.
pub fn delete_future(id: &str, found: i64) -> String {
    format!(
        "{id} was written by a newer adalab (schema_version {found}). This one cannot tell \
         what its folder holds, so it keeps it; if you are sure, run \
         `adalab runs delete --force {id}`."
    )
}

/// ` (12 in 1 study)`: how many of the runs belong to studies.
pub fn in_studies(runs: usize, studies: usize) -> String {
    let plural = if studies == 1 { "study" } else { "studies" };
    format!(" ({runs} in {studies} {plural})")
}

/// The epoch gauge's label during an evaluation: `evaluating epoch 2 (view 3/8)`.
pub fn evaluating(epoch: usize, view: usize, views: usize) -> String {
    format!("evaluating epoch {epoch} (view {view}/{views})")
}

/// A scorer's short name (headers, small legends): `maha`, `knn`.
pub fn scorer_short(k: crate::config::ScorerKind) -> &'static str {
    use crate::config::ScorerKind;
    match k {
        ScorerKind::KnnCosine => "knn",
        ScorerKind::Lof => "lof",
        ScorerKind::ClassCosine => "class",
        ScorerKind::Mahalanobis => "maha",
        ScorerKind::Ensemble => "ens",
    }
}

/// `1h02m`, `3m05s`, `12s`: seconds in the one duration format of the CLI and the lab
/// ([`crate::job::format_duration`]).
pub fn duration(secs: f64) -> String {
    let d =
        std::time::Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(std::time::Duration::MAX);
    crate::job::format_duration(d)
}

/// An optional AUC as `0.912` or `–`.
pub fn auc(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "–".into(),
    }
}

/// The folder field of a folder dataset before one is given.
pub const FOLDER_NONE: &str = "(none: press e to type one)";

// Setup: sections, names, popups
pub const SECTION_SELF_SUPERVISED: &str = "Self-supervised";
pub const SECTION_AUGMENT: &str = "Augmentation";
pub const SECTION_VIEWS: &str = "Test-time views";
pub const SECTION_OPTIMIZER: &str = "Optimizer";
pub const SECTION_RUN: &str = "Run";
pub const SETUP_LEFT_TITLE: &str = " Data & model ";
pub const SETUP_RIGHT_TITLE: &str = " Head, scoring & training ";
pub const SETUP_READY_AS: &str = "ready — Enter or r starts";
pub const SETUP_FIX_FIELD: &str = "✗ fix the marked field to start";
pub const SETUP_QUEUES: &str = "a run is in progress — Enter queues this one (see Train)";
pub const IN_FOLDED: &str = "folded under";
/// An unset data dir: where the dataset is looked for (`$ADALAB_DATA` only when set).
pub fn data_dir_auto(env: Option<&std::path::Path>) -> String {
    match env {
        Some(p) => format!("$ADALAB_DATA {}", p.display()),
        None => "auto".to_string(),
    }
}
pub const REFERENCE_NONE: &str = "none (normal images only)";
pub const THREADS_ALL: &str = "0 (all cores)";
pub const SELF_SUPERVISED_OFF: &str = "off";
pub const OFF: &str = "off";
pub const VIEWS_OFF: &str = "identity only";
pub const NO_CUDA_BUILD: &str = "no cuda build";
pub const CLASS_COSINE_NEEDS_COSINE: &str =
    "class-cosine needs a cosine head: remove it from the scorers";
pub const FORM_RESET: &str = "form reset to the defaults";
pub const RESET_TITLE: &str = "Reset the form?";
pub const RESET_BODY: &str =
    "Every field goes back to the defaults (saved profiles are not changed).";
pub const RESET_YES: &str = "y/Enter reset";
pub const RESET_NO: &str = "n/Esc keep";
pub const SAVE_PROFILE_NAME: &str = "name (letters, digits, . _ -)";
pub const SAVE_PROFILE_DESCRIPTION: &str = "description (shown in profile lists)";
pub const INPUT_KEYS: &str = "Enter apply · Esc cancel · Ctrl-U clear";
pub const INPUT_KEYS_TWO_LINES: &str =
    "Tab name / description · Enter save · Esc cancel · Ctrl-U clear";
pub const CLASSES_KEYS: &str = "Space toggle · a all · n none · Enter apply · Esc cancel";
pub const SCORERS_KEYS: &str = "Space toggle · K/J reorder · Enter apply · Esc cancel";
pub const ENSEMBLE_TITLE: &str = "Ensemble of (rank average)";
pub const STUDY_PICKER_TITLE: &str = "Start a study";
pub const STUDY_PICKER_EMPTY: &str = "no study files found";
pub const STUDY_PICKER_HINT: &str = "Enter start (queued while something trains) · Esc cancel";

// Train: per-batch curves, queue, studies, followed runs
pub const CHART_ACC_TRANSFORM: &str = "transform accuracy";
pub const CHART_ACC_CLASS_TRANSFORM: &str = "class×transform accuracy";
pub const CHART_AUC: &str = "test AUC";
pub const LEGEND_EMA: &str = "ema";
pub const LEGEND_RAW: &str = "raw";
pub const NO_BATCHES_YET: &str = "waiting for the first batches…";
pub const ETA_MEASURING: &str = "ETA: measuring…";
pub const GAUGE_STUDY: &str = "study";
pub const QUEUE_TITLE: &str = "queued";
pub const QUEUE_DROPPED: &str = "dropped from the queue";
pub const QUEUE_EMPTY: &str = "the queue is empty";
pub const FOLLOWING: &str = "following";
pub const FOLLOW_READING: &str = "reading the run from the store…";
pub const DETACHED: &str = "stopped following";
pub const STUDY_STOPPING: &str = "stopping the study after this batch…";
pub const STUDY_ENDED_SILENTLY: &str = "the study ended without a final event";
pub const STUDY_WAITING: &str = "waiting for the first task…";
pub const FOOTER_TRAIN_ATTACHED: &str =
    "Esc stop following  ↑↓ scroll log  m markers  Tab next screen  ? help  q quit";
pub const FOOTER_TRAIN_QUEUE: &str =
    "s stop  x drop last queued  ↑↓ scroll log  m markers  ? help  q quit";

/// Status after attaching to a run.
pub fn attached(id: &str) -> String {
    format!("following {id} from the store — Esc or another screen leaves it")
}

/// Why `s` does not stop a followed run.
pub fn attached_no_stop(id: &str, pid: u32, host: &str) -> String {
    format!(
        "{id} belongs to another process (pid {pid} on {host}): stop it there (kill -INT {pid})"
    )
}

// The tab bar's usage of the process (CPU, resident memory) and of the GPU a run trains on.
pub const USAGE_CPU: &str = "cpu";
pub const USAGE_MEM: &str = "rss";
pub const USAGE_GPU: &str = "gpu";

// Compare's overlaid metric (`v` switches it)
pub const COMPARE_OVERLAY_AUC: &str = "AUC";
pub const COMPARE_OVERLAY_LOSS: &str = "loss";
pub const COMPARE_OVERLAY_ACC: &str = "accuracy";
pub const COMPARE_OVERLAY_SCALE: &str = "scale s";
pub const COMPARE_OVERLAY_KEY: &str = "v";
pub const NO_EPOCHS_TO_OVERLAY: &str = "no finished epoch yet";

// The Train screen's chart of dynamic AdaCos's s
pub const CHART_SCALE_DYNAMIC: &str = "AdaCos s";
pub const NO_SCALE_YET: &str = "s is charted after each epoch";

// `E`: the chart shown written as SVG and PNG
pub const EXPORT_NOTHING: &str = "nothing to export here: E writes the Epochs page's charts, the ROC page, Compare's chart and a study's boxplots";

/// Status when a study's figure cannot be made (no file to read its cells from, nothing
/// finished yet).
pub fn export_study_failed(name: &str, why: &str) -> String {
    format!("cannot draw study {name}: {why}")
}

/// Status after `E` wrote the figure: the folder, then the files' names on a line of their
/// own (wrapped between names, so that every name shows in full at 80 columns), a name's
/// formats together (`name.{svg,png}`); files in different folders one per line.
pub fn exported(paths: &[std::path::PathBuf]) -> String {
    let dir = paths.first().and_then(|p| p.parent());
    match (paths, dir) {
        ([one], _) => format!("wrote {}", one.display()),
        (_, Some(dir)) if paths.iter().all(|p| p.parent() == Some(dir)) => {
            // (stem, extensions) in the order written.
            let mut names: Vec<(String, Vec<String>)> = Vec::new();
            for p in paths {
                let stem = p
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let ext = p.extension().map(|e| e.to_string_lossy().into_owned());
                match (names.iter_mut().find(|(s, _)| *s == stem), ext) {
                    (Some((_, exts)), Some(e)) => exts.push(e),
                    (_, ext) => names.push((stem, ext.into_iter().collect())),
                }
            }
            let names: Vec<String> = names
                .into_iter()
                .map(|(stem, exts)| match exts.as_slice() {
                    [] => stem,
                    [e] => format!("{stem}.{e}"),
                    _ => format!("{stem}.{{{}}}", exts.join(",")),
                })
                .collect();
            format!(
                "wrote {} files into {}:\n{}",
                paths.len(),
                dir.display(),
                names.join(", ")
            )
        }
        _ => {
            let list: Vec<String> = paths.iter().map(|p| format!("- {}", p.display())).collect();
            format!("wrote:\n{}", list.join("\n"))
        }
    }
}

/// Status when `E` could not write the figure: the path and why.
pub fn export_failed(path: &std::path::Path, why: &str) -> String {
    format!("could not write {}: {why}", path.display())
}

/// Status after queueing.
pub fn queued(position: usize, label: &str) -> String {
    format!("queued #{position}: {label} — starts when the one in progress ends")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration(3725.0), "1h02m");
        assert_eq!(duration(65.0), "1m05s");
        assert_eq!(auc(Some(0.91234)), "0.912");
        assert_eq!(auc(None), "–");
    }

    #[test]
    fn exported_names_the_folder_once_and_each_file_on_its_own() {
        use std::path::PathBuf;
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(exported(&[p("/x/a.svg")]), "wrote /x/a.svg");
        assert_eq!(
            exported(&[p("/x/a.svg"), p("/x/a.png")]),
            "wrote 2 files into /x:\na.{svg,png}"
        );
        assert_eq!(
            exported(&[p("/x/a.svg"), p("/x/a.png"), p("/x/b.svg"), p("/x/c")]),
            "wrote 4 files into /x:\na.{svg,png}, b.svg, c"
        );
        assert_eq!(
            exported(&[p("/x/a.svg"), p("/y/b.png")]),
            "wrote:\n- /x/a.svg\n- /y/b.png"
        );
    }
}
