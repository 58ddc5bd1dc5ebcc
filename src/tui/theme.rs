//! Colours (or none, with `NO_COLOR`) and chart markers.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;

/// Chart marker choice: braille is the finest; block and dot work in every font.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Markers {
    Braille,
    Block,
    Dot,
}

impl Markers {
    /// From `ADALAB_MARKERS` (`braille`, `block`, `dot`); braille otherwise.
    pub fn parse(s: &str) -> Option<Markers> {
        match s.trim().to_ascii_lowercase().as_str() {
            "braille" => Some(Markers::Braille),
            "block" | "blocks" | "halfblock" => Some(Markers::Block),
            "dot" | "dots" | "ascii" => Some(Markers::Dot),
            _ => None,
        }
    }
    pub fn next(self) -> Markers {
        match self {
            Markers::Braille => Markers::Block,
            Markers::Block => Markers::Dot,
            Markers::Dot => Markers::Braille,
        }
    }
    pub fn marker(self) -> Marker {
        match self {
            Markers::Braille => Marker::Braille,
            Markers::Block => Marker::HalfBlock,
            Markers::Dot => Marker::Dot,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Markers::Braille => "braille",
            Markers::Block => "block",
            Markers::Dot => "dot",
        }
    }
}

/// Display settings, read once from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub markers: Markers,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            color: true,
            markers: Markers::Braille,
        }
    }
}

const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightRed,
    Color::LightBlue,
    Color::White,
    Color::LightGreen,
];

impl Theme {
    /// `NO_COLOR` (any non-empty value) turns colours off; `ADALAB_MARKERS` picks chart markers.
    pub fn from_env() -> Theme {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let markers = std::env::var("ADALAB_MARKERS")
            .ok()
            .and_then(|s| Markers::parse(&s))
            .unwrap_or(Markers::Braille);
        Theme { color, markers }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    /// The selected row: reversed, so it shows without colour too (and a `>` marker is drawn).
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    /// The n-th series colour.
    pub fn series(&self, i: usize) -> Style {
        self.fg(PALETTE[i % PALETTE.len()])
    }
    pub fn status(&self, status: &str) -> Style {
        match status {
            "running" => self.fg(Color::Cyan),
            "finished" => self.ok(),
            "failed" => self.error(),
            "interrupted" => self.warn(),
            _ => Style::new(),
        }
    }
}
