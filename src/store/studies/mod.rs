//! Studies: a grid of configs × seeds, as one object. A study file names a base profile, fixed
//! overrides (`[set]`), a grid over config keys (`[grid]`, lists crossed or zipped) and the seeds
//! per cell; this module finds study files (`./profiles/studies`, the user's, the shipped ones),
//! expands them into cells and tasks, and reads back from the store what became of each task.
//!
//! A task's runs are found by the study name, the **key of the cell's config** (a hash of the
//! config with the seed set aside) and the seed's position, so editing the grid keeps the runs
//! of cells that did not change and adds only the new ones.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod claims;
mod files;
mod reference;
mod state;

pub use claims::TaskClaim;
pub use files::{find_study, list_studies, StudyDirs};
pub use reference::{reference_rows, Reference, ReferenceRow};
pub use state::{task_auc, CellResults};

use super::error::StoreError;
use super::profiles::ProfileDirs;
use super::record::StudyRef;
use super::{validate_name, LoadedRun, RunStatus};
use crate::config::{Config, ConfigError, ScorerKind};

/// How the grid's lists combine into cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Every combination (the default).
    Cross,
    /// Position by position: all lists have the same length.
    Zip,
}

/// One cell of the grid: a config that is run once per seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub index: usize,
    /// `head.kind=arcface`, or `base` for a grid without keys.
    pub label: String,
    /// The profile the cell's config comes from.
    pub profile: String,
    /// What the cell's config changes from its profile (`head=arcface`), as a run's name says
    /// it: the study's runs are named by the rule of [`super::profiles::run_name`].
    pub changes: Vec<String>,
    /// The cell's config with the base seed and `run.repeat = 1`.
    pub config: Config,
    /// Stable key of the config (seed aside): 16 hex digits of its SHA-256.
    pub key: String,
}

/// One run to make: a cell and a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Task {
    pub cell: usize,
    pub seed_index: usize,
}

/// A resolved study.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    pub name: String,
    pub description: String,
    /// Where it was read from, for messages.
    pub source: PathBuf,
    /// The study file's text (kept with the study's runs).
    pub text: String,
    pub seeds: usize,
    /// The scorer figures and the summary line show (the base's primary by default).
    pub scorer: ScorerKind,
    pub combine: Combine,
    pub cells: Vec<Cell>,
    /// `--set key=value` overrides applied to every cell ([`Study::with_overrides`]): runs
    /// record them, so each set of overrides is a variant of the study with its own runs.
    pub overrides: Vec<String>,
    /// Published values to print beside the cells (`[reference]`).
    pub reference: Option<Reference>,
}

/// What became of one task.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskState {
    /// Never run, or only runs that failed or were interrupted (it will run again).
    Pending { last: Option<(String, RunStatus)> },
    /// A run is in progress (here or elsewhere).
    Running { id: String },
    /// Finished: the newest finished run.
    Done { run: Box<LoadedRun> },
}

impl TaskState {
    pub fn is_done(&self) -> bool {
        matches!(self, TaskState::Done { .. })
    }
    pub fn is_pending(&self) -> bool {
        matches!(self, TaskState::Pending { .. })
    }
}

/// `name` alone, or `name · k=v k2=v2` for a variant run with overrides.
pub fn variant_title(name: &str, overrides: &[String]) -> String {
    if overrides.is_empty() {
        name.to_string()
    } else {
        format!("{name} · {}", overrides.join(" "))
    }
}

/// A word as a POSIX shell reads it back: as it is when plain, else single-quoted.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-=,:/+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn bad(source: &Path, key: &str, message: impl Into<String>) -> StoreError {
    StoreError::Config(ConfigError::new(key, message).in_file(source))
}

/// A TOML value as the text `Config::set` reads.
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(value_text).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// The key of a cell's config: its TOML with the seed and repeat set aside, hashed.
pub fn cell_key(config: &Config) -> String {
    let mut c = config.clone();
    c.train.seed = 0;
    c.run.repeat = 1;
    c.description.clear();
    let digest = Sha256::digest(c.to_toml_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

const STUDY_KEYS: [&str; 9] = [
    "name",
    "description",
    "base",
    "seeds",
    "combine",
    "scorer",
    "set",
    "grid",
    "reference",
];

impl Study {
    /// Parses a study file. `dirs` resolves the base profile (and a `profile` grid key).
    pub fn parse(
        name: &str,
        text: &str,
        source: &Path,
        dirs: &ProfileDirs,
    ) -> Result<Study, StoreError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            // Where, as a broken profile says it: line and column.
            let at = e
                .span()
                .map(|sp| {
                    let before = &text[..sp.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!(" (line {line}, column {column})")
                })
                .unwrap_or_default();
            bad(
                source,
                "(toml)",
                format!("not valid TOML: {}{at}", e.message().trim()),
            )
        })?;
        for k in table.keys() {
            if !STUDY_KEYS.contains(&k.as_str()) {
                return Err(bad(
                    source,
                    k,
                    format!("unknown key (a study has {})", STUDY_KEYS.join(", ")),
                ));
            }
        }
        let str_of = |k: &str| -> Result<Option<String>, StoreError> {
            match table.get(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(source, k, "must be a string")),
            }
        };
        let name = str_of("name")?.unwrap_or_else(|| name.to_string());
        validate_name("study name", &name)?;
        let description = str_of("description")?.unwrap_or_default();
        let base = str_of("base")?.ok_or_else(|| {
            bad(
                source,
                "base",
                "missing: name the profile the cells start from",
            )
        })?;
        let seeds = match table.get("seeds") {
            None => 1,
            Some(toml::Value::Integer(n)) if (1..=1000).contains(n) => *n as usize,
            Some(_) => return Err(bad(source, "seeds", "must be a whole number 1 to 1000")),
        };
        let combine = match str_of("combine")?.as_deref() {
            None | Some("cross") => Combine::Cross,
            Some("zip") => Combine::Zip,
            Some(other) => {
                return Err(bad(
                    source,
                    "combine",
                    format!("is `{other}`, must be \"cross\" or \"zip\""),
                ))
            }
        };
        let table_of = |k: &str| -> Result<Vec<(String, toml::Value)>, StoreError> {
            match table.get(k) {
                None => Ok(Vec::new()),
                Some(toml::Value::Table(t)) => {
                    Ok(t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                }
                Some(_) => Err(bad(source, k, "must be a table")),
            }
        };
        let set: Vec<(String, String)> = table_of("set")?
            .into_iter()
            .map(|(k, v)| (k, value_text(&v)))
            .collect();
        let mut grid: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in table_of("grid")? {
            let toml::Value::Array(items) = v else {
                return Err(bad(
                    source,
                    &format!("grid.{k}"),
                    "must be a list of values",
                ));
            };
            if items.is_empty() {
                return Err(bad(source, &format!("grid.{k}"), "is an empty list"));
            }
            grid.push((k, items.iter().map(value_text).collect()));
        }
        if combine == Combine::Zip {
            if let Some((k, v)) = grid.iter().find(|(_, v)| v.len() != grid[0].1.len()) {
                return Err(bad(
                    source,
                    &format!("grid.{k}"),
                    format!(
                        "has {} values but grid.{} has {}: zipped lists must be as long",
                        v.len(),
                        grid[0].0,
                        grid[0].1.len()
                    ),
                ));
            }
        }
        // The cells: the grid's assignments, crossed or zipped.
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        match combine {
            Combine::Cross => {
                for (k, values) in &grid {
                    combos = combos
                        .into_iter()
                        .flat_map(|c| {
                            values.iter().map(move |v| {
                                let mut c = c.clone();
                                c.push((k.clone(), v.clone()));
                                c
                            })
                        })
                        .collect();
                }
            }
            Combine::Zip => {
                if let Some((_, first)) = grid.first() {
                    combos = (0..first.len())
                        .map(|i| {
                            grid.iter()
                                .map(|(k, v)| (k.clone(), v[i].clone()))
                                .collect()
                        })
                        .collect();
                }
            }
        }
        let mut cells = Vec::with_capacity(combos.len());
        for (index, assign) in combos.into_iter().enumerate() {
            let profile = assign
                .iter()
                .find(|(k, _)| k == "profile")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| base.clone());
            let (profile, _, mut config) = dirs.resolve(&profile)?;
            let base_config = config.clone();
            let label = if assign.is_empty() {
                "base".to_string()
            } else {
                assign
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            for (k, v) in set
                .iter()
                .chain(assign.iter().filter(|(k, _)| k != "profile"))
            {
                config.set(k, v).map_err(|e| {
                    let key = if set.iter().any(|(s, _)| s == k) {
                        format!("set.{}", e.key)
                    } else {
                        format!("grid.{}", e.key)
                    };
                    bad(source, &key, e.message)
                })?;
            }
            config.run.repeat = 1;
            config
                .validate()
                .map_err(|e| bad(source, &e.key, format!("in cell `{label}`: {}", e.message)))?;
            let key = cell_key(&config);
            // What the cell changes, not how a task runs it (one seed a run, its own seed).
            let mut named = config.clone();
            named.run.repeat = base_config.run.repeat;
            named.train.seed = base_config.train.seed;
            named.train.threads = base_config.train.threads;
            let changes = super::profiles::changes(&base_config, &named);
            cells.push(Cell {
                index,
                label,
                profile,
                changes,
                config,
                key,
            });
        }
        let scorer = match str_of("scorer")? {
            Some(s) => ScorerKind::parse(&s)
                .ok_or_else(|| bad(source, "scorer", format!("unknown scorer `{s}`")))?,
            None => cells
                .first()
                .map(|c| c.config.primary_scorer())
                .unwrap_or(ScorerKind::KnnCosine),
        };
        if let Some(c) = cells
            .iter()
            .find(|c| !c.config.score.scorers.contains(&scorer))
        {
            return Err(bad(
                source,
                "scorer",
                format!("cell `{}` does not score with {scorer}", c.label),
            ));
        }
        let mut study = Study {
            name,
            description,
            source: source.to_path_buf(),
            text: text.to_string(),
            seeds,
            scorer,
            combine,
            cells,
            overrides: Vec::new(),
            reference: None,
        };
        if let Some(r) = table.get("reference") {
            let labels: Vec<(String, String)> = study
                .cells
                .iter()
                .map(|c| c.label.clone())
                .zip(study.short_labels())
                .collect();
            study.reference = Some(Reference::parse(r, &labels, source)?);
        }
        Ok(study)
    }

    /// Applies `key=value` overrides to every cell (after the file's own `[set]`).
    pub fn with_overrides(mut self, overrides: &[String]) -> Result<Study, StoreError> {
        for o in overrides {
            let (k, v) = o.split_once('=').ok_or_else(|| {
                StoreError::Config(ConfigError::new(
                    o.clone(),
                    "an override must look like key.path=value",
                ))
            })?;
            for c in &mut self.cells {
                c.config.set(k, v)?;
                c.config.validate().map_err(|e| {
                    StoreError::Config(ConfigError::new(
                        e.key,
                        format!("in cell `{}` with --set {o}: {}", c.label, e.message),
                    ))
                })?;
                c.key = cell_key(&c.config);
            }
            self.overrides.push(o.clone());
        }
        Ok(self)
    }

    /// `seed-fashion` or `seed-fashion · train.epochs=2`: the variant for messages.
    pub fn title(&self) -> String {
        variant_title(&self.name, &self.overrides)
    }

    /// The command that shows this variant's results: `adalab study show NAME --set …`.
    pub fn show_command(&self) -> String {
        let mut c = format!("adalab study show {}", shell_word(&self.name));
        for o in &self.overrides {
            c.push_str(" --set ");
            c.push_str(&shell_word(o));
        }
        c
    }

    /// Short names of the cells for figures: the values alone when one key varies.
    pub fn short_labels(&self) -> Vec<String> {
        self.cells
            .iter()
            .map(|c| {
                let parts: Vec<&str> = c.label.split(' ').collect();
                if parts.len() == 1 {
                    parts[0]
                        .split_once('=')
                        .map(|(_, v)| v.to_string())
                        .unwrap_or_else(|| c.label.clone())
                } else {
                    c.label.clone()
                }
            })
            .collect()
    }

    /// Every task, cell by cell.
    pub fn tasks(&self) -> Vec<Task> {
        (0..self.cells.len())
            .flat_map(|cell| (0..self.seeds).map(move |seed_index| Task { cell, seed_index }))
            .collect()
    }

    /// The config a task runs: its cell's, with the task's seed.
    pub fn task_config(&self, t: Task) -> Config {
        let mut c = self.cells[t.cell].config.clone();
        c.train.seed = c.train.seed.saturating_add(t.seed_index as u64);
        c
    }

    /// The name a task's run is recorded under: its cell's profile and what the cell changes
    /// from it (`fashion-sneaker-boot-adacos-fixed-geom · head=arcface`), as any run's.
    pub fn run_name(&self, t: Task) -> String {
        let c = &self.cells[t.cell];
        super::profiles::join_run_name(&c.profile, &c.changes)
    }

    /// `head.kind=arcface seed 3`: a task for messages.
    pub fn task_label(&self, t: Task) -> String {
        format!(
            "{} seed {}",
            self.cells[t.cell].label,
            self.task_config(t).train.seed
        )
    }

    /// What a task's run records about its place in the study.
    pub fn study_ref(&self, t: Task) -> StudyRef {
        StudyRef {
            name: self.name.clone(),
            cell_key: self.cells[t.cell].key.clone(),
            cell: self.cells[t.cell].label.clone(),
            seed_index: t.seed_index,
            overrides: self.overrides.clone(),
        }
    }

    /// The tags a task's run gets: the study's name and its cell.
    pub fn tags(&self, t: Task) -> Vec<String> {
        vec![
            format!("study:{}", self.name),
            format!("cell:{}", t.cell + 1),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::profiles::Shipped;

    fn dirs(root: &Path) -> ProfileDirs {
        let shipped = root.join("shipped");
        std::fs::create_dir_all(&shipped).unwrap();
        std::fs::write(
            shipped.join("base.toml"),
            "description = \"base\"\n[data]\ndataset = \"synthetic\"\nnormal = \"plus\"\nanomalous = \"cross\"\n",
        )
        .unwrap();
        std::fs::write(
            shipped.join("other.toml"),
            "description = \"other\"\n[data]\ndataset = \"synthetic\"\nnormal = \"ring\"\nanomalous = \"disc\"\n",
        )
        .unwrap();
        ProfileDirs {
            local: root.join("local"),
            user: root.join("user"),
            shipped: Shipped::Dir(shipped),
        }
    }

    const GRID: &str = r#"
description = "two heads, two epochs counts"
base = "base"
seeds = 3
[set]
"train.epochs" = 2
"score.scorers" = ["knn-cosine", "lof"]
[grid]
"head.kind" = ["arcface", "cosface"]
"head.m" = [0.2, 0.35]
"#;

    #[test]
    fn grids_cross_or_zip_into_cells() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        let s = Study::parse("g", GRID, Path::new("g.toml"), &d).unwrap();
        assert_eq!(s.cells.len(), 4);
        assert_eq!(s.tasks().len(), 12);
        assert_eq!(s.cells[0].label, "head.kind=arcface head.m=0.2");
        assert_eq!(s.cells[3].config.head.m, 0.35);
        assert!(s.cells.iter().all(|c| c.config.train.epochs == 2));
        assert_eq!(s.scorer, ScorerKind::KnnCosine);
        let keys: std::collections::BTreeSet<&str> =
            s.cells.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys.len(), 4);
        let t = Task {
            cell: 1,
            seed_index: 2,
        };
        assert_eq!(s.task_config(t).train.seed, 2);
        assert_eq!(s.tags(t), ["study:g", "cell:2"]);
        // Its run is named as any run: the profile and what the cell changes, not the seed.
        let name = s.run_name(Task {
            cell: 0,
            seed_index: 2,
        });
        assert!(name.starts_with("base · "), "{name}");
        for w in ["head=arcface", "head.m=0.2", "train.epochs=2"] {
            assert!(name.split(' ').any(|x| x == w), "{w} in {name}");
        }
        assert!(!name.contains("seed") && !name.contains("repeat"), "{name}");
        let (p, ch) = crate::store::profiles::split_run_name(&name);
        assert_eq!(p, "base");
        let back =
            crate::store::profiles::apply_changes(&d.resolve("base").unwrap().2, &ch).unwrap();
        assert_eq!(back.head.m, 0.2);

        let zip = GRID.replace("seeds = 3", "seeds = 3\ncombine = \"zip\"");
        let z = Study::parse("g", &zip, Path::new("g.toml"), &d).unwrap();
        assert_eq!(z.cells.len(), 2);
        assert_eq!(z.cells[1].label, "head.kind=cosface head.m=0.35");
        // Unchanged cells keep their keys when the grid grows.
        let more = GRID.replace("\"cosface\"]", "\"cosface\", \"adacos-fixed\"]");
        let m = Study::parse("g", &more, Path::new("g.toml"), &d).unwrap();
        assert_eq!(m.cells.len(), 6);
        assert!(s
            .cells
            .iter()
            .all(|c| m.cells.iter().any(|n| n.key == c.key)));
        // A profile grid key picks each cell's base.
        let prof = "base = \"base\"\n[grid]\nprofile = [\"base\", \"other\"]\n";
        let p = Study::parse("p", prof, Path::new("p.toml"), &d).unwrap();
        assert_eq!(p.cells[1].profile, "other");
        assert_eq!(p.cells[1].label, "profile=other");
        let t = Task {
            cell: 1,
            seed_index: 0,
        };
        assert_eq!(p.run_name(t), "other");
    }

    #[test]
    fn errors_name_the_key_and_the_cell() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        let parse = |t: &str| {
            Study::parse("e", t, Path::new("e.toml"), &d)
                .unwrap_err()
                .to_string()
        };
        assert!(parse("seeds = 2\n").contains("base: missing"));
        let e = parse("base = \"base\"\n[grid]\n\"head.kind\" = [\"arcfase\"]\n");
        assert!(e.contains("grid.head.kind") && e.contains("arcfase"), "{e}");
        let e = parse("base = \"base\"\n[grid]\n\"train.epochs\" = [0]\n");
        assert!(
            e.contains("train.epochs") && e.contains("cell `train.epochs=0`"),
            "{e}"
        );
        let e = parse("base = \"base\"\ncombine = \"zip\"\n[grid]\n\"train.epochs\" = [1, 2]\n\"head.m\" = [0.1]\n");
        assert!(e.contains("zipped lists"), "{e}");
        assert!(parse("base = \"base\"\nfoo = 1\n").contains("foo: unknown key"));
        assert!(parse("base = \"nope\"\n").contains("nope"));
    }
}
