//! The lab's one cutting rule, for every text it draws into a width: text that does not fit is
//! cut and ends with `…`; a number is never cut (the cut moves before it, so a label shortens
//! and the number goes whole, or the element is dropped); wrapped text breaks between words,
//! never inside a number or an id, and a single word longer than the line is cut with `…`.
//!
//! Widths are display columns (a wide character counts two), as the terminal draws them.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// The display width of a character (0 for combining marks, 2 for wide ones).
fn char_width(c: char) -> usize {
    let mut b = [0u8; 4];
    Span::raw(&*c.encode_utf8(&mut b)).width()
}

/// The display width of `text`.
pub fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// Which characters of `chars` belong to a number: a run of digits, with a `.` or `,` between
/// two digits and a `%` after one.
fn number_mask(chars: &[char]) -> Vec<bool> {
    let digit = |i: usize| chars.get(i).is_some_and(|c| c.is_ascii_digit());
    (0..chars.len())
        .map(|i| match chars[i] {
            c if c.is_ascii_digit() => true,
            '.' | ',' => i > 0 && digit(i - 1) && digit(i + 1),
            '%' => i > 0 && digit(i - 1),
            _ => false,
        })
        .collect()
}

/// The longest prefix of `chars` (in characters) that fits `room` columns and does not end
/// inside a number.
fn cut_point(chars: &[char], room: usize) -> usize {
    let mut used = 0;
    let mut end = 0;
    for c in chars {
        let w = char_width(*c);
        if used + w > room {
            break;
        }
        used += w;
        end += 1;
    }
    let num = number_mask(chars);
    while end > 0 && end < chars.len() && num[end - 1] && num[end] {
        end -= 1;
    }
    end
}

/// `text` fitted into `width` columns: whole when it fits, otherwise cut and ended with `…`,
/// the cut never inside a number (`accuracy 0.314` at 12 columns is `accuracy …`).
pub fn fit(text: &str, width: usize) -> String {
    if self::width(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    let end = cut_point(&chars, width - 1);
    let mut out: String = chars[..end].iter().collect();
    out.push('…');
    out
}

/// `text` fitted into `width` columns keeping its end (an id's distinguishing tail):
/// `…T210000Z-aaaa`.
pub fn fit_start(text: &str, width: usize) -> String {
    if self::width(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut used = 1;
    let mut start = chars.len();
    while start > 0 && used + char_width(chars[start - 1]) <= width {
        start -= 1;
        used += char_width(chars[start]);
    }
    format!("…{}", chars[start..].iter().collect::<String>())
}

/// `label value` in `width` columns: the value (a number) is never cut; the label is cut with
/// `…` to make room, then dropped; when the value alone does not fit, nothing is shown.
pub fn label_value(label: &str, value: &str, width: usize) -> String {
    let whole = format!("{label} {value}");
    if self::width(&whole) <= width {
        return whole;
    }
    let vw = self::width(value);
    // At least two characters of the label and its `…`, or no label.
    if width >= vw + 4 {
        return format!("{} {value}", fit(label, width - vw - 1));
    }
    if vw <= width {
        value.to_string()
    } else {
        String::new()
    }
}

/// A styled line fitted into `width` columns by the rule of [`fit`]; the `…` takes the style
/// of the span it ends.
pub fn fit_line(line: Line<'_>, width: usize) -> Line<'static> {
    let total: usize = line.spans.iter().map(Span::width).sum();
    let owned = |line: Line<'_>| Line {
        spans: line
            .spans
            .into_iter()
            .map(|s| Span::styled(s.content.into_owned(), s.style))
            .collect(),
        style: line.style,
        alignment: line.alignment,
    };
    if total <= width {
        return owned(line);
    }
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let cut = fit(&text, width);
    let keep = cut.chars().count().saturating_sub(1);
    let mut spans = Vec::new();
    let mut taken = 0;
    let mut last_style = Style::default();
    for s in &line.spans {
        if taken >= keep {
            break;
        }
        let n = s.content.chars().count();
        let part: String = s.content.chars().take(keep - taken).collect();
        taken += n.min(keep - taken);
        last_style = s.style;
        spans.push(Span::styled(part, s.style));
    }
    if width > 0 {
        spans.push(Span::styled("…", last_style));
    }
    Line {
        spans,
        style: line.style,
        alignment: line.alignment,
    }
}

/// Lines fitted into `width` columns one by one ([`fit_line`]).
pub fn fit_lines<'a>(
    lines: impl IntoIterator<Item = Line<'a>>,
    width: usize,
) -> Vec<Line<'static>> {
    lines.into_iter().map(|l| fit_line(l, width)).collect()
}

/// `text` wrapped into lines of at most `width` columns, breaking only between words (at
/// spaces); a word longer than a line is cut with `…` ([`fit`]) rather than split. Line
/// breaks in `text` are kept, and a line that fits is kept as it is.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        if self::width(para) <= width {
            out.push(para.to_string());
            continue;
        }
        // A list item (`  - path`) keeps its marker, and its next lines hang under its text.
        let (lead, body) = list_marker(para);
        let hang = self::width(lead);
        let (first, indent) = if hang + 8 <= width {
            (lead.to_string(), " ".repeat(hang))
        } else {
            (String::new(), String::new())
        };
        let room = width - self::width(&indent);
        let mut cur = first;
        let mut cur_w = self::width(&cur);
        let mut fresh = true;
        for word in body.split_whitespace() {
            let word = fit(word, room);
            let ww = self::width(&word);
            if !fresh && cur_w + 1 + ww > width {
                out.push(std::mem::replace(&mut cur, indent.clone()));
                cur_w = indent.len();
                fresh = true;
            }
            if !fresh {
                cur.push(' ');
                cur_w += 1;
            }
            cur.push_str(&word);
            cur_w += ww;
            fresh = false;
        }
        out.push(cur);
    }
    out
}

/// A paragraph's leading spaces and list marker (`  - `, `• `), and the text after them.
fn list_marker(para: &str) -> (&str, &str) {
    let text = para.trim_start_matches(' ');
    let mut n = para.len() - text.len();
    for m in ["- ", "• ", "* "] {
        if text.starts_with(m) {
            n += m.len();
            break;
        }
    }
    para.split_at(n)
}

/// A styled line wrapped by the rule of [`wrap`], each word keeping its span's style; a line
/// that fits is kept as it is.
pub fn wrap_line(line: &Line<'_>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    if line.width() <= width {
        return vec![fit_line(line.clone(), width)];
    }
    // Words with their style; a word spanning two spans takes the first one's style.
    let mut words: Vec<(String, Style)> = Vec::new();
    let mut glued = false;
    for s in &line.spans {
        let style = line.style.patch(s.style);
        let text = s.content.as_ref();
        for (i, piece) in text.split(' ').enumerate() {
            if i > 0 {
                glued = false;
            }
            if piece.is_empty() {
                continue;
            }
            match words.last_mut() {
                Some((w, _)) if glued => w.push_str(piece),
                _ => words.push((piece.to_string(), style)),
            }
            glued = true;
        }
        glued = glued && !text.ends_with(' ');
    }
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut cur_w = 0;
    for (word, style) in words {
        let word = fit(&word, width);
        let ww = self::width(&word);
        if cur_w > 0 && cur_w + 1 + ww > width {
            out.push(Line::from(std::mem::take(&mut cur)));
            cur_w = 0;
        }
        if cur_w > 0 {
            cur.push(Span::raw(" "));
            cur_w += 1;
        }
        cur.push(Span::styled(word, style));
        cur_w += ww;
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(Line::from(cur));
    }
    out
}

/// A styled line wrapped into at most `max` lines ([`wrap_line`]); when more were needed, the
/// last one shown ends with `…`.
pub fn wrap_max(line: &Line<'_>, width: usize, max: usize) -> Vec<Line<'static>> {
    let mut lines = wrap_line(line, width);
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.pop() {
            let style = last.spans.last().map(|s| s.style).unwrap_or_default();
            let mut spans = last.spans;
            spans.push(Span::styled("…", style));
            lines.push(fit_line(Line::from(spans), width));
        }
    }
    lines
}

/// Styled lines wrapped one by one ([`wrap_line`]).
pub fn wrap_lines<'a>(
    lines: impl IntoIterator<Item = Line<'a>>,
    width: usize,
) -> Vec<Line<'static>> {
    lines
        .into_iter()
        .flat_map(|l| wrap_line(&l, width))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_text_with_an_ellipsis() {
        assert_eq!(fit("mahalanobis", 20), "mahalanobis");
        assert_eq!(fit("sort: AUC mahalanobis", 14), "sort: AUC mah…");
        assert_eq!(
            fit("reset the form to the defaults", 26),
            "reset the form to the def…"
        );
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("abc", 1), "…");
    }

    #[test]
    fn fit_never_cuts_a_number() {
        assert_eq!(fit("transform accuracy 0.314", 23), "transform accuracy …");
        assert_eq!(fit("transform: 72 transforms", 14), "transform: 72…");
        assert_eq!(fit("transform: 72 transforms", 13), "transform: …");
        assert_eq!(fit("images 12,000 of 24,000", 11), "images …");
        assert_eq!(fit("done 15% of it", 8), "done …");
        // A name with digits in it is cut between them and a letter.
        assert_eq!(fit("cifar10-airplane", 9), "cifar10-…");
    }

    #[test]
    fn fit_start_keeps_the_end() {
        assert_eq!(fit_start("20261129T210000Z-aaaa", 14), "…T210000Z-aaaa");
        assert_eq!(fit_start("short", 15), "short");
    }

    #[test]
    fn a_label_shortens_before_its_value() {
        assert_eq!(label_value("loss", "1.294", 20), "loss 1.294");
        assert_eq!(
            label_value("transform accuracy", "0.314", 20),
            "transform acc… 0.314"
        );
        assert_eq!(label_value("transform accuracy", "0.314", 8), "0.314");
        assert_eq!(label_value("transform accuracy", "0.314", 4), "");
    }

    #[test]
    fn fit_line_keeps_styles() {
        let l = Line::from(vec![
            Span::styled("sort: ", Style::new().bold()),
            Span::raw("AUC mahalanobis"),
        ]);
        let f = fit_line(l, 12);
        let text: String = f.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "sort: AUC m…");
        assert_eq!(f.spans[0].style, Style::new().bold());
    }

    #[test]
    fn wrap_breaks_between_words_and_cuts_long_ones() {
        assert_eq!(
            wrap("data ready: 9000 training images, 9 classes", 20),
            vec!["data ready: 9000", "training images, 9", "classes"]
        );
        assert_eq!(
            wrap("ensemble 0.936 and 20261206T064944Z-91fm", 14),
            vec!["ensemble 0.936", "and 20261206T…"]
        );
        assert_eq!(wrap("", 10), vec![""]);
    }

    #[test]
    fn wrap_keeps_a_list_one_item_a_line_with_hanging_indents() {
        let text = "fashion-mnist not found; searched:\n  - data/fashion-mnist\n  - /usr/share/datasets/fashion-mnist and more";
        assert_eq!(
            wrap(text, 24),
            vec![
                "fashion-mnist not found;",
                "searched:",
                "  - data/fashion-mnist",
                "  - /usr/share/datasets…",
                "    and more",
            ]
        );
    }

    #[test]
    fn wrap_max_says_when_it_stops() {
        let l = Line::raw("one two three four five six");
        let w = wrap_max(&l, 9, 2);
        let texts: Vec<String> = w
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(texts, vec!["one two", "three…"]);
        assert_eq!(wrap_max(&l, 40, 2).len(), 1);
    }

    #[test]
    fn wrap_line_keeps_styles_per_word() {
        let bold = Style::new().bold();
        let l = Line::from(vec![
            Span::styled("knn ", bold),
            Span::raw("0.936 (best 0.940)"),
        ]);
        let w = wrap_line(&l, 10);
        let texts: Vec<String> = w
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(texts, vec!["knn 0.936", "(best", "0.940)"]);
        assert_eq!(w[0].spans[0].style, bold);
    }
}
