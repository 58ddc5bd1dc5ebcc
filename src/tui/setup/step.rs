//! ←/→ on a value (stepping numbers, cycling choices).

use super::*;

/// `[32, 64]` → `32, 64` (lists show and edit without their brackets).
pub(super) fn unbracket(v: &str) -> String {
    v.strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(v)
        .to_string()
}

/// The text of a generic field after one ←/→ step (`None`: the field does not step).
pub(super) fn stepped(c: &Config, key: &str, kind: Kind, dir: i32) -> Option<String> {
    let up = dir > 0;
    let cur = c.get(key).unwrap_or_default();
    let cycle = |items: &[&str], cur: &str| -> String {
        let norm = |x: &str| x.replace(' ', "");
        let cur = norm(&unbracket(cur));
        let n = items.len() as i32;
        let next = match items.iter().position(|i| norm(i) == cur) {
            Some(i) => (i as i32 + dir).rem_euclid(n),
            None if up => 0,
            None => n - 1,
        };
        items[next as usize].to_string()
    };
    match kind {
        Kind::Choice(names) => Some(cycle(&names(), &cur)),
        Kind::Preset(items) => Some(cycle(items, &cur)),
        Kind::Bool => Some((cur != "true").to_string()),
        Kind::Int(step) | Kind::Float(step) => {
            let v: f64 = cur.parse().ok()?;
            let int = matches!(kind, Kind::Int(_));
            let next = match step {
                Step::Double { min, max } => {
                    if up {
                        (v * 2.0).min(max)
                    } else {
                        (v / 2.0).max(min)
                    }
                }
                Step::Add { by, min, max } => {
                    let n = if up { v + by } else { v - by };
                    ((n * 100.0).round() / 100.0).clamp(min, max)
                }
                Step::Count => step_count(v.max(0.0) as usize, up) as f64,
                Step::Scale { from_zero } => match (v <= 0.0, up) {
                    (true, true) => from_zero,
                    (true, false) => 0.0,
                    (false, false) if v / 2.0 < from_zero / 100.0 => 0.0,
                    (false, _) => round_sig((if up { v * 2.0 } else { v / 2.0 }) as f32) as f64,
                },
            };
            Some(if int {
                format!("{}", next.round() as i64)
            } else {
                format!("{}", next as f32)
            })
        }
        Kind::Text | Kind::List | Kind::Special => None,
    }
}

pub(super) fn step_count(v: usize, up: bool) -> usize {
    let step = if v >= 2000 {
        1000
    } else if v >= 200 {
        100
    } else {
        10
    };
    if up {
        v + step
    } else {
        v.saturating_sub(step).max(1)
    }
}

/// Rounds to 3 significant digits (keeps ×2 / ÷2 learning rates readable).
pub(super) fn round_sig(v: f32) -> f32 {
    if v <= 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f32.powi(v.log10().floor() as i32 - 2);
    (v / mag).round() * mag
}
