//! Choosing and ordering runs: the filter syntax of `adalab runs list --filter` and of the lab's
//! Runs filter (one parser for both), and the sort keys.
//!
//! A query is words separated by spaces; `KEY<op>VALUE` words filter on a field, other words
//! are free text matched (case-insensitively) against the run's id, profile, tags and note.
//! All words must match. Operators: `=`, `!=`, and for numbers `>`, `>=`, `<`, `<=`. Keys:
//! `status`, `head`, `dataset`, `scorer`, `tag`, `profile`, `auc` (the primary scorer's final
//! AUC), `auc.SCORER` (`auc.lof>0.9`), or any config key (`train.epochs>3`). An unknown key,
//! a value the key cannot take or a comparison of text is an error that names it.

use std::cmp::Ordering;
use std::fmt;

use super::{RunEntry, RunStatus, StoreError};
use crate::config::{Config, DatasetKind, HeadKind, ScorerKind};

/// The field keys a filter may name besides config keys and `auc.SCORER`.
pub const FILTER_KEYS: [&str; 7] = [
    "status", "head", "dataset", "scorer", "tag", "profile", "auc",
];

/// How a field is compared with a filter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }

    /// Whether the operator orders numbers (rather than testing equality).
    fn orders(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
        }
    }
}

/// The value a filter compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text, in the form the field shows (a config value as `Config::flatten` writes it).
    Text(String),
    Number(f64),
}

/// One word of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `KEY<op>VALUE`.
    Field { key: String, op: Op, value: Value },
    /// Free text, lower-cased.
    Text(String),
}

/// Every word of a query; a run matches when all of them do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub filters: Vec<Filter>,
}

impl Query {
    /// Parses one or more query strings (each may hold several words).
    pub fn parse<S: AsRef<str>>(parts: &[S]) -> Result<Query, StoreError> {
        let mut filters = Vec::new();
        for part in parts {
            for word in part.as_ref().split_whitespace() {
                filters.push(Filter::parse(word)?);
            }
        }
        Ok(Query { filters })
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    pub fn matches(&self, entry: &RunEntry) -> bool {
        self.filters.iter().all(|f| f.matches(entry))
    }
}

/// The operator in `word` and where it starts: the first `=`, `!=`, `<`, `<=`, `>`, `>=`.
fn split_op(word: &str) -> Option<(&str, Op, &str)> {
    let b = word.as_bytes();
    for i in 0..b.len() {
        let next_eq = b.get(i + 1) == Some(&b'=');
        let (op, len) = match (b[i], next_eq) {
            (b'=', _) => (Op::Eq, 1),
            (b'!', true) => (Op::Ne, 2),
            (b'>', true) => (Op::Ge, 2),
            (b'>', false) => (Op::Gt, 1),
            (b'<', true) => (Op::Le, 2),
            (b'<', false) => (Op::Lt, 1),
            _ => continue,
        };
        return Some((&word[..i], op, &word[i + len..]));
    }
    None
}

fn names<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> String {
    all.iter().map(|x| f(*x)).collect::<Vec<_>>().join(", ")
}

impl Filter {
    pub fn parse(word: &str) -> Result<Filter, StoreError> {
        let Some((k, op, v)) = split_op(word) else {
            return Ok(Filter::Text(word.to_lowercase()));
        };
        let bad = |reason: String| StoreError::BadFilter {
            filter: word.to_string(),
            reason,
        };
        let key = k.trim().to_string();
        let v = v.trim();
        if key.is_empty() {
            return Err(bad(format!(
                "no key before `{}`: write KEY{}VALUE",
                op.as_str(),
                op.as_str()
            )));
        }
        if v.is_empty() {
            return Err(bad(format!("no value after `{key}{}`", op.as_str())));
        }
        let one_of = |what: &str, ok: bool, choices: String| {
            if ok {
                Ok(())
            } else {
                Err(bad(format!("`{v}` is not a {what}: use {choices}")))
            }
        };
        let text_only = |key: &str| {
            if op.orders() {
                Err(bad(format!(
                    "`{key}` is not a number: compare it with = or !=, not {}",
                    op.as_str()
                )))
            } else {
                Ok(())
            }
        };
        let number = || {
            v.replace('_', "")
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Value::Number)
                .ok_or_else(|| bad(format!("`{v}` is not a number (for `{key}`)")))
        };
        let value = match key.as_str() {
            "status" => {
                text_only(&key)?;
                let ok = v == "unreadable" || RunStatus::ALL.iter().any(|s| s.as_str() == v);
                one_of(
                    "run status",
                    ok,
                    format!("{}, unreadable", names(&RunStatus::ALL, RunStatus::as_str)),
                )?;
                Value::Text(v.to_string())
            }
            "head" => {
                text_only(&key)?;
                one_of(
                    "head",
                    HeadKind::parse(v).is_some(),
                    names(&HeadKind::ALL, HeadKind::as_str),
                )?;
                Value::Text(v.to_string())
            }
            "dataset" => {
                text_only(&key)?;
                one_of(
                    "dataset",
                    DatasetKind::parse(v).is_some(),
                    names(&DatasetKind::ALL, DatasetKind::as_str),
                )?;
                Value::Text(DatasetKind::parse(v).map_or(v, |d| d.as_str()).to_string())
            }
            "scorer" => {
                text_only(&key)?;
                one_of(
                    "scorer",
                    ScorerKind::parse(v).is_some(),
                    names(&ScorerKind::ALL, ScorerKind::as_str),
                )?;
                Value::Text(v.to_string())
            }
            "tag" | "profile" => {
                text_only(&key)?;
                Value::Text(v.to_string())
            }
            "auc" => number()?,
            k if k.starts_with("auc.") => {
                let name = &k["auc.".len()..];
                if ScorerKind::parse(name).is_none() {
                    return Err(bad(format!(
                        "unknown scorer `{name}` in `{k}`: use auc.SCORER with {}",
                        names(&ScorerKind::ALL, ScorerKind::as_str)
                    )));
                }
                number()?
            }
            k if crate::config::is_key(k) => {
                // The value is read as the key's type, so `train.lr=1e-3` finds 0.001.
                let mut c = Config::default();
                c.set(k, v)
                    .map_err(|e| bad(format!("bad value for `{k}`: {}", e.message)))?;
                let shown = c.get(k).unwrap_or_default();
                if op.orders() {
                    match shown.parse::<f64>() {
                        Ok(x) if x.is_finite() => Value::Number(x),
                        _ => {
                            return Err(bad(format!(
                                "`{k}` is not a number: compare it with = or !=, not {}",
                                op.as_str()
                            )))
                        }
                    }
                } else {
                    Value::Text(shown)
                }
            }
            _ => {
                return Err(bad(format!(
                    "unknown filter key `{key}`: use {}, auc.SCORER or a config key such as \
                     train.epochs",
                    FILTER_KEYS.join(", ")
                )))
            }
        };
        Ok(Filter::Field { key, op, value })
    }

    pub fn matches(&self, entry: &RunEntry) -> bool {
        let run = match entry {
            RunEntry::Ok(r) => r,
            RunEntry::Unreadable { id, .. } => {
                return match self {
                    Filter::Field { key, op, value } => {
                        key == "status" && op.holds(text_cmp("unreadable", value))
                    }
                    Filter::Text(t) => id.to_lowercase().contains(t.as_str()),
                }
            }
        };
        let rec = &run.record;
        match self {
            Filter::Text(t) => {
                let t = t.as_str();
                rec.id.to_lowercase().contains(t)
                    || rec.profile.to_lowercase().contains(t)
                    || rec.tags.iter().any(|x| x.to_lowercase().contains(t))
                    || rec.note.to_lowercase().contains(t)
            }
            Filter::Field { key, op, value } => {
                let op = *op;
                let text = |x: &str| op.holds(text_cmp(x, value));
                // A list field matches `=` when one item does, `!=` when none does.
                let any = |xs: Vec<&str>| {
                    let hit = xs.iter().any(|x| text_cmp(x, value) == Ordering::Equal);
                    if op == Op::Ne {
                        !hit
                    } else {
                        hit
                    }
                };
                let number = |x: Option<f64>| match (x, value) {
                    (Some(x), Value::Number(v)) => op.holds(x.total_cmp(v)),
                    _ => false,
                };
                match key.as_str() {
                    "status" => text(run.status.as_str()),
                    "head" => text(rec.config.head.kind.as_str()),
                    "dataset" => text(rec.config.data.dataset.as_str()),
                    "scorer" => any(rec
                        .config
                        .score
                        .scorers
                        .iter()
                        .map(|s| s.as_str())
                        .collect()),
                    "tag" => any(rec.tags.iter().map(String::as_str).collect()),
                    "profile" => text(&rec.profile),
                    "auc" => number(rec.primary_auc()),
                    k if k.starts_with("auc.") => {
                        number(ScorerKind::parse(&k[4..]).and_then(|s| rec.final_auc(s)))
                    }
                    key => match rec.config.get(key) {
                        Some(x) => match value {
                            Value::Number(_) => number(x.parse().ok()),
                            Value::Text(_) => text(&x),
                        },
                        None => false,
                    },
                }
            }
        }
    }
}

/// Equal or not (text has no order a filter uses).
fn text_cmp(x: &str, v: &Value) -> Ordering {
    match v {
        Value::Text(v) if x == v => Ordering::Equal,
        _ => Ordering::Less,
    }
}

/// Orders for `runs list --sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Auc,
    Date,
    Head,
    Status,
    Epochs,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::Auc,
        SortKey::Date,
        SortKey::Head,
        SortKey::Status,
        SortKey::Epochs,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Auc => "auc",
            SortKey::Date => "date",
            SortKey::Head => "head",
            SortKey::Status => "status",
            SortKey::Epochs => "epochs",
        }
    }
    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Best first; `None` last.
pub fn cmp_auc_desc(x: Option<f64>, y: Option<f64>) -> Ordering {
    match (x, y) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Sorts newest first, then stably by `key`; unreadable runs sort after readable ones.
pub fn sort_entries(entries: &mut [RunEntry], key: SortKey) {
    entries.sort_by(|a, b| b.id().cmp(a.id()));
    fn ok(e: &RunEntry) -> Option<&super::LoadedRun> {
        match e {
            RunEntry::Ok(r) => Some(r),
            RunEntry::Unreadable { .. } => None,
        }
    }
    match key {
        SortKey::Date => {}
        SortKey::Auc => entries.sort_by(|a, b| {
            cmp_auc_desc(
                ok(a).and_then(|r| r.record.primary_auc()),
                ok(b).and_then(|r| r.record.primary_auc()),
            )
        }),
        SortKey::Head => entries.sort_by_key(|e| {
            ok(e)
                .map(|r| r.record.config.head.kind.as_str().to_string())
                .unwrap_or_else(|| "~".into())
        }),
        SortKey::Status => entries.sort_by_key(|e| {
            ok(e)
                .map(|r| r.status.as_str().to_string())
                .unwrap_or_else(|| "~".into())
        }),
        SortKey::Epochs => {
            entries.sort_by_key(|e| std::cmp::Reverse(ok(e).map(|r| r.record.epochs_done())))
        }
    }
}
