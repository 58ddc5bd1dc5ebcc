//! Tests of the Setup form's state: fields per head, stepping, names, classes.

use super::*;
use crate::data::class_names;

/// A form checked against the built-in dataset descriptions (no files needed), no CUDA.
fn form(config: Config) -> Form {
    let mut f = Form::new(config, "default");
    f.catalog = Arc::new(crate::data::Builtin);
    f.build = Build {
        cuda: false,
        memory_bytes: None,
    };
    f.validate();
    f
}

#[test]
fn fields_follow_the_head() {
    let mut f = form(Config::default());
    assert!(!f.fields().contains(&Field::S));
    f.config.head.kind = HeadKind::Arcface;
    assert!(f.fields().contains(&Field::S) && f.fields().contains(&Field::M));
    f.config.head.kind = HeadKind::L2Softmax;
    assert_eq!(f.fields().iter().filter(|x| **x == Field::Alpha).count(), 1);
}

#[test]
fn adacos_scale_uses_reference_plus_normal() {
    let f = form(Config::default());
    // Fashion-MNIST sneaker→ankle boot: 8 reference classes + normal = 9.
    assert_eq!(f.training_classes(), 9);
    assert!((f.adacos_scale() - 2f32.sqrt() * 8f32.ln()).abs() < 1e-6);
}

#[test]
fn adacos_scale_counts_transform_classes_when_self_supervised() {
    // The shipped default: no reference classes, 72 transform classes (what the worker builds).
    let text = include_str!("../../../profiles/fashion-sneaker-boot-adacos-fixed-geom.toml");
    let config = Config::from_toml_str(text).unwrap();
    let f = form(config);
    assert_eq!(f.training_classes(), 72);
    assert!((f.adacos_scale() - 2f32.sqrt() * 71f32.ln()).abs() < 1e-5);
}

#[test]
fn classes_resolve_like_the_data_module() {
    let names = class_names(DatasetKind::FashionMnist);
    assert_eq!(
        resolve_class(names, &ClassRef::Name("ankle-boot".into())),
        Some(9)
    );
    assert_eq!(
        resolve_class(names, &ClassRef::Name("tshirt".into())),
        Some(0)
    );
    assert_eq!(resolve_class(names, &ClassRef::Index(3)), Some(3));
    assert_eq!(resolve_class(names, &ClassRef::Name("boot".into())), None);
}

#[test]
fn stepping_and_typing_edit_the_config() {
    let mut f = form(Config::default());
    let e0 = f.config.train.epochs;
    f.step(Field::Epochs, 1);
    assert_eq!(f.config.train.epochs, e0 + 1);
    assert!(f.edited);
    f.step(Field::Normal, 1);
    assert_eq!(f.value_text(Field::Normal), "bag");
    f.apply_text(Field::Lr, "0.01").unwrap();
    assert_eq!(f.config.train.lr, 0.01);
    f.apply_text(Field::Widths, "16, 32, 64").unwrap();
    assert_eq!(f.config.model.widths, vec![16, 32, 64]);
    assert!(f.apply_text(Field::Epochs, "many").is_err());
    f.apply_text(Field::Epochs, "0").unwrap();
    assert_eq!(f.error_for(Field::Epochs), Some("is 0, must be 1 to 10000"));
}

#[test]
fn same_class_twice_is_an_inline_error() {
    let mut f = form(Config::default());
    f.apply_text(Field::Anomalous, "sneaker").unwrap();
    assert!(f.error_for(Field::Anomalous).is_some());
}

#[test]
fn dataset_switch_keeps_positions() {
    let mut f = form(Config::default());
    f.set_dataset(DatasetKind::Cifar10);
    f.validate();
    assert_eq!(f.value_text(Field::Normal), "horse");
    assert_eq!(f.value_text(Field::Anomalous), "truck");
    assert!(f.error.is_none(), "{:?}", f.error);
}

#[test]
fn a_folder_lists_its_classes_for_picking() {
    let d = tempfile::tempdir().unwrap();
    for class in ["bolt", "nut", "washer"] {
        for i in 0..4 {
            let p = d.path().join(class).join(format!("{i}.png"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"listed, not decoded").unwrap();
        }
    }
    let mut f = form(Config::default());
    f.set_dataset(DatasetKind::Folder);
    f.validate();
    assert!(f.fields().contains(&Field::Path) && f.fields().contains(&Field::Size));
    assert_eq!(f.error.as_ref().map(|e| e.key.as_str()), Some("data.path"));
    assert!(f.names().is_empty());
    f.apply_text(Field::Path, &d.path().display().to_string())
        .unwrap();
    assert_eq!(f.names(), ["bolt", "nut", "washer"]);
    assert_eq!(f.value_text(Field::Normal), "bolt");
    assert_eq!(f.value_text(Field::Anomalous), "nut");
    f.step(Field::Normal, 1);
    assert_eq!(f.value_text(Field::Normal), "nut");
    assert_eq!(f.value_text(Field::Size), "32×32 (auto)");
    f.step(Field::Size, 1);
    assert_eq!(f.config.data.size, Some(64));
    f.step(Field::Channels, 1);
    assert_eq!(f.config.data.channels, Some(1));
    f.set_dataset(DatasetKind::Mvtec);
    assert_eq!(f.value_text(Field::Normal), "good");
    assert_eq!(f.value_text(Field::Anomalous), "defect");
    f.set_dataset(DatasetKind::FashionMnist);
    f.validate();
    assert_eq!(f.config.data.size, None);
    assert!(!f.fields().contains(&Field::Path));
}

#[test]
fn cuda_only_when_compiled_in() {
    let mut f = form(Config::default());
    f.step(Field::Device, 1);
    if f.cuda() {
        assert_eq!(f.config.train.device, DeviceKind::Cuda);
    } else {
        assert_eq!(f.config.train.device, DeviceKind::Cpu);
        assert!(f.note.is_some());
    }
}

// The field table (field.rs).

#[test]
fn every_spec_is_a_config_key_once() {
    for (i, sp) in SPECS.iter().enumerate() {
        assert!(crate::config::keys::is_key(sp.key), "{}", sp.key);
        assert!(
            SPECS[i + 1..].iter().all(|o| o.key != sp.key),
            "{} twice",
            sp.key
        );
    }
}

#[test]
fn the_form_exposes_every_key_a_profile_can_set() {
    // `description` is asked when a profile is saved.
    for k in crate::config::keys::KEYS {
        assert!(
            k.name == "description" || SPECS.iter().any(|s| s.key == k.name),
            "{} is not on the form",
            k.name
        );
    }
}
