//! Which per-epoch metric Compare overlays (`v` switches): the test AUC of every run × scorer,
//! or a run's training loss, training accuracy or logit scale s (one curve per run and seed,
//! drawn with the glyph and colour of the run's first series).

use crate::train::EpochMetrics;

use super::super::strings as s;
use super::{Compare, SeriesKey};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overlay {
    #[default]
    Auc,
    Loss,
    Accuracy,
    Scale,
}

impl Overlay {
    pub const ALL: [Overlay; 4] = [
        Overlay::Auc,
        Overlay::Loss,
        Overlay::Accuracy,
        Overlay::Scale,
    ];

    pub fn next(self) -> Overlay {
        let i = Overlay::ALL.iter().position(|o| *o == self).unwrap_or(0);
        Overlay::ALL[(i + 1) % Overlay::ALL.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            Overlay::Auc => s::COMPARE_OVERLAY_AUC,
            Overlay::Loss => s::COMPARE_OVERLAY_LOSS,
            Overlay::Accuracy => s::COMPARE_OVERLAY_ACC,
            Overlay::Scale => s::COMPARE_OVERLAY_SCALE,
        }
    }

    /// Whether a curve is one per run × scorer (AUC) rather than one per run.
    pub fn per_scorer(self) -> bool {
        self == Overlay::Auc
    }

    /// The chart's title: `loss per epoch, every seed · v: accuracy` (what `v` shows next).
    pub fn title(self) -> String {
        format!(
            "{} per epoch, every seed · {}: {}",
            self.label(),
            s::COMPARE_OVERLAY_KEY,
            self.next().label()
        )
    }

    /// Whether the y axis is a share in [0, 1] (AUC, accuracy).
    pub fn unit(self) -> bool {
        matches!(self, Overlay::Auc | Overlay::Accuracy)
    }

    fn value(self, m: &EpochMetrics, key: SeriesKey) -> Option<f64> {
        let v = match self {
            Overlay::Auc => return m.auc.get(&key.scorer).copied(),
            Overlay::Loss => m.loss,
            Overlay::Accuracy => m.accuracy,
            Overlay::Scale => m.scale,
        };
        Some(v as f64)
    }
}

/// The curves to draw: (series index for the glyph and colour, points), every seed of every
/// shown series; for a per-run metric one curve per run and seed, shown while any of the
/// run's series is, under its first shown series' glyph.
pub fn curves(c: &Compare) -> Vec<(usize, Vec<(f64, f64)>)> {
    let o = c.overlay;
    let mut out = Vec::new();
    let mut runs_done = Vec::new();
    for (gi, key) in c.series.iter().enumerate() {
        if !c.is_shown(*key) {
            continue;
        }
        if !o.per_scorer() {
            if runs_done.contains(&key.run) {
                continue;
            }
            runs_done.push(key.run);
        }
        for sd in &c.runs[key.run].record.seeds {
            let pts: Vec<(f64, f64)> = sd
                .epochs
                .iter()
                .filter_map(|m| o.value(m, *key).map(|v| (m.epoch as f64, v)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            if !pts.is_empty() {
                out.push((gi, pts));
            }
        }
    }
    out
}
