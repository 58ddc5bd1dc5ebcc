//! Boxplots drawn with text: one row per group on a shared axis, readable at 80 columns and
//! without colour.
//!
//! ```text
//! l2-softmax   ├───────[██████┃████]────┤
//! arcface              ├──[███┃██████]───────┤
//! ```
//! Whiskers reach the minimum and maximum, the box spans the quartiles, `┃` is the median.

use crate::score::{ticks, Summary};

/// One row: a label and its summary (`None`: nothing finished yet).
pub struct Row<'a> {
    pub label: &'a str,
    pub summary: Option<&'a Summary>,
}

/// Draws the rows in `width` columns (labels included); returns the lines.
pub fn draw(rows: &[Row<'_>], width: usize, axis_label: &str) -> Vec<String> {
    let label_w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(4, 24);
    let plot_w = width.saturating_sub(label_w + 2).max(20);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in rows.iter().filter_map(|r| r.summary) {
        lo = lo.min(s.min);
        hi = hi.max(s.max);
    }
    if !lo.is_finite() {
        return vec![format!("{:label_w$}  (no finished runs yet)", "")];
    }
    let pad = ((hi - lo) * 0.05).max(0.002);
    let (lo, hi) = (lo - pad, hi + pad);
    let col = |v: f64| -> usize {
        (((v - lo) / (hi - lo)) * (plot_w - 1) as f64)
            .round()
            .clamp(0.0, (plot_w - 1) as f64) as usize
    };
    let mut out = Vec::new();
    for r in rows {
        let mut cells = vec![' '; plot_w];
        if let Some(s) = r.summary {
            let (a, q1, m, q3, b) = (col(s.min), col(s.q1), col(s.median), col(s.q3), col(s.max));
            for c in cells.iter_mut().take(b + 1).skip(a) {
                *c = '─';
            }
            for c in cells.iter_mut().take(q3 + 1).skip(q1) {
                *c = '█';
            }
            cells[a] = '├';
            cells[b] = '┤';
            if q1 > a {
                cells[q1] = '[';
            }
            if q3 < b {
                cells[q3] = ']';
            }
            cells[m] = '┃';
        } else {
            let msg = "(no finished runs yet)";
            for (c, ch) in cells.iter_mut().zip(msg.chars()) {
                *c = ch;
            }
        }
        let label: String = if r.label.chars().count() > label_w {
            let mut s: String = r.label.chars().take(label_w - 1).collect();
            s.push('…');
            s
        } else {
            r.label.to_string()
        };
        let line: String = cells.into_iter().collect();
        out.push(format!("{label:<label_w$}  {}", line.trim_end()));
    }
    // The axis: tick marks and their values.
    let mut marks = vec!['─'; plot_w];
    let mut values = vec![' '; plot_w + 8];
    let ts = ticks(lo, hi, (plot_w / 12).max(2));
    let decimals = if ts.len() > 1 && ts[1] - ts[0] < 0.01 {
        3
    } else {
        2
    };
    for t in &ts {
        let c = col(*t);
        marks[c] = '┴';
        let text = format!("{t:.decimals$}");
        let start = c.saturating_sub(text.len() / 2);
        if values[start..(start + text.len()).min(values.len())]
            .iter()
            .all(|x| *x == ' ')
            && start + text.len() <= values.len()
        {
            for (i, ch) in text.chars().enumerate() {
                values[start + i] = ch;
            }
        }
    }
    out.push(format!(
        "{:label_w$}  {}",
        "",
        marks.into_iter().collect::<String>()
    ));
    out.push(format!(
        "{:label_w$}  {}",
        "",
        values.into_iter().collect::<String>().trim_end()
    ));
    out.push(format!("{:label_w$}  {axis_label}", ""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(min: f64, q1: f64, median: f64, q3: f64, max: f64) -> Summary {
        Summary {
            n: 10,
            median,
            mean: median,
            min,
            max,
            q1,
            q3,
        }
    }

    #[test]
    fn rows_share_one_axis_and_fit_80_columns() {
        let a = s(0.88, 0.90, 0.91, 0.92, 0.93);
        let b = s(0.92, 0.935, 0.94, 0.945, 0.96);
        let lines = draw(
            &[
                Row {
                    label: "l2-softmax",
                    summary: Some(&a),
                },
                Row {
                    label: "adacos-fixed",
                    summary: Some(&b),
                },
                Row {
                    label: "pending-cell",
                    summary: None,
                },
            ],
            80,
            "ROC AUC (knn-cosine)",
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:#?}");
        let pos = |l: &str, c: char| l.chars().position(|x| x == c).unwrap();
        // The better cell's median sits right of the other's.
        assert!(pos(&lines[1], '┃') > pos(&lines[0], '┃'));
        assert!(
            pos(&lines[0], '├') < pos(&lines[0], '[') && pos(&lines[0], ']') < pos(&lines[0], '┤')
        );
        assert!(lines[2].contains("no finished runs yet"));
        assert!(lines[4].contains("0.9"), "{lines:#?}");
        assert!(lines[5].contains("ROC AUC (knn-cosine)"));
    }

    #[test]
    fn round_ticks() {
        let t = ticks(0.875, 0.965, 4);
        assert!(
            t.len() >= 3 && t.iter().all(|v| (0.875..=0.965).contains(v)),
            "{t:?}"
        );
        assert!((t[1] - t[0] - 0.025).abs() < 1e-12, "{t:?}");
        let t = ticks(0.9, 0.91, 5);
        let step = t[1] - t[0];
        assert!(t.len() >= 3 && t.len() <= 6, "{t:?}");
        assert!(
            [0.002, 0.0025, 0.005]
                .iter()
                .any(|s| (step - s).abs() < 1e-12),
            "{t:?}"
        );
    }
}
