//! Published values a study reproduces (`[reference]` in the study file), to print beside its
//! cells: a column name, the source, one value per cell and optionally the published mean.
//!
//! ```toml
//! [reference]
//! name = "GEOM"
//! source = "Golan & El-Yaniv 2018, NeurIPS, Table 1 (Fashion-MNIST, AUROC)"
//! mean = 0.935
//! [reference.values]
//! "sneaker" = 0.989        # a cell's short label (the grid value) or its full label
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use super::{bad, CellResults, Study};
use crate::config::ScorerKind;
use crate::store::error::StoreError;

/// The study file's `[reference]`, matched to the cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// The column's header (`GEOM`, `published`).
    pub name: String,
    /// Where the values come from, printed with them.
    pub source: String,
    /// Published value per cell index.
    pub values: BTreeMap<usize, f64>,
    /// The published mean over the cells, when the source gives one.
    pub mean: Option<f64>,
}

const KEYS: [&str; 4] = ["name", "source", "mean", "values"];

fn auc(source: &Path, key: &str, v: &toml::Value) -> Result<f64, StoreError> {
    let x = match v {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        _ => return Err(bad(source, key, "must be a number")),
    };
    if !(0.0..=1.0).contains(&x) {
        return Err(bad(
            source,
            key,
            format!("is {x}, an AUC must be 0 to 1 (write 93.5% as 0.935)"),
        ));
    }
    Ok(x)
}

impl Reference {
    /// Reads `[reference]`; `labels` are each cell's (full label, short label). Every value
    /// must name a cell.
    pub fn parse(
        v: &toml::Value,
        labels: &[(String, String)],
        source: &Path,
    ) -> Result<Reference, StoreError> {
        let toml::Value::Table(t) = v else {
            return Err(bad(source, "reference", "must be a table"));
        };
        for k in t.keys() {
            if !KEYS.contains(&k.as_str()) {
                return Err(bad(
                    source,
                    &format!("reference.{k}"),
                    format!("unknown key (a reference has {})", KEYS.join(", ")),
                ));
            }
        }
        let text = |k: &str| -> Result<Option<String>, StoreError> {
            match t.get(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(source, &format!("reference.{k}"), "must be a string")),
            }
        };
        let name = text("name")?.unwrap_or_else(|| "published".into());
        let src = text("source")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                bad(
                    source,
                    "reference.source",
                    "missing: say where the values come from",
                )
            })?;
        let mean = t
            .get("mean")
            .map(|v| auc(source, "reference.mean", v))
            .transpose()?;
        let mut values = BTreeMap::new();
        match t.get("values") {
            None => {}
            Some(toml::Value::Table(vals)) => {
                for (k, v) in vals {
                    let key = format!("reference.values.{k}");
                    let cell = labels
                        .iter()
                        .position(|(full, short)| full == k || short == k)
                        .ok_or_else(|| {
                            let shorts: Vec<&str> =
                                labels.iter().map(|(_, s)| s.as_str()).collect();
                            bad(
                                source,
                                &key,
                                format!("names no cell (cells: {})", shorts.join(", ")),
                            )
                        })?;
                    if values.insert(cell, auc(source, &key, v)?).is_some() {
                        return Err(bad(source, &key, "a second value for the same cell"));
                    }
                }
            }
            Some(_) => return Err(bad(source, "reference.values", "must be a table")),
        }
        Ok(Reference {
            name,
            source: src,
            values,
            mean,
        })
    }
}

/// One line of the comparison: a cell (or the mean over cells) against the published value.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceRow {
    pub label: String,
    /// Finished seeds (for the mean row: cells with results).
    pub n: usize,
    pub median: Option<f64>,
    pub mean: Option<f64>,
    pub published: Option<f64>,
}

/// The comparison of a study's results with its reference on `scorer`: one row per cell, then
/// the mean over the cells (of the per-cell means and medians; labelled with how many cells
/// it covers) and the worst cell.
pub fn reference_rows(
    study: &Study,
    results: &[CellResults],
    scorer: ScorerKind,
) -> Vec<ReferenceRow> {
    let Some(r) = &study.reference else {
        return Vec::new();
    };
    let mut rows: Vec<ReferenceRow> = results
        .iter()
        .map(|c| {
            let s = c.summary.get(&scorer);
            ReferenceRow {
                label: c.short.clone(),
                n: s.map(|s| s.n).unwrap_or(0),
                median: s.map(|s| s.median),
                mean: s.map(|s| s.mean),
                published: r.values.get(&c.cell).copied(),
            }
        })
        .collect();
    let measured: Vec<&ReferenceRow> = rows.iter().filter(|x| x.mean.is_some()).collect();
    let avg = |f: &dyn Fn(&ReferenceRow) -> Option<f64>| -> Option<f64> {
        let v: Vec<f64> = measured.iter().filter_map(|x| f(x)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let published_mean = r.mean.or_else(|| {
        (r.values.len() == study.cells.len() && !r.values.is_empty())
            .then(|| r.values.values().sum::<f64>() / r.values.len() as f64)
    });
    let label = if measured.len() == results.len() {
        format!("mean of {} cells", results.len())
    } else {
        format!("mean of {} of {} cells", measured.len(), results.len())
    };
    let worst = measured
        .iter()
        .min_by(|a, b| {
            a.mean
                .partial_cmp(&b.mean)
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|w| ReferenceRow {
            label: format!("worst: {}", w.label),
            ..(*w).clone()
        });
    if results.len() > 1 {
        rows.push(ReferenceRow {
            label,
            n: measured.len(),
            median: avg(&|x| x.median),
            mean: avg(&|x| x.mean),
            published: published_mean,
        });
        rows.extend(worst);
    }
    rows
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::score::Summary;
    use crate::store::profiles::{ProfileDirs, Shipped};

    fn dirs(root: &Path) -> ProfileDirs {
        let shipped = root.join("shipped");
        std::fs::create_dir_all(&shipped).unwrap();
        std::fs::write(
            shipped.join("base.toml"),
            "[data]\ndataset = \"synthetic\"\nnormal = \"plus\"\nanomalous = \"cross\"\n",
        )
        .unwrap();
        ProfileDirs {
            local: root.join("local"),
            user: root.join("user"),
            shipped: Shipped::Dir(shipped),
        }
    }

    const STUDY: &str = r#"
base = "base"
seeds = 3
[grid]
"data.normal" = ["plus", "ring", "disc"]
[reference]
name = "PAPER"
source = "A. Author 2020, Table 1"
[reference.values]
"plus" = 0.9
"data.normal=ring" = 0.8
"#;

    fn parse(text: &str) -> Result<Study, String> {
        let tmp = tempfile::tempdir().unwrap();
        Study::parse("s", text, Path::new("s.toml"), &dirs(tmp.path())).map_err(|e| e.to_string())
    }

    fn result(study: &Study, cell: usize, values: &[f64]) -> CellResults {
        let mut c = CellResults {
            cell,
            label: study.cells[cell].label.clone(),
            short: study.short_labels()[cell].clone(),
            done: values.len(),
            running: 0,
            total: study.seeds,
            values: BTreeMap::new(),
            summary: BTreeMap::new(),
            identity_summary: BTreeMap::new(),
            comparison: None,
            runs: Vec::new(),
        };
        c.values.insert(
            study.scorer,
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as u64, *v))
                .collect(),
        );
        c.summary.insert(study.scorer, Summary::of(values).unwrap());
        c
    }

    #[test]
    fn values_match_cells_by_short_or_full_label() {
        let s = parse(STUDY).unwrap();
        let r = s.reference.as_ref().unwrap();
        assert_eq!(r.name, "PAPER");
        assert_eq!(r.source, "A. Author 2020, Table 1");
        assert_eq!(r.values, [(0, 0.9), (1, 0.8)].into_iter().collect());
        assert_eq!(r.mean, None);

        // Rows: each cell, then the mean over cells and the worst cell.
        let results = vec![
            result(&s, 0, &[0.95, 0.93, 0.94]),
            result(&s, 1, &[0.70, 0.72, 0.74]),
        ];
        let rows = reference_rows(&s, &results, s.scorer);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].label, "plus");
        assert_eq!(rows[0].published, Some(0.9));
        assert!((rows[0].mean.unwrap() - 0.94).abs() < 1e-12);
        assert_eq!(rows[1].published, Some(0.8));
        assert_eq!(rows[2].label, "mean of 2 cells");
        assert!((rows[2].mean.unwrap() - 0.83).abs() < 1e-12);
        // Two of three cells have published values: no published mean is made up.
        assert_eq!(rows[2].published, None);
        assert_eq!(rows[3].label, "worst: ring");

        // A published mean is printed as given; a missing cell says so in the label.
        let m = parse(&STUDY.replace("source =", "mean = 0.85\nsource =")).unwrap();
        let rows = reference_rows(&m, &results[..1], m.scorer);
        assert_eq!(rows.len(), 1, "one cell: no mean row");
        let all = vec![
            result(&m, 0, &[0.9]),
            result(&m, 2, &[0.8]),
            CellResults {
                summary: BTreeMap::new(),
                ..result(&m, 1, &[0.5])
            },
        ];
        let rows = reference_rows(&m, &all, m.scorer);
        assert_eq!(rows[3].label, "mean of 2 of 3 cells");
        assert_eq!(rows[3].published, Some(0.85));
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(&STUDY.replace("\"plus\" = 0.9", "\"plush\" = 0.9")).unwrap_err();
        assert!(
            e.contains("reference.values.plush") && e.contains("cells: plus, ring, disc"),
            "{e}"
        );
        let e = parse(&STUDY.replace("0.9", "93.5")).unwrap_err();
        assert!(
            e.contains("reference.values.plus") && e.contains("0.935"),
            "{e}"
        );
        let e = parse(&STUDY.replace("source = \"A. Author 2020, Table 1\"", "")).unwrap_err();
        assert!(e.contains("reference.source: missing"), "{e}");
        let e = parse(&STUDY.replace("name = \"PAPER\"", "nme = \"PAPER\"")).unwrap_err();
        assert!(e.contains("reference.nme: unknown key"), "{e}");
        let e = parse(&STUDY.replace(
            "\"data.normal=ring\" = 0.8",
            "\"ring\" = 0.8\n\"data.normal=ring\" = 0.7",
        ))
        .unwrap_err();
        assert!(e.contains("second value"), "{e}");
    }

    #[test]
    fn shipped_studies_parse_with_their_references() {
        let d = ProfileDirs {
            local: "/nonexistent/local".into(),
            user: "/nonexistent/user".into(),
            shipped: Shipped::Builtin,
        };
        for (name, text) in crate::store::profiles::shipped_studies() {
            let s = Study::parse(name, text, Path::new(name), &d)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(r) = &s.reference {
                assert_eq!(r.values.len(), s.cells.len(), "{name}: a value per cell");
            }
        }
        let ovr = crate::store::profiles::shipped_studies()
            .iter()
            .find(|(n, _)| *n == "fashion-one-vs-rest")
            .unwrap();
        let s = Study::parse(ovr.0, ovr.1, Path::new("x"), &d).unwrap();
        assert_eq!((s.cells.len(), s.seeds), (10, 3));
        let c = &s.cells[6].config;
        assert_eq!(c.data.normal, crate::config::ClassRef::Name("shirt".into()));
        assert!(c.data.anomalous.is_rest());
        assert_eq!(c.data.normal_train_count, crate::config::ImageCount::All);
        let r = s.reference.unwrap();
        assert_eq!(r.values[&6], 0.833);
        assert_eq!(r.mean, Some(0.935));
        for name in ["seed-fashion", "seed-cifar"] {
            let (_, t) = crate::store::profiles::shipped_studies()
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap();
            let s = Study::parse(name, t, Path::new("x"), &d).unwrap();
            let arc = &s.cells[1].config.head;
            assert_eq!((arc.kind.as_str(), arc.s, arc.m), ("arcface", 30.0, 0.05));
        }
    }
}
