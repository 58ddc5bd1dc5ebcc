//! Every key binding of the lab, in one table: looked up by the app and listed by the help
//! screen, so the two never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a key is pressed; the bindings of the context win over the global ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Global,
    Setup,
    Train,
    Runs,
    Detail,
    Compare,
    Help,
    /// A yes/no confirmation popup.
    Confirm,
    /// A list picker popup (profiles, classes, scorers).
    Picker,
    /// A one-line text input (field edit, profile name, tags, note, filter).
    Input,
    /// One study's cells side by side.
    Study,
    /// The folder input of Detail's `s` (path completion).
    Folder,
}

impl Context {
    /// Contexts that also accept the global bindings (popups and inputs capture every key).
    pub fn takes_global(self) -> bool {
        matches!(
            self,
            Context::Setup
                | Context::Train
                | Context::Runs
                | Context::Detail
                | Context::Compare
                | Context::Help
                | Context::Study
        )
    }

    pub fn title(self) -> &'static str {
        match self {
            Context::Global => super::strings::HELP_GLOBAL,
            Context::Setup => "Setup",
            Context::Train => "Train",
            Context::Runs => "Runs",
            Context::Detail => "Run detail",
            Context::Compare => "Compare",
            Context::Help => "Help",
            Context::Confirm => "Confirmation",
            Context::Picker => "Picker",
            Context::Input => "Text input",
            Context::Study => "Study",
            Context::Folder => "Score a folder",
        }
    }
}

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    ForceQuit,
    Help,
    NextTab,
    PrevTab,
    GoSetup,
    GoTrain,
    GoRuns,
    ToggleMarkers,
    Back,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    // Setup
    Start,
    Edit,
    LoadProfile,
    SaveProfile,
    ResetConfig,
    // Train
    Stop,
    // Runs
    Mark,
    Compare,
    Filter,
    SortNext,
    SortReverse,
    Tag,
    Note,
    Delete,
    Reload,
    /// Load a run's config into Setup (to re-run or edit it).
    LoadConfig,
    /// Compare: make the run under the cursor the baseline.
    Baseline,
    /// Compare: overlay the next per-epoch metric (AUC, loss, accuracy, s).
    NextMetric,
    /// Detail, Compare, Study: write the chart or ROC shown as SVG and PNG.
    Export,
    // Detail
    PrevSeed,
    NextSeed,
    /// Score a folder of images with the run's detector.
    ScoreFolder,
    /// Folder input: complete the path.
    Complete,
    // Popups
    Yes,
    No,
    Toggle,
    AllOthers,
    // Setup
    StartStudy,
    ToggleSection,
    NextSection,
    PrevSection,
    FoldAll,
    ClearField,
    // Train
    Dequeue,
    // Popups
    MoveUp,
    MoveDown,
    NoneOfThem,
    NextField,
}

/// One key (modifiers other than Ctrl/Alt are ignored when matching).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}
const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

impl Key {
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let ev_ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        if ev_ctrl != self.ctrl || ev.modifiers.contains(KeyModifiers::ALT) {
            return false;
        }
        match (self.code, ev.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) if self.ctrl => a.eq_ignore_ascii_case(&b),
            (a, b) => a == b,
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Backspace => "Backspace".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

/// A binding: keys, the action, and the line the help screen shows.
pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
}

const fn b(context: Context, keys: &'static [Key], action: Action, help: &'static str) -> Binding {
    Binding {
        context,
        keys,
        action,
        help,
    }
}

use Action as A;
use Context as C;

const UP: &[Key] = &[code(KeyCode::Up), k('k')];
const DOWN: &[Key] = &[code(KeyCode::Down), k('j')];
const LEFT: &[Key] = &[code(KeyCode::Left), k('h')];
const RIGHT: &[Key] = &[code(KeyCode::Right), k('l')];
const ESC: &[Key] = &[code(KeyCode::Esc)];
const ENTER: &[Key] = &[code(KeyCode::Enter)];

/// The whole key map.
pub const BINDINGS: &[Binding] = &[
    // Everywhere (screens, not popups)
    b(C::Global, &[k('q')], A::Quit, "quit (asks during a run)"),
    b(
        C::Global,
        &[ctrl('c')],
        A::ForceQuit,
        "quit now (stops the run)",
    ),
    b(
        C::Global,
        &[k('?'), code(KeyCode::F(1))],
        A::Help,
        "show / hide these keys",
    ),
    b(C::Global, &[code(KeyCode::Tab)], A::NextTab, "next screen"),
    b(
        C::Global,
        &[code(KeyCode::BackTab)],
        A::PrevTab,
        "previous screen",
    ),
    b(C::Global, &[k('1')], A::GoSetup, "Setup screen"),
    b(C::Global, &[k('2')], A::GoTrain, "Train screen"),
    b(C::Global, &[k('3')], A::GoRuns, "Runs screen"),
    b(
        C::Global,
        &[k('m')],
        A::ToggleMarkers,
        "cycle chart markers",
    ),
    // Setup
    b(C::Setup, UP, A::Up, "previous field"),
    b(C::Setup, DOWN, A::Down, "next field"),
    b(C::Setup, LEFT, A::Left, "previous value / smaller"),
    b(C::Setup, RIGHT, A::Right, "next value / larger"),
    b(
        C::Setup,
        &[k('e'), k(' ')],
        A::Edit,
        "edit the field (type, or pick from a list)",
    ),
    b(
        C::Setup,
        &[code(KeyCode::Enter), k('r')],
        A::Start,
        "start the run",
    ),
    b(C::Setup, &[k('p')], A::LoadProfile, "load a profile"),
    b(
        C::Setup,
        &[k('w')],
        A::SaveProfile,
        "save the form as a profile",
    ),
    b(
        C::Setup,
        &[k('D')],
        A::ResetConfig,
        "reset the form to the defaults",
    ),
    // Train
    b(C::Train, &[k('s')], A::Stop, "stop the run (asks first)"),
    b(C::Train, UP, A::Up, "scroll the log up"),
    b(C::Train, DOWN, A::Down, "scroll the log down"),
    b(
        C::Train,
        &[code(KeyCode::End), k('G')],
        A::Bottom,
        "follow the log",
    ),
    // Runs
    b(C::Runs, UP, A::Up, "previous run"),
    b(C::Runs, DOWN, A::Down, "next run"),
    b(C::Runs, &[code(KeyCode::PageUp)], A::PageUp, "page up"),
    b(
        C::Runs,
        &[code(KeyCode::PageDown)],
        A::PageDown,
        "page down",
    ),
    b(C::Runs, &[code(KeyCode::Home), k('g')], A::Top, "first run"),
    b(
        C::Runs,
        &[code(KeyCode::End), k('G')],
        A::Bottom,
        "last run",
    ),
    b(C::Runs, ENTER, A::Enter, "open (a run, or a study)"),
    b(C::Runs, &[k(' ')], A::Mark, "mark / expand a study"),
    b(C::Runs, &[k('c')], A::Compare, "compare the marked runs"),
    b(C::Runs, &[k('/')], A::Filter, "filter"),
    b(C::Runs, &[k('o')], A::SortNext, "sort by this column"),
    b(C::Runs, &[k('O')], A::SortReverse, "reverse the sort order"),
    b(C::Runs, &[k('t')], A::Tag, "edit tags"),
    b(C::Runs, &[k('n')], A::Note, "edit the note"),
    b(
        C::Runs,
        &[k('x'), code(KeyCode::Delete)],
        A::Delete,
        "delete (asks first)",
    ),
    b(C::Runs, &[k('R')], A::Reload, "reload the store"),
    b(C::Runs, ESC, A::Back, "clear filter, then marks"),
    b(C::Runs, LEFT, A::Left, "column left / fold"),
    b(C::Runs, RIGHT, A::Right, "column right / expand"),
    b(C::Runs, &[k('e')], A::LoadConfig, "its config into Setup"),
    // Detail
    b(C::Detail, LEFT, A::Left, "previous page"),
    b(C::Detail, RIGHT, A::Right, "next page"),
    b(C::Detail, &[k('[')], A::PrevSeed, "previous seed"),
    b(C::Detail, &[k(']')], A::NextSeed, "next seed"),
    b(C::Detail, UP, A::Up, "scroll up"),
    b(C::Detail, DOWN, A::Down, "scroll down"),
    b(C::Detail, &[k('t')], A::Tag, "edit tags"),
    b(C::Detail, &[k('n')], A::Note, "edit the note"),
    b(
        C::Detail,
        &[k('x'), code(KeyCode::Delete)],
        A::Delete,
        "delete (asks first)",
    ),
    b(
        C::Detail,
        ESC,
        A::Back,
        "back to the list (while scoring a folder: cancel it)",
    ),
    b(C::Detail, &[k('e')], A::LoadConfig, "its config into Setup"),
    b(
        C::Detail,
        &[k('s')],
        A::ScoreFolder,
        "score a folder of images with the run's detector",
    ),
    b(
        C::Detail,
        &[k('E')],
        A::Export,
        "write the page's charts or ROC as SVG and PNG",
    ),
    // Compare
    b(C::Compare, UP, A::Up, "previous series"),
    b(C::Compare, DOWN, A::Down, "next series"),
    b(C::Compare, ESC, A::Back, "back to the list"),
    b(C::Compare, &[k(' ')], A::Toggle, "show / hide the series"),
    b(C::Compare, LEFT, A::Left, "previous run"),
    b(C::Compare, RIGHT, A::Right, "next run"),
    b(C::Compare, &[k('b')], A::Baseline, "make it the baseline"),
    b(
        C::Compare,
        &[k('v')],
        A::NextMetric,
        "overlay the next metric: AUC, loss, accuracy, s",
    ),
    b(
        C::Compare,
        &[k('E')],
        A::Export,
        "write the chart as SVG and PNG (the folder the lab started in)",
    ),
    b(
        C::Compare,
        &[code(KeyCode::PageUp)],
        A::PageUp,
        "scroll config keys up",
    ),
    b(
        C::Compare,
        &[code(KeyCode::PageDown)],
        A::PageDown,
        "scroll config keys down",
    ),
    b(
        C::Compare,
        &[k('e')],
        A::LoadConfig,
        "its config into Setup",
    ),
    // Study
    b(C::Study, UP, A::Up, "previous cell / run"),
    b(C::Study, DOWN, A::Down, "next cell / run"),
    b(C::Study, ENTER, A::Enter, "list its runs / open one"),
    b(C::Study, ESC, A::Back, "back"),
    b(C::Study, &[k('e')], A::LoadConfig, "its config into Setup"),
    b(
        C::Study,
        &[k('E')],
        A::Export,
        "write the study's boxplots as SVG and PNG (the folder the lab started in)",
    ),
    // Help
    b(C::Help, ESC, A::Back, "close help"),
    // Popups
    b(
        C::Confirm,
        &[k('y'), code(KeyCode::Enter)],
        A::Yes,
        "confirm",
    ),
    b(C::Confirm, &[k('n'), code(KeyCode::Esc)], A::No, "cancel"),
    b(C::Picker, UP, A::Up, "previous entry"),
    b(C::Picker, DOWN, A::Down, "next entry"),
    b(C::Picker, &[k(' ')], A::Toggle, "toggle"),
    b(
        C::Picker,
        &[k('a')],
        A::AllOthers,
        "classes: check all others (Enter applies)",
    ),
    b(C::Picker, ENTER, A::Enter, "apply"),
    b(C::Picker, ESC, A::Back, "cancel"),
    b(C::Input, ENTER, A::Enter, "apply"),
    b(C::Input, ESC, A::Back, "cancel"),
    b(
        C::Folder,
        &[code(KeyCode::Tab)],
        A::Complete,
        "complete the folder (again: take the picked one)",
    ),
    b(
        C::Folder,
        &[code(KeyCode::Up)],
        A::Up,
        "pick the previous folder",
    ),
    b(
        C::Folder,
        &[code(KeyCode::Down)],
        A::Down,
        "pick the next folder",
    ),
    b(C::Folder, ENTER, A::Enter, "score the folder"),
    b(C::Folder, ESC, A::Back, "cancel"),
    // Setup: sections, clearing, studies
    b(
        C::Setup,
        &[k('z')],
        A::ToggleSection,
        "fold / unfold the section",
    ),
    b(
        C::Setup,
        &[k('Z')],
        A::FoldAll,
        "fold every section (again: open all)",
    ),
    b(C::Setup, &[k(']')], A::NextSection, "next section"),
    b(C::Setup, &[k('[')], A::PrevSection, "previous section"),
    b(
        C::Setup,
        &[ctrl('u')],
        A::ClearField,
        "clear the field and type a value",
    ),
    b(
        C::Setup,
        &[k('S')],
        A::StartStudy,
        "start a study (pick a study file)",
    ),
    // Train: followed runs, the queue
    b(C::Train, ESC, A::Back, "stop following a run"),
    b(
        C::Train,
        &[k('x'), code(KeyCode::Delete)],
        A::Dequeue,
        "drop the last queued run",
    ),
    // Popups
    b(
        C::Picker,
        &[k('K')],
        A::MoveUp,
        "scorers: move up (1 = primary)",
    ),
    b(C::Picker, &[k('J')], A::MoveDown, "scorers: move down"),
    b(
        C::Picker,
        &[k('n')],
        A::NoneOfThem,
        "classes: none (normal images only)",
    ),
    b(
        C::Input,
        &[code(KeyCode::Tab)],
        A::NextField,
        "next line (name / description)",
    ),
];

/// The action for a key in a context (context bindings first, then the global ones).
pub fn lookup(context: Context, ev: &KeyEvent) -> Option<Action> {
    let find = |ctx: Context| {
        BINDINGS
            .iter()
            .filter(|b| b.context == ctx)
            .find(|b| b.keys.iter().any(|key| key.matches(ev)))
            .map(|b| b.action)
    };
    find(context).or_else(|| {
        if context.takes_global() {
            find(Context::Global)
        } else {
            None
        }
    })
}

/// Help rows for a context: (keys, description), the context's own first, then global ones.
pub fn help_rows(context: Context) -> Vec<(Context, String, &'static str)> {
    let mut out = Vec::new();
    let mut push = |ctx: Context| {
        for bd in BINDINGS.iter().filter(|b| b.context == ctx) {
            let keys: Vec<String> = bd.keys.iter().map(Key::label).collect();
            out.push((ctx, keys.join("/"), bd.help));
        }
    };
    push(context);
    if context.takes_global() && context != Context::Global {
        push(Context::Global);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn context_first_then_global() {
        let s = key(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Train, &s), Some(Action::Stop));
        assert_eq!(lookup(Context::Setup, &s), None);
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Runs, &q), Some(Action::Quit));
        assert_eq!(lookup(Context::Input, &q), None);
        let bt = key(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Setup, &bt), Some(Action::PrevTab));
        let cc = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Context::Runs, &cc), Some(Action::ForceQuit));
        let big_d = key(KeyCode::Char('D'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Setup, &big_d), Some(Action::ResetConfig));
    }

    #[test]
    fn no_key_bound_twice_in_a_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for bnd in &BINDINGS[i + 1..] {
                if a.context != bnd.context {
                    continue;
                }
                for ka in a.keys {
                    assert!(
                        !bnd.keys.contains(ka),
                        "{:?} bound twice in {:?}",
                        ka,
                        a.context
                    );
                }
            }
        }
    }

    #[test]
    fn help_lists_context_and_global() {
        let rows = help_rows(Context::Train);
        assert_eq!(rows[0].0, Context::Train);
        assert!(rows.iter().any(|r| r.0 == Context::Global && r.1 == "q"));
    }
}
