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
    assert_eq!(launched[0].1, "fashion-sneaker-boot-adacos-fixed-edited");
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
