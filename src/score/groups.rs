//! AUC per sub-label of the anomalous test images (MVTec defect types): each group's images
//! against all normal test images, per scorer.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use super::eval::{Evaluation, GroupAuc};
use super::roc::roc_auc;

/// Per group of `names` (`group[i]` = the group of test image `i`, `None` for normal images
/// and ungrouped ones): AUC of every scorer in `eval.scores` on the normal test images plus
/// the group's. Empty when there are no groups.
pub fn group_auc(eval: &Evaluation, names: &[String], group: &[Option<usize>]) -> Vec<GroupAuc> {
    if names.is_empty() || group.len() != eval.labels.len() {
        return Vec::new();
    }
    names
        .iter()
        .enumerate()
        .map(|(g, name)| {
            let rows: Vec<usize> = (0..eval.labels.len())
                .filter(|&i| !eval.labels[i] || group[i] == Some(g))
                .collect();
            let labels: Vec<bool> = rows.iter().map(|&i| eval.labels[i]).collect();
            let auc = eval
                .scores
                .iter()
                .map(|(k, s)| {
                    let sub: Vec<f32> = rows.iter().map(|&i| s[i]).collect();
                    (*k, roc_auc(&sub, &labels))
                })
                .collect();
            GroupAuc {
                group: name.clone(),
                images: labels.iter().filter(|&&a| a).count(),
                auc,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScorerKind;
    use std::collections::BTreeMap;

    #[test]
    fn each_group_against_the_normal_images() {
        // Normal 0.1, 0.2, 0.3; crack 0.9, 0.8 (separated); scratch 0.25, 0.05 (mixed).
        let scores = vec![0.1, 0.2, 0.3, 0.9, 0.8, 0.25, 0.05];
        let labels = vec![false, false, false, true, true, true, true];
        let eval = Evaluation {
            epoch: 1,
            auc: BTreeMap::new(),
            average_precision: BTreeMap::new(),
            roc: BTreeMap::new(),
            labels,
            scores: [(ScorerKind::KnnCosine, scores)].into_iter().collect(),
            identity_auc: BTreeMap::new(),
            view_auc: Vec::new(),
            group_auc: Vec::new(),
        };
        let group = [None, None, None, Some(0), Some(0), Some(1), Some(1)];
        let g = group_auc(&eval, &["crack".into(), "scratch".into()], &group);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].group, "crack");
        assert_eq!(g[0].images, 2);
        assert_eq!(g[0].auc[&ScorerKind::KnnCosine], 1.0);
        // scratch: 0.25 beats 0.1 and 0.2 (2 of 3), 0.05 beats none: 2 / 6.
        assert!((g[1].auc[&ScorerKind::KnnCosine] - 2.0 / 6.0).abs() < 1e-12);
        assert!(group_auc(&eval, &[], &group).is_empty());
    }
}
