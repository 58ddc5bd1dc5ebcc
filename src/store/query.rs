//! Choosing and ordering runs: the filter syntax of `adalab runs list --filter` and of the lab's
//! Runs filter (one parser for both), and the sort keys.
//!
//! A query is words separated by spaces; `KEY=VALUE` words filter on a field, other words are
//! free text matched (case-insensitively) against the run's id, profile, tags and note. All
//! words must match. Keys: `status`, `head`, `dataset`, `scorer`, `tag`, `profile`, or any
//! config key (`train.epochs=5`).

use std::cmp::Ordering;
use std::fmt;

use super::{RunEntry, StoreError};
use crate::config::DatasetKind;

/// The field keys a filter may name besides config keys.
pub const FILTER_KEYS: [&str; 6] = ["status", "head", "dataset", "scorer", "tag", "profile"];

/// One word of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `KEY=VALUE`.
    Field { key: String, value: String },
    /// Free text, lower-cased.
    Text(String),
}

/// Every word of a query; a run matches when all of them do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

impl Filter {
    pub fn parse(word: &str) -> Result<Filter, StoreError> {
        let Some((k, v)) = word.split_once('=') else {
            return Ok(Filter::Text(word.to_lowercase()));
        };
        let key = k.trim().to_string();
        if !FILTER_KEYS.contains(&key.as_str()) && !crate::config::is_key(&key) {
            return Err(StoreError::BadFilter {
                filter: word.to_string(),
                reason: format!(
                    "unknown filter key `{key}`: use {} or a config key such as train.epochs",
                    FILTER_KEYS.join(", ")
                ),
            });
        }
        Ok(Filter::Field {
            key,
            value: v.trim().to_string(),
        })
    }

    pub fn matches(&self, entry: &RunEntry) -> bool {
        let run = match entry {
            RunEntry::Ok(r) => r,
            RunEntry::Unreadable { id, .. } => {
                return match self {
                    Filter::Field { key, value } => key == "status" && value == "unreadable",
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
            Filter::Field { key, value } => {
                let v = value.as_str();
                match key.as_str() {
                    "status" => run.status.as_str() == v,
                    "head" => rec.config.head.kind.as_str() == v,
                    "dataset" => DatasetKind::parse(v) == Some(rec.config.data.dataset),
                    "scorer" => rec.config.score.scorers.iter().any(|s| s.as_str() == v),
                    "tag" => rec.tags.iter().any(|t| t == v),
                    "profile" => rec.profile == v,
                    key => rec.config.flatten().get(key).is_some_and(|x| x == v),
                }
            }
        }
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
