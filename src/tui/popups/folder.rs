//! The folder input of Detail's `s` (score a folder with the run's detector): the typed path,
//! the existing folders it can complete to (listed under it; Tab completes, ↑↓ pick one), a
//! check on Enter whose errors name the path, and its drawing. Starting the scoring is applied
//! by `detail/scoring_update.rs`.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::super::keys::Action;
use super::super::strings as s;
use super::super::theme::Theme;
use super::super::widgets::{centered, fit, marker, popup_frame, row_style};

/// Folders listed under the input at most.
const SHOWN: usize = 8;
/// Entries of one folder looked at for completion at most (a folder of many images).
const SCAN_LIMIT: usize = 100_000;

#[derive(Clone, Debug, PartialEq)]
pub struct FolderInput {
    /// The run whose detector scores the folder.
    pub run: String,
    pub text: String,
    /// Names of the existing folders the last path part of `text` can complete to, sorted.
    pub candidates: Vec<String>,
    /// The picked candidate (↑↓), taken by Tab or Enter.
    pub selected: Option<usize>,
    pub error: Option<String>,
}

/// What a key does to the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FolderOutcome {
    Open,
    Cancel,
    /// Score this folder (it exists and can be listed).
    Score(PathBuf),
}

/// `~` and `~/…` from `$HOME`; everything else as typed.
pub fn expand(text: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if text == "~" {
        if let Some(h) = home() {
            return h;
        }
    }
    if let Some(rest) = text.strip_prefix("~/") {
        if let Some(h) = home() {
            return h.join(rest);
        }
    }
    PathBuf::from(text)
}

/// The typed text split at its last `/`: (the folder part as typed, the name being typed).
fn split(text: &str) -> (&str, &str) {
    match text.rfind('/') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None if text == "~" => (text, ""),
        None => ("", text),
    }
}

/// The longest common prefix of `names`.
fn common_prefix(names: &[String]) -> String {
    let Some(first) = names.first() else {
        return String::new();
    };
    let mut n = first.len();
    for other in &names[1..] {
        n = first
            .char_indices()
            .zip(other.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(n);
    }
    first[..n].to_string()
}

impl FolderInput {
    pub fn new(run: String, text: String) -> FolderInput {
        let mut f = FolderInput {
            run,
            text,
            candidates: Vec::new(),
            selected: None,
            error: None,
        };
        f.refresh();
        f
    }

    /// Lists the folders the typed name can complete to.
    pub fn refresh(&mut self) {
        self.selected = None;
        let (dir, name) = split(&self.text);
        let list = if dir.is_empty() {
            PathBuf::from(".")
        } else {
            expand(dir)
        };
        let hidden = name.starts_with('.');
        let mut found: Vec<String> = std::fs::read_dir(&list)
            .into_iter()
            .flatten()
            .take(SCAN_LIMIT)
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().into_string().ok()?;
                if !n.starts_with(name) || (n.starts_with('.') && !hidden) {
                    return None;
                }
                let is_dir = match e.file_type() {
                    Ok(t) if t.is_symlink() => {
                        std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir())
                    }
                    Ok(t) => t.is_dir(),
                    Err(_) => false,
                };
                is_dir.then_some(n)
            })
            .collect();
        found.sort();
        self.candidates = found;
    }

    /// Takes candidate `i`: the text becomes its path with a trailing `/`, listing its own
    /// folders next.
    fn take(&mut self, i: usize) {
        let (dir, _) = split(&self.text);
        let dir = if dir == "~" { "~/" } else { dir };
        self.text = format!("{dir}{}/", self.candidates[i]);
        self.refresh();
    }

    /// Tab: the picked folder; else the only one; else as far as all of them agree; else
    /// picks the first (Tab again takes it).
    pub fn complete(&mut self) {
        self.error = None;
        if self.text == "~" {
            self.text = "~/".into();
            self.refresh();
            return;
        }
        if let Some(i) = self.selected {
            return self.take(i);
        }
        match self.candidates.len() {
            0 => {}
            1 => self.take(0),
            _ => {
                let (dir, name) = split(&self.text);
                let prefix = common_prefix(&self.candidates);
                if prefix.len() > name.len() {
                    self.text = format!("{dir}{prefix}");
                    self.refresh();
                } else {
                    self.selected = Some(0);
                }
            }
        }
    }

    /// Typing: characters, Backspace, Ctrl-U (clear); true when the key was taken.
    pub fn type_key(&mut self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        if ev.modifiers.contains(KeyModifiers::ALT) {
            return false;
        }
        match ev.code {
            KeyCode::Char('u') if ctrl => self.text.clear(),
            _ if ctrl => return false,
            KeyCode::Char(c) => self.text.push(c),
            KeyCode::Backspace => {
                self.text.pop();
            }
            _ => return false,
        }
        self.error = None;
        self.refresh();
        true
    }

    /// The typed folder, checked: it exists, is a folder and can be listed.
    pub fn check(&self) -> Result<PathBuf, String> {
        if self.text.trim().is_empty() {
            return Err(s::FOLDER_EMPTY.into());
        }
        let path = expand(&self.text);
        let shown = path.display();
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("{shown}: no such folder"))
            }
            Err(e) => Err(format!("{shown}: cannot read: {e}")),
            Ok(m) if !m.is_dir() => Err(format!("{shown} is a file, not a folder")),
            Ok(_) => match std::fs::read_dir(&path) {
                Err(e) => Err(format!("{shown}: cannot list: {e}")),
                Ok(_) => Ok(path),
            },
        }
    }

    pub fn on_action(&mut self, a: Action) -> FolderOutcome {
        let n = self.candidates.len();
        match a {
            Action::Back => return FolderOutcome::Cancel,
            Action::Complete => self.complete(),
            Action::Down if n > 0 => {
                self.selected = Some(self.selected.map_or(0, |i| (i + 1).min(n - 1)));
            }
            Action::Up if n > 0 => self.selected = self.selected.and_then(|i| i.checked_sub(1)),
            Action::Enter => {
                if let Some(i) = self.selected {
                    self.take(i);
                }
                match self.check() {
                    Ok(p) => return FolderOutcome::Score(p),
                    Err(e) => self.error = Some(e),
                }
            }
            _ => {}
        }
        FolderOutcome::Open
    }
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, inp: &FolderInput) {
    let listed = inp.candidates.len().min(SHOWN) as u16;
    let more = inp.candidates.len() > SHOWN;
    let h = 1 + listed.max(1) + u16::from(more) + 2 + 1 + 2;
    let r = centered(area, 72, h);
    let title = format!("{} — {}", s::FOLDER_TITLE, inp.run);
    let inner = popup_frame(f, r, &title, t);
    let [field, list, err, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    let w = field.width.saturating_sub(3) as usize;
    let chars: Vec<char> = inp.text.chars().collect();
    let shown: String = chars[chars.len().saturating_sub(w)..].iter().collect();
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("> ", t.accent()),
            Span::raw(shown),
            Span::styled("▏", t.accent()),
        ])),
        field,
    );
    let mut lines = Vec::new();
    if inp.candidates.is_empty() {
        lines.push(Line::styled(s::FOLDER_NO_MATCH, t.dim()));
    }
    // A window of the list that keeps the picked folder in view.
    let start = inp
        .selected
        .map_or(0, |i| (i + 1).saturating_sub(SHOWN))
        .min(inp.candidates.len().saturating_sub(SHOWN));
    let room = list.width.saturating_sub(2) as usize;
    for (i, name) in inp.candidates.iter().enumerate().skip(start).take(SHOWN) {
        let sel = inp.selected == Some(i);
        lines.push(Line::from(vec![
            Span::raw(marker(sel)),
            Span::styled(fit(&format!("{name}/"), room), row_style(sel, t)),
        ]));
    }
    if more {
        lines.push(Line::styled(
            format!("  … {} {}", inp.candidates.len() - SHOWN, s::FOLDER_MORE),
            t.dim(),
        ));
    }
    f.render_widget(Paragraph::new(lines), list);
    if let Some(e) = &inp.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.error())).wrap(Wrap { trim: true }),
            err,
        );
    }
    f.render_widget(Paragraph::new(Line::styled(s::FOLDER_HINT, t.dim())), help);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_common_prefixes() {
        assert_eq!(split("/a/b/cd"), ("/a/b/", "cd"));
        assert_eq!(split("cd"), ("", "cd"));
        assert_eq!(split("/"), ("/", ""));
        assert_eq!(
            common_prefix(&["sneakers".into(), "sneaks".into(), "sneakers2".into()]),
            "sneak"
        );
        assert_eq!(common_prefix(&["één".into(), "éa".into()]), "é");
        assert_eq!(common_prefix(&[]), "");
    }
}
