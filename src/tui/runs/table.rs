//! The experiment table's columns and rows: what each column shows for a run or a study
//! cell, how it sorts, the AUC cells with their median and IQR.

use std::collections::BTreeMap;

use crate::config::{Config, DatasetKind, ScorerKind};
use crate::store::{RunEntry, RunStatus, StudyRef};

use super::super::strings as s;
use super::RunsState;

/// A column of the experiment table; each one sorts (`o` on the column under the cursor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Name,
    Status,
    Split,
    Head,
    Epochs,
    Repeat,
    Duration,
    /// Each run's primary scorer's AUC: always shown, named in the header (`AUC maha`), or
    /// beside each value when the listed runs rank by different scorers.
    Primary,
    /// The final AUC of one scorer (median over seeds; the live value while running).
    Auc(ScorerKind),
    Tags,
    Date,
}

impl Column {
    /// The header text.
    pub fn label(self) -> &'static str {
        match self {
            Column::Name => s::COL_NAME,
            Column::Status => s::COL_STATUS,
            Column::Split => s::COL_SPLIT,
            Column::Head => s::COL_HEAD,
            Column::Epochs => s::COL_EPOCHS,
            Column::Repeat => s::COL_REPEAT,
            Column::Duration => s::COL_DURATION,
            Column::Primary => s::COL_AUC,
            Column::Auc(k) => k.as_str(),
            Column::Tags => s::COL_TAGS,
            Column::Date => s::COL_DATE,
        }
    }
}

impl RunsState {
    /// A column's header: the primary AUC column names its scorer (`AUC maha`), or says
    /// `AUC primary` when the listed runs rank by different scorers (each value then names
    /// its own).
    pub fn header(&self, c: Column) -> String {
        match (c, self.primary) {
            (Column::Primary, Some(k)) => format!("{} {}", s::COL_AUC, s::scorer_short(k)),
            (Column::Primary, None) => format!("{} {}", s::COL_AUC, s::COL_PRIMARY),
            (c, _) => c.label().to_string(),
        }
    }

    /// What the sort indicator names (`AUC knn-cosine`).
    pub fn sort_label(&self, c: Column) -> String {
        match c {
            Column::Auc(k) => format!("{} {k}", s::COL_AUC),
            c => self.header(c),
        }
    }
}

/// Characters that end a word of a name (`fashion-sneaker-boot · head=arcface`).
fn is_boundary(c: char) -> bool {
    matches!(c, '-' | '_' | ' ' | '·' | '.' | '/' | '=')
}

/// How many characters all `names` share at their start and at their end, each cut back to
/// a word boundary, so what is left between them is what tells the names apart. Nothing is
/// shared among fewer than two distinct names.
pub fn shared_ends(names: &[&str]) -> (usize, usize) {
    let mut distinct: Vec<Vec<char>> = names.iter().map(|n| n.chars().collect()).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < 2 {
        return (0, 0);
    }
    let first = &distinct[0];
    let mut pre = first.len();
    let mut suf = first.len();
    for n in &distinct[1..] {
        pre = pre.min(first.iter().zip(n).take_while(|(a, b)| a == b).count());
        suf = suf.min(
            first
                .iter()
                .rev()
                .zip(n.iter().rev())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    // The prefix ends just after a boundary; the suffix starts on one.
    let pre = first[..pre]
        .iter()
        .rposition(|c| is_boundary(*c))
        .map_or(0, |i| i + 1);
    let tail = &first[first.len() - suf..];
    let suf = tail
        .iter()
        .position(|c| is_boundary(*c))
        .map_or(0, |i| suf - i);
    (pre, suf)
}

/// `name` in `width` characters, shortened from the middle around what differs between the
/// listed names (`shared`: see [`shared_ends`]): the shared start gives way first
/// (`fash…adacos-fixed-geom`), then the shared end, then the differing part's own middle.
/// Every cut shows `…`.
pub fn short_name(name: &str, width: usize, shared: (usize, usize)) -> String {
    let chars: Vec<char> = name.chars().collect();
    let n = chars.len();
    if n <= width {
        return name.to_string();
    }
    if width <= 1 {
        return "…".chars().take(width).collect();
    }
    let text = |v: &[char]| v.iter().collect::<String>();
    let pre = shared.0.min(n);
    let suf = shared.1.min(n - pre);
    let core = &chars[pre..n - suf];
    let suffix = &chars[n - suf..];
    // A run's changes (`· head=arcface`) end its name: a cut keeps more of the end then.
    let edited = name.contains(crate::store::profiles::EDIT_SEP);
    let middle_cut = |v: &[char], w: usize| {
        let tail = if edited { (w - 1) * 2 / 3 } else { (w - 1) / 2 };
        let head = w - 1 - tail;
        format!("{}…{}", text(&v[..head]), text(&v[v.len() - tail..]))
    };
    if core.is_empty() {
        return middle_cut(&chars, width);
    }
    // The shared start shortened.
    if pre > 0 && core.len() + suf < width {
        let keep = width - 1 - core.len() - suf;
        return format!("{}…{}{}", text(&chars[..keep]), text(core), text(suffix));
    }
    // The shared start gone, the shared end cut.
    let lead = if pre > 0 { "…" } else { "" };
    let room = width - lead.chars().count();
    if core.len() < room {
        let keep = room - 1 - core.len();
        return format!("{lead}{}{}…", text(core), text(&suffix[..keep]));
    }
    // What differs is longer than the room: its own middle goes.
    if room <= 1 {
        return middle_cut(&chars, width);
    }
    let trail = if suf > 0 { "…" } else { "" };
    let inner = room - trail.chars().count();
    if inner < 5 {
        return middle_cut(&chars, width);
    }
    format!("{lead}{}{trail}", middle_cut(core, inner))
}

/// One scorer's final AUC as a table cell shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AucCell {
    /// The median over finished seeds, or the latest evaluation of a running seed.
    pub value: f64,
    /// Interquartile range over seeds (repeated runs).
    pub iqr: Option<f64>,
    /// Not a final result: the latest evaluation of a run still training, or the last one
    /// of a run that stopped before any seed finished.
    pub live: bool,
}

impl AucCell {
    /// `0.921`, `0.921 (.016)` with the IQR, `~0.874` while live.
    pub fn text(&self) -> String {
        let v = s::auc(Some(self.value));
        match (self.live, self.iqr) {
            (true, _) => format!("~{v}"),
            (false, Some(iqr)) => format!("{v} ({})", s::auc(Some(iqr)).trim_start_matches('0')),
            (false, None) => v,
        }
    }
}

/// What a run's row shows (derived once per listing).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    /// The run's profile (its name); the id for an unreadable run.
    pub name: String,
    pub status: String,
    /// `3/10` (epoch of the running seed), `3/10 s2/3` when repeated; empty unless running.
    pub progress: String,
    pub split: String,
    pub head: String,
    /// Epochs planned, `3/10` when it stopped early.
    pub epochs: String,
    pub epochs_planned: usize,
    pub repeat: usize,
    pub duration: i64,
    /// Final AUC per scorer the run used.
    pub auc: BTreeMap<ScorerKind, AucCell>,
    /// The run's scorers, the primary first.
    pub scorers: Vec<ScorerKind>,
    /// `MM-DD HH:MM` (UTC) of creation; empty when unreadable.
    pub date: String,
    pub tags: String,
    pub note: String,
    /// The run's base seed.
    pub seed: u64,
    pub study: Option<StudyRef>,
    /// Why the run cannot be read.
    pub unreadable: Option<String>,
}

fn short_dataset(k: DatasetKind) -> &'static str {
    match k {
        DatasetKind::FashionMnist => "fmnist",
        DatasetKind::Cifar10 => "cifar10",
        DatasetKind::Synthetic => "synth",
        DatasetKind::Folder => "folder",
        DatasetKind::Mvtec => "mvtec",
    }
}

/// `fmnist sneaker→ankle-boot`.
pub fn short_split(c: &Config) -> String {
    format!(
        "{} {}→{}",
        short_dataset(c.data.dataset),
        c.data.normal,
        c.data.anomalous
    )
}

/// The latest evaluation of `k` of a running run's current seed.
fn live_auc(rec: &crate::store::RunRecord, k: ScorerKind) -> Option<f64> {
    let seed = rec
        .seeds
        .iter()
        .rev()
        .find(|sd| sd.status == RunStatus::Running && !sd.epochs.is_empty())
        .or_else(|| rec.seeds.iter().rev().find(|sd| !sd.epochs.is_empty()))?;
    seed.epochs
        .iter()
        .rev()
        .find_map(|m| m.auc.get(&k).copied())
}

impl Row {
    pub fn of(e: &RunEntry) -> Row {
        match e {
            RunEntry::Ok(r) => {
                let rec = &r.record;
                let c = &rec.config;
                let running = r.status == RunStatus::Running;
                let mut auc = BTreeMap::new();
                for k in &c.score.scorers {
                    // Running: the latest evaluation; stopped before any seed finished: the
                    // last one (marked `~` as well, it is not a final result).
                    let live = if running {
                        live_auc(rec, *k)
                    } else {
                        rec.last_evaluation(*k).map(|(v, _)| v)
                    };
                    let cell = match (live, rec.summary.get(k)) {
                        (Some(value), _) => Some(AucCell {
                            value,
                            iqr: None,
                            live: true,
                        }),
                        (None, Some(sm)) => Some(AucCell {
                            value: sm.median,
                            iqr: (sm.n > 1).then_some(sm.q3 - sm.q1),
                            live: false,
                        }),
                        (None, None) => None,
                    };
                    if let Some(cell) = cell {
                        auc.insert(*k, cell);
                    }
                }
                let planned = c.train.epochs;
                let progress = if running {
                    let current = rec
                        .seeds
                        .iter()
                        .rev()
                        .find(|sd| sd.status == RunStatus::Running)
                        .or(rec.seeds.last());
                    let ep = current.map_or(0, |sd| sd.epochs.len());
                    let seed_no = current.map_or(1, |sd| sd.index + 1);
                    if c.run.repeat > 1 {
                        format!("{ep}/{planned} s{seed_no}/{}", c.run.repeat)
                    } else {
                        format!("{ep}/{planned}")
                    }
                } else {
                    String::new()
                };
                let done = rec.epochs_done();
                let created = rec.created.to_string();
                Row {
                    id: rec.id.clone(),
                    name: if rec.profile.is_empty() {
                        rec.id.clone()
                    } else {
                        rec.name()
                    },
                    status: r.status.to_string(),
                    progress,
                    split: short_split(c),
                    head: c.head.kind.to_string(),
                    epochs: if running || done >= planned {
                        planned.to_string()
                    } else {
                        format!("{done}/{planned}")
                    },
                    epochs_planned: planned,
                    repeat: c.run.repeat,
                    duration: rec.duration_secs(),
                    auc,
                    scorers: c.score.scorers.clone(),
                    date: created
                        .get(5..16)
                        .map(|s| s.replace('T', " "))
                        .unwrap_or_default(),
                    tags: rec.tags.join(" "),
                    note: rec.note.clone(),
                    seed: c.train.seed,
                    study: rec.study.clone(),
                    unreadable: None,
                }
            }
            RunEntry::Unreadable { id, reason, .. } => Row {
                id: id.clone(),
                name: id.clone(),
                status: s::UNREADABLE.into(),
                progress: String::new(),
                split: String::new(),
                head: String::new(),
                epochs: String::new(),
                epochs_planned: 0,
                repeat: 0,
                duration: 0,
                auc: BTreeMap::new(),
                scorers: Vec::new(),
                date: String::new(),
                tags: String::new(),
                note: String::new(),
                seed: 0,
                study: None,
                unreadable: Some(reason.clone()),
            },
        }
    }

    /// The scorer the run ranks by (its first).
    pub fn primary(&self) -> Option<ScorerKind> {
        self.scorers.first().copied()
    }

    /// `running 3/10`.
    pub fn status_text(&self) -> String {
        if self.progress.is_empty() {
            self.status.clone()
        } else {
            format!("{} {}", self.status, self.progress)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GEOM: &str = "fashion-sneaker-boot-arcface-geom";
    const ADA: &str = "fashion-sneaker-boot-adacos-fixed-geom";

    #[test]
    fn shared_ends_stop_at_word_boundaries() {
        // `a` of arcface/adacos is shared by chance: the prefix ends at the `-` before it.
        assert_eq!(shared_ends(&[GEOM, ADA]), (21, 5));
        assert_eq!(shared_ends(&[GEOM, GEOM]), (0, 0));
        assert_eq!(shared_ends(&[GEOM]), (0, 0));
        let edited = format!("{ADA} · head=arcface");
        let (pre, suf) = shared_ends(&[ADA, &edited]);
        assert_eq!((pre, suf), (ADA.len() - "geom".len(), 0));
    }

    #[test]
    fn names_keep_what_differs() {
        let ends = shared_ends(&[GEOM, ADA]);
        assert_eq!(short_name(ADA, 20, ends), "fa…adacos-fixed-geom");
        assert_eq!(short_name(GEOM, 20, ends), "fashion…arcface-geom");
        assert_eq!(short_name(GEOM, 40, ends), GEOM);
        // Less room: the shared end gives way too, then the differing part's middle.
        assert_eq!(short_name(ADA, 14, ends), "…adacos-fixed…");
        assert_eq!(short_name(ADA, 9, ends), "…ada…xed…");
        for w in 1..=ADA.chars().count() {
            let s = short_name(ADA, w, ends);
            assert_eq!(s.chars().count(), w, "{w}: {s}");
            assert_eq!(s.contains('…'), w < ADA.chars().count(), "{w}: {s}");
        }
        // Nothing shared: the middle of the name goes.
        assert_eq!(short_name(GEOM, 20, (0, 0)), "fashion-sn…face-geom");
    }
}
