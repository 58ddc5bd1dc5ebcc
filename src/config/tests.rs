use super::*;
use std::path::Path;

#[test]
fn default_roundtrips_and_validates() {
    let c = Config::default();
    c.validate().unwrap();
    let text = c.to_toml_string();
    assert_eq!(Config::from_toml_str(&text).unwrap(), c);
}

#[test]
fn partial_profile_fills_defaults() {
    let c = Config::from_toml_str("[head]\nkind = \"arcface\"\nm = 0.3\n").unwrap();
    assert_eq!(c.head.kind, HeadKind::Arcface);
    assert_eq!(c.head.m, 0.3);
    assert_eq!(c.train.epochs, TrainConfig::default().epochs);
}

#[test]
fn unknown_key_names_it() {
    let e = Config::from_toml_str("[train]\nepochz = 3\n").unwrap_err();
    assert_eq!(e.key, "train.epochz");
    assert!(e.message.contains("unknown field"), "{}", e.message);
}

#[test]
fn wrong_type_names_key() {
    let e = Config::from_toml_str("[train]\nepochs = \"many\"\n").unwrap_err();
    assert_eq!(e.key, "train.epochs");
}

#[test]
fn out_of_range_names_key() {
    let mut c = Config::default();
    c.train.epochs = 0;
    assert_eq!(c.validate().unwrap_err().key, "train.epochs");
    let mut c = Config::default();
    c.head.kind = HeadKind::Arcface;
    c.head.m = 2.0;
    assert_eq!(c.validate().unwrap_err().key, "head.m");
    let mut c = Config::default();
    c.data.anomalous = c.data.normal.clone().into();
    assert_eq!(c.validate().unwrap_err().key, "data.anomalous");
}

#[test]
fn overrides_apply_and_are_checked() {
    let c = Config::default()
        .with_override("head.kind=arcface")
        .unwrap()
        .with_override("train.epochs=5")
        .unwrap()
        .with_override("data.normal=deer")
        .unwrap()
        .with_override("data.reference=[0, 1, 2]")
        .unwrap();
    assert_eq!(c.head.kind, HeadKind::Arcface);
    assert_eq!(c.train.epochs, 5);
    assert_eq!(c.data.normal, ClassRef::Name("deer".into()));
    assert_eq!(c.data.reference.as_ref().unwrap().len(), 3);
    let e = Config::default()
        .with_override("train.epochz=5")
        .unwrap_err();
    assert_eq!(e.key, "train.epochz");
    let e = Config::default()
        .with_override("head.kind=nope")
        .unwrap_err();
    assert_eq!(e.key, "head.kind");
    let e = Config::default().with_override("train.epochs").unwrap_err();
    assert!(e.message.contains("key.path=value"));
}

#[test]
fn every_shipped_profile_loads_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let c = Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
            assert!(!c.description.is_empty(), "{}", p.display());
            n += 1;
        }
    }
    assert!(n >= 13, "{n} profiles");
    let c = Config::load(&dir.join("cifar-deer-horse-arcface.toml")).unwrap();
    assert_eq!(c.data.dataset, DatasetKind::Cifar10);
    assert_eq!(c.head.kind, HeadKind::Arcface);
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "[score]\nlof_k = 0\n").unwrap();
    let e = Config::load(&p).unwrap_err();
    assert_eq!(e.key, "score.lof_k");
    assert!(e.to_string().starts_with(&p.display().to_string()));
}

#[test]
fn the_key_table_covers_every_field() {
    // Every leaf of a fully set config (optionals included) is a key, and every key is a leaf.
    let mut c = Config::default();
    c.data.data_dir = Some("/d".into());
    c.data.path = Some("/p".into());
    c.data.channels = Some(1);
    c.data.size = Some(64);
    c.data.reference = Some(vec![ClassRef::Index(0)]);
    c.head.alpha = Some(16.0);
    fn leaves(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, x) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&key, x, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut want = Vec::new();
    leaves("", &toml::Value::try_from(&c).unwrap(), &mut want);
    want.sort();
    let mut have: Vec<String> = KEYS.iter().map(|k| k.name.to_string()).collect();
    have.sort();
    assert_eq!(have, want);
    assert_eq!(c.flatten().len(), KEYS.len());
}

#[test]
fn set_reads_typed_values_and_says_what_is_wrong() {
    let mut c = Config::default();
    c.set("model.widths", "32,64, 128").unwrap();
    assert_eq!(c.model.widths, vec![32, 64, 128]);
    c.set("model.widths", "[16]").unwrap();
    assert_eq!(c.model.widths, vec![16]);
    let e = c.set("model.widths", "32,abc").unwrap_err();
    assert_eq!(e.key, "model.widths");
    assert_eq!(e.message, "`abc` is not a whole number ≥ 0");
    c.set("head.m", "0.35").unwrap();
    assert_eq!(c.get("head.m").as_deref(), Some("0.35"));
    assert_eq!(c.flatten()["head.m"], "0.35");
    assert!(c
        .set("head.s", "1e39")
        .unwrap_err()
        .message
        .contains("finite"));
    c.set("train.seed", "18446744073709551615").unwrap();
    assert_eq!(c.train.seed, u64::MAX);
    c.set("head.alpha", "auto").unwrap();
    assert_eq!(c.head.alpha, None);
    c.set("data.reference", "bag, 3").unwrap();
    assert_eq!(
        c.data.reference,
        Some(vec![ClassRef::Name("bag".into()), ClassRef::Index(3)])
    );
    c.set("data.reference", "all").unwrap();
    assert_eq!(c.data.reference, None);
    c.set("train.augment.flip", "yes").unwrap();
    assert!(c.train.augment.flip);
    c.set("train.device", "cuda").unwrap();
    assert_eq!(c.train.device, DeviceKind::Cuda);
    let e = c.set("head.kind", "arcfase").unwrap_err();
    assert!(e.message.contains("is not one of softmax"), "{}", e.message);
    let e = c.set("train.epoch", "3").unwrap_err();
    assert_eq!(e.key, "train.epoch");
    assert!(e.message.contains("did you mean"), "{}", e.message);
}

#[test]
fn validation_messages_give_the_range() {
    let mut c = Config::default();
    c.head.kind = HeadKind::Arcface;
    c.head.s = 1e30;
    let e = c.validate().unwrap_err();
    assert_eq!(e.key, "head.s");
    assert!(e.message.contains("at most 256"), "{}", e.message);
    let mut c = Config::default();
    c.head.kind = HeadKind::L2Softmax;
    c.head.alpha = Some(1e30);
    assert_eq!(c.validate().unwrap_err().key, "head.alpha");
    let mut c = Config::default();
    c.train.seed = u64::MAX;
    let e = c.validate().unwrap_err();
    assert_eq!(e.key, "train.seed");
    assert!(e.message.contains("9223372036854775807"), "{}", e.message);
    let mut c = Config::default();
    c.data.normal_train_count = 1.into();
    assert_eq!(c.validate().unwrap_err().key, "data.normal_train_count");
    let mut c = Config::default();
    c.data.normal_train_count = 5.into();
    c.score.lof_k = 2;
    c.score.knn_k = 6;
    assert_eq!(c.validate().unwrap_err().key, "score.knn_k");
    let mut c = Config::default();
    c.data.normal_train_count = 5.into();
    c.score.lof_k = 5;
    assert_eq!(c.validate().unwrap_err().key, "score.lof_k");
}

/// A catalogue that knows one tiny dataset of three classes.
struct Tiny;

impl Catalog for Tiny {
    fn check_data(&self, config: &Config) -> Result<DatasetInfo, ConfigError> {
        if config.data.normal != ClassRef::Name("a".into()) {
            return Err(ConfigError::new("data.normal", "no such class"));
        }
        Ok(DatasetInfo {
            name: "tiny".into(),
            classes: vec!["a".into(), "b".into(), "c".into()],
            train_counts: vec![10; 3],
            test_counts: vec![10; 3],
            shape: (1, 28, 28),
            training_classes: 2,
            split: Default::default(),
        })
    }
}

#[test]
fn check_runs_validation_the_catalogue_the_build_and_the_model() {
    let build = Build {
        cuda: false,
        memory_bytes: Some(1 << 30),
    };
    let ok = |_: &Config, _: &DatasetInfo| Ok(1000);
    let mut c = Config::default();
    c.data.normal = ClassRef::Name("a".into());
    c.data.anomalous = ClassRef::Name("b".into()).into();
    assert_eq!(c.check(&Tiny, &build, &ok).unwrap().name, "tiny");
    // Ranges first.
    let mut bad = c.clone();
    bad.train.epochs = 0;
    assert_eq!(
        bad.check(&Tiny, &build, &ok).unwrap_err().key,
        "train.epochs"
    );
    // The catalogue's own error.
    let mut bad = c.clone();
    bad.data.normal = ClassRef::Name("z".into());
    assert_eq!(
        bad.check(&Tiny, &build, &ok).unwrap_err().key,
        "data.normal"
    );
    // CUDA needs the feature.
    let mut bad = c.clone();
    bad.train.device = DeviceKind::Cuda;
    assert_eq!(
        bad.check(&Tiny, &build, &ok).unwrap_err().key,
        "train.device"
    );
    // Memory: the estimate and the machine's memory are in the message.
    let huge = |_: &Config, _: &DatasetInfo| Ok(8u64 << 30);
    let e = c.check(&Tiny, &build, &huge).unwrap_err();
    assert_eq!(e.key, "model");
    assert!(
        e.message.contains("8.0 GiB") && e.message.contains("1.0 GiB"),
        "{}",
        e.message
    );
}
