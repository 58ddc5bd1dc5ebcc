//! Setup: the form (default, inline edits and errors, per-head fields) and starting a run
//! from it.

use super::*;

#[test]
fn snapshot_setup_default() {
    let l = lab();
    snapshot!("snapshot_setup_default", l.render(80, 24));
}

#[test]
fn snapshot_setup_arcface_inline_error() {
    let mut l = lab();
    l.app.form.config.head.kind = HeadKind::Arcface;
    l.app.form.validate();
    // Move to the margin field and type a margin ArcFace cannot take.
    l.focus(Field::M);
    l.ch('e');
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.text("2");
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.error.as_ref().unwrap().key, "head.m");
    snapshot!("snapshot_setup_arcface_inline_error", l.render(80, 24));
}

#[test]
fn snapshot_setup_inline_edit() {
    let mut l = lab();
    l.focus(Field::Epochs);
    l.ch('e');
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.text("2x");
    l.key(KeyCode::Enter);
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.error.is_some()));
    snapshot!("snapshot_setup_inline_edit", l.render(80, 24));
}

#[test]
fn snapshot_setup_heads() {
    let mut l = lab();
    l.app.form.config.score.scorers = vec![ScorerKind::KnnCosine, ScorerKind::ClassCosine];
    l.app.form.config.head.kind = HeadKind::L2Softmax;
    l.app.form.validate();
    snapshot!("setup_l2_softmax", l.render(80, 24));
    l.app.form.config.head.kind = HeadKind::AdacosDynamic;
    l.app.form.config.score.scorers = vec![ScorerKind::KnnCosine];
    l.app.form.validate();
    snapshot!("setup_adacos_dynamic", l.render(80, 24));
}

#[test]
fn start_launches_with_the_form_config() {
    let mut l = lab();
    let e0 = l.app.form.config.train.epochs;
    l.app.form.step(Field::Epochs, -1);
    l.key(KeyCode::Enter);
    assert_eq!(l.app.tab, Tab::Train);
    let launched = l.script.launched.borrow();
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].0.train.epochs, e0 - 1);
    // Named after its profile and what changed.
    assert_eq!(
        launched[0].1,
        format!(
            "fashion-sneaker-boot-adacos-fixed · train.epochs={}",
            e0 - 1
        )
    );
    assert!(l.app.run_active());
}

#[test]
fn invalid_form_does_not_start() {
    let mut l = lab();
    l.app.form.config.train.batch_size = 1;
    l.app.form.validate();
    l.ch('r');
    assert!(l.script.launched.borrow().is_empty());
    assert_eq!(l.app.tab, Tab::Setup);
    assert_eq!(l.app.form.focused(), Field::BatchSize);
    assert!(l
        .app
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("train.batch_size"));
}

#[test]
fn launch_failure_is_reported() {
    let script = Script {
        fail: Some("disk full".into()),
        ..Script::default()
    };
    let mut l = lab_with(None, script);
    l.ch('r');
    assert_eq!(l.app.tab, Tab::Setup);
    assert!(l.app.status.as_ref().unwrap().text.contains("disk full"));
    assert!(!l.app.run_active());
}

// ---- sections, pickers, errors, names, reset, clearing -----------------------------------

use crate::tui::setup::Section;

#[test]
fn sections_fold_and_unfold() {
    let mut l = lab();
    // Every key a profile can set is on the form, the rarer ones folded.
    assert!(!l.app.form.is_open(Section::Optimizer));
    assert!(!l.app.form.fields().contains(&Field::Key("train.optimizer")));
    assert!(l
        .app
        .form
        .available()
        .contains(&Field::Key("train.optimizer")));
    // Z folds every section: one line each.
    l.ch('Z');
    assert_eq!(l.app.form.fields().len(), Section::ALL.len());
    assert_eq!(l.app.form.focused(), Field::Section(Section::Data));
    snapshots!("setup_sections_folded", &mut l);
    // ] goes from heading to heading; → on one opens it.
    for _ in 0..8 {
        l.ch(']');
    }
    assert_eq!(l.app.form.focused(), Field::Section(Section::Optimizer));
    l.key(KeyCode::Right);
    assert!(l.app.form.is_open(Section::Optimizer));
    l.ch('j');
    assert_eq!(l.app.form.focused(), Field::Key("train.optimizer"));
    l.key(KeyCode::Right);
    assert_eq!(
        l.app.form.config.train.optimizer,
        crate::config::OptimizerKind::Sgd
    );
    // SGD has a momentum.
    assert!(l.app.form.fields().contains(&Field::Key("train.momentum")));
    snapshots!("setup_section_optimizer_open", &mut l);
    // z folds the cursor's section (the cursor goes to its heading).
    l.ch('z');
    assert!(!l.app.form.is_open(Section::Optimizer));
    assert_eq!(l.app.form.focused(), Field::Section(Section::Optimizer));
    // All folded again: Z opens them all. Taller than 80×24, the columns scroll with the
    // cursor.
    assert!(l.app.form.open.is_empty());
    l.ch('Z');
    assert!(Section::ALL.iter().all(|s| l.app.form.is_open(*s)));
    l.focus(Field::Key("run.save_model"));
    snapshots!("setup_sections_all_open", &mut l);
}

#[test]
fn an_error_in_a_folded_section_is_shown_and_found() {
    let mut l = lab();
    l.app.form.config.train.weight_decay = 2.0;
    l.app.form.validate();
    assert!(l.app.form.error_in(Section::Optimizer));
    let screen = l.render(80, 24);
    assert!(screen.contains("▸ Optimizer ✗"), "{screen}");
    assert!(screen.contains("folded under Optimizer"), "{screen}");
    // Starting opens the section and puts the cursor on the field.
    l.ch('r');
    assert!(l.script.launched.borrow().is_empty());
    assert!(l.app.form.is_open(Section::Optimizer));
    assert_eq!(l.app.form.focused(), Field::Key("train.weight_decay"));
}

#[test]
fn the_reference_picker_applies_on_enter_only() {
    let mut l = lab();
    l.focus(Field::Reference);
    l.ch(' ');
    l.ch(' ');
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.reference_classes().len(), 7);
    // `a` checks all others and the list stays open.
    l.ch(' ');
    l.ch('a');
    assert!(matches!(l.app.popup, Some(Popup::Checklist(_))));
    assert!(l.app.form.config.data.reference.is_some());
    snapshots!("setup_reference_all_checked", &mut l);
    // Enter applies it, and starts nothing.
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none());
    assert!(l.app.form.config.data.reference.is_none());
    assert!(l.script.launched.borrow().is_empty());
    assert_eq!(l.app.tab, Tab::Setup);
    // `n`: no reference class (the normal images alone, for transform classes).
    l.ch(' ');
    l.ch('n');
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.config.data.reference, Some(Vec::new()));
    assert_eq!(
        l.app.form.value_text(Field::Reference),
        "none (normal images only)"
    );
}

#[test]
fn scorers_are_picked_in_order() {
    let mut l = lab();
    l.focus(Field::Scorers);
    l.ch('e');
    // lof to the top: it becomes the primary scorer.
    l.ch('j');
    l.ch('K');
    // mahalanobis in third place.
    l.ch('j');
    l.ch('j');
    l.ch('j');
    l.ch(' ');
    snapshots!("setup_scorers_reordered", &mut l);
    l.key(KeyCode::Enter);
    assert_eq!(
        l.app.form.config.score.scorers,
        vec![
            ScorerKind::Lof,
            ScorerKind::KnnCosine,
            ScorerKind::Mahalanobis
        ]
    );
    assert_eq!(l.app.form.config.primary_scorer(), ScorerKind::Lof);
    // Mahalanobis brings its shrinkage onto the form.
    assert!(l.app.form.fields().contains(&Field::Key("score.shrinkage")));
}

#[test]
fn a_typed_error_is_in_plain_words_and_goes_when_fixed() {
    let mut l = lab();
    l.focus(Field::Widths);
    // Ctrl-U: clear the field and type.
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.text("32,abc");
    l.key(KeyCode::Enter);
    let Some(Popup::Input(i)) = &l.app.popup else {
        panic!("the editor closed");
    };
    assert_eq!(
        i.error.as_deref(),
        Some("widths: `abc` is not a whole number ≥ 0")
    );
    snapshots!("setup_error_plain_words", &mut l);
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.text("32, 64, 128");
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none());
    assert_eq!(l.app.form.config.model.widths, vec![32, 64, 128]);
    assert!(l.app.form.error.is_none());
    let screen = l.render(80, 24);
    assert!(!screen.contains('✗'), "{screen}");
    snapshots!("setup_error_fixed", &mut l);
}

#[test]
fn a_check_error_goes_when_fixed() {
    let mut l = lab();
    l.focus(Field::Epochs);
    l.ch('e');
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.text("0");
    l.key(KeyCode::Enter);
    assert!(l.render(80, 24).contains("✗ is 0, must be 1 to 10000"));
    l.key(KeyCode::Right);
    assert_eq!(l.app.form.config.train.epochs, 1);
    assert!(!l.render(80, 24).contains('✗'));
}

#[test]
fn the_run_name_follows_the_content() {
    let mut l = lab();
    let p = "fashion-sneaker-boot-adacos-fixed";
    let e = l.app.form.config.train.epochs + 1;
    // One rule (the engine's): the profile's name, and what changed from it.
    assert_eq!(l.app.form.run_profile(), p);
    l.app.form.step(Field::Epochs, 1);
    assert_eq!(l.app.form.run_profile(), format!("{p} · train.epochs={e}"));
    l.focus(Field::Head);
    l.key(KeyCode::Left);
    l.key(KeyCode::Left);
    assert_eq!(
        l.app.form.run_profile(),
        format!("{p} · head=arcface train.epochs={e}")
    );
    // The Setup header says what changed, not the profile's own description.
    let screen = l.render(120, 40);
    assert!(screen.contains("· head=arcface train.epochs"), "{screen}");
    let description = &l.app.form.base.description;
    assert!(
        description.is_empty() || !screen.contains(description.as_str()),
        "{screen}"
    );
    l.focus(Field::Dataset);
    l.key(KeyCode::Right);
    let cifar = l.app.form.run_profile();
    assert!(
        cifar.starts_with(&format!("{p} · dataset=cifar-10")),
        "{cifar}"
    );
    assert!(cifar.contains("head=arcface"), "{cifar}");
    snapshots!("setup_name_follows_content", &mut l);
    // Back to the profile's head and dataset: only the epochs differ.
    l.key(KeyCode::Left);
    l.focus(Field::Head);
    l.key(KeyCode::Right);
    l.key(KeyCode::Right);
    let back = l.app.form.run_profile();
    l.focus(Field::Head);
    l.key(KeyCode::Left);
    l.key(KeyCode::Left);
    l.ch('r');
    assert_eq!(
        l.script.launched.borrow()[0].1,
        l.app.form.run_profile(),
        "the run is named as the form says"
    );
    assert_eq!(back, format!("{p} · train.epochs={e}"));
}

#[test]
fn reset_asks_first() {
    let mut l = lab();
    l.app.form.step(Field::Epochs, 1);
    l.ch('D');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::Reset))
    ));
    snapshots!("setup_reset_asks", &mut l);
    l.ch('n');
    assert_eq!(l.app.form.config.train.epochs, 11);
    l.ch('D');
    l.ch('y');
    assert_eq!(l.app.form.config, Config::default());
    assert_eq!(l.app.form.profile, "default");
}

#[test]
fn ctrl_u_clears_the_field_being_typed() {
    let mut l = lab();
    l.focus(Field::Lr);
    l.ch('e');
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.text == "0.001"));
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.text.is_empty()));
    snapshots!("setup_ctrl_u", &mut l);
    l.text("3e-4");
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.config.train.lr, 3e-4);
}

#[test]
fn saving_a_profile_asks_for_its_description() {
    let mut l = lab_with(Some(temp_store()), Script::default());
    l.focus(Field::Head);
    l.key(KeyCode::Left);
    l.key(KeyCode::Left);
    l.ch('w');
    let Some(Popup::Input(i)) = &l.app.popup else {
        panic!("no save popup");
    };
    assert_eq!(
        i.second.as_deref(),
        Some(l.app.form.config.description.as_str())
    );
    l.text("arc-exp");
    l.key(KeyCode::Tab);
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    l.text("ArcFace on sneaker -> boot");
    snapshots!("setup_save_profile", &mut l);
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none(), "{:?}", l.app.status);
    let st = l.app.store.clone().unwrap();
    let (_, _, saved) = st.profile_dirs().resolve("arc-exp").unwrap();
    assert_eq!(saved.description, "ArcFace on sneaker -> boot");
    assert_eq!(saved.head.kind, HeadKind::Arcface);
    // Runs are now named after the saved profile.
    assert_eq!(l.app.form.run_profile(), "arc-exp");
}

#[test]
fn every_key_of_the_form_steps_and_types() {
    // Each field of the table takes ←→ (or says why not) and its own value typed back.
    let mut l = lab();
    l.ch('Z');
    l.ch('Z');
    let mut c = l.app.form.config.clone();
    c.head.kind = HeadKind::Arcface;
    c.train.optimizer = crate::config::OptimizerKind::Sgd;
    c.transforms.labels = crate::config::LabelMode::Transform;
    c.score.scorers = vec![ScorerKind::KnnCosine, ScorerKind::Ensemble];
    l.app.form.load(c, "p");
    for f in l.app.form.available() {
        let before = l.app.form.edit_text(f);
        l.app.form.step(f, 1);
        l.app.form.step(f, -1);
        if f.kind() != crate::tui::setup::FieldKind::List && f != Field::Path {
            l.app
                .form
                .apply_text(f, &before)
                .unwrap_or_else(|e| panic!("{}: {e}", f.key()));
            assert_eq!(l.app.form.edit_text(f), before, "{}", f.key());
        }
    }
}

#[test]
fn folded_summaries_end_in_an_ellipsis() {
    let mut l = lab();
    let mut c = pinned();
    c.transforms.labels = crate::config::LabelMode::Transform;
    c.transforms.rotations = vec![0, 90, 180, 270];
    c.data.reference = Some(Vec::new());
    c.score.scorers = vec![
        ScorerKind::Mahalanobis,
        ScorerKind::KnnCosine,
        ScorerKind::Lof,
    ];
    l.app
        .form
        .load(c, "fashion-sneaker-boot-adacos-fixed-transform");
    let screen = l.render(80, 24);
    assert!(screen.contains("mahalanobis, knn-co…"), "{screen}");
    snapshots!("setup_transforms_open", &mut l);
    l.ch('Z');
    snapshots!("setup_transforms_folded", &mut l);
}
